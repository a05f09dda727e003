// The rate-limit rules of the protocol endpoints (docs/SECURITY.md, Rate limits; the limits themselves:
// http/rate-limits.ts). Each is a rule of the policy table (src/policy-table.ts), so it runs on its route whatever spelling reached it:
//   authorizeRateLimit   /authorize per IP                       (a page for the person on refusal)
//   tokenRateLimit       /token per IP and per claimed client
//   cimdFirstUseLimit    the first use of a CIMD client_id URL per IP, at every endpoint that would fetch an unknown
//                        document (/authorize, /token, /revoke, /introspect)
// They run after the form is parsed (http/provider-form.ts) and before any rule that reads the database.
import type { Context, Middleware } from 'koa';
import { answerJson, answerPage, type RateLimit, type RateLimits, type Refusal } from '../../../http/rate-limits.js';
import type { Views } from '../../../views/views.js';
import { looksLikeClientIdUrl } from '../../cimd/client-id-url.js';
import type { CimdClients } from '../../cimd/cimd-clients.js';
import { requestClientId } from '../../request-client.js';

export interface EndpointLimitDeps {
  limits: RateLimits;
  views: Views;
  cimdClients: CimdClients;
  cimd: boolean;
}

export function authorizeRateLimit(deps: EndpointLimitDeps): Middleware {
  return async (ctx, next) => {
    const refusal = await deps.limits.check(ctx, [[deps.limits.authorizeIp, ctx.ip]], { clientId: requestClientId(ctx) });
    if (!refusal) return next();
    answerPage(ctx, deps.views, refusal);
  };
}

export function tokenRateLimit(deps: EndpointLimitDeps): Middleware {
  return async (ctx, next) => {
    const { limits } = deps;
    const clientId = requestClientId(ctx);
    const checks: Array<[RateLimit, string]> = [[limits.tokenIp, ctx.ip], ...(clientId ? [[limits.tokenClient, clientId] as [RateLimit, string]] : [])];
    const refusal = await limits.check(ctx, checks, { clientId });
    if (!refusal) return next();
    answerJson(ctx, refusal);
  };
}

/** `page`: answer a person's browser (the authorization endpoint) rather than a client. */
export function cimdFirstUseLimit(deps: EndpointLimitDeps, answer: 'page' | 'json'): Middleware {
  async function refusalFor(ctx: Context): Promise<Refusal | undefined> {
    const clientId = requestClientId(ctx);
    if (!deps.cimd || !deps.limits.cimdIp.enabled || !clientId || !looksLikeClientIdUrl(clientId)) return undefined;
    if (await deps.cimdClients.known(clientId)) return undefined;
    return deps.limits.check(ctx, [[deps.limits.cimdIp, ctx.ip]], { clientId });
  }
  return async (ctx, next) => {
    const refusal = await refusalFor(ctx);
    if (!refusal) return next();
    if (answer === 'page') answerPage(ctx, deps.views, refusal);
    else answerJson(ctx, refusal);
  };
}
