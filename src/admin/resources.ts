// MCP server administration (docs/ARCHITECTURE.md, "The admin service layer"): every adapter — the console, the CLI,
// the admin API, the configuration file — creates, changes and deletes MCP servers (RFC 8707 resources) here, with
// their scope catalogue, tool lists, access rules and approval marks (docs/TOOL-APPROVALS.md). Input is checked with
// the same schema as RESOURCES; a change writes one `resource.created|updated|deleted` event naming the actor and
// `details.via`; a refusal (invalid input, an existing URI, a server the configuration file manages, a stale version)
// is audited as a failure of the same type. A server RESOURCES defines is seeded again at every start: a change here
// lasts until then, which `fromEnvironment` tells the adapters so they can say so.
import { ownKeyPath } from '../http/input-sanity.js';
import type { AuditLog } from '../audit/writer.js';
import { resourceSeed, type Config, type ResourceInput } from '../config.js';
import { canonicalResource, definedByEnvironment, InvalidResourceUri, type AccessRule, type ApprovalMode, type Resource, type ResourceRegistry } from '../oauth/resources.js';
import { ROUTE_TABLE } from '../http/route-table.js';
import { auditedBy, type Actor } from './actor.js';
import { AdminError } from './admin-error.js';
import { assertNotManaged } from './managed.js';
import { compareKeys, pageOf, type Page, type PageRequest } from './page.js';
import { checkVersion, versionOf } from './version.js';

type ScopeInput = Exclude<NonNullable<ResourceInput['scopes']>[string], string>;
type AccessInput = NonNullable<ResourceInput['access']>;

/** A full replacement of everything but the URI (which names the server and never changes). */
export type ResourceChange = Omit<ResourceInput, 'uri'>;

/** A change of some fields; null clears an optional one (the description, the access rule, approval marks). */
export interface ResourcePatch {
  name?: string | undefined;
  description?: string | null | undefined;
  scopes?: ResourceInput['scopes'];
  access?: AccessInput | null | undefined;
  tool_approval?: Record<string, ApprovalMode> | null | undefined;
  destructive_tools_approval?: ApprovalMode | null | undefined;
  delegation?: ResourceInput['delegation'] | null | undefined;
  default?: boolean | undefined;
}

export interface ResourceFilter extends PageRequest {
  /** A case-insensitive part of the URI, the name or a scope name. */
  q?: string | undefined;
}

/** What administration shows of a server: the RESOURCES shape, plus who manages it. */
export interface ResourceView {
  uri: string;
  name: string;
  description: string | null;
  scopes: Record<string, { description: string; tools: string[]; access?: { email_domains: string[]; groups: string[] }; approval?: ApprovalMode }>;
  access: { email_domains: string[]; groups: string[] } | null;
  tool_approval: Record<string, ApprovalMode>;
  destructive_tools_approval: ApprovalMode | null;
  /** docs/DELEGATION.md: the connections (and upstream scopes) and MCP servers (and scopes) it may obtain tokens for. */
  delegation: { connections: Record<string, string[]>; resources: Record<string, string[]> };
  default: boolean;
  managed_by: string | null;
  /** Defined by RESOURCES: seeded again at every start. */
  from_environment: boolean;
}

export interface ResourceAdminDeps {
  config: Config;
  resources: ResourceRegistry;
  audit: AuditLog;
}

type Verb = 'created' | 'updated' | 'deleted';

const rule = (a: AccessRule | undefined) => (a ? { email_domains: [...a.emailDomains], groups: [...a.groups] } : undefined);

/** A stored server in the RESOURCES shape: what `update` takes back, and what the configuration file exports. */
export function resourceInputOf(r: Resource): ResourceInput & { scopes: Record<string, ScopeInput> } {
  const access = rule(r.access);
  return {
    uri: r.uri,
    name: r.name,
    ...(r.description !== null ? { description: r.description } : {}),
    scopes: Object.fromEntries(
      Object.entries(r.catalogue).map(([scope, e]) => {
        const scopeAccess = rule(e.access);
        return [scope, { description: e.description, tools: [...e.tools], ...(scopeAccess ? { access: scopeAccess } : {}), ...(e.approval ? { approval: e.approval } : {}) }];
      }),
    ),
    ...(access ? { access } : {}),
    ...(Object.keys(r.toolApproval).length ? { tool_approval: { ...r.toolApproval } } : {}),
    ...(r.destructiveToolsApproval ? { destructive_tools_approval: r.destructiveToolsApproval } : {}),
    ...(delegates(r) ? { delegation: { connections: cloneLists(r.delegation.connections), resources: cloneLists(r.delegation.resources) } } : {}),
    default: r.isDefault,
  };
}

