// Assembles the Koa app: shared HTTP middleware first, then Gatehouse's own routes, then oidc-provider for the
// protocol endpoints. Order matters: security headers and the error handler wrap everything, and with an ISSUER
// path the mount (issuer-path.ts) comes before every middleware that matches a path.
import Koa from 'koa';
import { requestOrigin } from './audit/writer.js';
import { proxyOptions } from './http/client-address.js';
import { errorHandler } from './http/errors.js';
import { pinIssuerOrigin } from './http/issuer-origin.js';
import { issuerBase, issuerPath } from './http/issuer-path.js';
import { policyDispatch } from './http/policy-dispatch.js';
import { requestLog } from './http/request-log.js';
import { routeResolution } from './http/route-resolution.js';
import { OIDC_DISCOVERY_PATH, RFC8414_PATH, ROOT_PATHS } from './http/route-table.js';
import { securityHeaders } from './http/security-headers.js';
import { cookieKeys } from './oauth/provider.js';
import { httpMetrics } from './metrics/http-metrics.js';
import type { AppDeps } from './app-deps.js';
import { policyTable } from './policy-table.js';

export type { AppDeps };

export function buildApp(deps: AppDeps): Koa {
  // TRUST_PROXY hops: ctx.ip is the X-Forwarded-For entry that many hops from the right (http/client-address.ts).
  const app = new Koa(proxyOptions(deps.config.TRUST_PROXY));
  // The provider's cookies are signed with these keys; the outer app must share them.
  app.keys = cookieKeys(deps.secretKey);
  app.silent = true; // errors are logged by errorHandler, without request secrets

  pinIssuerOrigin(app, deps.config.ISSUER);
  app.use(httpMetrics(deps.metrics));
  app.use(requestLog(deps.log));
  app.use(securityHeaders({ https: deps.config.ISSUER.startsWith('https:') }));
  app.use(errorHandler(deps.log, deps.views));
  // An ISSUER with a path: every route below sees paths relative to it (http/issuer-path.ts).
  if (issuerBase(deps.config.ISSUER)) {
    app.use(issuerPath({ issuer: deps.config.ISSUER, wellKnown: [RFC8414_PATH, OIDC_DISCOVERY_PATH], rootPaths: ROOT_PATHS }));
  }
  // The edge: one route resolution, after which nothing compares paths (docs/ARCHITECTURE.md).
  app.use(
    routeResolution({
      onRefusal: async (ctx, refusal, audit) => {
        if (!audit) return;
        await deps.audit.record({ type: 'request.refused', outcome: 'failure', reason: refusal.reason, details: { status: refusal.status, method: ctx.method.slice(0, 16) }, ...requestOrigin(ctx) });
      },
    }),
  );
  // Each route's declared rules, then its handler (src/policy-table.ts).
  app.use(policyDispatch(policyTable(deps)));
  return app;
}
