// The admin API's signing keys (docs/ADMIN-API.md, "Keys"): each key with its state and dates, never its private
// half, and rotation with delayed activation (admin/keys.ts: the new keys are published now and sign from
// `activate_in_seconds` on; the default waits two key-reload intervals on PostgreSQL so every instance publishes them
// first). One `keys.rotated` event per rotation.
import { z } from 'zod';
import { compareKeys, pageOf as pageOfItems } from '../../admin/page.js';
import { operation, type Operation } from '../operation.js';
import { PageQuery, pageOf } from '../schemas.js';

const SigningKey = z
  .object({
    kid: z.string(),
    alg: z.string(),
    state: z.enum(['next', 'current', 'retired']).meta({ description: 'next: published, signs later; current: signs now for its algorithm; retired: replaced.' }),
    published: z.boolean().meta({ description: 'In /jwks (a retired key stays until the tokens it signed have expired).' }),
    created_at: z.string(),
    activates_at: z.string(),
    retired_at: z.string().nullable(),
    expires_at: z.string().nullable(),
  })
  .meta({ id: 'SigningKey', description: 'A signing key: its public facts only.' });

// A delay longer than a day is refused by admin/keys.ts too: the old keys would sign all the while.
const MAX_ACTIVATION_DELAY = 86_400;

export const keyOperations: Operation[] = [
  operation(
    { id: 'listKeys', method: 'get', path: '/keys', tag: 'Keys', summary: 'The signing keys, newest first (never their private halves)', scope: 'admin:read', status: 200, query: PageQuery, response: pageOf(SigningKey, 'SigningKeyPage') },
    async ({ query, services }) => {
      const keys = (await services.keys.list()).map((k) => ({
        kid: k.kid, alg: k.alg, state: k.state, published: k.published, created_at: k.createdAt.toISOString(), activates_at: k.activatesAt.toISOString(),
        retired_at: k.retiredAt?.toISOString() ?? null, expires_at: k.expiresAt?.toISOString() ?? null,
      }));
      // Newest first, as the console lists them: the cursor names the last key's activation, creation and kid.
      const keyOf = (k: (typeof keys)[number]) => [-Date.parse(k.activates_at), -Date.parse(k.created_at), k.kid];
      return { body: pageOfItems([...keys].sort((a, b) => compareKeys(keyOf(a), keyOf(b))), keyOf, query) };
    },
  ),
  operation(
    {
      id: 'rotateKeys', method: 'post', path: '/keys/rotate', tag: 'Keys', summary: 'Add a new signing key per algorithm, signing from a delay on', scope: 'admin:write', status: 200,
      body: z
        .object({
          activate_in_seconds: z.number().int().min(0).max(MAX_ACTIVATION_DELAY).optional().meta({ description: 'Publish now, sign after this delay (default: 0 on the embedded database, two key-reload intervals on PostgreSQL).' }),
        })
        .strict(),
      response: z.object({ kids: z.array(z.string()), activates_at: z.string() }).meta({ id: 'RotatedKeys' }),
    },
    async ({ body, actor, services }) => {
      const { kids, activatesAt } = await services.keys.rotate(actor, { activateInSeconds: body.activate_in_seconds });
      return { body: { kids, activates_at: activatesAt.toISOString() } };
    },
  ),
];
