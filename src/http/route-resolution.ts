// Route resolution at the edge (docs/ARCHITECTURE.md "Route resolution and the policy table"): every request is
// resolved once, before any rule runs, to one route of the declared table (route-table.ts), and the result is all
// that later middleware looks at (`routeOf(ctx)`). oidc-provider's router folds letter case and a trailing slash, and
// @koa/router is case-insensitive by default; a rule that compared `ctx.path` with a string could therefore be
// walked around by `/Token` or `/register/` while the endpoint still answered. Here only the canonical spelling
// resolves: a path that is not in canonical form (doubled or trailing slash, dot segments, percent-encoded
// unreserved characters) or that differs from a route in letter case gets a 404 before anything else runs, and so
// does every path the table does not list. Bad input in the path or the query (input-sanity.ts) gets a 400.
import type { Context, Middleware } from 'koa';
import { formProblem, strictDecode, BadInput } from './input-sanity.js';
import { ROUTE_TABLE, type Method, type RouteId, type RouteSpec } from './route-table.js';

export interface ResolvedRoute {
  id: RouteId;
  spec: RouteSpec;
  /** The route's `:name` parameters, percent-decoded once, here. */
  params: Record<string, string>;
  /** The path for the request log: parameters not in `spec.loggedParams` replaced by `:name` (request-log.ts). */
  loggedPath: string;
  /** An area's rest of the path after the route's own (`/clients/x` under `/admin/api/v1`); '' for other routes. */
  tail: string;
}

export type Resolution =
  | { kind: 'route'; route: ResolvedRoute }
  | { kind: 'method'; spec: RouteSpec }
  | { kind: 'bad_input'; problem: string }
  | { kind: 'not_canonical' }
  | { kind: 'unknown' };

const UNRESERVED_ESCAPE = /%(?:[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9]|2[DEde]|5[Ff]|7[Ee])/;

/** Why `path` is not the canonical spelling of itself, or undefined when it is. */
function notCanonical(path: string): boolean {
  if (!path.startsWith('/')) return true;
  if (path === '/') return false;
  if (UNRESERVED_ESCAPE.test(path)) return true; // %74oken is /token spelt otherwise
  const segments = path.slice(1).split('/');
  return segments.some((s) => s === '' || s === '.' || s === '..' || /^(?:%2e){1,2}$/i.test(s));
}

interface Compiled {
  spec: RouteSpec;
  segments: string[];
}

const compile = (spec: RouteSpec): Compiled => ({ spec, segments: spec.path.slice(1).split('/') });

function matchSegments(route: Compiled, parts: string[], fold: boolean): Record<string, string> | undefined {
  const { segments, spec } = route;
  if (spec.area ? parts.length < segments.length : parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const want = segments[i]!;
    const got = parts[i]!;
    if (want.startsWith(':')) {
      if (!got) return undefined;
      params[want.slice(1)] = got;
    } else if (fold ? want.toLowerCase() !== got.toLowerCase() : want !== got) {
      return undefined;
    }
  }
  return params;
}

/** The path with each parameter the route does not declare loggable replaced by its `:name` (an area's tail kept). */
function loggedPath(route: Compiled, parts: string[]): string {
  const shown = new Set(route.spec.loggedParams ?? []);
  const logged = parts.map((part, i) => {
    const want = route.segments[i];
    return want?.startsWith(':') && !shown.has(want.slice(1)) ? want : part;
  });
  const kept = route.spec.loggedTail;
  if (kept !== undefined && logged.length > route.segments.length + kept) return `/${logged.slice(0, route.segments.length + kept).join('/')}/…`;
  return `/${logged.join('/')}`;
}

/** What the loosest router in front of us could still take this path for (for the audit of refused spellings). */
function loosely(path: string): string[] {
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // the strict check has refused it already
  }
  return decoded.split('/').filter((s) => s !== '' && s !== '.');
}

export class RouteResolver {
  readonly #routes: Compiled[];

  constructor(table: readonly RouteSpec[] = ROUTE_TABLE) {
    this.#routes = table.map(compile);
  }

  resolve(method: string, path: string): Resolution {
    const decodedPath = strictDecode(path);
    if ('problem' in decodedPath) return { kind: 'bad_input', problem: decodedPath.problem };
    if (notCanonical(path)) return this.#looseMatch(path) ? { kind: 'not_canonical' } : { kind: 'unknown' };
    const parts = path.slice(1).split('/');
    for (const route of this.#routes) {
      const raw = matchSegments(route, parts, false);
      if (!raw) continue;
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(raw)) params[k] = decodeURIComponent(v);
      if (!route.spec.methods.includes(method as Method)) return { kind: 'method', spec: route.spec };
      return { kind: 'route', route: { id: route.spec.id, spec: route.spec, params, loggedPath: loggedPath(route, parts), tail: route.spec.area ? parts.slice(route.segments.length).map((p) => `/${p}`).join('') : '' } };
    }
    return this.#looseMatch(path) ? { kind: 'not_canonical' } : { kind: 'unknown' };
  }

  #looseMatch(path: string): boolean {
    const parts = loosely(path);
    return this.#routes.some((r) => matchSegments(r, parts, true) !== undefined);
  }
}

/** The route this request was resolved to; every middleware after the edge reads this, never `ctx.path`. */
export function routeOf(ctx: Context): ResolvedRoute | undefined {
  return (ctx.state as { route?: ResolvedRoute }).route;
}

export interface EdgeRefusal {
  status: 400 | 404 | 405;
  reason: string;
}

/**
 * The edge: resolves the request, refuses what does not resolve, checks the query string, and hands the resolved
 * route on in ctx.state.route. `onRefusal` lets the caller audit refused spellings and bad input (not plain 404s of
 * paths nobody serves: a scanner's noise is not a security event).
 */
export function routeResolution(options: { resolver?: RouteResolver; onRefusal?: (ctx: Context, refusal: EdgeRefusal, audit: boolean) => Promise<void> } = {}): Middleware {
  const resolver = options.resolver ?? new RouteResolver();
  const refuse = async (ctx: Context, refusal: EdgeRefusal, audit: boolean) => {
    await options.onRefusal?.(ctx, refusal, audit);
    if (refusal.status === 400) throw new BadInput(refusal.reason);
    const err = Object.assign(new Error(refusal.reason), {
      status: refusal.status,
      expose: true,
      error: 'invalid_request',
      error_description: refusal.reason,
    });
    throw err;
  };
  return async (ctx, next) => {
    const resolution = resolver.resolve(ctx.method, ctx.path);
    switch (resolution.kind) {
      case 'bad_input':
        return refuse(ctx, { status: 400, reason: `the path: ${resolution.problem}` }, true);
      case 'not_canonical':
        return refuse(ctx, { status: 404, reason: 'no such endpoint: use the exact path the discovery document publishes' }, true);
      case 'unknown':
        return refuse(ctx, { status: 404, reason: 'no such endpoint' }, false);
      case 'method': {
        const allowed = resolution.spec.methods.join(', ');
        ctx.set('Allow', allowed);
        return refuse(ctx, { status: 405, reason: `method ${ctx.method.slice(0, 16)} is not allowed here; use ${allowed}` }, false);
      }
      case 'route': {
        const problem = formProblem(ctx.querystring);
        if (problem) return refuse(ctx, { status: 400, reason: `the query string: ${problem}` }, true);
        ctx.state.route = resolution.route;
        return next();
      }
    }
  };
}
