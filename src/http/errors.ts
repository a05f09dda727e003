// The last line of defence: whatever escapes a route becomes an OAuth-format JSON error (or the error page for a
// browser), never a stack trace; bad input is a 4xx, and only genuine faults are 500s (logged, not shown).
// A database that cannot be reached is not a bug: it answers 503 temporarily_unavailable with Retry-After, fast
// (db/connection.ts bounds every wait), and the next request after it returns is served as usual.
import type { Context, Middleware } from 'koa';
import { isDatabaseUnavailable, UNAVAILABLE_RETRY_AFTER } from '../db/unavailable.js';
import type { Logger } from '../log.js';
import type { Views } from '../views/views.js';
import { requestIdOf } from '../request-id.js';
import { pathForLog } from './request-log.js';

// Requests whose oidc-provider answer was a 500 caused by the database (see noteProviderServerError).
const unavailableRequests = new WeakSet<object>();
const UNAVAILABLE_DESCRIPTION = 'the service is temporarily unavailable; retry shortly';

/**
 * oidc-provider catches errors inside its own routes and answers 500 server_error; its `server_error` event hands
 * us the cause. When that cause is the database, the request is marked so the error handler turns the answer into
 * a 503. Returns whether it was (the caller then need not log a stack for it).
 */
export function noteProviderServerError(ctx: object, err: unknown): boolean {
  if (!isDatabaseUnavailable(err)) return false;
  unavailableRequests.add(ctx);
  return true;
}

/** The error page's heading for a person who typed or followed an address (the code and description say the rest). */
function pageTitle(status: number): string {
  if (status === 404) return 'Page not found';
  if (status === 405) return 'This address does not take that kind of request';
  if (status === 503) return 'Temporarily unavailable';
  return status >= 500 ? 'Something went wrong' : 'The request could not be handled';
}

export function errorHandler(log: Logger, views: Views): Middleware {
  function answer(ctx: Context, status: number, error: string, description: string) {
    ctx.status = status;
    if (ctx.accepts('json', 'html') === 'html') {
      ctx.type = 'html';
      ctx.body = views.errorPage(ctx, { title: pageTitle(status), error, description });
    } else {
      ctx.body = { error, error_description: description };
    }
  }
  function unavailable(ctx: Context, err?: unknown) {
    log.warn({ request_id: requestIdOf(ctx), path: pathForLog(ctx), reason: err instanceof Error ? err.message : 'database unavailable' }, 'database unavailable');
    ctx.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER));
    ctx.set('Cache-Control', 'no-store');
    answer(ctx, 503, 'temporarily_unavailable', UNAVAILABLE_DESCRIPTION);
  }
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status >= 500 && unavailableRequests.has(ctx)) unavailable(ctx);
    } catch (err) {
      if (isDatabaseUnavailable(err)) return unavailable(ctx, err);
      const e = err as { status?: number; statusCode?: number; expose?: boolean; message?: string; error?: string; error_description?: string };
      let status = e.status ?? e.statusCode ?? 500;
      if (status < 400 || status > 599) status = 500;
      const error = e.error ?? (status === 413 ? 'invalid_request' : status >= 500 ? 'server_error' : 'invalid_request');
      const description = status >= 500 ? 'an unexpected error occurred' : (e.error_description ?? e.message ?? 'bad request');
      if (status >= 500) log.error({ request_id: requestIdOf(ctx), err, path: pathForLog(ctx) }, 'unhandled error');
      answer(ctx, status, error, description);
    }
  };
}
