// What applying the configuration file would change (docs/CONFIG-FILE.md, "Plan and apply"): the file compared with
// the database, object by object. An object the file lists is added when missing and updated when it differs (the
// changed fields named; a secret only as the word `secret`, never its value). An object the file no longer lists is
// removed only when this file manages it: what the console, the CLI, RESOURCES or UPSTREAM_* made is never touched.
// An unmanaged object with the id of one the file lists is adopted: updated, and managed from then on. The
// comparison normalises both sides the way the stores do, so a file just applied plans no change.
import type { ResourceInput } from '../../config.js';
import { STATIC_SCOPES } from '../../oauth/provider.js';
import { clientMetadata } from '../../oauth/static-clients.js';
import { canonicalResource, type Resource } from '../../oauth/resources.js';
import type { ConnectionSpec } from '../../upstream/connection.js';
import type { StoredConnection } from '../../upstream/connections.js';
import { AdminError } from '../admin-error.js';
import type { AdminDeps, AdminServices } from '../index.js';
import { resourceInputOf } from '../resources.js';
import { versionOf } from '../version.js';
import type { ConfigFile, DeclaredClient } from './load.js';

export type ChangeKind = 'mcp_server' | 'client' | 'connection' | 'policy';

export interface Change {
  action: 'add' | 'update' | 'remove';
  kind: ChangeKind;
  /** The URI of an MCP server, a client_id, a connection id, a policy setting's name. */
  id: string;
  /** What differs (file field names); `managed_by` alone: adopted as it is. */
  fields?: string[];
  /** A client whose confidentiality, scope, resource or admin API scopes change is deleted and created again. */
  replace?: true;
}

/** What plan and apply work on: the admin services, and the stores plan reads secrets from (views never show them). */
export type ConfigContext = Pick<AdminDeps, 'db' | 'box' | 'registry' | 'resources' | 'connections' | 'policy'> & {
  services: Pick<AdminServices, 'resources' | 'policy' | 'connections' | 'clients'>;
};

const same = (a: unknown, b: unknown) => versionOf(a) === versionOf(b);

/** The fields of `keys` whose values differ. */
function differing(want: Record<string, unknown>, have: Record<string, unknown>, keys: readonly string[]): string[] {
  return keys.filter((k) => !same({ v: want[k] }, { v: have[k] }));
}

const RESOURCE_FIELDS = ['name', 'description', 'scopes', 'access', 'tool_approval', 'destructive_tools_approval', 'delegation', 'default'] as const;

/**
 * A file entry in the shape resourceInputOf gives a stored server: what ResourceRegistry.upsert makes of it (a
 * missing name is the URI, a scope's missing description its name, empty approval marks absent).
 */
export function normalisedServer(seed: ResourceInput & { uri: string }): Record<string, unknown> {
  const rule = (a: { email_domains?: string[] | undefined; groups?: string[] | undefined } | undefined) =>
    a ? { email_domains: (a.email_domains ?? []).map((d) => d.toLowerCase()), groups: [...(a.groups ?? [])] } : undefined;
  const scopes = Object.fromEntries(
    Object.entries(seed.scopes ?? {}).map(([scope, v]) => {
      if (typeof v === 'string') return [scope, { description: v || scope, tools: [] }];
      const access = rule(v.access);
      return [scope, { description: v.description || scope, tools: [...(v.tools ?? [])], ...(access ? { access } : {}), ...(v.approval ? { approval: v.approval } : {}) }];
    }),
  );
  return {
    name: seed.name ?? seed.uri,
    description: seed.description,
    scopes,
    access: rule(seed.access),
    tool_approval: seed.tool_approval && Object.keys(seed.tool_approval).length ? { ...seed.tool_approval } : undefined,
    destructive_tools_approval: seed.destructive_tools_approval,
    delegation: normalisedDelegation(seed.delegation),
    default: seed.default ?? false,
  };
}

