// The admin API's registration tokens (docs/ADMIN-API.md, "Registration tokens"): the initial access tokens dynamic
// registration asks for under REGISTRATION=closed. A token's value is answered once, at creation, and stored only as
// its digest: lists and revocation name a token by `id`, a prefix of that digest (admin/registration-tokens.ts,
// which audits without the value).
import { z } from 'zod';
import type { InitialAccessTokenInfo } from '../../admin/registration-tokens.js';
import { compareKeys, pageOf as pageOfItems } from '../../admin/page.js';
import { operation, type Operation } from '../operation.js';
import { PageQuery, pageOf } from '../schemas.js';

const RegistrationToken = z
  .object({
    id: z.string().meta({ description: 'A prefix of the token\'s digest: not the token, and not enough to recreate it.' }),
    created_at: z.string(),
    expires_at: z.string().nullable(),
  })
  .meta({ id: 'RegistrationToken' });

const tokenJson = (t: InitialAccessTokenInfo) => ({ id: t.id, created_at: t.createdAt.toISOString(), expires_at: t.expiresAt?.toISOString() ?? null });

export const registrationTokenOperations: Operation[] = [
  operation(
    { id: 'listRegistrationTokens', method: 'get', path: '/registration-tokens', tag: 'Registration tokens', summary: 'The live registration tokens, oldest first (never their values)', scope: 'admin:read', status: 200, query: PageQuery, response: pageOf(RegistrationToken, 'RegistrationTokenPage') },
    async ({ query, services }) => {
      const keyOf = (t: InitialAccessTokenInfo) => [t.createdAt.getTime(), t.id];
      const sorted = (await services.registrationTokens.list()).sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
      const page = pageOfItems(sorted, keyOf, query);
      return { body: { items: page.items.map(tokenJson), next: page.next } };
    },
  ),
  operation(
    {
      id: 'createRegistrationToken', method: 'post', path: '/registration-tokens', tag: 'Registration tokens', summary: 'Create a registration token (its value answered once)', scope: 'admin:write', status: 201,
      body: z.object({ expires_in: z.number().int().min(1).max(365 * 86_400).optional().meta({ description: 'Lifetime in seconds (default a day, at most a year).' }) }).strict(),
      response: RegistrationToken.extend({ initial_access_token: z.string().meta({ description: 'The bearer value for POST /register: shown once.' }) }).meta({ id: 'CreatedRegistrationToken' }),
    },
    async ({ body, actor, services }) => {
      const created = await services.registrationTokens.create(actor, { expiresIn: body.expires_in });
      return { body: { ...tokenJson(created), initial_access_token: created.token } };
    },
  ),
  operation(
    {
      id: 'revokeRegistrationToken', method: 'delete', path: '/registration-tokens/{id}', tag: 'Registration tokens', summary: 'Revoke a registration token by its id', scope: 'admin:write', status: 200,
      params: z.object({ id: z.string().min(1).max(200) }), response: RegistrationToken,
    },
    async ({ params, actor, services }) => ({ body: tokenJson(await services.registrationTokens.revoke(actor, params.id)) }),
  ),
];
