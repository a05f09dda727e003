// The `route` label of the HTTP metrics. The raw path is chosen by whoever sends the request, so using it as a label
// would let anyone create unbounded time series (and exhaust the scraper's memory); every path maps to one of the
// fixed names below, and anything unknown is `other`.
import { ROUTES } from '../oauth/provider.js';

export const ROUTE_NAMES = [
  'authorize', 'token', 'register', 'revoke', 'introspect', 'userinfo', 'jwks', 'metadata', 'catalogue',
  'interaction', 'console', 'static', 'health', 'metrics', 'other',
] as const;
export type RouteName = (typeof ROUTE_NAMES)[number];

const EXACT: Record<string, RouteName> = {
  [ROUTES.token]: 'token',
  [ROUTES.revocation]: 'revoke',
  [ROUTES.introspection]: 'introspect',
  [ROUTES.userinfo]: 'userinfo',
  [ROUTES.jwks]: 'jwks',
  '/catalogue': 'catalogue',
  '/healthz': 'health',
  '/readyz': 'health',
  '/metrics': 'metrics',
  '/upstream/callback': 'interaction',
};

/** Routes that own everything below them: `/authorize/<uid>` is the resume, `/register/<id>` RFC 7592. */
const PREFIXES: Array<[string, RouteName]> = [
  [ROUTES.authorization, 'authorize'],
  [ROUTES.registration, 'register'],
  ['/interaction', 'interaction'],
  ['/setup', 'interaction'],
  ['/console', 'console'],
  ['/static', 'static'],
  ['/.well-known', 'metadata'],
];

const OUTSIDE = new Set(['/healthz', '/readyz', '/metrics']);

const below = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);

/** The route name of a request path as the client sent it; `base` is ISSUER's path (`''` at the root). */
export function routeName(path: string, base: string): RouteName {
  // Under an ISSUER path routes are matched below it; outside it only health, metrics and the RFC 8414 inserted
  // well-known forms are answered (http/issuer-path.ts), everything else there is a 404 that names no route.
  let inner = path;
  if (base) {
    if (below(path, base)) inner = path.slice(base.length) || '/';
    else if (!OUTSIDE.has(path) && !below(path, '/.well-known')) return 'other';
  }
  const exact = EXACT[inner];
  if (exact) return exact;
  for (const [prefix, name] of PREFIXES) if (below(inner, prefix)) return name;
  return 'other';
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Node accepts some thirty methods; only the ones Gatehouse serves get their own label value. */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'other';
}
