// RFC 6749 §5.2 (and OAuth 2.1 §3.2.4): a client that authenticates but uses a grant type it is not registered for
// (a public MCP client asking for client_credentials, say) gets `unauthorized_client`. oidc-provider 9 answers
// `invalid_request` ("requested grant type is not allowed for this client"), which tells the client its request is
// malformed when it is in fact not permitted. This rewrites that one answer of the token endpoint and nothing else;
// the refusal itself (and its audit event) is still oidc-provider's.
import type { Middleware } from 'koa';

// oidc-provider 9.13's description for this refusal (lib/actions/token.js, allowedGrantTypeCheck); the version is
// pinned, and test/integration/refusals.test.ts fails if the text ever changes.
const NOT_ALLOWED = 'requested grant type is not allowed for this client';

/** A rule of the token route (src/policy-table.ts): rewrites the answer on its way out. */
export function unauthorizedGrantType(): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.status !== 400) return;
    const body = ctx.body as { error?: unknown; error_description?: unknown } | null | undefined;
    if (body && typeof body === 'object' && body.error === 'invalid_request' && body.error_description === NOT_ALLOWED) {
      body.error = 'unauthorized_client';
    }
  };
}
