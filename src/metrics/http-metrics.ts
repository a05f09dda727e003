// Counts and times every request. Installed outside the error handler, so the status is the one the client got,
// and before the ISSUER-path mount, which restores the path the client asked for on the way out.
import type { Middleware } from 'koa';
import type { Metrics } from './registry.js';
import { methodLabel, routeName } from './routes.js';

export function httpMetrics(metrics: Metrics, base: string): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeName(ctx.path, base);
      const method = methodLabel(ctx.method);
      metrics.httpRequests.inc({ route, method, status: String(ctx.status) });
      metrics.httpDuration.observe({ route, method }, seconds);
    }
  };
}
