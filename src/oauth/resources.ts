// RFC 8707 resources: the MCP servers Gatehouse issues tokens for. A token's `aud` is exactly one registered
// resource, named by its canonical URI (MCP authorization spec, "Canonical Server URI"): lower-case scheme and
// host, no default port, no fragment, and no trailing slash on an empty path, so `https://h` and `https://h/`
// are one resource.
import type { Db } from '../db/connection.js';
import type { ResourceSeed } from '../config.js';

export interface Resource {
  uri: string;
  name: string;
  scopes: Record<string, string>;
  isDefault: boolean;
}

export class InvalidResourceUri extends Error {}

export function canonicalResource(value: string): string {
  const url = URL.parse(value);
  if (!url || !url.protocol || !url.host) throw new InvalidResourceUri('resource must be an absolute URI');
  if (value.includes('#')) throw new InvalidResourceUri('resource must not contain a fragment');
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InvalidResourceUri('resource must be an http(s) URI');
  if (url.username || url.password) throw new InvalidResourceUri('resource must not contain credentials');
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.protocol}//${url.host}${path}${url.search}`;
}

/** Canonical form if `value` is a valid resource URI, else the value unchanged (the registry lookup then fails). */
export function canonicalOrSame(value: string): string {
  try {
    return canonicalResource(value);
  } catch {
    return value;
  }
}

interface Row {
  uri: string;
  name: string;
  scopes: Record<string, string> | string;
  is_default: boolean;
}

const toResource = (r: Row): Resource => ({
  uri: r.uri,
  name: r.name,
  scopes: typeof r.scopes === 'string' ? (JSON.parse(r.scopes) as Record<string, string>) : r.scopes,
  isDefault: r.is_default,
});

export class ResourceRegistry {
  // Per-instance cache with a short TTL (DESIGN.md §8): the table is read on every authorization and token request.
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
  async upsert(seed: ResourceSeed): Promise<Resource> {
    const uri = canonicalResource(seed.uri);
    const row = {
      uri,
      name: seed.name ?? uri,
      scopes: JSON.stringify(seed.scopes ?? {}),
      is_default: seed.default ?? false,
      updated_at: new Date(),
    };
    await this.db.transaction(async (trx) => {
      if (row.is_default) await trx('resources').where({ is_default: true }).whereNot({ uri }).update({ is_default: false });
      await trx('resources').insert(row).onConflict('uri').merge(['name', 'scopes', 'is_default', 'updated_at']);
    });
    this.invalidate();
    return { uri, name: row.name, scopes: seed.scopes ?? {}, isDefault: row.is_default };
  }

  async seed(seeds: ResourceSeed[]): Promise<void> {
    for (const s of seeds) await this.upsert(s);
  }
}
