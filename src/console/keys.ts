// Console: signing keys. Every key with its state — next (published, signs from its activation time), current
// (signing now), retired (replaced; still published until the tokens it signed have expired, then gone) — and what
// this instance's /jwks publishes. "Rotate now" is `gatehouse keys rotate` (admin/keys.ts: the same delay rule and
// the same `keys.rotated` event), after which this instance reloads its keys so /jwks publishes the new ones at once; other instances follow within
// KEY_RELOAD_INTERVAL, which is why the new keys only sign after two of them on PostgreSQL.
import { consoleRouter } from './router.js';
import type Router from '@koa/router';
import { personActor } from '../admin/actor.js';
import { KeyAdmin } from '../admin/keys.js';
import { requestOrigin } from '../audit/writer.js';
import type { ConsoleDeps } from './deps.js';
import { inLane } from '../admin/serialized.js';
import { consoleState } from './guard.js';

const when = (d: Date | null) => (d ? `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC` : '');

export function keysPages(deps: ConsoleDeps): Router {
  const router = consoleRouter();
  const { pages, config } = deps;
  const keyAdmin = inLane(new KeyAdmin({ ...deps, reloadKeys: () => deps.holder.refresh() }), deps);

  router.get('/console/keys', async (ctx) => {
    const keys = await keyAdmin.list();
    const published = deps.holder.keys.publicJwks().keys.map((k) => ({ kid: String(k.kid ?? ''), alg: String(k.alg ?? ''), kty: String(k.kty ?? '') }));
    pages.render(ctx, 'keys', 'keys', {
      title: 'Keys',
      keys: keys.map((k) => ({
        ...k,
        created: when(k.createdAt),
        activates: when(k.activatesAt),
        retires: when(k.retiredAt),
        expires: when(k.expiresAt),
      })),
      published,
      embedded: config.embedded,
      reloadInterval: config.KEY_RELOAD_INTERVAL,
    });
  });

  router.post('/console/keys/rotate', async (ctx) => {
    const { kids, activatesAt } = await keyAdmin.rotate(personActor(consoleState(ctx).account, requestOrigin(ctx)));
    const now = activatesAt.getTime() <= Date.now();
    pages.redirect(
      ctx,
      '/keys',
      `New signing keys ${kids.join(', ')} are published in /jwks and ${now ? 'sign from now on' : `start signing at ${when(activatesAt)}, once every instance publishes them`}; the old keys stay published until the tokens they signed have expired.`,
    );
  });

  return router;
}
