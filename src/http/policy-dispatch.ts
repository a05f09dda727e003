// Runs the declared policy table (src/policy-table.ts) for the route the edge resolved (route-resolution.ts): the
// route's rules in their declared order, then its handler — oidc-provider for protocol routes, Gatehouse's own
// router for the rest. Nothing here looks at the path; a route that is not in the table has no handler and is a 404.
import type { Context, Middleware } from 'koa';
import compose from 'koa-compose';
import { routeOf } from './route-resolution.js';
import type { Method, RouteId } from './route-table.js';

export interface Rule {
  /** The rule's name as docs/SECURITY.md and the audit log refer to it. */
  name: string;
  /** Only for these methods (all the route's methods when absent). */
  methods?: readonly Method[];
  run: Middleware;
}

export interface RoutePolicy {
  rules: readonly Rule[];
  /** What answers once every rule let the request through. */
  handler: Middleware;
}

export type PolicyTable = Record<RouteId, RoutePolicy>;

export function rule(name: string, run: Middleware, methods?: readonly Method[]): Rule {
  return methods ? { name, run, methods } : { name, run };
}

/** One middleware that dispatches every resolved request through its route's rules and handler. */
export function policyDispatch(table: PolicyTable): Middleware {
  const composed = new Map<string, Middleware>();
  const chain = (id: RouteId, method: string): Middleware => {
    const key = `${id} ${method}`;
    let run = composed.get(key);
    if (!run) {
      const policy = table[id];
      const rules = policy.rules.filter((r) => !r.methods || r.methods.includes(method as Method)).map((r) => r.run);
      run = compose([...rules, policy.handler]);
      composed.set(key, run);
    }
    return run;
  };
  return (ctx: Context, next) => {
    const route = routeOf(ctx);
    if (!route) return next();
    return chain(route.id, ctx.method)(ctx, next);
  };
}
