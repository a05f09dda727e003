// Client administration (docs/ARCHITECTURE.md, "The admin service layer"): every adapter — the console, the CLI —
// approves, disables, enables, deletes and creates clients here, so the rules and the audit are one: an action that
// does not apply to the client as it is (approving one that is not pending, disabling a disabled one) is refused
// with a conflict, audited as a failure; a change writes one `client.*` event naming the actor and `details.via`.
import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/connection.js';
import type { CimdClient, CimdClients } from '../oauth/cimd/cimd-clients.js';
import { clientIdUrlProblem } from '../oauth/cimd/client-id-url.js';
import { clientKind } from '../oauth/client-kind.js';
import { forgetCachedClient } from '../oauth/adapter.js';
import type { RegisteredClient, ClientRegistry } from '../oauth/client-registry.js';
import type { ResourceRegistry } from '../oauth/resources.js';
import { addStaticClient, clientMetadata, ClientInputError, rotateStaticSecret, updateStaticClient, type CreatedClient } from '../oauth/static-clients.js';
import { auditedBy, type Actor } from './actor.js';
import { AdminError } from './admin-error.js';
import { assertNotManaged } from './managed.js';
import { pageOf, type Page, type PageRequest } from './page.js';
import { versionOf } from './version.js';

export type ClientKindName = 'dcr' | 'cimd' | 'static';
export type ClientStatusName = 'active' | 'pending' | 'disabled' | 'blocked';

/** A client as administration sees it, whichever table holds it. */
export interface AdminClient {
  clientId: string;
  kind: ClientKindName;
  status: ClientStatusName;
  name: string | null;
  /** CIMD: the URL's host; DCR: the address it registered from. */
  host: string | null;
  createdAt: Date | null;
  lastUsedAt: Date | null;
  /** The configuration file that manages it (docs/CONFIG-FILE.md), if any. */
  managedBy: string | null;
  registry?: RegisteredClient | undefined;
  cimd?: CimdClient | undefined;
}

export const clientFromRegistry = (c: RegisteredClient): AdminClient => ({
  clientId: c.clientId,
  kind: c.origin === 'dynamic' ? 'dcr' : 'static',
  status: c.status,
  name: c.clientName,
  host: c.registeredIp,
  createdAt: c.createdAt,
  lastUsedAt: c.lastUsedAt,
  managedBy: c.managedBy,
  registry: c,
});

export const clientFromCimd = (c: CimdClient): AdminClient => ({
  clientId: c.clientId,
  kind: 'cimd',
  status: c.blockedAt ? 'blocked' : 'active',
  name: c.clientName,
  host: c.host,
  createdAt: c.firstSeenAt ?? c.blockedAt,
  lastUsedAt: c.lastSeenAt,
  managedBy: null,
  cimd: c,
});

const STALE = 'The client changed since you read it: read it again and repeat the change.';

/** A client's version: what administration sees of it, but not its last use (using a client is not a change). */
export function clientVersion(view: ClientView): string {
  const { last_used_at: _lastUsed, ...rest } = view;
  return versionOf(rest);
}

/** Which status changes apply to a client as it is now. */
export function applicable(c: Pick<AdminClient, 'status'>) {
  return {
    approve: c.status === 'pending',
    disable: c.status === 'active' || c.status === 'pending',
    enable: c.status === 'disabled' || c.status === 'blocked',
  };
}

export interface NewStaticClient {
  name: string;
  redirectUris: string[];
  confidential: boolean;
  scope?: string | undefined;
  resource?: string | undefined;
  /** An admin API client: the admin scopes it may obtain (docs/ADMIN-API.md). */
  adminApi?: string | undefined;
  /** A fixed id and a given secret: the configuration file's only (docs/CONFIG-FILE.md). */
  clientId?: string | undefined;
  clientSecret?: string | undefined;
}

