// CORS for the metadata documents and the client-facing endpoints: browser-based MCP clients read
// discovery and call /token, /register and /revoke cross-origin. No cookies are involved, so any origin may.
// oidc-provider adds CORS to its own endpoints; this covers preflights and the documents served here. Which routes
// get it is declared in src/policy-table.ts.
import type { Middleware } from 'koa';

const ALLOW_HEADERS = 'Authorization, Content-Type, MCP-Protocol-Version, DPoP';

export function cors(): Middleware {
  return async (ctx, next) => {
    if (!ctx.get('Origin')) return next();
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.vary('Origin');
    if (ctx.method === 'OPTIONS') {
      ctx.set('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, OPTIONS');
      ctx.set('Access-Control-Allow-Headers', ALLOW_HEADERS);
      ctx.set('Access-Control-Max-Age', '3600');
      ctx.status = 204;
      return;
    }
    ctx.set('Access-Control-Expose-Headers', 'WWW-Authenticate');
    await next();
  };
}
