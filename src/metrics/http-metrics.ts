// Counts and times every request. Installed outside the error handler, so the status is the one the client got;
// labelled by the route the edge resolved (http/route-resolution.ts), `other` for what resolved to none.
import type { Middleware } from 'koa';
import { routeOf } from '../http/route-resolution.js';
import type { Metrics } from './registry.js';
import { methodLabel, routeName } from './routes.js';

export function httpMetrics(metrics: Metrics): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeName(routeOf(ctx)?.id);
      const method = methodLabel(ctx.method);
      metrics.httpRequests.inc({ route, method, status: String(ctx.status) });
      metrics.httpDuration.observe({ route, method }, seconds);
    }
  };
}
