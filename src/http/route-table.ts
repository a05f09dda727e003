// Every route this server answers, declared once (docs/ARCHITECTURE.md "Route resolution and the policy table").
// A request is resolved against this table at the edge (route-resolution.ts) before any other middleware runs:
// the canonical spelling below is the only one served, any other spelling of a route (letter case, a trailing or
// doubled slash, percent-encoded letters, dot segments) is a 404, and every path not in the table is a 404 too.
// Rules are then keyed by the route's id (src/policy-table.ts), never by a path string.
//
// `ROUTES` are oidc-provider's endpoint paths; provider.ts hands them to oidc-provider, so the provider's router
// and this table name the same paths.

export const ROUTES = {
  authorization: '/authorize',
  token: '/token',
  registration: '/register',
  jwks: '/jwks',
  revocation: '/revoke',
  introspection: '/introspect',
  userinfo: '/userinfo',
  end_session: '/logout',
} as const;

export const RFC8414_PATH = '/.well-known/oauth-authorization-server';
export const OIDC_DISCOVERY_PATH = '/.well-known/openid-configuration';
/** Where an identity provider pushes logout (docs/UNIVERSAL-LOGOUT.md); the metadata advertises the first. */
export const GLOBAL_TOKEN_REVOCATION_PATH = '/global-token-revocation';
export const SSF_EVENTS_PATH = '/ssf/events';

export type RouteId =
  | 'home'
  | 'discovery'
  | 'authorization'
  | 'resume'
  | 'token'
  | 'registration'
  | 'client_management'
  | 'revocation'
  | 'introspection'
  | 'userinfo'
  | 'jwks'
  | 'catalogue'
  | 'mcp_server_inventory'
  | 'mcp_server_tool_calls'
  | 'mcp_server_tool_approvals'
  | 'global_token_revocation'
  | 'ssf_events'
  | 'account'
  | 'interaction'
  | 'upstream_callback'
  | 'setup'
  | 'welcome'
  | 'console'
  | 'admin_api'
  | 'console_api'
  | 'static'
  | 'health'
  | 'readiness'
  | 'metrics';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

export interface RouteSpec {
  id: RouteId;
  /** Canonical path; `:name` segments are parameters (one non-empty segment each). */
  path: string;
  /** The methods answered; anything else on this path is a 405. HEAD is answered wherever GET is. */
  methods: readonly Method[];
  /**
   * The route owns every path below it too (the console's pages, the interaction's steps): the rest of the path is
   * matched by that area's own router, which is case-sensitive; here it must only be canonically spelt.
   */
  area?: boolean;
  /** Answered at the host's root even when ISSUER has a path (container probes, scrapers). */
  root?: boolean;
  /**
   * The parameters the request log may show. Every other parameter is logged as `:name`: a new route's parameter
   * is treated as a secret until declared otherwise (request-log.ts; docs/SECURITY.md, issue 16).
   */
  loggedParams?: readonly string[];
  /** An area's tail segments the log may show; the rest is `…` (an approval id: account/index.ts). Default: all. */
  loggedTail?: number;
}

const GET = ['GET', 'HEAD'] as const;

