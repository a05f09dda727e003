// The `route` label of the HTTP metrics. The raw path is chosen by whoever sends the request, so using it as a label
// would let anyone create unbounded time series (and exhaust the scraper's memory); the label is the name of the
// route the edge resolved (http/route-table.ts), and `other` for every request that resolved to none.
import type { RouteId } from '../http/route-table.js';

export const ROUTE_NAMES = [
  'authorize', 'token', 'register', 'revoke', 'introspect', 'userinfo', 'jwks', 'metadata', 'catalogue',
  'interaction', 'console', 'static', 'health', 'metrics', 'mcp_server_reports', 'account', 'admin_api', 'identity_signals', 'other',
] as const;
export type RouteName = (typeof ROUTE_NAMES)[number];

const NAMES: Record<RouteId, RouteName> = {
  home: 'static', // the landing page: the same for every visitor
  discovery: 'metadata',
  authorization: 'authorize',
  resume: 'authorize',
  token: 'token',
  registration: 'register',
  client_management: 'register',
  revocation: 'revoke',
  introspection: 'introspect',
  userinfo: 'userinfo',
  jwks: 'jwks',
  catalogue: 'catalogue',
  mcp_server_inventory: 'mcp_server_reports',
  mcp_server_tool_calls: 'mcp_server_reports',
  mcp_server_tool_approvals: 'mcp_server_reports',
  global_token_revocation: 'identity_signals',
  ssf_events: 'identity_signals',
  account: 'account',
  admin_api: 'admin_api',
  console_api: 'admin_api',
  interaction: 'interaction',
  upstream_callback: 'interaction',
  setup: 'interaction',
  welcome: 'interaction',
  console: 'console',
  static: 'static',
  health: 'health',
  readiness: 'health',
  metrics: 'metrics',
};

/** The label of a resolved route; `other` for a request that resolved to none (refused at the edge). */
export function routeName(id: RouteId | undefined): RouteName {
  return id ? NAMES[id] : 'other';
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Node accepts some thirty methods; only the ones Gatehouse serves get their own label value. */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'other';
}
