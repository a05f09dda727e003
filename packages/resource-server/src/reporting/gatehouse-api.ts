// The calls of Gatehouse's reporting API (docs/MCP-SERVER-REPORTING.md) and the approval request
// (docs/TOOL-APPROVALS.md, "POST /mcp-server/tool-approvals"), authenticated as the MCP server's own
// confidential client with HTTP Basic (RFC 6749 §2.3.1: id and secret form-urlencoded, then base64). Each call says
// whether it is worth retrying: a network failure, a timeout, 429 or a 5xx is; a 400 is not (the same body will be
// refused again); 401/403 mean the credentials or the link to the resource are wrong, which an administrator may
// fix, so they are retried too, slowly.
//
// Sent with node:http(s) on a keep-alive agent rather than fetch: a batch costs a few hundred microseconds of CPU
// that way against about two milliseconds through fetch (bench/kit-audit.ts), and the MCP server pays it.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
export interface ReportCredentials {
  clientId: string;
  clientSecret: string;
}

export type SendResult =
  | { ok: true; body: unknown }
  | { ok: false; retry: boolean; error: Error; status?: number; /** Gatehouse's `error_description`, when it gave one. */ description?: string };

export interface GatehouseApiOptions {
  /** Gatehouse's ISSUER (no trailing slash needed). */
  issuer: string;
  /** The canonical resource this server reports for (every body names it). */
  resource: string;
  credentials: ReportCredentials;
  timeoutMs?: number | undefined;
}

const formEncode = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');

export class GatehouseApi {
  readonly #base: URL;
  readonly #authorization: string;
  readonly #agent: HttpAgent;
  readonly #approvalAgent: HttpAgent;

  constructor(private readonly options: GatehouseApiOptions) {
    const { clientId, clientSecret } = options.credentials;
    if (typeof clientId !== 'string' || !clientId || typeof clientSecret !== 'string' || !clientSecret) {
      throw new TypeError('report: clientId and clientSecret are required (gatehouse client add --confidential --resource …)');
    }
    this.#base = new URL(`${options.issuer.replace(/\/+$/, '')}/`);
    if (this.#base.protocol !== 'https:' && this.#base.protocol !== 'http:') throw new TypeError('report.url must be an http(s) URL');
    // One connection is all a reporter needs: sends are one at a time.
    this.#agent = this.#base.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 1 }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
    // Approval requests hold up a caller each, and must not queue behind a batch of reports or behind each other.
    this.#approvalAgent = this.#base.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 32 }) : new HttpAgent({ keepAlive: true, maxSockets: 32 });
    this.#authorization = `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`;
  }

  putInventory(body: unknown): Promise<SendResult> {
    return this.#send('PUT', '/mcp-server/inventory', body);
  }

  postToolCalls(body: unknown): Promise<SendResult> {
    return this.#send('POST', '/mcp-server/tool-calls', body);
  }

  /** Asks whether a person approved this tool call (docs/TOOL-APPROVALS.md). */
  requestApproval(body: unknown): Promise<SendResult> {
    return this.#send('POST', '/mcp-server/tool-approvals', body, this.#approvalAgent);
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#agent.destroy();
    this.#approvalAgent.destroy();
  }

  #send(method: string, path: string, body: unknown, agent: HttpAgent = this.#agent): Promise<SendResult> {
    const url = new URL(path.slice(1), this.#base);
    const text = JSON.stringify({ resource: this.options.resource, ...(body as object) });
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      const fail = (err: Error) => resolve({ ok: false, retry: true, error: new Error(`report: ${method} ${url.href} failed: ${err.message}`) });
      const req = request(
        url,
        {
          method,
          agent,
          timeout: this.options.timeoutMs ?? 10_000,
          headers: { authorization: this.#authorization, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), accept: 'application/json' },
        },
        (res) => {
          readAnswer(res, 64 * 1024).then(
            (answer) => resolve(result(method, url.href, res.statusCode ?? 0, answer)),
            (err: Error) => fail(err),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', fail);
      req.end(text);
    });
  }
}

/** The answer's text, at most `limit` bytes of it (an answer is a line of JSON; anything longer is not Gatehouse). */
function readAnswer(res: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (text.length < limit) text += chunk;
    });
    res.on('end', () => resolve(text.slice(0, limit)));
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(new Error('answer cut short'));
    });
  });
}

function result(method: string, url: string, status: number, text: string): SendResult {
  let json: unknown;
  try {
    json = text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    json = undefined;
  }
  if (status === 200) return { ok: true, body: json };
  const described = json as { error?: unknown; error_description?: unknown } | undefined;
  const reason = typeof described?.error === 'string' ? `${described.error}${typeof described.error_description === 'string' ? `: ${described.error_description}` : ''}` : text.slice(0, 200);
  const description = typeof described?.error_description === 'string' ? described.error_description : undefined;
  return { ok: false, retry: status !== 400 && status !== 413, status, error: new Error(`report: ${method} ${url} answered ${status} ${reason}`), ...(description !== undefined ? { description } : {}) };
}

/** Exponential backoff with full jitter: a random delay up to min(cap, base × 2^attempt). */
export function backoffMs(attempt: number, baseMs = 1000, capMs = 60_000): number {
  return Math.round(Math.random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16)));
}
