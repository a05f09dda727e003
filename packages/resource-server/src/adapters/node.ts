// Plain `node:http`: the adapter the other two build on. `authenticate` either answers the request itself (and
// resolves undefined) or resolves the identity and the parsed body, after setting the CORS headers and `req.auth`
// (the MCP SDK's StreamableHTTPServerTransport reads `req.auth` and gives it to tool handlers as `extra.authInfo`).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Answer } from '../answers.js';
import { CORS_HEADERS } from '../cors.js';
import type { Authenticated, Guard, GuardRequest } from '../guard.js';
import { toAuthInfo, type AuthInfo, type Identity } from '../identity.js';

export type NodeHandler = (req: IncomingMessage, res: ServerResponse, identity: Identity, body: unknown) => unknown;

export function writeAnswer(res: ServerResponse, answer: Answer): void {
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

/** The adapter-independent part of letting a request through: CORS headers and the SDK's `req.auth`. */
export function admit(req: IncomingMessage, res: ServerResponse, identity: Identity): AuthInfo {
  for (const [name, value] of Object.entries(CORS_HEADERS)) res.setHeader(name, value);
  const auth = toAuthInfo(identity);
  (req as IncomingMessage & { auth?: AuthInfo }).auth = auth;
  return auth;
}

export async function authenticateNode(guard: Guard, req: IncomingMessage, res: ServerResponse, readBody?: GuardRequest['readBody']): Promise<Authenticated | undefined> {
  const outcome = await guard.decide({ req, method: req.method ?? 'GET', url: req.url ?? '/', readBody });
  guard.record(outcome, res);
  if ('answer' in outcome) {
    writeAnswer(res, outcome.answer);
    return undefined;
  }
  admit(req, res, outcome.pass.identity);
  return outcome.pass;
}

/** Wraps a handler: it runs only for authorized requests; a throw becomes a 500 (or a cut connection once streaming). */
export function nodeHandler(guard: Guard, handler: NodeHandler): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    authenticateNode(guard, req, res)
      .then((auth) => auth && handler(req, res, auth.identity, auth.body))
      .catch((err: unknown) => {
        guard.config.onError?.(err instanceof Error ? err : new Error(String(err)));
        if (res.headersSent) res.destroy();
        else writeAnswer(res, { status: 500, headers: { ...CORS_HEADERS, 'Content-Type': 'application/json' }, body: '{"error":"server_error"}' });
      });
  };
}
