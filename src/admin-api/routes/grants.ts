// The admin API's grants (docs/ADMIN-API.md, "Grants"): the live grants of a client (a person's are under
// /people/{id}/grants), one grant by id, and revoking one — everything issued under it goes, so its refresh tokens
// stop at once (admin/grants.ts, which audits `grant.revoked`).
import { z } from 'zod';
import type { GrantSummary } from '../../admin/grants.js';
import { AdminError } from '../../admin/admin-error.js';
import { operation, type Operation } from '../operation.js';
import { PageQuery, pageOf } from '../schemas.js';

export const Grant = z
  .object({
    grant_id: z.string(),
    account_id: z.string().meta({ description: 'The person (account id) who gave it.' }),
    client_id: z.string(),
    resources: z.record(z.string(), z.array(z.string())).meta({ description: 'MCP server URI → the scopes granted for it.' }),
    openid_scope: z.string().nullable().meta({ description: 'The OpenID Connect scopes granted without a resource, if any.' }),
    granted_at: z.string(),
    expires_at: z.string().nullable().meta({
      description:
        'When the access it gives ends unless the client refreshes: the expiry of its live refresh token (each refresh moves it, never past REFRESH_TOKEN_ABSOLUTE_TTL from the sign-in). null when it holds no live refresh token.',
    }),
  })
  .meta({ id: 'Grant' });

export const GrantPage = pageOf(Grant, 'GrantPage');

export const grantJson = (g: GrantSummary) => ({
  grant_id: g.grantId, account_id: g.accountId, client_id: g.clientId, resources: g.resources, openid_scope: g.openidScope,
  granted_at: g.grantedAt.toISOString(), expires_at: g.expiresAt?.toISOString() ?? null,
});

const GrantId = z.object({ grantId: z.string().min(1).max(200) });

export const grantOperations: Operation[] = [
  operation(
    {
      id: 'listClientGrants', method: 'get', path: '/clients/{clientId}/grants', tag: 'Grants', summary: 'The live grants given to a client, newest first', scope: 'admin:read', status: 200,
      params: z.object({ clientId: z.string().min(1).max(2000).meta({ description: 'The client_id, percent-encoded.' }) }), query: PageQuery, response: GrantPage,
    },
    async ({ params, query, services }) => {
      if (!(await services.clients.find(params.clientId))) throw new AdminError('not_found', 'There is no such client.');
      const page = await services.grants.ofClient(params.clientId, query);
      return { body: { items: page.items.map(grantJson), next: page.next } };
    },
  ),
  operation(
    { id: 'getGrant', method: 'get', path: '/grants/{grantId}', tag: 'Grants', summary: 'Get a live grant', scope: 'admin:read', status: 200, params: GrantId, response: Grant },
    async ({ params, services }) => {
      const grant = await services.grants.find(params.grantId);
      if (!grant) throw new AdminError('not_found', 'There is no such grant.');
      return { body: grantJson(grant) };
    },
  ),
  operation(
    { id: 'revokeGrant', method: 'delete', path: '/grants/{grantId}', tag: 'Grants', summary: 'Revoke a grant and everything issued under it', scope: 'admin:write', status: 200, params: GrantId, response: Grant },
    async ({ params, actor, services }) => ({ body: grantJson(await services.grants.revoke(actor, params.grantId)) }),
  ),
];
