// Dynamic Client Registration over real HTTP (RFC 7591 / RFC 7592), and the response-shape rules every
// registration answer must keep: what real MCP clients parse, and what they do with it.
import { OAuthClientInformationFullSchema } from '@modelcontextprotocol/sdk/shared/auth.js';

export type Json = Record<string, any>;

export interface HttpResult {
  status: number;
  headers: Headers;
  body: Json;
  text: string;
}

async function asResult(res: Response): Promise<HttpResult> {
  const text = await res.text();
  let body: Json = {};
  try {
    body = text ? (JSON.parse(text) as Json) : {};
  } catch {
    body = {};
  }
  return { status: res.status, headers: res.headers, body, text };
}

/** POST /register with a JSON body (an object, or any raw string for malformed bodies). */
export async function postRegistration(issuer: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  const res = await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return asResult(res);
}

/** An RFC 7592 request to a registration_client_uri, with the registration access token as a Bearer token. */
export async function manage(method: 'GET' | 'PUT' | 'DELETE', uri: string, token: string | undefined, body?: unknown): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(uri, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return asResult(res);
}

/** Paths (a.b[2]) of every value that is null or the empty string, at any depth. */
export function emptyValuePaths(value: unknown, path = '$'): string[] {
  if (value === null || value === '') return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => emptyValuePaths(v, `${path}[${i}]`));
  if (typeof value === 'object') return Object.entries(value as Json).flatMap(([k, v]) => emptyValuePaths(v, `${path}.${k}`));
  return [];
}

export const CONFIDENTIAL_METHODS = new Set(['client_secret_basic', 'client_secret_post']);

/**
 * The response-shape rules of a successful registration, read or update answer (RFC 7591 §3.2.1, RFC 7592 §3):
 * the redirect URIs echoed as sent; no field null or ""; the management URI, a registration access token and
 * client_id_issued_at; a client secret (with its expiry) exactly when the client authenticates with one; and the
 * official MCP SDK's schema parses it.
 */
export function expectRegistrationShape(body: Json, issuer: string, expected: { redirect_uris: unknown; auth_method: string }): void {
  expect(emptyValuePaths(body)).toEqual([]);
  expect(typeof body.client_id).toBe('string');
  expect(body.redirect_uris).toEqual(expected.redirect_uris);
  expect(body.token_endpoint_auth_method).toBe(expected.auth_method);
  expect(body.registration_client_uri).toBe(`${issuer}/register/${encodeURIComponent(body.client_id)}`);
  expect(typeof body.registration_access_token).toBe('string');
  expect(body.registration_access_token.length).toBeGreaterThanOrEqual(32);
  expect(Number.isInteger(body.client_id_issued_at)).toBe(true);
  expect(Math.abs(body.client_id_issued_at - Date.now() / 1000)).toBeLessThan(3600);
  if (CONFIDENTIAL_METHODS.has(expected.auth_method)) {
    expect(typeof body.client_secret).toBe('string');
    expect(body.client_secret.length).toBeGreaterThanOrEqual(32);
    expect(Number.isInteger(body.client_secret_expires_at)).toBe(true);
  } else {
    expect(body).not.toHaveProperty('client_secret');
    expect(body).not.toHaveProperty('client_secret_expires_at');
  }
  const parsed = OAuthClientInformationFullSchema.safeParse(body);
  if (!parsed.success) throw new Error(`the MCP SDK refuses the registration response: ${JSON.stringify(parsed.error.issues)}`);
}

/** The token-endpoint client authentication for a registered client (RFC 6749 §2.3.1, OIDC Core §9). */
export function clientAuthentication(client: Json): { form: Record<string, string>; headers: Record<string, string> } {
  switch (client.token_endpoint_auth_method) {
    case 'client_secret_basic':
      return {
        form: {},
        headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}` },
      };
    case 'client_secret_post':
      return { form: { client_id: client.client_id, client_secret: client.client_secret }, headers: {} };
    default:
      return { form: { client_id: client.client_id }, headers: {} };
  }
}
