// Runs a group of routes only for requests under its path. Every request otherwise walks every router's route
// table (the console alone has ten routers): on /token, the busiest endpoint, that is pure overhead.
import type { Middleware } from 'koa';

/** `middleware` for `prefix` itself and anything below it (`/console`, `/console/…`); `next` for the rest. */
export function underPath(prefix: string, middleware: Middleware): Middleware {
  const below = `${prefix}/`;
  return (ctx, next) => (ctx.path === prefix || ctx.path.startsWith(below) ? middleware(ctx, next) : next());
}