const cloneLists = (m: Record<string, string[]>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, [...v]]));
const delegates = (r: Resource) => Object.keys(r.delegation.connections).length > 0 || Object.keys(r.delegation.resources).length > 0;

export class ResourceAdmin {
  constructor(private readonly deps: ResourceAdminDeps) {}

  /** The server by URI (canonicalised: `https://h/` finds `https://h`); undefined when unknown or not a URI. */
  async find(uri: string): Promise<Resource | undefined> {
    return this.deps.resources.find(uri);
  }

  /** Every server, filtered by `q`, sorted by URI and paged. */
  async list(request: ResourceFilter = {}): Promise<Page<Resource>> {
    const q = request.q?.trim().toLowerCase();
    const all = (await this.deps.resources.list())
      .filter((r) => !q || [r.uri, r.name, ...Object.keys(r.scopes)].some((v) => v.toLowerCase().includes(q)))
      // The cursor compares keys by code point (page.ts): sort the same way, not by locale.
      .sort((a, b) => compareKeys([a.uri], [b.uri]));
    return pageOf(all, (r) => [r.uri], request);
  }

  /** Whether RESOURCES defines the server: seeded again at every start, so a change here lasts until then. */
  fromEnvironment(uri: string): boolean {
    return definedByEnvironment(this.deps.config.RESOURCES, uri);
  }

  view(r: Resource): ResourceView {
    const input = resourceInputOf(r);
    return {
      uri: r.uri,
      name: r.name,
      description: r.description,
      scopes: input.scopes as ResourceView['scopes'],
      access: rule(r.access) ?? null,
      tool_approval: { ...r.toolApproval },
      destructive_tools_approval: r.destructiveToolsApproval ?? null,
      delegation: { connections: cloneLists(r.delegation.connections), resources: cloneLists(r.delegation.resources) },
      default: r.isDefault,
      managed_by: r.managedBy,
      from_environment: this.fromEnvironment(r.uri),
    };
  }

  /** The version an optimistic update names (docs/ADMIN-API.md, "Versions"). */
  version(r: Resource): string {
    return versionOf(this.view(r));
  }

  /** Registers a new MCP server; a conflict when one with the same (canonical) URI exists. */
  async create(actor: Actor, input: ResourceInput): Promise<Resource> {
    const uriTyped = typeof input.uri === 'string' ? input.uri.slice(0, 500) : '';
    const seed = await this.#valid(actor, 'created', uriTyped, input);
    if (gatehouseOwn(seed.uri, this.deps.config.ISSUER)) return this.#refuse(actor, 'created', seed.uri, 'invalid_request', 'This URL is one of Gatehouse\'s own: an MCP server lives elsewhere.', 'uri');
    const existing = await this.find(seed.uri);
    if (existing) return this.#refuse(actor, 'created', existing.uri, 'conflict', 'An MCP server with this URI exists already: edit it instead.', 'uri');
    await this.#guardDefault(actor, 'created', seed);
    const saved = await this.deps.resources.upsert(seed);
    await this.#record(actor, 'created', 'success', saved.uri, { details: this.#summary(saved) });
    return saved;
  }

  /**
   * Replaces a server's name, description, scope catalogue (scopes, their tools, access rules and approval marks),
   * access rule, tool approval marks and default flag; `expectedVersion` guards against a lost update.
   */
  async update(actor: Actor, uri: string, change: ResourceChange, expectedVersion?: string): Promise<Resource> {
    const current = await this.#known(uri);
    return this.#replace(actor, current, change, expectedVersion);
  }