/** As ResourceRegistry stores it: downstream URIs canonical, scopes deduplicated, absent when it allows nothing. */
function normalisedDelegation(d: ResourceInput['delegation']): Record<string, unknown> | undefined {
  if (!d) return undefined;
  const unique = (v: string[]) => [...new Set(v)];
  const canonical = (uri: string) => {
    try {
      return canonicalResource(uri);
    } catch {
      return uri;
    }
  };
  const connections = Object.fromEntries(Object.entries(d.connections ?? {}).map(([id, s]) => [id, unique(s)]));
  const resources = Object.fromEntries(Object.entries(d.resources ?? {}).map(([uri, s]) => [canonical(uri), unique(s)]));
  return Object.keys(connections).length || Object.keys(resources).length ? { connections, resources } : undefined;
}

function storedServer(r: Resource): Record<string, unknown> {
  const { uri: _uri, ...rest } = resourceInputOf(r);
  return rest;
}

const CONNECTION_FIELDS: Array<[keyof ConnectionSpec, string]> = [
  ['name', 'name'], ['issuer', 'issuer'], ['clientId', 'client_id'], ['clientSecret', 'client_secret'], ['scopes', 'scopes'],
  ['tenant', 'tenant'], ['allowedTenants', 'allowed_tenants'], ['hostedDomains', 'hosted_domains'], ['groupsClaim', 'groups_claim'],
  ['orgs', 'orgs'], ['storeTokens', 'store_tokens'], ['allowPrivateNetwork', 'allow_private_network'],
  ['idJag', 'id_jag'], ['idJagResource', 'id_jag_resource'],
];

function connectionFields(want: ConnectionSpec, have: StoredConnection): string[] {
  return CONNECTION_FIELDS.filter(([key]) => !same({ v: want[key] ?? null }, { v: have[key] ?? null })).map(([, field]) => field);
}

/**
 * What the file says of a client, in the shape its stored metadata is compared in. A registered scope keeps only the
 * provider's static scopes (policies/client-metadata/client-scope.ts: resource scopes are no cap), so that is compared.
 */
function clientShape(c: DeclaredClient) {
  const scope = (c.scope ?? '').split(/\s+/).filter((s) => (STATIC_SCOPES as readonly string[]).includes(s)).join(' ');
  return { name: c.name, redirect_uris: c.redirectUris, confidential: c.confidential, scope: scope || null, resource: c.resource ?? null, admin_api: c.adminApi ?? null };
}

function storedClientShape(meta: Record<string, unknown>) {
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  return {
    name: str(meta.client_name) ?? '',
    redirect_uris: Array.isArray(meta.redirect_uris) ? meta.redirect_uris : [],
    confidential: meta.token_endpoint_auth_method !== undefined && meta.token_endpoint_auth_method !== 'none',
    scope: str(meta.scope),
    resource: str(meta.gatehouse_resource),
    admin_api: str(meta.gatehouse_admin_api),
  };
}

/** Fields of a client that change only by creating it again (oauth/static-clients.ts updates name and redirect URIs). */
const REPLACING = ['confidential', 'scope', 'resource', 'admin_api'];

/** Refuses an object another file manages: two files must not fight over it. */
function guardOwner(file: ConfigFile, line: number, what: string, managedBy: string | null | undefined): void {
  if (managedBy && managedBy !== file.name) {
    throw new AdminError('conflict', `${file.at(line)}: ${what} is managed by the configuration file ${managedBy}, not ${file.name}`);
  }
}

function update(kind: ChangeKind, id: string, fields: string[], managedBy: string | null, file: ConfigFile, replace = false): Change | undefined {
  const all = managedBy === file.name ? fields : [...fields, 'managed_by'];
  if (!all.length) return undefined;
  return { action: 'update', kind, id, fields: all, ...(replace ? { replace: true as const } : {}) };
}

/**
 * The changes, in the order apply makes them: MCP servers, connections, clients (which may name a server), policy;
 * then the removals, clients first (before the server they may name).
 */
