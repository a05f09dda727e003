// The admin API's connections (docs/ADMIN-API.md, "Connections"): the upstream identity providers people sign in
// with, added, read, replaced, tested and removed through admin/connections.ts, which checks, changes and audits.
// The client secret is write-only: accepted on POST and PUT, never answered (`has_client_secret` says whether one is
// stored) and never audited; a PUT without `client_secret` keeps the stored one. The environment's connection and one
// the configuration file manages are refused with 409 (docs/CONFIG-FILE.md).
import { z } from 'zod';
import { AdminError } from '../../admin/admin-error.js';
import { ConnectionAdmin, ConnectionRefused, type ConnectionView } from '../../admin/connections.js';
import type { AdminServices } from '../../admin/index.js';
import { compareKeys, pageOf as pageOfItems } from '../../admin/page.js';
import { CONNECTION_KINDS, type ConnectionSpec, type SpecField } from '../../upstream/connection.js';
import { connectionSpec } from '../../upstream/connections.js';
import { operation, type Operation } from '../operation.js';
import { PageQuery, pageOf, text, Version } from '../schemas.js';

const Kind = z.enum(CONNECTION_KINDS);

export const Connection = z
  .object({
    id: z.string(),
    name: z.string().meta({ description: 'On the login page: "Continue with <name>".' }),
    kind: Kind,
    issuer: z.string().nullable(),
    client_id: z.string().nullable(),
    has_client_secret: z.boolean().meta({ description: 'Whether a client secret is stored (it is never answered).' }),
    scopes: z.array(z.string()),
    tenant: z.string().nullable(),
    allowed_tenants: z.array(z.string()),
    hosted_domains: z.array(z.string()),
    groups_claim: z.string().nullable(),
    orgs: z.array(z.string()),
    store_tokens: z.boolean(),
    allow_private_network: z.boolean(),
    id_jag: z.boolean().meta({ description: 'Accepts identity assertions (ID-JAG) from this IdP (docs/ENTERPRISE-MANAGED-AUTHORIZATION.md).' }),
    id_jag_resource: z.string().nullable().meta({ description: 'The MCP server an assertion without `resource` is for (Okta sends none).' }),
    enabled: z.boolean().meta({ description: 'Offered on the sign-in page; a disabled connection keeps its settings and linked identities, but nobody signs in through it.' }),
    has_global_logout_secret: z.boolean().meta({ description: 'Whether a global token revocation credential is set (docs/UNIVERSAL-LOGOUT.md; it is never answered again).' }),
    source: z.string().meta({ description: 'Who added it: env (UPSTREAM_*, put back by every start), console, cli, api, config.' }),
    managed_by: z.string().nullable().meta({ description: 'The configuration file that manages it; only that file changes it.' }),
    created_at: z.string(),
    updated_at: z.string(),
    version: z.string(),
  })
  .meta({ id: 'Connection' });

// The settings, snake_case, as the CLI's flags and the configuration file name them. A setting the kind does not
// read is refused by the kind's own check (upstream/connection.ts), naming it.
const list = z.array(text(253)).max(50);
const settings = {
  name: text(60).optional().meta({ description: 'Default: the kind\'s name.' }),
  issuer: text(2000).optional(),
  client_id: text(500).optional(),
  scopes: list.optional(),
  tenant: text(253).optional(),
  allowed_tenants: list.optional(),
  hosted_domains: list.optional(),
  groups_claim: text(100).optional(),
  orgs: list.optional(),
  store_tokens: z.boolean().optional(),
  allow_private_network: z.boolean().optional(),
  id_jag: z.boolean().optional().meta({ description: 'Accept identity assertions (ID-JAG) from this IdP; oidc, okta, entra and google only. Default false.' }),
  id_jag_resource: text(2000).optional().meta({ description: 'The MCP server resource URI used when an assertion carries no `resource` (as Okta\'s do).' }),
};

const ConnectionInput = z
  .object({
    id: text(40).optional().meta({ description: 'A stable slug (lower-case letters, digits, dashes); default: the kind.' }),
    kind: Kind,
    ...settings,
    client_secret: text(2000).optional().meta({ description: 'Write-only: stored sealed, never answered.' }),
    enabled: z.boolean().optional().meta({ description: 'Default true. Not tested on the way in: POST /connections/{id}/test, or add it disabled and enable it (which tests).' }),
  })
  .strict()
  .meta({ id: 'ConnectionInput' });

const ConnectionReplacement = z
  .object({
    kind: Kind.optional().meta({ description: 'Cannot change; default: the connection\'s.' }),
    ...settings,
    client_secret: text(2000).nullable().optional().meta({ description: 'Write-only. Omitted: the stored secret is kept; null: it is removed.' }),
    version: Version.optional(),
  })
  .strict()
  .meta({ id: 'ConnectionReplacement', description: 'Every setting (an omitted one is cleared), but the secret, which an omission keeps.' });

const ConnectionId = z.object({ id: z.string().min(1).max(200) });

