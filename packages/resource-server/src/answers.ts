// The responses the kit sends by itself, before a request reaches the MCP server: one shape the three adapters
// (node http, Express, Koa) write out their own way. OAuth errors get the OAuth JSON shape (RFC 6750 §3); body
// problems get a JSON-RPC error with `id: null`, as the MCP SDK's own transport answers them.
import { CORS_HEADERS } from './cors.js';

export interface Answer {
  status: number;
  headers: Record<string, string>;
  /** JSON text, or undefined for no body (204, HEAD). */
  body?: string | undefined;
}

export function jsonAnswer(status: number, value: unknown, headers: Record<string, string> = {}): Answer {
  return { status, headers: { ...CORS_HEADERS, 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers }, body: JSON.stringify(value) };
}

export function oauthError(status: number, error: string, description: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): Answer {
  return jsonAnswer(status, { error, error_description: description, ...extra }, headers);
}

/** JSON-RPC 2.0 error codes: -32700 parse error, -32600 invalid request. */
export function jsonRpcError(status: number, code: number, message: string, headers: Record<string, string> = {}): Answer {
  return jsonAnswer(status, { jsonrpc: '2.0', id: null, error: { code, message } }, headers);
}

// Answers to one JSON-RPC request the kit settles itself, as the MCP server would have answered it: HTTP 200,
// application/json, the request's own id (docs/TOOL-APPROVALS.md, "What the client is told").

export function jsonRpcResult(id: unknown, result: Record<string, unknown>): Answer {
  return jsonAnswer(200, { jsonrpc: '2.0', id: id ?? null, result });
}

export function jsonRpcErrorFor(id: unknown, code: number, message: string, data?: unknown): Answer {
  return jsonAnswer(200, { jsonrpc: '2.0', id: id ?? null, error: { code, message, ...(data !== undefined ? { data } : {}) } });
}

/** A tool result with `isError: true`: the model reads the text, which is how it learns why. */
export function toolError(id: unknown, text: string, extra: Record<string, unknown> = {}): Answer {
  return jsonRpcResult(id, { content: [{ type: 'text', text }], isError: true, ...extra });
}
