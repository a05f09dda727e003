// DESIGN.md §7: every token revocation is audited. oidc-provider answers 200 to a revocation whatever the token was
// (RFC 7009 §2.2), so the event records that a revocation was accepted, not which token it named.
import type { Middleware } from 'koa';
import { requestOrigin, type AuditLog } from '../../../audit/writer.js';

export function revocationAudit(audit: AuditLog): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.status === 200) await audit.record({ type: 'token.revoked', outcome: 'success', ...requestOrigin(ctx) });
  };
}
