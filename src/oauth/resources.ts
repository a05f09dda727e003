// RFC 8707 resources: the MCP servers Gatehouse issues tokens for. A token's `aud` is exactly one registered
// resource, named by its canonical URI (MCP authorization spec, "Canonical Server URI"): lower-case scheme and
// host, no default port, no fragment, and no trailing slash on an empty path, so `https://h` and `https://h/`
// are one resource.
import { memoize } from '../cache/memo.js';
import type { Db } from '../db/connection.js';
import { canonicalResource as kitCanonicalResource } from '../../packages/resource-server/src/canonical-resource.js';
import type { APPROVAL_MODES, ResourceInput } from '../config.js';

/** docs/TOOL-APPROVALS.md: each call of the tool, or once per grant. */
export type ApprovalMode = (typeof APPROVAL_MODES)[number];

/** Who may get tokens for a resource or one of its scopes: anyone matching either list (empty lists: nobody). */
export interface AccessRule {
  emailDomains: string[];
  groups: string[];
}

/** One scope of an MCP server: what the consent page says, and the MCP tools it unlocks. */
export interface ScopeEntry {
  description: string;
  tools: string[];
  access?: AccessRule | undefined;
  /** Every tool the scope lists needs this approval. */
  approval?: ApprovalMode | undefined;
}

export interface Resource {
  uri: string;
  name: string;
  description: string | null;
  /** scope → description (what most callers need). */
  scopes: Record<string, string>;
  /** scope → description, tools and access rule: the tool→scope catalogue. */
  catalogue: Record<string, ScopeEntry>;
  /** Who may get tokens for this server at all; undefined: everyone who may sign in. */
  access?: AccessRule | undefined;
  /** Approval marks of single tools. */
  toolApproval: Record<string, ApprovalMode>;
  /** The approval every tool the server reports as possibly destructive needs. */
  destructiveToolsApproval?: ApprovalMode | undefined;
  isDefault: boolean;
  /** What the server may obtain on the person's behalf by token exchange (docs/DELEGATION.md). */
  delegation: Delegation;
  /** The configuration file that manages this server (docs/CONFIG-FILE.md), or null. */
  managedBy: string | null;
}

/** Connection id → upstream scopes the server may ask for; another MCP server's URI → scopes it may ask for there. */
export interface Delegation {
  connections: Record<string, string[]>;
  resources: Record<string, string[]>;
}

export class InvalidResourceUri extends Error {}

/** One definition of the canonical form, the kit's: Gatehouse writes `aud` exactly as MCP servers compare it. */
export function canonicalResource(value: string): string {
  const answer = canonicalAnswer(value);
  if ('problem' in answer) throw new InvalidResourceUri(answer.problem);
  return answer.uri;
}

// Every token request names its resource: parsed once per distinct value.
const canonicalAnswer = memoize((value): { uri: string } | { problem: string } => {
  try {
    return { uri: kitCanonicalResource(value) };
  } catch (err) {
    return { problem: (err as Error).message };
  }
});

/** Canonical form if `value` is a valid resource URI, else the value unchanged (the registry lookup then fails). */
export function canonicalOrSame(value: string): string {
  try {
    return canonicalResource(value);
  } catch {
    return value;
  }
}

/**
 * Whether RESOURCES (the environment) defines this resource: it is seeded again at every start, so a change made
 * at run time (CLI, console) lasts only until the next start, and a removed one comes back.
 */
export function definedByEnvironment(seeds: readonly ResourceInput[], uri: string): boolean {
  return seeds.some((r) => canonicalOrSame(r.uri) === uri);
}

type StoredScope = string | { description?: string; tools?: string[]; access?: { email_domains?: string[]; groups?: string[] }; approval?: ApprovalMode };
type StoredApprovals = { tools?: Record<string, ApprovalMode>; destructive?: ApprovalMode } | null;
type StoredAccess = { email_domains?: string[]; groups?: string[] } | null;

interface Row {
  uri: string;
  name: string;
  description: string | null;
  scopes: Record<string, StoredScope> | string;
  access: StoredAccess | string;
  approvals?: StoredApprovals | string;
  is_default: boolean;
  managed_by?: string | null;
  delegation?: Partial<Delegation> | string | null;
}

const json = <T>(v: T | string): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

function accessRule(stored: StoredAccess | undefined): AccessRule | undefined {
  if (!stored) return undefined;
  return { emailDomains: (stored.email_domains ?? []).map((d) => d.toLowerCase()), groups: stored.groups ?? [] };
}

function scopeEntry(name: string, stored: StoredScope): ScopeEntry {
  if (typeof stored === 'string') return { description: stored || name, tools: [] };
  return { description: stored.description || name, tools: stored.tools ?? [], access: accessRule(stored.access), ...(stored.approval ? { approval: stored.approval } : {}) };
}

const toResource = (r: Row): Resource => {
  const catalogue = Object.fromEntries(Object.entries(json(r.scopes)).map(([name, v]) => [name, scopeEntry(name, v)]));
  const approvals = r.approvals === null || r.approvals === undefined ? null : json(r.approvals);
  return {
    uri: r.uri,
    name: r.name,
    description: r.description ?? null,
    scopes: Object.fromEntries(Object.entries(catalogue).map(([name, e]) => [name, e.description])),
    catalogue,
    access: accessRule(r.access === null || r.access === undefined ? null : json(r.access)),
    toolApproval: { ...(approvals?.tools ?? {}) },
    ...(approvals?.destructive ? { destructiveToolsApproval: approvals.destructive } : {}),
    isDefault: r.is_default,
    delegation: delegationOf(r.delegation === null || r.delegation === undefined ? null : json(r.delegation)),
    managedBy: r.managed_by ?? null,
  };
};

