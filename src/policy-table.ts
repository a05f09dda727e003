// Which rule runs on which route, in one place (docs/ARCHITECTURE.md "Route resolution and the policy table";
// docs/SECURITY.md "Threats and the rules that stop them"). The edge (http/route-resolution.ts) has resolved every
// request to one route of http/route-table.ts; http/policy-dispatch.ts runs that route's rules below, in order, then
// its handler. No rule looks at the path: a rule is on a route because this table puts it there, so every spelling
// the server answers meets the same rules (the others were refused at the edge).
//
// Rules that live inside oidc-provider, and so hold for every route it serves, are composed in oauth/provider.ts
// (PKCE, resource indicators, refresh-token policy, introspection policy, CIMD trust, the client-metadata policy,
// the client_credentials rule).
import { connectUrlInAnswer } from './oauth/grants/token-exchange.js';
import { idJagEnabled } from './oauth/grants/id-jag-assertion.js';
import type { Middleware } from 'koa';
import compose from 'koa-compose';
import type { AppDeps } from './app-deps.js';
import { consoleRoutes } from './console/index.js';
import { ConsolePages } from './console/render.js';
import { cors } from './http/cors.js';
import { liveness, readiness } from './http/health.js';
import { issuerBase } from './http/issuer-path.js';
import { rule, type PolicyTable } from './http/policy-dispatch.js';
import type { Method } from './http/route-table.js';
import { providerForm } from './http/provider-form.js';
import { staticFiles } from './http/static-files.js';
import { landingPage } from './http/landing-page.js';
import { interactionPages } from './interaction/pages.js';
import { interactionRoutes } from './interaction/routes.js';
import { setupRoutes } from './interaction/setup-routes.js';
import { welcomeRateLimit, welcomeRoutes } from './interaction/welcome-routes.js';
import { AccountLinks } from './upstream/local/account-links.js';
import { upstreamCallback } from './interaction/upstream-callback.js';
import { metricsEndpoint } from './metrics/endpoint.js';
import { upstreamMetrics } from './metrics/upstream-metrics.js';
import { catalogue } from './oauth/catalogue.js';
import { metadata } from './oauth/metadata.js';
import { canonicalResourceParam } from './oauth/policies/request/canonical-resource-param.js';
import { clientApproval } from './oauth/policies/request/client-approval.js';
import { defaultScope } from './oauth/policies/request/default-scope.js';
import { adminApiDefaultScope } from './oauth/policies/request/admin-api-default-scope.js';
import { authorizeRateLimit, cimdFirstUseLimit, tokenRateLimit } from './oauth/policies/request/endpoint-rate-limits.js';
import { oneResource } from './oauth/policies/request/one-resource.js';
import { registrationResponse } from './oauth/policies/request/registration-response.js';
import { unauthorizedGrantType } from './oauth/policies/request/unauthorized-grant-type.js';
import { STATIC_SCOPES } from './oauth/provider.js';
import { publishedKeys } from './oauth/published-keys.js';
import { interactionClientId } from './oauth/interaction-client.js';
import { withRequestReads } from './db/request-reads.js';
import { registrationPolicy } from './oauth/registration.js';
import { inventoryRoute, reportRateLimit, toolCallsRoute } from './reporting/routes.js';
import { toolApprovalsRoute } from './approvals/routes.js';
import { accountRoutes } from './account/index.js';
import { adminServices } from './admin/index.js';
import { adminApi, consoleApi } from './admin-api/index.js';
import { Administrators } from './console/admins.js';
import { GLOBAL_TOKEN_REVOCATION_PATH } from './http/route-table.js';
import { globalTokenRevocationRoute } from './signals/global-token-revocation.js';
import { IdpKeys } from './signals/idp-jwt.js';
import { signalRateLimit } from './signals/rate-limit.js';
import { securityEventRoute } from './signals/set-receiver.js';

const routerMiddleware = (router: { routes(): unknown; allowedMethods(): unknown }): Middleware =>
  compose([router.routes(), router.allowedMethods()] as Middleware[]);