export interface ClientFilter extends PageRequest {
  kind?: ClientKindName | undefined;
  status?: ClientStatusName | undefined;
  /** A case-insensitive part of the name, id or host. */
  q?: string | undefined;
}

/** What administration shows of a client: its state, and the registered metadata that matters (never a secret). */
export interface ClientView {
  client_id: string;
  kind: ClientKindName;
  status: ClientStatusName;
  name: string | null;
  host: string | null;
  created_at: string | null;
  last_used_at: string | null;
  managed_by: string | null;
  redirect_uris: string[];
  grant_types: string[];
  confidential: boolean;
  resource: string | null;
  admin_api_scopes: string | null;
}

export interface ClientAdminDeps {
  config: Config;
  db: Db;
  box: SecretBox;
  provider: () => Provider;
  registry: ClientRegistry;
  cimdClients: CimdClients;
  resources: ResourceRegistry;
  audit: AuditLog;
}

type Verb = 'approved' | 'disabled' | 'enabled' | 'updated' | 'secret_rotated';

export class ClientAdmin {
  constructor(private readonly deps: ClientAdminDeps) {}

  /** The client by id, from the registry or (a client_id URL) the CIMD table; undefined when unknown. */
  async find(clientId: string): Promise<AdminClient | undefined> {
    if (!clientId) return undefined;
    const inRegistry = await this.deps.registry.find(clientId);
    if (inRegistry) return clientFromRegistry(inRegistry);
    const cimd = clientKind(clientId) === 'cimd' ? await this.deps.cimdClients.find(clientId) : undefined;
    return cimd ? clientFromCimd(cimd) : undefined;
  }

  /** Every client of every kind, filtered, sorted by id and paged. */
  async list(filter: ClientFilter = {}): Promise<Page<AdminClient>> {
    const q = filter.q?.toLowerCase();
    const all = [...(await this.deps.registry.list()).map(clientFromRegistry), ...(await this.deps.cimdClients.list()).map(clientFromCimd)]
      .filter((c) => (!filter.kind || c.kind === filter.kind) && (!filter.status || c.status === filter.status))
      .filter((c) => !q || [c.clientId, c.name ?? '', c.host ?? ''].some((v) => v.toLowerCase().includes(q)))
      .sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
    return pageOf(all, (c) => [c.clientId], filter);
  }

  /** The client as administration shows it, with its registered metadata (secrets never included). */
  async view(c: AdminClient): Promise<ClientView> {
    const meta = c.registry ? ((await clientMetadata(this.deps.db, this.deps.box, c.clientId)) ?? {}) : {};
    const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
    return {
      client_id: c.clientId,
      kind: c.kind,
      status: c.status,
      name: c.name,
      host: c.host,
      created_at: c.createdAt?.toISOString() ?? null,
      last_used_at: c.lastUsedAt?.toISOString() ?? null,
      managed_by: c.managedBy,
      redirect_uris: list(meta.redirect_uris),
      grant_types: list(meta.grant_types),
      confidential: meta.token_endpoint_auth_method !== undefined && meta.token_endpoint_auth_method !== 'none',
      resource: typeof meta.gatehouse_resource === 'string' ? meta.gatehouse_resource : null,
      admin_api_scopes: typeof meta.gatehouse_admin_api === 'string' ? meta.gatehouse_admin_api : null,
    };
  }

  /** The version an optimistic update names (docs/ADMIN-API.md, "Versions"). */
  async version(c: AdminClient): Promise<string> {
    return clientVersion(await this.view(c));
  }

