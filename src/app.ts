// Assembles the Koa app: shared HTTP middleware first, then Gatehouse's own routes, then oidc-provider for the
// protocol endpoints. Order matters: security headers and the error handler wrap everything, and with an ISSUER
// path the mount (issuer-path.ts) comes before every middleware that matches a path.
import Koa, { type Middleware } from 'koa';
import compose from 'koa-compose';
import { requestOrigin, type AuditLog } from './audit/writer.js';
import type { Config } from './config.js';
import type { Db } from './db/connection.js';
import { cors } from './http/cors.js';
import { errorHandler } from './http/errors.js';
import { health } from './http/health.js';
import { pinIssuerOrigin } from './http/issuer-origin.js';
import { issuerBase, issuerPath } from './http/issuer-path.js';
import { requestLog } from './http/request-log.js';
import { securityHeaders } from './http/security-headers.js';
import { staticFiles } from './http/static-files.js';
import { interactionRoutes } from './interaction/routes.js';
import { setupRoutes } from './interaction/setup-routes.js';
import type { Views } from './interaction/views.js';
import type { Logger } from './log.js';
import { metadata, OIDC_DISCOVERY_PATH, RFC8414_PATH } from './oauth/metadata.js';
import { canonicalResourceParam } from './oauth/policies/canonical-resource-param.js';
import { cookieKeys, ROUTES, STATIC_SCOPES } from './oauth/provider.js';
import { defaultScope } from './oauth/policies/default-scope.js';
import { registrationPolicy } from './oauth/registration.js';
import { registrationResponse } from './oauth/policies/registration-response.js';
import type { ClientRegistry } from './oauth/client-registry.js';
import { clientApproval } from './oauth/policies/client-approval.js';
import { endpointRateLimits, type RateLimits } from './http/rate-limits.js';
import { providerForm } from './http/provider-form.js';
import type { ProviderHolder } from './oauth/provider-holder.js';
import type { ResourceRegistry } from './oauth/resources.js';
import type { Accounts } from './upstream/accounts.js';
import type { Connections } from './upstream/connections.js';
import type { LocalAccounts } from './upstream/local/accounts.js';
import type { UpstreamTransactions } from './upstream/transactions.js';
import type { UpstreamTokenStore } from './upstream/upstream-tokens.js';
import { upstreamCallbackRoutes } from './interaction/upstream-callback.js';
import { CALLBACK_PATH } from './interaction/upstream-leg.js';
import { underPath } from './http/path-scope.js';
import { interactionPages } from './interaction/pages.js';
import { catalogue } from './oauth/catalogue.js';
import { consoleRoutes } from './console/index.js';
import { ConsolePages } from './console/render.js';
import { ConsoleSessions } from './console/sessions.js';
import type { PolicySettings } from './policy/settings.js';
import type { SecretBox } from './crypto/secret-box.js';
import type { CimdClients } from './oauth/cimd/cimd-clients.js';
import type { Metrics } from './metrics/registry.js';
import { httpMetrics } from './metrics/http-metrics.js';
import { METRICS_PATH, metricsEndpoint } from './metrics/endpoint.js';
import { upstreamMetrics } from './metrics/upstream-metrics.js';

export interface AppDeps {
  config: Config;
  db: Db;
  log: Logger;
  secretKey: string;
  holder: ProviderHolder;
  resources: ResourceRegistry;
  accounts: Accounts;
  users: LocalAccounts;
  connections: Connections;
  transactions: UpstreamTransactions;
  upstreamTokens: UpstreamTokenStore;
  views: Views;
  audit: AuditLog;
  registry: ClientRegistry;
  rateLimits: RateLimits;
  box: SecretBox;
  cimdClients: CimdClients;
  consoleSessions: ConsoleSessions;
  policy: PolicySettings;
  metrics: Metrics;
}