const SNAKE: Record<SpecField, string> = {
  id: 'id', kind: 'kind', name: 'name', issuer: 'issuer', clientId: 'client_id', clientSecret: 'client_secret', scopes: 'scopes', tenant: 'tenant',
  allowedTenants: 'allowed_tenants', hostedDomains: 'hosted_domains', groupsClaim: 'groups_claim', orgs: 'orgs', storeTokens: 'store_tokens', allowPrivateNetwork: 'allow_private_network',
  idJag: 'id_jag', idJagResource: 'id_jag_resource',
};

export function connectionJson(c: ConnectionView) {
  return {
    id: c.id, name: c.name, kind: c.kind, issuer: c.issuer ?? null, client_id: c.clientId ?? null, has_client_secret: c.hasClientSecret,
    scopes: c.scopes, tenant: c.tenant ?? null, allowed_tenants: c.allowedTenants, hosted_domains: c.hostedDomains, groups_claim: c.groupsClaim ?? null,
    orgs: c.orgs, store_tokens: c.storeTokens, allow_private_network: c.allowPrivateNetwork,
    id_jag: !!c.idJag, id_jag_resource: c.idJagResource ?? null, enabled: c.enabled, has_global_logout_secret: c.hasGlobalLogoutSecret, source: c.source, managed_by: c.managedBy,
    created_at: c.createdAt.toISOString(), updated_at: c.updatedAt.toISOString(),
    // The service's own version (admin/connections.ts), so If-Match compares what its update compares.
    version: ConnectionAdmin.version(c),
  };
}

const shown = (c: ConnectionView) => {
  const body = connectionJson(c);
  return { body, version: body.version };
};

/** The service's refusal with the API's field names: `client_id: required …`, field `client_id`. */
async function refusalsNamed<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (err) {
    if (!(err instanceof ConnectionRefused)) throw err;
    throw new AdminError(err.code as 'invalid_request' | 'conflict', err.problems.map(([f, m]) => `${SNAKE[f] ?? f}: ${m}`).join('; '), err.problems[0] ? SNAKE[err.problems[0][0]] : undefined);
  }
}

function specOf(id: string, kind: ConnectionSpec['kind'], body: z.output<typeof ConnectionReplacement>, clientSecret: string | undefined): ConnectionSpec {
  return connectionSpec({
    id, kind, name: body.name, issuer: body.issuer, clientId: body.client_id, clientSecret, scopes: body.scopes, tenant: body.tenant,
    allowedTenants: body.allowed_tenants, hostedDomains: body.hosted_domains, groupsClaim: body.groups_claim, orgs: body.orgs,
    storeTokens: body.store_tokens, allowPrivateNetwork: body.allow_private_network, idJag: body.id_jag, idJagResource: body.id_jag_resource,
  });
}

async function known(services: AdminServices, id: string): Promise<ConnectionView> {
  const c = await services.connections.find(id);
  if (!c) throw new AdminError('not_found', 'There is no such connection.');
  return c;
}

const DiscoveryReport = z
  .object({
    fetched: z.string().meta({ description: 'The document or API fetched.' }),
    issuer: z.string(),
    authorization_endpoint: z.string().nullable(),
    token_endpoint: z.string().nullable(),
    userinfo_endpoint: z.string().nullable(),
    jwks_uri: z.string().nullable(),
    scopes_supported: z.array(z.string()).nullable(),
    pkce_methods: z.array(z.string()).nullable(),
    notes: z.array(z.string()),
  })
  .meta({ id: 'DiscoveryReport' });

