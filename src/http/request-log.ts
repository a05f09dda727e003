// One JSON line per request: method, resolved route, path, status, time. Never the query string (it carries codes
// and state), and never a route parameter that is a secret: the path logged is the resolved route's, with every
// parameter the route table does not declare loggable replaced by its `:name` — the first-admin setup token above
// all (docs/SECURITY.md, "Issue 16: first-admin setup and token lifetimes"). A request that resolved to no route
// (a refused spelling may still carry a real token: `/setup/<token>/`) is logged by its first segment only.
// The request's id (request-id.ts) opens the line: the answer's X-Request-Id header, its audit rows and any error
// page it showed carry the same one.
import type { Context, Middleware } from 'koa';
import type { Logger } from '../log.js';
import { assignRequestId } from '../request-id.js';
import { routeOf } from './route-resolution.js';

/** The path any log line may show for this request (errors.ts uses it too). */
export function pathForLog(ctx: Context): string {
  const route = routeOf(ctx);
  if (route) return `${(ctx as Context & { mountPath?: string }).mountPath ?? ''}${route.loggedPath}`;
  const [first = '', ...rest] = ctx.path.slice(1).split('/');
  return `/${first.slice(0, 64)}${rest.length ? '/…' : ''}`;
}

export function requestLog(log: Logger): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const requestId = assignRequestId(ctx.req);
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info({ request_id: requestId, method: ctx.method, route: routeOf(ctx)?.id ?? null, path: pathForLog(ctx), status: ctx.status, ms: Math.round(ms * 10) / 10, ip: ctx.ip }, 'request');
    }
  };
}
