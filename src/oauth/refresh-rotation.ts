// A refresh-token rotation is two writes back to back in oidc-provider: consume() the presented token, then save()
// its successor. Done as one statement instead, the rotation costs one round trip and one commit fewer:
//
//   with spent as (update … set consumed_at where id = <old> and consumed_at is null returning 1)
//   insert <new token> select … from spent
//
// The successor exists only if this request is the one that spent the old token, so the race rule is unchanged:
// of N concurrent refreshes of one token exactly one gets a successor, the others invalid_grant.
//
// consume() therefore only notes the token (per request: the Koa context oidc-provider keeps in its
// AsyncLocalStorage); the successor's save() takes the note. Should a request ever end with a note nobody took (a
// code path that consumes without rotating), `settlePendingConsumes` spends the token before the response leaves
// and, if another request spent it first, replaces any tokens in that response with invalid_grant.
import Provider, { errors } from 'oidc-provider';
import type { Middleware } from 'koa';

const pending = new WeakMap<object, string>();

/** Notes that this request consumes the refresh token stored under `key`; false outside a provider request. */
export function deferConsume(key: string, ctx: object | undefined = Provider.ctx as object | undefined): boolean {
  if (!ctx || pending.has(ctx)) return false;
  pending.set(ctx, key);
  return true;
}

/** The refresh token this request noted for consumption, if any (then forgotten: one successor per spent token). */
export function takePendingConsume(ctx: object | undefined = Provider.ctx as object | undefined): string | undefined {
  if (!ctx) return undefined;
  const key = pending.get(ctx);
  pending.delete(ctx);
  return key;
}

const ALREADY_USED = 'refresh token already used';

/** The rotation could not happen: another request spent the token first. */
export const alreadyUsed = () => new errors.InvalidGrant(ALREADY_USED);

/**
 * Provider middleware: after the route ran, spends a noted token no successor took (`consume(key)` resolves true if
 * this request spent it). A response carrying tokens for a token someone else spent is turned into invalid_grant.
 */
export function settlePendingConsumes(consume: (key: string) => Promise<boolean>): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } finally {
      const key = takePendingConsume(ctx);
      if (key !== undefined && !(await consume(key)) && ctx.status < 300) {
        ctx.status = 400;
        ctx.set('cache-control', 'no-store');
        ctx.body = { error: 'invalid_grant', error_description: ALREADY_USED };
      }
    }
  };
}
