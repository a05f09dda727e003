// Writes a request starts from an event that nobody awaits (oidc-provider emits its events synchronously and does not
// wait for listeners) are remembered on the request and finished before its response leaves: the audit row of a
// refusal or a token, the last use of a client. Otherwise a client could see the response before the row exists, and
// a crash in between would lose it (docs/SECURITY.md, "Audit and logs"). One middleware awaits them all.
import type { Middleware } from 'koa';

const pending = new WeakMap<object, Array<Promise<unknown>>>();

/** Holds the response of the request `ctx` until `write` settled (a write must not reject: log, don't throw). */
export function finishBeforeResponse(ctx: object | undefined, write: Promise<unknown>): void {
  if (!ctx) return;
  const writes = pending.get(ctx);
  if (writes) writes.push(write);
  else pending.set(ctx, [write]);
}

/** Runs around every request that may start such writes (oidc-provider's: provider.use). */
export const awaitResponseWrites: Middleware = async (ctx, next) => {
  try {
    await next();
  } finally {
    const writes = pending.get(ctx);
    if (writes) {
      pending.delete(ctx);
      await Promise.all(writes);
    }
  }
};
