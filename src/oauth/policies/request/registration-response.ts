// RFC 7591 §3.2.1 (and RFC 7592 §2.1/§2.2 for read and update): the registration response carries the client's
// registered metadata; `client_secret`, with `client_secret_expires_at`, is returned only to a client that is
// issued a secret. oidc-provider keeps the secret of a client updated to a method that uses none (`none`,
// `private_key_jwt`) and goes on returning it on every read and update; MCP clients that find a `client_secret`
// authenticate with it, and such a client that does is refused at /token. So the secret is dropped from the answer
// of every client whose method does not use it (found by the registration fuzz suite).
// No null fields either: MCP clients parse this answer with strict schemas (the TypeScript
// SDK's OAuthClientInformationFullSchema), which fail on a null or "" where a value is expected. oidc-provider
// 9.13.3 emits none today; removing them here keeps the promise independent of its internals.
import type { Middleware } from 'koa';

type Registration = Record<string, unknown>;

// The token endpoint authentication methods that authenticate with the client secret.
const SECRET_METHODS = new Set(['client_secret_basic', 'client_secret_post', 'client_secret_jwt']);

function clean(body: Registration): void {
  for (const [key, value] of Object.entries(body)) if (value === null || value === '') delete body[key];
  const method = body.token_endpoint_auth_method ?? 'client_secret_basic';
  if (typeof method !== 'string' || !SECRET_METHODS.has(method)) {
    delete body.client_secret;
    delete body.client_secret_expires_at;
  }
}

/** Cleans the JSON answer of POST /register and GET/PUT /register/<id> on its way out (src/policy-table.ts). */
export function registrationResponse(): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.status < 200 || ctx.status >= 300) return;
    const body: unknown = ctx.body;
    // Only the plain JSON object oidc-provider built; never a stream or a buffer.
    if (body && typeof body === 'object' && Object.getPrototypeOf(body) === Object.prototype) clean(body as Registration);
  };
}
