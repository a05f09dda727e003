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
import { clientKind } from '../oauth/client-kind.js';
import type { RegisteredClient, ClientRegistry } from '../oauth/client-registry.js';
import type { ResourceRegistry } from '../oauth/resources.js';
import { addStaticClient, ClientInputError, type CreatedClient } from '../oauth/static-clients.js';
import { auditedBy, type Actor } from './actor.js';
import { AdminError } from './admin-error.js';

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
  cimd: c,
});

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

type Verb = 'approved' | 'disabled' | 'enabled';

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
  async approve(actor: Actor, clientId: string): Promise<AdminClient> {
    const c = await this.#known(clientId);
    if (!applicable(c).approve || !c.registry) return this.#conflict(actor, 'approved', c, 'This client is not waiting for approval.');
    await this.deps.registry.setStatus(c.clientId, 'active', actor.label);
    await this.#record(actor, 'client.approved', 'success', c);
    return (await this.find(c.clientId))!;
  }

  /** Stops a client: it can no longer authorize or use its tokens (a CIMD client's URL is blocked). */
  async disable(actor: Actor, clientId: string): Promise<AdminClient> {
    const c = await this.#known(clientId);
    if (!applicable(c).disable) return this.#conflict(actor, 'disabled', c, 'This client is already disabled.');
    if (c.kind === 'cimd') await this.deps.cimdClients.block(c.clientId, actor.label);
    else await this.deps.registry.setStatus(c.clientId, 'disabled', actor.label);
    await this.#record(actor, 'client.disabled', 'success', c);
    return (await this.find(c.clientId))!;
  }

  /** Lets a disabled (or blocked) client authorize again. */
  async enable(actor: Actor, clientId: string): Promise<AdminClient> {
    const c = await this.#known(clientId);
    if (!applicable(c).enable) return this.#conflict(actor, 'enabled', c, 'This client is not disabled.');
    if (c.kind === 'cimd') await this.deps.cimdClients.unblock(c.clientId);
    else await this.deps.registry.setStatus(c.clientId, 'active', actor.label);
    await this.#record(actor, 'client.enabled', 'success', c);
    return (await this.find(c.clientId))!;
  }

  /** Deletes a client and revokes every grant and token it holds; returns how many grants were revoked. */
  async remove(actor: Actor, clientId: string): Promise<{ client: AdminClient; grantsRevoked: number }> {
    const c = await this.#known(clientId);
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
    let created: CreatedClient;
    try {
      created = await addStaticClient(
        { db: this.deps.db, box: this.deps.box, provider: this.deps.provider(), registry: this.deps.registry },
        { name, redirectUris: input.redirectUris, confidential: input.confidential, scope: input.scope || undefined, resource: input.resource || undefined, redirectUriSchemes: this.deps.config.REDIRECT_URI_SCHEMES },
      );
    } catch (err) {
      if (!(err instanceof ClientInputError)) throw err;
      return failed(fieldOfRefusal(err.message), err.message);
    }
    await this.#record(actor, 'client.created', 'success', { clientId: created.client_id, kind: 'static', status: 'active' }, {
      details: { name: created.client_name, confidential: input.confidential, redirect_uris: created.redirect_uris, grant_types: created.grant_types, ...(input.resource ? { resource: input.resource } : {}) },
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
