// The last line of defence: whatever escapes a route becomes an OAuth-format JSON error (or the error page for a
// browser), never a stack trace; bad input is a 4xx, and only genuine faults are 500s (logged, not shown).
import type { Middleware } from 'koa';
import type { Logger } from '../log.js';
import type { Views } from '../interaction/views.js';

export function errorHandler(log: Logger, views: Views): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const e = err as { status?: number; statusCode?: number; expose?: boolean; message?: string; error?: string; error_description?: string };
      let status = e.status ?? e.statusCode ?? 500;
      if (status < 400 || status > 599) status = 500;
      const error = e.error ?? (status === 413 ? 'invalid_request' : status >= 500 ? 'server_error' : 'invalid_request');
      const description = status >= 500 ? 'an unexpected error occurred' : (e.error_description ?? e.message ?? 'bad request');
      if (status >= 500) log.error({ err, path: ctx.path }, 'unhandled error');
      ctx.status = status;
      if (ctx.accepts('json', 'html') === 'html') {
        ctx.type = 'html';
        ctx.body = views.render('error', { title: 'Something went wrong', error, description });
      } else {
        ctx.body = { error, error_description: description };
      }
    }
  };
}
