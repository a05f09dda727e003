// /healthz: the process is up. /readyz: the database answers and no migration is pending, so a load balancer only
// sends traffic to an instance that can serve it.
import type { Middleware } from 'koa';
import type { Db } from '../db/connection.js';
import { pendingMigrations } from '../db/migrations.js';

const READY_TIMEOUT_MS = 3_000;

function withinTime<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('readiness check timed out')), ms);
  });
  work.catch(() => {}); // a late failure after the timeout has answered is expected, not unhandled
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** The health route's handler: the process answers. */
export const liveness: Middleware = async (ctx) => {
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { status: 'ok' };
};

/** The readiness route's handler. */
export function readiness(db: Db): Middleware {
  return async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      // Bounded: a probe that hangs on a dead database is as bad as one that lies.
      const pending = await withinTime(
        (async () => {
          await db.raw('select 1');
          return pendingMigrations(db);
        })(),
        READY_TIMEOUT_MS,
      );
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
