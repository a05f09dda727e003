// The jwks route's handler (src/policy-table.ts). Published keys come from the database-backed key set, so a key
// added by `keys rotate` is published by every instance as soon as it reloads, whatever its activation time.
import type { Middleware } from 'koa';
import type { KeySet } from './keys.js';

export function publishedKeys(keys: () => KeySet): Middleware {
  return async (ctx) => {
    ctx.type = 'application/jwk-set+json';
    ctx.set('Cache-Control', 'public, max-age=60');
    ctx.body = keys().publicJwks();
  };
}