export async function planConfigFile(file: ConfigFile, ctx: ConfigContext): Promise<Change[]> {
  const changes: Array<Change | undefined> = [];
  const removals: Change[] = [];

  const servers = await ctx.resources.list();
  for (const s of file.servers) {
    const current = servers.find((r) => r.uri === s.uri);
    if (!current) {
      changes.push({ action: 'add', kind: 'mcp_server', id: s.uri });
      continue;
    }
    guardOwner(file, s.line, `the MCP server ${s.uri}`, current.managedBy);
    changes.push(update('mcp_server', s.uri, differing(normalisedServer(s.seed), storedServer(current), RESOURCE_FIELDS), current.managedBy, file));
  }
  for (const r of servers) {
    if (r.managedBy === file.name && !file.servers.some((s) => s.uri === r.uri)) removals.push({ action: 'remove', kind: 'mcp_server', id: r.uri });
  }

  const connections = await ctx.connections.list();
  for (const { spec, line } of file.connections) {
    const current = connections.find((c) => c.id === spec.id);
    if (!current) {
      changes.push({ action: 'add', kind: 'connection', id: spec.id });
      continue;
    }
    guardOwner(file, line, `the connection ${spec.id}`, current.managedBy);
    if (current.source === 'env') throw new AdminError('conflict', `${file.at(line)}: the connection ${spec.id} comes from UPSTREAM_*: define it in one place`);
    if (current.kind !== spec.kind) {
      throw new AdminError('conflict', `${file.at(line)}: the connection ${spec.id} is a ${current.kind} connection: its kind cannot change (people's identities are linked through it); give the new one another id`);
    }
    changes.push(update('connection', spec.id, connectionFields(spec, current), current.managedBy, file));
  }
  for (const c of connections) {
    if (c.managedBy === file.name && !file.connections.some((d) => d.spec.id === c.id)) removals.push({ action: 'remove', kind: 'connection', id: c.id });
  }

  const registered = await ctx.registry.list();
  for (const c of file.clients) {
    const current = registered.find((r) => r.clientId === c.clientId);
    if (!current) {
      changes.push({ action: 'add', kind: 'client', id: c.clientId });
      continue;
    }
    guardOwner(file, c.line, `the client ${c.clientId}`, current.managedBy);
    if (current.origin !== 'static') throw new AdminError('conflict', `${file.at(c.line)}: ${c.clientId} is a dynamically registered client: choose another client_id`);
    const meta = (await clientMetadata(ctx.db, ctx.box, c.clientId)) ?? {};
    const fields = differing(clientShape(c), storedClientShape(meta), ['name', 'redirect_uris', ...REPLACING]);
    // Compared in memory, never shown: the plan says only that the secret changes.
    if (c.confidential && meta.client_secret !== c.secret && !fields.includes('confidential')) fields.push('secret');
    changes.push(update('client', c.clientId, fields, current.managedBy, file, fields.some((f) => REPLACING.includes(f))));
  }
  const removedClients = registered.filter((r) => r.managedBy === file.name && !file.clients.some((c) => c.clientId === r.clientId));
  removals.unshift(...removedClients.map((r): Change => ({ action: 'remove', kind: 'client', id: r.clientId })));

  const entries = await ctx.policy.entries();
  for (const p of file.policy) {
    const current = entries.find((e) => e.name === p.name)!;
    guardOwner(file, p.line, `the policy setting ${p.name}`, current.managedBy);
    if (!current.overridden) changes.push({ action: 'add', kind: 'policy', id: p.name });
    else changes.push(update('policy', p.name, same({ v: p.value }, { v: current.effective }) ? [] : ['value'], current.managedBy, file));
  }
  for (const e of entries) {
    if (e.overridden && e.managedBy === file.name && !file.policy.some((p) => p.name === e.name)) removals.push({ action: 'remove', kind: 'policy', id: e.name });
  }

  return [...changes.filter((c): c is Change => !!c), ...removals];
}

/** `+ mcp_server https://…`, `~ client ci (name, redirect_uris)`, `- connection okta`. */
export function describeChange(c: Change): string {
  const sign = c.action === 'add' ? '+' : c.action === 'remove' ? '-' : '~';
  const fields = c.fields?.length ? ` (${c.fields.join(', ')})` : '';
  const replaced = c.replace ? ' [deleted and created again: its grants and tokens are revoked]' : '';
  return `${sign} ${c.kind} ${c.id}${fields}${replaced}`;
}