  /** Refuses a change based on a version the client no longer has; audited as the change's failure. */
  async #guardVersion(actor: Actor, verb: Verb | 'deleted', c: AdminClient, expectedVersion: string | undefined): Promise<void> {
    if (expectedVersion === undefined || (await this.version(c)) === expectedVersion) return;
    await this.#record(actor, `client.${verb}`, 'failure', c, { reason: STALE });
    throw new AdminError('conflict', STALE, 'version');
  }

  /** Changes an admin-created client's name or redirect URIs; `expectedVersion` guards against a lost update. */
  async update(actor: Actor, clientId: string, change: { name?: string | undefined; redirectUris?: string[] | undefined }, expectedVersion?: string): Promise<AdminClient> {
    const c = await this.#known(clientId);
    if (c.kind !== 'static') return this.#conflict(actor, 'updated', c, 'Only a client an administrator created can be changed here: a dynamic client updates itself (RFC 7592), a CIMD client through its document.');
    await this.#guardManaged(actor, 'updated', c);
    await this.#guardVersion(actor, 'updated', c, expectedVersion);
    const refuse = async (field: string | undefined, message: string): Promise<never> => {
      await this.#record(actor, 'client.updated', 'failure', c, { reason: message });
      throw new AdminError('invalid_request', message, field);
    };
    if (change.name !== undefined && !change.name.trim()) return refuse('name', 'Give the client a name: people see it on the consent page.');
    if (change.name !== undefined && change.name.trim().length > 200) return refuse('name', 'The name is longer than 200 characters.');
    if (change.redirectUris !== undefined && change.redirectUris.length > 20) return refuse('redirect_uris', 'At most 20 redirect URIs.');
    try {
      // The whole metadata passes the client-metadata policy and oidc-provider's schema before anything is written.
      await updateStaticClient({ ...this.#clientStore(), registry: this.deps.registry }, c.clientId, { name: change.name?.trim(), redirectUris: change.redirectUris });
    } catch (err) {
      if (!(err instanceof ClientInputError)) throw err;
      return refuse(fieldOfRefusal(err.message), err.message);
    }
    forgetCachedClient(this.deps.db, c.clientId);
    await this.#record(actor, 'client.updated', 'success', c, { details: { ...(change.name !== undefined ? { name: change.name.trim() } : {}), ...(change.redirectUris ? { redirect_uris: change.redirectUris } : {}) } });
    return (await this.find(c.clientId))!;
  }

  /** A new secret for an admin-created confidential client, returned once; the old one stops working at once. */
  async rotateSecret(actor: Actor, clientId: string, secret?: string, expectedVersion?: string): Promise<{ client: AdminClient; clientSecret: string }> {
    const c = await this.#known(clientId);
    await this.#guardVersion(actor, 'secret_rotated', c, expectedVersion);
    if (c.kind !== 'static') return this.#conflict(actor, 'secret_rotated', c, 'Only a client an administrator created has a secret to rotate here.');
    await this.#guardManaged(actor, 'secret_rotated', c);
    let clientSecret: string;
    try {
      clientSecret = await rotateStaticSecret(this.#clientStore(), c.clientId, actor.kind === 'config' ? secret : undefined);
    } catch (err) {
      if (!(err instanceof ClientInputError)) throw err;
      return this.#conflict(actor, 'secret_rotated', c, 'A public client has no secret.');
    }
    // This instance reads the client again at once; other instances within their 2 s cache (docs/SECURITY.md).
    forgetCachedClient(this.deps.db, c.clientId);
    await this.#record(actor, 'client.secret_rotated', 'success', c);
    return { client: c, clientSecret };
  }

  /** Marks a client as managed by a configuration file, or releases it (the file's apply audits the change). */
  async markManaged(clientId: string, file: string | null): Promise<void> {
    await this.deps.registry.setManagedBy(clientId, file);
  }

  #clientStore() {
    return { db: this.deps.db, box: this.deps.box, provider: this.deps.provider(), redirectUriSchemes: this.deps.config.REDIRECT_URI_SCHEMES };
  }

  async #guardManaged(actor: Actor, verb: string, c: AdminClient): Promise<void> {
    try {
      assertNotManaged(actor, c.managedBy);
    } catch (err) {
      await this.#record(actor, `client.${verb}`, 'failure', c, { reason: (err as Error).message });
      throw err;
    }
  }

  async #known(clientId: string): Promise<AdminClient> {
    const c = await this.find(clientId);
    if (!c) throw new AdminError('not_found', 'There is no such client.');
    return c;
  }

  async #record(actor: Actor, type: string, outcome: 'success' | 'failure', c: Pick<AdminClient, 'clientId' | 'kind' | 'status'>, extra: { reason?: string; details?: Record<string, unknown> } = {}): Promise<void> {
    const { via, actorId, ...who } = auditedBy(actor);
    await this.deps.audit.record({ type, outcome, clientId: c.clientId, ...who, ...(extra.reason ? { reason: extra.reason } : {}), details: { kind: c.kind, via, actorId, ...extra.details } });
  }

  /** A change that does not apply to the client as it is now: audited as a failure, refused with a conflict. */
  async #conflict(actor: Actor, verb: Verb | 'deleted', c: AdminClient, reason: string): Promise<never> {
    await this.#record(actor, `client.${verb}`, 'failure', c, { reason, details: { status: c.status } });
    throw new AdminError('conflict', reason);
  }

  /** Lets a client waiting for approval (REGISTRATION=approval) ask people for authorization. */
  async approve(actor: Actor, clientId: string, expectedVersion?: string): Promise<AdminClient> {
    const c = await this.#known(clientId);
    await this.#guardVersion(actor, 'approved', c, expectedVersion);
    if (!applicable(c).approve || !c.registry) return this.#conflict(actor, 'approved', c, 'This client is not waiting for approval.');
    await this.deps.registry.setStatus(c.clientId, 'active', actor.label);
    await this.#record(actor, 'client.approved', 'success', c);
    return (await this.find(c.clientId))!;
  }

  /**
   * Stops a client: it can no longer authorize or use its tokens (a CIMD client's URL is blocked). A client_id URL
   * never used yet can be blocked too, before its first use.
   */
  async disable(actor: Actor, clientId: string, expectedVersion?: string): Promise<AdminClient> {
    // Anything URL-shaped names a metadata document; one that is not a valid client_id URL is refused as such.
    if ((clientKind(clientId) === 'cimd' || /^[a-z][a-z0-9+.-]*:\/\//i.test(clientId)) && !(await this.find(clientId))) {
      const problem = clientIdUrlProblem(clientId);
      if (problem) throw new AdminError('invalid_request', `${clientId.slice(0, 200)}: ${problem}`, 'client_id');
      const blocked = clientFromCimd(await this.deps.cimdClients.block(clientId, actor.label));
      await this.#record(actor, 'client.disabled', 'success', blocked, { details: { before_first_use: true } });
      return blocked;
    }
    const c = await this.#known(clientId);
    await this.#guardVersion(actor, 'disabled', c, expectedVersion);
    if (!applicable(c).disable) return this.#conflict(actor, 'disabled', c, 'This client is already disabled.');
    await this.#guardManaged(actor, 'disabled', c);
    if (c.kind === 'cimd') await this.deps.cimdClients.block(c.clientId, actor.label);
    else await this.deps.registry.setStatus(c.clientId, 'disabled', actor.label);
    await this.#record(actor, 'client.disabled', 'success', c);
    return (await this.find(c.clientId))!;
  }

  /** Lets a disabled (or blocked) client authorize again. */
  async enable(actor: Actor, clientId: string, expectedVersion?: string): Promise<AdminClient> {
    const c = await this.#known(clientId);
    await this.#guardVersion(actor, 'enabled', c, expectedVersion);
    if (!applicable(c).enable) return this.#conflict(actor, 'enabled', c, 'This client is not disabled.');
    await this.#guardManaged(actor, 'enabled', c);
    if (c.kind === 'cimd') await this.deps.cimdClients.unblock(c.clientId);
    else await this.deps.registry.setStatus(c.clientId, 'active', actor.label);
    await this.#record(actor, 'client.enabled', 'success', c);
    return (await this.find(c.clientId))!;
  }

  /** Deletes a client and revokes every grant and token it holds; returns how many grants were revoked. */
  async remove(actor: Actor, clientId: string, expectedVersion?: string): Promise<{ client: AdminClient; grantsRevoked: number }> {
    const c = await this.#known(clientId);
    await this.#guardVersion(actor, 'deleted', c, expectedVersion);
    await this.#guardManaged(actor, 'deleted', c);
    const revoked = await this.deps.registry.revokeEverything(c.clientId);
    if (c.kind === 'cimd') await this.deps.cimdClients.remove(c.clientId);
    else await this.deps.registry.remove(c.clientId);
    await this.#record(actor, 'client.deleted', 'success', c, { details: { name: c.name, grants_revoked: revoked } });
    return { client: c, grantsRevoked: revoked };
  }

  /**
   * Creates a client an administrator vouches for (`gatehouse client add`, the console's New client): a public MCP
   * client with redirect URIs, or a confidential one (its secret returned once, never stored readable).
   */
  async create(actor: Actor, input: NewStaticClient): Promise<CreatedClient> {
    const failed = async (field: string | undefined, message: string): Promise<never> => {
      const { via, actorId, ...who } = auditedBy(actor);
      await this.deps.audit.record({ type: 'client.created', outcome: 'failure', ...who, reason: message, details: { name: input.name.slice(0, 200), confidential: input.confidential, via, actorId } });
      throw new AdminError('invalid_request', message, field);
    };
    const name = input.name.trim();
    if (!name) return failed('name', 'Give the client a name: people see it on the consent page.');
    if (name.length > 200) return failed('name', 'The name is longer than 200 characters.');
    if (input.redirectUris.length > 20) return failed('redirect_uris', 'At most 20 redirect URIs.');
    if (input.resource && !(await this.deps.resources.find(input.resource))) return failed('resource', 'Choose one of the registered MCP servers, or none.');
    if (actor.kind === 'config' && input.clientId && (await this.find(input.clientId))) return failed('client_id', 'A client with this id exists.');
    let created: CreatedClient;
    try {
      created = await addStaticClient(
        { db: this.deps.db, box: this.deps.box, provider: this.deps.provider(), registry: this.deps.registry },
        {
          name, redirectUris: input.redirectUris, confidential: input.confidential, scope: input.scope || undefined, resource: input.resource || undefined,
          adminApi: input.adminApi || undefined, redirectUriSchemes: this.deps.config.REDIRECT_URI_SCHEMES,
          // A fixed id and a given secret are the configuration file's: it names its clients and holds their secrets.
          ...(actor.kind === 'config' ? { clientId: input.clientId, clientSecret: input.clientSecret } : {}),
        },
      );
    } catch (err) {
      if (!(err instanceof ClientInputError)) throw err;
      return failed(fieldOfRefusal(err.message), err.message);
    }
    await this.#record(actor, 'client.created', 'success', { clientId: created.client_id, kind: 'static', status: 'active' }, {
      details: { name: created.client_name, confidential: input.confidential, redirect_uris: created.redirect_uris, grant_types: created.grant_types, ...(input.resource ? { resource: input.resource } : {}), ...(input.adminApi ? { admin_api: input.adminApi } : {}) },
    });
    return created;
  }
}

/** Which input field a refusal of the client-metadata policy is about (its message names it). */
export function fieldOfRefusal(message: string): 'name' | 'redirect_uris' | 'scope' | 'resource' | undefined {
  if (/name/i.test(message) && !/redirect/i.test(message)) return 'name';
  if (/redirect|uri|scheme|loopback|https/i.test(message)) return 'redirect_uris';
  if (/scope/i.test(message)) return 'scope';
  if (/resource/i.test(message)) return 'resource';
  return undefined;
}
