// The rate limit in front of the identity providers' endpoints (src/policy-table.ts; docs/UNIVERSAL-LOGOUT.md,
// "Rate limits"): the token endpoint's per-address budget (TOKEN_RATE_LIMIT_IP per TOKEN_RATE_WINDOW), one point
// counted before the caller is authenticated, so guessing credentials here and at /token shares one bound; a call
// whose caller authenticated gets its point back, so only failures count against a source and an IdP logging out
// many people at once is never slowed by its own successes.
import type { Context, Middleware } from 'koa';
import { answerJson, type RateLimits } from '../http/rate-limits.js';

/** Set by an endpoint once its caller proved who it is. */
export function markAuthenticated(ctx: Context): void {
  ctx.state.signalCallerAuthenticated = true;
}

export function signalRateLimit(limits: RateLimits): Middleware {
  return async (ctx, next) => {
    const refusal = await limits.check(ctx, [[limits.tokenIp, ctx.ip]]);
    if (refusal) return answerJson(ctx, refusal);
    await next();
    if (ctx.state.signalCallerAuthenticated === true) await limits.tokenIp.refund(ctx.ip);
  };
}