export function policyTable(deps: AppDeps): PolicyTable {
  const { audit, views, registry } = deps;
  const provider = deps.holder.middleware();
  // The provider of the moment (the holder swaps it when the signing keys change).
  const currentProvider = () => deps.holder.provider;
  const base = issuerBase(deps.config.ISSUER);
  const limits = { limits: deps.rateLimits, views, cimdClients: deps.cimdClients, cimd: deps.config.CIMD };
  const registration = {
    config: deps.config,
    staticScopes: STATIC_SCOPES,
    audit,
    registry,
    rateLimits: deps.rateLimits,
    policy: deps.policy,
    provider: currentProvider,
  };
  const approval = (endpoint: 'authorization' | 'token' | 'revocation' | 'introspection', methods?: Method[]) =>
    rule('client approval (pending and disabled clients)', clientApproval({ endpoint, registry, views, audit }), methods);
  // A sign-in under way: the client is the interaction's (a client disabled mid-sign-in gets no consent and no code).
  const stepApproval = rule(
    'client approval of the sign-in under way',
    clientApproval({ endpoint: 'sign-in step', registry, views, audit, clientIdOf: interactionClientId(currentProvider) }),
  );
  // A browser sign-in step reads its interaction, session and account in several places: once per request, for the
  // rules after this one and the handler (db/request-reads.ts). Only there: other routes read each row once already.
  const keptReads = rule('reads kept for the request', (_ctx, next) => withRequestReads(next));
  const corsRule = rule('CORS', cors());
  const form = rule('parse the form once', providerForm(), ['POST']);
  const canonicalResource = rule('canonical resource', canonicalResourceParam());
  const inventories = deps.inventories;
  const reporting = { db: deps.db, audit, registry, resources: deps.resources, provider: currentProvider, inventories };
  // Reports are authenticated by their handler (reporting/reporter-client.ts); the limit runs first, so a failed
  // authentication has cost its source a point.
  const reportLimit = rule('rate limit per IP (reports)', reportRateLimit(deps.rateLimits));
  // An identity provider's logout (docs/UNIVERSAL-LOGOUT.md): the same per-address budget, counted before the caller
  // authenticates and given back when it did, so only failures count against a source.
  const signalLimit = rule('rate limit per IP (identity provider signals)', signalRateLimit(deps.rateLimits));
  const signals = {
    config: deps.config, db: deps.db, connections: deps.connections, accounts: deps.accounts, personRevocation: deps.personRevocation, audit,
    idpKeys: new IdpKeys(deps.connections),
  };
  // The admin service layer every administrative door uses (docs/ARCHITECTURE.md, "The admin service layer").
  const admin = adminServices({ ...deps, provider: currentProvider, sessions: deps.consoleSessions, reloadKeys: () => deps.holder.refresh() });
  const api = {
    issuer: deps.config.ISSUER, base, services: admin, audit, rateLimits: deps.rateLimits, registry, keys: () => deps.holder.keys, provider: currentProvider,
    sessions: deps.consoleSessions, accounts: deps.accounts, admins: new Administrators(deps), localCli: deps.localCli,
  };

  return {
    home: { rules: [], handler: landingPage({ issuer: deps.config.ISSUER, views }) },
    discovery: { rules: [corsRule, rule('MCP metadata completion', metadata({ resources: deps.resources, cimd: deps.config.CIMD, globalTokenRevocationEndpoint: `${deps.config.ISSUER}${GLOBAL_TOKEN_REVOCATION_PATH}`, idJag: () => idJagEnabled(deps.connections) }))], handler: provider },
    authorization: {
      rules: [
        keptReads,
        rule('rate limit per IP', authorizeRateLimit(limits)),
        rule('CIMD first-use limit', cimdFirstUseLimit(limits, 'page')),
        canonicalResource,
        rule('one resource per request', oneResource({ audit, views, endpoint: 'authorization' })),
        rule('default scope', defaultScope({ resources: deps.resources })),
        approval('authorization'),
      ],
      handler: provider,
    },
    resume: { rules: [keptReads, stepApproval], handler: provider },
    token: {
      rules: [
        corsRule,
        form,
        rule('rate limit per IP and client', tokenRateLimit(limits), ['POST']),
        rule('CIMD first-use limit', cimdFirstUseLimit(limits, 'json'), ['POST']),
        canonicalResource,
        rule('one resource per request', oneResource({ audit, endpoint: 'token' }), ['POST']),
        approval('token', ['POST']),
        rule('unauthorized_client for a grant type not allowed', unauthorizedGrantType(), ['POST']),
        rule('connect_url on a token exchange that needs the person (docs/DELEGATION.md)', connectUrlInAnswer(), ['POST']),
        rule('admin API default scope', adminApiDefaultScope(currentProvider), ['POST']),
      ],
      handler: provider,
    },
    registration: {
      rules: [corsRule, rule('registration policy', registrationPolicy(registration, 'create'), ['POST']), rule('registration response', registrationResponse(), ['POST'])],
      handler: provider,
    },
    client_management: {
      rules: [corsRule, rule('registration management policy', registrationPolicy(registration, 'manage')), rule('registration response', registrationResponse(), ['GET', 'PUT'])],
      handler: provider,
    },
    revocation: {
      rules: [corsRule, form, rule('CIMD first-use limit', cimdFirstUseLimit(limits, 'json'), ['POST']), approval('revocation', ['POST'])],
      handler: provider,
    },
    introspection: {
      rules: [corsRule, form, rule('CIMD first-use limit', cimdFirstUseLimit(limits, 'json'), ['POST']), approval('introspection', ['POST'])],
      handler: provider,
    },
    userinfo: { rules: [corsRule], handler: provider },
    jwks: { rules: [corsRule], handler: publishedKeys(() => deps.holder.keys) },
    catalogue: { rules: [], handler: catalogue(deps.resources, (uri) => deps.approvals.modesOf(uri)) },
    mcp_server_inventory: { rules: [reportLimit], handler: inventoryRoute(reporting) },
    mcp_server_tool_calls: { rules: [reportLimit], handler: toolCallsRoute(reporting) },
    mcp_server_tool_approvals: { rules: [reportLimit], handler: toolApprovalsRoute({ ...reporting, approvals: deps.approvals }) },
    global_token_revocation: { rules: [signalLimit], handler: globalTokenRevocationRoute(signals) },
    ssf_events: { rules: [signalLimit], handler: securityEventRoute(signals) },
    interaction: {
      rules: [keptReads, stepApproval],
      handler: routerMiddleware(interactionRoutes({ ...deps, provider: currentProvider, upstreamMetrics: upstreamMetrics(deps.metrics) })),
    },
    upstream_callback: { rules: [], handler: upstreamCallback({ audit, pages: interactionPages(views, currentProvider), base }) },
    setup: { rules: [], handler: routerMiddleware(setupRoutes({ ...deps, accounts: deps.users })) },
    welcome: {
      rules: [rule('rate limit per IP (sign-in failures)', welcomeRateLimit({ limits: deps.rateLimits, views }), ['POST'])],
      handler: routerMiddleware(welcomeRoutes({ config: deps.config, views, links: new AccountLinks(deps.db, deps.users, audit) })),
    },
    admin_api: { rules: [], handler: adminApi(api) },
    console_api: { rules: [], handler: consoleApi(api) },
    console: {
      rules: [],
      handler: consoleRoutes({
        ...deps,
        provider: currentProvider,
        inventories,
        sessions: deps.consoleSessions,
        pages: new ConsolePages(views, audit, base, deps.config.ISSUER.startsWith('https:')),
      }),
    },
    account: {
      rules: [],
      handler: accountRoutes({
        ...deps,
        provider: currentProvider,
        sessions: deps.accountSessions,
        store: deps.approvalStore,
      }),
    },
    static: { rules: [], handler: staticFiles() },
    health: { rules: [], handler: liveness },
    readiness: { rules: [], handler: readiness(deps.db) },
    metrics: { rules: [], handler: metricsEndpoint({ metrics: deps.metrics, token: deps.config.METRICS_TOKEN, audit }) },
  };
}