  /** Changes only the fields given (null clears an optional one); the rest stays as it is. */
  async patch(actor: Actor, uri: string, patch: ResourcePatch, expectedVersion?: string): Promise<Resource> {
    const current = await this.#known(uri);
    const { uri: _uri, ...next } = resourceInputOf(current) as ResourceInput & Record<string, unknown>;
    const merged: Record<string, unknown> = { ...next };
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      if (value === null) delete merged[key];
      else merged[key] = value;
    }
    return this.#replace(actor, current, merged as ResourceChange, expectedVersion);
  }

  /** Adds or replaces one scope of the catalogue (its description, tools, access rule and approval), or removes it (null). */
  async setScope(actor: Actor, uri: string, scope: string, entry: ScopeInput | string | null, expectedVersion?: string): Promise<Resource> {
    const current = await this.#known(uri);
    const scopes: Record<string, ScopeInput | string> = { ...resourceInputOf(current).scopes };
    if (entry === null) {
      if (!Object.hasOwn(scopes, scope)) throw new AdminError('not_found', `The MCP server has no scope ${scope}.`, 'scope');
      delete scopes[scope];
    } else {
      scopes[scope] = entry;
    }
    const { uri: _uri, ...rest } = resourceInputOf(current);
    return this.#replace(actor, current, { ...rest, scopes }, expectedVersion);
  }

  /** Deletes a server: no token can be issued for it any more (invalid_target); issued ones expire. */
  async remove(actor: Actor, uri: string, expectedVersion?: string): Promise<Resource> {
    const current = await this.#known(uri);
    await this.#guardManaged(actor, 'deleted', current);
    await this.#guardVersion(actor, 'deleted', current, expectedVersion);
    await this.deps.resources.remove(current.uri);
    await this.#record(actor, 'deleted', 'success', current.uri, { details: { name: current.name, ...this.#environment(current.uri) } });
    return current;
  }

  /**
   * Records a change an adapter refused before it reached the service (a console form that does not parse), as the
   * service's own refusals are: one failure event of the same type.
   */
  async refused(actor: Actor, verb: 'created' | 'updated', uri: string, problems: Record<string, unknown>): Promise<void> {
    await this.#record(actor, verb, 'failure', uri.slice(0, 500), { reason: 'invalid input', details: { problems } });
  }

  /** Marks a server as managed by a configuration file, or releases it (the file's apply audits the change). */
  async markManaged(uri: string, file: string | null): Promise<boolean> {
    return this.deps.resources.setManagedBy(uri, file);
  }

  async #replace(actor: Actor, current: Resource, change: ResourceChange, expectedVersion: string | undefined): Promise<Resource> {
    await this.#guardManaged(actor, 'updated', current);
    await this.#guardVersion(actor, 'updated', current, expectedVersion);
    const seed = await this.#valid(actor, 'updated', current.uri, { ...change, uri: current.uri });
    await this.#guardDefault(actor, 'updated', seed);
    const saved = await this.deps.resources.upsert(seed);
    await this.#record(actor, 'updated', 'success', saved.uri, { details: this.#summary(saved) });
    return saved;
  }

  /** The input checked with the RESOURCES schema and its URI made canonical; a refusal names the field at fault. */
  async #valid(actor: Actor, verb: Verb, uriShown: string, input: ResourceInput): Promise<ResourceInput & { uri: string }> {
    // JSON.parse makes `__proto__` an own key, which zod's records would drop without a word: refuse it by name.
    const reserved = ownKeyPath(input, RESERVED)?.join('.');
    if (reserved) {
      await this.#record(actor, verb, 'failure', uriShown, { reason: 'invalid input', details: { problems: [`${reserved}: is a reserved name`] } });
      throw new AdminError('invalid_request', `${reserved}: is a reserved name`, reserved.split('.').slice(0, -1).join('.') || undefined);
    }
    const parsed = resourceSeed.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const problems = parsed.error.issues.slice(0, 20).map((i) => `${i.path.join('.') || 'input'}: ${issueMessage(i)}`);
      await this.#record(actor, verb, 'failure', uriShown, { reason: 'invalid input', details: { problems } });
      throw new AdminError('invalid_request', problems[0]!, issue.path.length ? issue.path.map(String).join('.') : undefined);
    }
    let field = 'uri';
    try {
      const uri = canonicalResource(parsed.data.uri);
      field = 'delegation.resources';
      // Downstream servers by canonical URI, as tokens name them; never the server itself (docs/DELEGATION.md).
      const downstream = Object.keys(parsed.data.delegation?.resources ?? {}).map(canonicalResource);
      if (downstream.includes(uri)) throw new InvalidResourceUri('an MCP server does not exchange tokens for itself');
      const twice = downstream.find((d, i) => downstream.indexOf(d) !== i);
      if (twice) throw new InvalidResourceUri(`${twice} is listed twice (in two spellings)`);
      return { ...parsed.data, uri };
    } catch (err) {
      if (!(err instanceof InvalidResourceUri)) throw err;
      await this.#record(actor, verb, 'failure', uriShown, { reason: 'invalid input', details: { problems: [`${field}: ${err.message}`] } });
      throw new AdminError('invalid_request', `${field}: ${err.message}`, field);
    }
  }

  /** Making a server the default takes the flag from the present default: refused when a configuration file manages that one. */
  async #guardDefault(actor: Actor, verb: Verb, seed: { uri: string; default?: boolean | undefined }): Promise<void> {
    if (!seed.default || actor.kind === 'config') return;
    const present = await this.deps.resources.defaultResource();
    if (!present || present.uri === seed.uri || !present.managedBy) return;
    const reason = `The default MCP server ${present.uri} is managed by the configuration file ${present.managedBy}: change the default there and apply it (gatehouse config apply).`;
    return this.#refuse(actor, verb, seed.uri, 'conflict', reason, 'default');
  }

  async #guardManaged(actor: Actor, verb: Verb, r: Resource): Promise<void> {
    try {
      assertNotManaged(actor, r.managedBy);
    } catch (err) {
      await this.#record(actor, verb, 'failure', r.uri, { reason: (err as Error).message });
      throw err;
    }
  }

  /** A stale version is a refused change: audited as its failure, as every other refusal (docs/ADMIN-API.md, "Versions"). */
  async #guardVersion(actor: Actor, verb: Verb, r: Resource, expectedVersion: string | undefined): Promise<void> {
    try {
      checkVersion(this.view(r), expectedVersion);
    } catch (err) {
      await this.#record(actor, verb, 'failure', r.uri, { reason: (err as Error).message });
      throw err;
    }
  }

  async #known(uri: string): Promise<Resource> {
    const found = await this.find(uri);
    if (!found) throw new AdminError('not_found', 'There is no such MCP server.');
    return found;
  }

  #summary(r: Resource): Record<string, unknown> {
    return { name: r.name, scopes: Object.keys(r.scopes), default: r.isDefault, ...this.#environment(r.uri) };
  }

  #environment(uri: string): Record<string, unknown> {
    return this.fromEnvironment(uri) ? { from_environment: true } : {};
  }

  async #refuse(actor: Actor, verb: Verb, uri: string, code: 'conflict' | 'invalid_request', reason: string, field?: string): Promise<never> {
    await this.#record(actor, verb, 'failure', uri, { reason });
    throw new AdminError(code, reason, field);
  }

  async #record(actor: Actor, verb: Verb, outcome: 'success' | 'failure', uri: string, extra: { reason?: string; details?: Record<string, unknown> } = {}): Promise<void> {
    const { via, actorId, ...who } = auditedBy(actor);
    await this.deps.audit.record({
      type: `resource.${verb}`, outcome, ...(uri ? { resource: uri } : {}), ...who,
      ...(extra.reason ? { reason: extra.reason } : {}), details: { via, actorId, ...extra.details },
    });
  }
}

