// The admin API's clients (docs/ADMIN-API.md, "Clients"): every kind (dynamic, CIMD, admin-created) listed and
// governed; admin-created ones also created, changed and given a new secret. Each operation is one call of
// admin/clients.ts, which checks, changes and audits.
import { z } from 'zod';
import type { AdminServices } from '../../admin/index.js';
import { clientVersion, type AdminClient } from '../../admin/clients.js';
import { AdminError } from '../../admin/admin-error.js';
import { operation, type Operation } from '../operation.js';
import { PageQuery, pageOf, text, Version } from '../schemas.js';

const ClientKind = z.enum(['dcr', 'cimd', 'static']);
const ClientStatus = z.enum(['active', 'pending', 'disabled', 'blocked']);

export const Client = z
  .object({
    client_id: z.string(),
    kind: ClientKind.meta({ description: 'dcr: registered dynamically; cimd: a Client ID Metadata Document URL; static: created by an administrator.' }),
    status: ClientStatus,
    name: z.string().nullable(),
    host: z.string().nullable().meta({ description: 'CIMD: the URL\'s host; DCR: the address it registered from.' }),
    created_at: z.string().nullable(),
    last_used_at: z.string().nullable(),
    managed_by: z.string().nullable().meta({ description: 'The configuration file that manages it; only that file changes it.' }),
    redirect_uris: z.array(z.string()),
    grant_types: z.array(z.string()),
    confidential: z.boolean(),
    resource: z.string().nullable().meta({ description: 'The MCP server a confidential client speaks for (introspection, reporting).' }),
    admin_api_scopes: z.string().nullable(),
    version: z.string(),
  })
  .meta({ id: 'Client' });

const ClientWithSecret = z
  .object({ client: Client, client_secret: z.string().optional().meta({ description: 'Shown once; Gatehouse keeps it sealed.' }) })
  .meta({ id: 'ClientWithSecret' });

const ClientId = z.object({ clientId: z.string().min(1).max(2000).meta({ description: 'The client_id, percent-encoded (a CIMD client_id is a URL).' }) });

const redirectUris = z.array(text(2000)).max(20);

async function shown(services: AdminServices, c: AdminClient) {
  const view = await services.clients.view(c);
  const version = clientVersion(view);
  return { body: { ...view, version }, version };
}

async function known(services: AdminServices, clientId: string): Promise<AdminClient> {
  const c = await services.clients.find(clientId);
  if (!c) throw new AdminError('not_found', 'There is no such client.');
  return c;
}

export const clientOperations: Operation[] = [
  operation(
    {
      id: 'listClients', method: 'get', path: '/clients', tag: 'Clients', summary: 'List clients of every kind', scope: 'admin:read', status: 200,
      query: PageQuery.extend({ kind: ClientKind.optional(), status: ClientStatus.optional(), q: text(200).optional().meta({ description: 'Part of the name, client_id or host.' }) }),
      response: pageOf(Client, 'ClientPage'),
    },
    async ({ query, services }) => {
      const page = await services.clients.list(query);
      return { body: { items: await Promise.all(page.items.map(async (c) => (await shown(services, c)).body)), next: page.next } };
    },
  ),
  operation(
    { id: 'getClient', method: 'get', path: '/clients/{clientId}', tag: 'Clients', summary: 'Get a client', scope: 'admin:read', status: 200, params: ClientId, response: Client, versioned: true },
    async ({ params, services }) => shown(services, await known(services, params.clientId)),
  ),
  operation(
    {
      id: 'createClient', method: 'post', path: '/clients', tag: 'Clients', summary: 'Create a client an administrator vouches for', scope: 'admin:write', status: 201,
      body: z
        .object({
          name: text(200),
          redirect_uris: redirectUris.default([]),
          confidential: z.boolean().default(false),
          scope: text(1000).optional(),
          resource: text(2000).optional().meta({ description: 'A confidential client that speaks for this MCP server.' }),
          admin_api_scopes: z.enum(['admin:read', 'admin:read admin:write']).optional().meta({ description: 'Makes it an admin API client (confidential, no redirect URIs).' }),
        })
        .strict(),
      response: ClientWithSecret,
    },
    async ({ body, actor, services }) => {
      const created = await services.clients.create(actor, { name: body.name, redirectUris: body.redirect_uris, confidential: body.confidential || !!body.admin_api_scopes, scope: body.scope, resource: body.resource, adminApi: body.admin_api_scopes });
      const { body: client, version } = await shown(services, await known(services, created.client_id));
      return { body: { client, ...(created.client_secret ? { client_secret: created.client_secret } : {}) }, version };
    },
  ),
  operation(
    {
      id: 'updateClient', method: 'patch', path: '/clients/{clientId}', tag: 'Clients', summary: 'Change an admin-created client\'s name or redirect URIs', scope: 'admin:write', status: 200,
      params: ClientId, body: z.object({ name: text(200).optional(), redirect_uris: redirectUris.optional(), version: Version.optional() }).strict(), response: Client, versioned: true,
    },
    async ({ params, body, actor, services, expectedVersion }) => {
      return shown(services, await services.clients.update(actor, params.clientId, { name: body.name, redirectUris: body.redirect_uris }, expectedVersion));
    },
  ),
  ...(['approve', 'disable', 'enable'] as const).map((action) =>
    operation(
      { id: `${action}Client`, method: 'post', path: `/clients/{clientId}/${action}`, tag: 'Clients', summary: `${action[0]!.toUpperCase()}${action.slice(1)} a client`, scope: 'admin:write', status: 200, params: ClientId, response: Client, versioned: true },
      async ({ params, actor, services, expectedVersion }) => shown(services, await services.clients[action](actor, params.clientId, expectedVersion)),
    ),
  ),
  operation(
    { id: 'rotateClientSecret', method: 'post', path: '/clients/{clientId}/rotate-secret', tag: 'Clients', summary: 'Give an admin-created confidential client a new secret', scope: 'admin:write', status: 200, params: ClientId, response: ClientWithSecret, versioned: true },
    async ({ params, actor, services, expectedVersion }) => {
      const { client, clientSecret } = await services.clients.rotateSecret(actor, params.clientId, undefined, expectedVersion);
      return { body: { client: (await shown(services, client)).body, client_secret: clientSecret } };
    },
  ),
  operation(
    {
      id: 'deleteClient', method: 'delete', path: '/clients/{clientId}', tag: 'Clients', summary: 'Delete a client and revoke everything it holds', scope: 'admin:write', status: 200, params: ClientId,
      response: z.object({ client_id: z.string(), grants_revoked: z.number().int() }).meta({ id: 'DeletedClient' }),
      versioned: true,
    },
    async ({ params, actor, services, expectedVersion }) => {
      const { client, grantsRevoked } = await services.clients.remove(actor, params.clientId, expectedVersion);
      return { body: { client_id: client.clientId, grants_revoked: grantsRevoked } };
    },
  ),
];
