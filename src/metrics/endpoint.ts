// GET /metrics. Metrics reveal traffic, client and failure patterns, so they are not public: with METRICS_TOKEN
// unset the route does not exist (404, like any unknown path), and with it set a scrape must present
// `Authorization: Bearer <METRICS_TOKEN>`, compared in constant time; anything else gets 401 and is audited.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import type { Metrics } from './registry.js';

export const METRICS_PATH = '/metrics';

// Digests have one length whatever was sent, so the comparison takes the same time for every wrong token.
const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** The metrics route's handler (src/policy-table.ts); the edge answers only GET and HEAD here. */
export function metricsEndpoint(options: { metrics: Metrics; token: string | undefined; audit: AuditLog }): Middleware {
  const expected = options.token === undefined ? undefined : digest(options.token);
  return async (ctx, next) => {
    if (!expected) return next();
    ctx.set('Cache-Control', 'no-store');
    const presented = /^Bearer ([^\s]+)$/i.exec(ctx.get('authorization'))?.[1];
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
      await options.audit.record({ type: 'metrics.refused', outcome: 'failure', reason: presented === undefined ? 'invalid_token: no bearer token' : 'invalid_token: wrong metrics token', ...requestOrigin(ctx) });
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
      ctx.body = { error: 'invalid_token', error_description: 'a valid metrics token is required (Authorization: Bearer <METRICS_TOKEN>)' };
      return;
    }
    ctx.type = options.metrics.contentType;
    ctx.body = await options.metrics.scrape();
  };
}
