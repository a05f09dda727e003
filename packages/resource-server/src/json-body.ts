// Reading the JSON-RPC body when no framework did: the kit must see `tools/call` before the MCP server runs it, so
// it reads the body itself and hands the parsed value on (the SDK's `transport.handleRequest(req, res, body)` takes
// it), and the stream is consumed exactly once. Size-limited (a 413 stops reading and closes the connection), and
// only JSON is accepted: a body the kit cannot inspect must not reach a tool unchecked.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { jsonRpcError, type Answer } from './answers.js';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export type BodyRead = { ok: true; body: unknown } | { ok: false; answer: Answer };

/** Whether the request announces a body at all (a POST with none, a GET, a DELETE: nothing to read). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

export function isJsonContentType(headers: IncomingHttpHeaders): boolean {
  return JSON_TYPE.test(headers['content-type'] ?? '');
}

export const tooLarge = (limit: number): Answer =>
  jsonRpcError(413, -32600, `Request body larger than ${limit} bytes`, { Connection: 'close' });

export const notJson = (): Answer => jsonRpcError(415, -32600, 'Content-Type must be application/json');

export function parseJson(text: string): BodyRead {
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, answer: jsonRpcError(400, -32700, 'Parse error: the body is not valid JSON') };
  }
}

/** Reads at most `limit` bytes; on more, stops reading (the stream stays paused) and says so. */
function readLimited(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (result: Buffer | 'too-large' | 'aborted') => {
      req.off('data', onData).off('end', onEnd).off('error', onAbort).off('close', onAbort);
      resolve(result);
    };
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buf.length;
      if (size > limit) {
        req.pause();
        done('too-large');
      } else chunks.push(buf);
    };
    const onEnd = () => done(Buffer.concat(chunks, size));
    const onAbort = () => done('aborted');
    req.on('data', onData).on('end', onEnd).on('error', onAbort).on('close', onAbort);
  });
}

export async function readJsonBody(req: IncomingMessage, limit: number): Promise<BodyRead> {
  if (!hasBody(req.headers)) return { ok: true, body: undefined };
  if (!isJsonContentType(req.headers)) return { ok: false, answer: notJson() };
  if (Number(req.headers['content-length']) > limit) return { ok: false, answer: tooLarge(limit) };
  // Something before the kit consumed the stream without leaving a parsed body: waiting would hang, and a partial
  // read would check another body than the one that runs. A wiring error of the server, said as such.
  if (req.readableDidRead || req.readableEnded) {
    return { ok: false, answer: jsonRpcError(500, -32603, 'The request body was read before the authorization check could inspect it') };
  }
  const bytes = await readLimited(req, limit);
  if (bytes === 'too-large') return { ok: false, answer: tooLarge(limit) };
  if (bytes === 'aborted') return { ok: false, answer: jsonRpcError(400, -32600, 'The request body was cut short') };
  return parseJson(bytes.toString('utf8'));
}

/**
 * Whether a framework's parser produced `body` from this request's stream. Express 4's json() sets `req.body = {}`
 * for a body it does not parse (another content type) and leaves the stream unread: that `{}` is not the body, and
 * the kit reads the stream itself (and refuses what is not JSON).
 */
export function parsedByFramework(req: IncomingMessage, body: unknown): boolean {
  return body !== undefined && (req.readableDidRead || req.readableEnded);
}

/**
 * A body a framework's parser left (Express `req.body`, Koa `ctx.request.body`): a parsed value is used as it is;
 * text or bytes (express.text, express.raw, a text parser) are parsed here as JSON, so the check and the handler
 * cannot read the same bytes two ways.
 */
export function fromParser(body: unknown, limit: number): BodyRead {
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    if (body.length > limit) return { ok: false, answer: tooLarge(limit) };
    return body.length ? parseJson(body.toString()) : { ok: true, body: undefined };
  }
  return { ok: true, body };
}
