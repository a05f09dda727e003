// /healthz: the process is up. /readyz: the database answers and no migration is pending, so a load balancer only
// sends traffic to an instance that can serve it.
import type { Middleware } from 'koa';
import type { Db } from '../db/connection.js';
import { pendingMigrations } from '../db/migrations.js';

export function health(db: Db): Middleware {
  return async (ctx, next) => {
    if (ctx.path === '/healthz') {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.path !== '/readyz') return next();
    ctx.set('Cache-Control', 'no-store');
    try {
      await db.raw('select 1');
      const pending = await pendingMigrations(db);
      if (pending.length) {
        ctx.status = 503;
        ctx.body = { status: 'unavailable', reason: 'migrations pending', pending };
        return;
      }
      ctx.body = { status: 'ready' };
    } catch {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', reason: 'database unreachable' };
    }
  };
}