export function buildApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: deps.config.TRUST_PROXY });
  // The provider's cookies are signed with these keys; the outer app must share them (DESIGN.md §10.2).
  app.keys = cookieKeys(deps.secretKey);
  app.silent = true; // errors are logged by errorHandler, without request secrets

  pinIssuerOrigin(app, deps.config.ISSUER);
  app.use(httpMetrics(deps.metrics, issuerBase(deps.config.ISSUER)));
  app.use(requestLog(deps.log));
  app.use(securityHeaders({ https: deps.config.ISSUER.startsWith('https:') }));
  app.use(errorHandler(deps.log, deps.views));
  // An ISSUER with a path: every route below sees paths relative to it (http/issuer-path.ts).
  if (issuerBase(deps.config.ISSUER)) {
    app.use(issuerPath({ issuer: deps.config.ISSUER, wellKnown: [RFC8414_PATH, OIDC_DISCOVERY_PATH], rootPaths: ['/healthz', '/readyz', METRICS_PATH] }));
  }
  app.use(
    cors([RFC8414_PATH, OIDC_DISCOVERY_PATH, ROUTES.token, ROUTES.registration, ROUTES.revocation, ROUTES.introspection, ROUTES.jwks, ROUTES.userinfo]),
  );
  app.use(health(deps.db));
  app.use(metricsEndpoint({ metrics: deps.metrics, token: deps.config.METRICS_TOKEN, audit: deps.audit }));
  app.use(staticFiles());

  // Published keys come from the database-backed key set, so a key added by `keys rotate` is published by every
  // instance as soon as it reloads, whatever its activation time.
  app.use(async (ctx, next) => {
    if (ctx.path !== ROUTES.jwks || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    ctx.type = 'application/jwk-set+json';
    ctx.set('Cache-Control', 'public, max-age=60');
    ctx.body = deps.holder.keys.publicJwks();
  });

  const provider = () => deps.holder.provider;
  const interactions = interactionRoutes({ ...deps, provider, upstreamMetrics: upstreamMetrics(deps.metrics) });
  app.use(underPath('/interaction', compose([interactions.routes(), interactions.allowedMethods()] as Middleware[])));
  app.use(underPath(CALLBACK_PATH, upstreamCallbackRoutes({ audit: deps.audit, pages: interactionPages(deps.views, provider), base: issuerBase(deps.config.ISSUER) }).routes() as Middleware));
  app.use(underPath('/setup', setupRoutes({ ...deps, accounts: deps.users }).routes() as Middleware));
  app.use(
    underPath(
      '/console',
      consoleRoutes({
        ...deps,
        provider,
        sessions: deps.consoleSessions,
        pages: new ConsolePages(deps.views, deps.audit, issuerBase(deps.config.ISSUER), deps.config.ISSUER.startsWith('https:')),
      }),
    ),
  );

  app.use(catalogue(deps.resources));
  app.use(metadata({ resources: deps.resources, cimd: deps.config.CIMD }));
  app.use(providerForm([ROUTES.token, ROUTES.authorization, ROUTES.revocation, ROUTES.introspection]));
  app.use(endpointRateLimits({ limits: deps.rateLimits, views: deps.views, cimdClients: deps.cimdClients, cimd: deps.config.CIMD, paths: ROUTES }));
  app.use(canonicalResourceParam({ authorization: ROUTES.authorization, token: ROUTES.token }, deps.audit));
  app.use(defaultScope({ authorizationPath: ROUTES.authorization, resources: deps.resources }));
  app.use(
    clientApproval({
      authorizationPath: ROUTES.authorization,
      tokenPath: ROUTES.token,
      clientEndpoints: [ROUTES.token, ROUTES.revocation, ROUTES.introspection],
      registry: deps.registry,
      views: deps.views,
      audit: deps.audit,
    }),
  );
  app.use(
    registrationPolicy({
      config: deps.config,
      registrationPath: ROUTES.registration,
      staticScopes: STATIC_SCOPES,
      audit: deps.audit,
      registry: deps.registry,
      rateLimits: deps.rateLimits,
      policy: deps.policy,
      provider,
    }),
  );
  app.use(registrationResponse(ROUTES.registration));
  app.use(async (ctx, next) => {
    await next();
    if (ctx.path === ROUTES.revocation && ctx.method === 'POST' && ctx.status === 200) {
      await deps.audit.record({ type: 'token.revoked', outcome: 'success', ...requestOrigin(ctx) });
    }
  });
  app.use(deps.holder.middleware());
  return app;
}
