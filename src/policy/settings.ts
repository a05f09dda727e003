// Policy an admin edits in the console (this module owns `policy_settings`): the registration mode, the CIMD
// allow and block lists, and who may sign in (email domains, groups). A stored value overrides the environment's;
// no row means the environment decides. Every instance reads them through a cache of a couple of seconds, so a
// change made on one instance (or by the CLI) holds everywhere almost at once without a query per request.
import { POLICY_SETTINGS, parsePolicySetting, type Config, type PolicySettingName } from '../config.js';
import type { Db } from '../db/connection.js';

export type EffectivePolicy = Pick<Config, PolicySettingName>;

export interface PolicyEntry<N extends PolicySettingName = PolicySettingName> {
  name: N;
  /** The value in force. */
  effective: EffectivePolicy[N];
  /** The environment's value (the default when nothing is stored). */
  environment: EffectivePolicy[N];
  overridden: boolean;
  updatedBy: string | null;
  updatedAt: Date | null;
  /** The configuration file that manages this setting (docs/CONFIG-FILE.md), or null. */
  managedBy: string | null;
}

interface Row {
  name: string;
  value: unknown;
  updated_by: string | null;
  updated_at: Date | string;
  managed_by?: string | null;
}

const CACHE_MS = 2000;

// The value is stored inside an object ({"value": …}): drivers hand jsonb back parsed, and a bare JSON string
// ("approval") would come back indistinguishable from unparsed JSON text.
function unwrap(stored: unknown): unknown {
  const envelope = typeof stored === 'string' ? JSON.parse(stored) : stored;
  return (envelope as { value: unknown }).value;
}

export class PolicyError extends Error {}

export function isPolicySetting(name: string): name is PolicySettingName {
  return (POLICY_SETTINGS as readonly string[]).includes(name);
}

/** What the request paths need: the policy in force (registration, CIMD trust, login). */
export type PolicyReader = Pick<PolicySettings, 'effective' | 'get'>;

export class PolicySettings {
  #cache: { at: number; rows: Map<string, Row> } | undefined;
  // One query at a time refills the cache (a burst of requests after it expires shares it); a change made here
  // bumps the generation, so a read that started before the change cannot put the old rows back in the cache.
  #loading: Promise<Map<string, Row>> | undefined;
  #generation = 0;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
  ) {}

  private async rows(): Promise<Map<string, Row>> {
    if (this.#cache && Date.now() - this.#cache.at < CACHE_MS) return this.#cache.rows;
    if (this.#loading) return this.#loading;
    const generation = this.#generation;
    const load = (async () => {
      const rows = (await this.db('policy_settings').select()) as Row[];
      const map = new Map(rows.map((r) => [r.name, { ...r, value: unwrap(r.value) }]));
      if (generation === this.#generation) this.#cache = { at: Date.now(), rows: map };
      return map;
    })();
    this.#loading = load;
    try {
      return await load;
    } finally {
      if (this.#loading === load) this.#loading = undefined;
    }
  }

  /** Forgets the cached rows: the next read queries the database (after a change made on this instance). */
  private invalidate(): void {
    this.#generation++;
    this.#cache = undefined;
    this.#loading = undefined;
  }

  /** The policy in force: stored overrides over the environment. */
  async effective(): Promise<EffectivePolicy> {
    const rows = await this.rows();
    const out = {} as Record<PolicySettingName, unknown>;
    for (const name of POLICY_SETTINGS) out[name] = rows.has(name) ? rows.get(name)!.value : this.config[name];
    return out as EffectivePolicy;
  }

  async get<N extends PolicySettingName>(name: N): Promise<EffectivePolicy[N]> {
    return (await this.effective())[name];
  }

  /** Each setting with its effective and environment values, for the console's policy page. */
  async entries(): Promise<PolicyEntry[]> {
    const rows = await this.rows();
    return POLICY_SETTINGS.map((name) => {
      const row = rows.get(name);
      return {
        name,
        effective: (row ? row.value : this.config[name]) as never,
        environment: this.config[name] as never,
        overridden: !!row,
        updatedBy: row?.updated_by ?? null,
        updatedAt: row ? new Date(row.updated_at) : null,
        managedBy: row?.managed_by ?? null,
      };
    });
  }

  /** Stores a value written as the environment variable would be (a comma-separated list, or a mode). */
  async set(name: PolicySettingName, raw: string, actor: string): Promise<EffectivePolicy[typeof name]> {
    const value = this.parse(name, raw);
    await this.db('policy_settings')
      .insert({ name, value: JSON.stringify({ value }), updated_by: actor, updated_at: new Date() })
      .onConflict('name')
      .merge(['value', 'updated_by', 'updated_at']);
    this.invalidate();
    return value;
  }

  /** The value `set` would store, without storing it; throws PolicyError naming the setting when it is invalid. */
  parse<N extends PolicySettingName>(name: N, raw: string): EffectivePolicy[N] {
    if (!isPolicySetting(name)) throw new PolicyError(`${String(name)} is not a policy setting`);
    const parsed = parsePolicySetting(name, raw.trim());
    if ('problem' in parsed) throw new PolicyError(parsed.problem);
    return parsed.value;
  }

  /**
   * Marks a stored setting as managed by a configuration file (null: by nobody); false when nothing is stored for
   * it (a setting that follows the environment has no row to mark). Resetting a setting forgets its mark with it.
   */
  async setManagedBy(name: PolicySettingName, file: string | null): Promise<boolean> {
    const n = (await this.db('policy_settings').where({ name }).update({ managed_by: file })) as number;
    this.invalidate();
    return n > 0;
  }

  /** Back to the environment's value. */
  async reset(name: PolicySettingName): Promise<void> {
    if (!isPolicySetting(name)) throw new PolicyError(`${name} is not a policy setting`);
    await this.db('policy_settings').where({ name }).delete();
    this.invalidate();
  }
}