export const connectionOperations: Operation[] = [
  operation(
    { id: 'listConnections', method: 'get', path: '/connections', tag: 'Connections', summary: 'List connections: the environment\'s first, then in the order they were added', scope: 'admin:read', status: 200, query: PageQuery, response: pageOf(Connection, 'ConnectionPage') },
    async ({ query, services }) => {
      // The service's order (environment first, then by creation) as a key a cursor can name.
      const keyOf = (c: ConnectionView) => [c.source === 'env' ? 0 : 1, c.createdAt.getTime(), c.id];
      const sorted = (await services.connections.list()).sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
      const page = pageOfItems(sorted, keyOf, query);
      return { body: { items: page.items.map(connectionJson), next: page.next } };
    },
  ),
  operation(
    { id: 'addConnection', method: 'post', path: '/connections', tag: 'Connections', summary: 'Add a connection (the login page offers "Continue with <name>")', scope: 'admin:write', status: 201, body: ConnectionInput, response: Connection },
    async ({ body, actor, services }) => {
      const { id, kind, client_secret, enabled, ...rest } = body;
      return shown(await refusalsNamed(() => services.connections.add(actor, specOf(id ?? kind, kind, rest, client_secret), { enabled })));
    },
  ),
  operation(
    { id: 'getConnection', method: 'get', path: '/connections/{id}', tag: 'Connections', summary: 'Get a connection (never its secret)', scope: 'admin:read', status: 200, params: ConnectionId, response: Connection, versioned: true },
    async ({ params, services }) => shown(await known(services, params.id)),
  ),
  operation(
    {
      id: 'replaceConnection', method: 'put', path: '/connections/{id}', tag: 'Connections', summary: 'Replace a connection\'s settings (not its id or kind)', scope: 'admin:write', status: 200,
      params: ConnectionId, body: ConnectionReplacement, response: Connection, versioned: true,
    },
    async ({ params, body, actor, services, expectedVersion }) => {
      const current = await known(services, params.id);
      const { client_secret, version: _version, kind, ...rest } = body;
      const spec = specOf(current.id, kind ?? current.kind, rest, client_secret ?? undefined);
      return shown(await refusalsNamed(() => services.connections.update(actor, spec, { keepSecret: client_secret === undefined }, expectedVersion)));
    },
  ),
  operation(
    {
      id: 'testConnection', method: 'post', path: '/connections/{id}/test', tag: 'Connections', summary: 'Run the connection\'s discovery now: what it found, or what went wrong (audited)', scope: 'admin:write', status: 200,
      params: ConnectionId,
      response: z
        .object({
          connection: Connection,
          ok: z.boolean(),
          problem: z.string().nullable().meta({ description: 'What went wrong, in plain words.' }),
          report: DiscoveryReport.nullable().meta({ description: 'What discovery found; null for a kind with nothing to discover, or on a problem.' }),
        })
        .meta({ id: 'ConnectionTest' }),
    },
    async ({ params, actor, services }) => {
      const { connection, report, problem } = await services.connections.test(actor, params.id);
      return {
        body: {
          connection: connectionJson(connection),
          ok: !problem,
          problem: problem ?? null,
          report: report
            ? {
                fetched: report.fetched, issuer: report.issuer, authorization_endpoint: report.authorizationEndpoint ?? null, token_endpoint: report.tokenEndpoint ?? null,
                userinfo_endpoint: report.userinfoEndpoint ?? null, jwks_uri: report.jwksUri ?? null, scopes_supported: report.scopesSupported ?? null,
                pkce_methods: report.pkceMethods ?? null, notes: report.notes,
              }
            : null,
        },
      };
    },
  ),
  operation(
    {
      id: 'enableConnection', method: 'post', path: '/connections/{id}/enable', tag: 'Connections',
      summary: 'Put a disabled connection back on the sign-in page once its test passes (a failure is 409 naming it, field `enabled`; `anyway=true` enables it untested)', scope: 'admin:write', status: 200,
      params: ConnectionId, query: z.object({ anyway: z.enum(['true', 'false']).optional().meta({ description: 'true: enable without testing (the console\'s "enable anyway").' }) }), response: Connection,
    },
    async ({ params, query, actor, services }) => ({ body: connectionJson(await services.connections.setEnabled(actor, params.id, true, query.anyway === 'true' ? 'skipped' : 'required')) }),
  ),
  operation(
    { id: 'disableConnection', method: 'post', path: '/connections/{id}/disable', tag: 'Connections', summary: 'Take a connection off the sign-in page (its settings, linked identities and kept tokens stay)', scope: 'admin:write', status: 200, params: ConnectionId, response: Connection },
    async ({ params, actor, services }) => ({ body: connectionJson(await services.connections.setEnabled(actor, params.id, false)) }),
  ),
  operation(
    {
      id: 'rotateConnectionGlobalLogoutSecret', method: 'post', path: '/connections/{id}/global-logout-secret', tag: 'Connections',
      summary: 'Make a new global token revocation credential for the connection, replacing any earlier one (answered once; docs/UNIVERSAL-LOGOUT.md)', scope: 'admin:write', status: 200,
      params: ConnectionId,
      response: z
        .object({
          connection: Connection,
          secret: z.string().meta({ description: 'The bearer credential for POST /global-token-revocation: shown once, only its digest is kept.' }),
          global_token_revocation_endpoint: z.string().meta({ description: 'Where the identity provider sends the logout.' }),
          security_events_endpoint: z.string().meta({ description: 'The connection\'s Shared Signals receiver (Security Event Tokens, RFC 8935).' }),
        })
        .meta({ id: 'ConnectionGlobalLogoutSecret' }),
    },
    async ({ params, actor, services }) => {
      const { connection, secret, endpoints } = await services.connections.rotateGlobalLogoutSecret(actor, params.id);
      return { body: { connection: connectionJson(connection), secret, global_token_revocation_endpoint: endpoints.globalTokenRevocation, security_events_endpoint: endpoints.securityEvents } };
    },
  ),
  operation(
    {
      id: 'clearConnectionGlobalLogoutSecret', method: 'delete', path: '/connections/{id}/global-logout-secret', tag: 'Connections',
      summary: 'Remove the connection\'s global token revocation credential (409 when it has none)', scope: 'admin:write', status: 200, params: ConnectionId, response: Connection,
    },
    async ({ params, actor, services }) => ({ body: connectionJson(await services.connections.clearGlobalLogoutSecret(actor, params.id)) }),
  ),
  operation(
    { id: 'removeConnection', method: 'delete', path: '/connections/{id}', tag: 'Connections', summary: 'Remove a connection (accounts linked through it stay; its stored upstream tokens are deleted)', scope: 'admin:write', status: 200, params: ConnectionId, response: Connection },
    async ({ params, actor, services }) => ({ body: connectionJson(await services.connections.remove(actor, params.id)) }),
  ),
];