export const ROUTE_TABLE: readonly RouteSpec[] = [
  // What this server is and where to go (docs/ARCHITECTURE.md, "The landing page"): ISSUER's own root.
  { id: 'home', path: '/', methods: GET },
  { id: 'discovery', path: RFC8414_PATH, methods: [...GET, 'OPTIONS'] },
  { id: 'discovery', path: OIDC_DISCOVERY_PATH, methods: [...GET, 'OPTIONS'] },
  // GET only: oidc-provider's POST form of the endpoint is off (enableHttpPostMethods), so it is not a route.
  { id: 'authorization', path: ROUTES.authorization, methods: GET },
  { id: 'resume', path: `${ROUTES.authorization}/:uid`, methods: GET },
  { id: 'token', path: ROUTES.token, methods: ['POST', 'OPTIONS'] },
  { id: 'registration', path: ROUTES.registration, methods: ['POST', 'OPTIONS'] },
  // A client id is not a credential (the adapter stores Client ids as they are); a setup token is, and an
  // interaction uid is stored only as a digest (docs/ARCHITECTURE.md, "The adapter"): those two are never logged.
  { id: 'client_management', path: `${ROUTES.registration}/:clientId`, methods: [...GET, 'PUT', 'DELETE', 'OPTIONS'], loggedParams: ['clientId'] },
  { id: 'revocation', path: ROUTES.revocation, methods: ['POST', 'OPTIONS'] },
  { id: 'introspection', path: ROUTES.introspection, methods: ['POST', 'OPTIONS'] },
  { id: 'userinfo', path: ROUTES.userinfo, methods: [...GET, 'POST', 'OPTIONS'] },
  { id: 'jwks', path: ROUTES.jwks, methods: [...GET, 'OPTIONS'] },
  { id: 'catalogue', path: '/catalogue', methods: [...GET, 'OPTIONS'] },
  // What an MCP server reports back (docs/MCP-SERVER-REPORTING.md): server to server, so no OPTIONS (no CORS).
  { id: 'mcp_server_inventory', path: '/mcp-server/inventory', methods: ['PUT'] },
  { id: 'mcp_server_tool_calls', path: '/mcp-server/tool-calls', methods: ['POST'] },
  // An MCP server asks whether a tool call may run (docs/TOOL-APPROVALS.md).
  { id: 'mcp_server_tool_approvals', path: '/mcp-server/tool-approvals', methods: ['POST'] },
  // An identity provider ends a person's grants and sessions (docs/UNIVERSAL-LOGOUT.md): server to server, no CORS.
  // A connection id is a slug the login page shows, not a credential.
  { id: 'global_token_revocation', path: GLOBAL_TOKEN_REVOCATION_PATH, methods: ['POST'] },
  { id: 'ssf_events', path: `${SSF_EVENTS_PATH}/:connectionId`, methods: ['POST'], loggedParams: ['connectionId'] },
  { id: 'interaction', path: '/interaction/:uid', methods: [...GET, 'POST'], area: true },
  { id: 'upstream_callback', path: '/upstream/callback', methods: GET },
  { id: 'setup', path: '/setup/:token', methods: [...GET, 'POST'] },
  // A local person's invitation or password reset link (docs/PEOPLE.md): the token is in the path only to open the
  // page (never logged: not in loggedParams); the form posts it to `/welcome` in a field, so no change carries it in a URL.
  { id: 'welcome', path: '/welcome/:token', methods: GET },
  { id: 'welcome', path: '/welcome', methods: ['POST'] },
  // The admin API for an administrator's console session (docs/ADMIN-API.md): before the console, whose area it is in
  // (the first route that matches is the request's).
  { id: 'console_api', path: '/console/api/v1', methods: [...GET, 'POST', 'PUT', 'PATCH', 'DELETE'], area: true },
  { id: 'console', path: '/console', methods: [...GET, 'POST'], area: true },
  // The admin API for admin API clients' access tokens (docs/ADMIN-API.md). No OPTIONS: it is not for browsers.
  { id: 'admin_api', path: '/admin/api/v1', methods: [...GET, 'POST', 'PUT', 'PATCH', 'DELETE'], area: true },
  // The person's own pages: pending approvals and the approval page (docs/TOOL-APPROVALS.md). An approval id is not
  // logged: with it and the person's session a call can be decided.
  { id: 'account', path: '/account', methods: [...GET, 'POST'], area: true, loggedTail: 1 },
  { id: 'static', path: '/static/style.css', methods: GET },
  { id: 'static', path: '/static/console.css', methods: GET },
  { id: 'static', path: '/static/copy.js', methods: GET },
  { id: 'health', path: '/healthz', methods: GET, root: true },
  { id: 'readiness', path: '/readyz', methods: GET, root: true },
  { id: 'metrics', path: '/metrics', methods: GET, root: true },
];

/** The paths answered at the host's root under an ISSUER with a path (http/issuer-path.ts). */
export const ROOT_PATHS = ROUTE_TABLE.filter((r) => r.root).map((r) => r.path);