function delegationOf(stored: Partial<Delegation> | null | undefined): Delegation {
  return { connections: { ...(stored?.connections ?? {}) }, resources: { ...(stored?.resources ?? {}) } };
}

/** The stored form: downstream servers by canonical URI, scopes deduplicated; null when it allows nothing. */
function storedDelegation(input: ResourceInput['delegation']): Delegation | null {
  if (!input) return null;
  const unique = (v: string[]) => [...new Set(v)];
  const connections = Object.fromEntries(Object.entries(input.connections ?? {}).map(([id, scopes]) => [id, unique(scopes)]));
  const resources = Object.fromEntries(Object.entries(input.resources ?? {}).map(([uri, scopes]) => [canonicalResource(uri), unique(scopes)]));
  return Object.keys(connections).length || Object.keys(resources).length ? { connections, resources } : null;
}

const storedAccess = (a: AccessRule | undefined) => (a ? { email_domains: a.emailDomains, groups: a.groups } : undefined);

export class ResourceRegistry {
  // Per-instance cache with a short TTL: the table is read on every authorization and token request.
  #cache: { at: number; byUri: Map<string, Resource> } | undefined;

  constructor(
    private readonly db: Db,
    private readonly cacheMs = 2000,
  ) {}

  private async all(): Promise<Map<string, Resource>> {
    if (this.#cache && Date.now() - this.#cache.at < this.cacheMs) return this.#cache.byUri;
    const rows = (await this.db('resources').select()) as Row[];
    const byUri = new Map(rows.map((r) => [r.uri, toResource(r)]));
    this.#cache = { at: Date.now(), byUri };
    return byUri;
  }

  invalidate(): void {
    this.#cache = undefined;
  }

  async find(uri: string): Promise<Resource | undefined> {
    let key: string;
    try {
      key = canonicalResource(uri);
    } catch {
      return undefined;
    }
    return (await this.all()).get(key);
  }

  async defaultResource(): Promise<Resource | undefined> {
    return [...(await this.all()).values()].find((r) => r.isDefault);
  }

  /**
   * The resource an authorization request is for: the first one it names, or the default when it names none.
   * Undefined for an unregistered resource (refused further on with invalid_target).
   */
  async resolve(requested: readonly string[]): Promise<Resource | undefined> {
    return requested.length ? this.find(requested[0]!) : this.defaultResource();
  }

  async list(): Promise<Resource[]> {
    return [...(await this.all()).values()].sort((a, b) => a.uri.localeCompare(b.uri));
  }

  /** Every scope any resource defines, for discovery's scopes_supported. */
  async allScopes(): Promise<string[]> {
    const names = new Set<string>();
    for (const r of await this.list()) for (const s of Object.keys(r.scopes)) names.add(s);
    return [...names].sort();
  }

  /** Adds or updates one resource; making it the default clears the previous default in the same transaction. */
  async upsert(seed: ResourceInput): Promise<Resource> {
    const uri = canonicalResource(seed.uri);
    const catalogue = Object.fromEntries(
      Object.entries(seed.scopes ?? {}).map(([name, v]) => {
        const entry = scopeEntry(name, v as StoredScope);
        return [name, { description: entry.description, tools: entry.tools, ...(entry.access ? { access: storedAccess(entry.access) } : {}), ...(entry.approval ? { approval: entry.approval } : {}) }];
      }),
    );
    const access = accessRule(seed.access as StoredAccess | undefined);
    const approvals: StoredApprovals =
      seed.tool_approval && Object.keys(seed.tool_approval).length || seed.destructive_tools_approval
        ? { tools: { ...(seed.tool_approval ?? {}) }, ...(seed.destructive_tools_approval ? { destructive: seed.destructive_tools_approval } : {}) }
        : null;
    const row = {
      uri,
      name: seed.name ?? uri,
      description: seed.description ?? null,
      scopes: JSON.stringify(catalogue),
      access: access ? JSON.stringify(storedAccess(access)) : null,
      approvals: approvals ? JSON.stringify(approvals) : null,
      delegation: ((d) => (d ? JSON.stringify(d) : null))(storedDelegation(seed.delegation)),
      is_default: seed.default ?? false,
      updated_at: new Date(),
    };
    // managed_by is not merged: an update keeps whoever manages the server (setManagedBy changes that).
    const saved = await this.db.transaction(async (trx) => {
      if (row.is_default) await trx('resources').where({ is_default: true }).whereNot({ uri }).update({ is_default: false });
      const [stored] = (await trx('resources').insert(row).onConflict('uri').merge(['name', 'description', 'scopes', 'access', 'approvals', 'delegation', 'is_default', 'updated_at']).returning('*')) as Row[];
      return stored!;
    });
    this.invalidate();
    return toResource(saved);
  }

  /** Marks the server as managed by a configuration file (null: by nobody); false when there is no such server. */
  async setManagedBy(uri: string, file: string | null): Promise<boolean> {
    const n = (await this.db('resources').where({ uri: canonicalOrSame(uri) }).update({ managed_by: file })) as number;
    this.invalidate();
    return n > 0;
  }

  /** Removes a resource: no token can be issued for it any more (invalid_target); issued ones expire. */
  async remove(uri: string): Promise<boolean> {
    let key: string;
    try {
      key = canonicalResource(uri);
    } catch {
      return false;
    }
    const n = (await this.db('resources').where({ uri: key }).delete()) as number;
    this.invalidate();
    return n > 0;
  }

  async seed(seeds: ResourceInput[]): Promise<void> {
    for (const s of seeds) await this.upsert(s);
  }
}