/** Whether a URI names Gatehouse itself (the issuer or one of its routes, the admin API included), never an MCP server. */
export function gatehouseOwn(uri: string, issuer: string): boolean {
  let target: URL;
  let base: URL;
  try {
    target = new URL(uri);
    base = new URL(issuer);
  } catch {
    return false;
  }
  if (target.origin !== base.origin) return false;
  const prefix = base.pathname.replace(/\/$/, '');
  if (target.pathname.replace(/\/$/, '') === prefix) return true;
  if (!target.pathname.startsWith(`${prefix}/`)) return false;
  const path = target.pathname.slice(prefix.length).toLowerCase();
  return ROUTE_TABLE.some((r) => {
    const pattern = r.path.toLowerCase().replace(/:[^/]+/g, '[^/]+');
    return new RegExp(`^${pattern}${r.area ? '(/|$)' : '/?$'}`).test(path) || path.startsWith('/.well-known/');
  });
}

/** zod says only "Invalid key in record" of a bad key: name the key and what is wrong with it. */
function issueMessage(issue: { code: string; message: string; input?: unknown; issues?: Array<{ message: string }> }): string {
  if (issue.code !== 'invalid_key') return issue.message;
  return `${JSON.stringify(issue.input)} ${issue.issues?.[0]?.message ?? 'is not a valid key'}`;
}

const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);
