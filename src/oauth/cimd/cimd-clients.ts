// The clients that came by Client ID Metadata Document (issue #3): their documents are fetched, never stored, so
// this table is what lets an administrator see who has used Gatehouse and block a client_id URL. This module owns
// `cimd_clients`.
//
// A client is recorded the first time it is used (one audit event), and its last_seen_at is written at most every
// few minutes per instance: an authorization or a token request must not cost a write. The blocked flag is read
// through a cache of a couple of seconds, so a block made by the CLI (another process) takes effect on every
// instance almost at once, without a query per request.
import type { Knex } from 'knex';
import type { Db } from '../../db/connection.js';
import { containsPattern } from '../../db/like-pattern.js';
import { storable } from '../../db/storable-text.js';
import { TtlCache } from '../../cache/ttl-cache.js';
import { clientIdHost } from './client-id-url.js';

export interface CimdClient {
  clientId: string;
  host: string;
  clientName: string | null;
  firstSeenAt: Date | null;
  lastSeenAt: Date | null;
  blockedAt: Date | null;
}

interface Row {
  client_id: string;
  host: string;
  client_name: string | null;
  first_seen_at: Date | string | null;
  last_seen_at: Date | string | null;
  blocked_at: Date | string | null;
}

const date = (v: Date | string | null) => (v === null ? null : new Date(v));
const toClient = (r: Row): CimdClient => ({
  clientId: r.client_id,
  host: r.host,
  clientName: r.client_name,
  firstSeenAt: date(r.first_seen_at),
  lastSeenAt: date(r.last_seen_at),
  blockedAt: date(r.blocked_at),
});

const TOUCH_INTERVAL_MS = 5 * 60 * 1000;
const BLOCKED_CACHE_MS = 2000;
// Bounds the per-instance memories: an endless stream of distinct client_id URLs must not grow them forever.
const MEMO_LIMIT = 10_000;

// The client name comes from a document anyone can write: characters PostgreSQL cannot store become U+FFFD
// rather than failing the insert (and with it the sign-in).
const storableName = (name: string | undefined) => (name === undefined ? null : storable(name.slice(0, 500)));

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.size >= MEMO_LIMIT && !map.has(key)) map.clear();
  map.set(key, value);
}

export class CimdClients {
  readonly #touched = new Map<string, number>();
  readonly #blocked = new TtlCache<boolean>(BLOCKED_CACHE_MS, MEMO_LIMIT);
  // Client ids confirmed as already seen: a known client never pays that lookup again on this instance.
  readonly #known = new Map<string, true>();

  constructor(private readonly db: Db) {}

  /** How many metadata-document clients are in use and how many are blocked. */
  async counts(): Promise<{ active: number; blocked: number }> {
    const rows = (await this.db('cimd_clients').select(this.db.raw('(blocked_at is not null) as blocked')).count('client_id as count').groupByRaw('1')) as Array<{ blocked: boolean; count: string | number }>;
    const of = (blocked: boolean) => Number(rows.find((r) => r.blocked === blocked)?.count ?? 0);
    return { active: of(false), blocked: of(true) };
  }

  async list(): Promise<CimdClient[]> {
    return ((await this.db('cimd_clients').orderBy('first_seen_at', 'desc').orderBy('client_id')) as Row[]).map(toClient);
  }

  /**
   * Clients for the console's list, newest first (first seen, or blocked when never seen; then by id): blocked or
   * not, and `q` a case-insensitive part of the name, client_id or host. At most `limit` rows.
   */
  async search(filter: { blocked?: boolean | undefined; q?: string | undefined }, limit: number): Promise<{ clients: CimdClient[]; total: number }> {
    const where = (q: Knex.QueryBuilder) => {
      if (filter.blocked === true) q.whereNotNull('blocked_at');
      if (filter.blocked === false) q.whereNull('blocked_at');
      if (filter.q) {
        const pattern = containsPattern(filter.q);
        q.where((w) =>
          w.whereRaw("lower(coalesce(client_name, '')) like ? escape '\\'", [pattern])
            .orWhereRaw("lower(client_id) like ? escape '\\'", [pattern])
            .orWhereRaw("lower(host) like ? escape '\\'", [pattern]),
        );
      }
      return q;
    };
    const rows = (await where(this.db('cimd_clients')).orderByRaw('coalesce(first_seen_at, blocked_at) desc nulls last').orderBy('client_id').limit(limit)) as Row[];
    const count = (await where(this.db('cimd_clients')).count<{ count: string | number }[]>('client_id as count').first()) as { count: string | number };
    return { clients: rows.map(toClient), total: Number(count.count) };
  }

  async find(clientId: string): Promise<CimdClient | undefined> {
    const row = (await this.db('cimd_clients').where({ client_id: clientId }).first()) as Row | undefined;
    return row ? toClient(row) : undefined;
  }

  /** Whether this client_id URL has been used before (so its first use is behind it). */
  async known(clientId: string): Promise<boolean> {
    if (this.#known.has(clientId)) return true;
    if (!(await this.find(clientId))?.firstSeenAt) return false;
    remember(this.#known, clientId, true);
    return true;
  }

  async isBlocked(clientId: string): Promise<boolean> {
    return this.#blocked.getOrLoad(clientId, async () => {
      const row = (await this.db('cimd_clients').where({ client_id: clientId }).first('blocked_at')) as { blocked_at: unknown } | undefined;
      return !!row?.blocked_at;
    });
  }

  /**
   * Notes that the client was used now. Returns true the first time the client is ever seen (the caller audits it).
   * Later calls write at most once per TOUCH_INTERVAL_MS per client and instance.
   */
  async seen(clientId: string, clientName: string | undefined): Promise<boolean> {
    const now = Date.now();
    if (now - (this.#touched.get(clientId) ?? 0) < TOUCH_INTERVAL_MS) return false;
    remember(this.#touched, clientId, now);
    const at = new Date(now);
    const name = storableName(clientName);
    const inserted = (await this.db('cimd_clients')
      .insert({ client_id: clientId, host: clientIdHost(clientId), client_name: name, first_seen_at: at, last_seen_at: at })
      .onConflict('client_id')
      .ignore()
      .returning('client_id')) as unknown[];
    if (inserted.length) return true;
    // A row made by `cimd block` before the client was ever used has no first_seen_at yet.
    const firstUse = (await this.db('cimd_clients')
      .where({ client_id: clientId })
      .whereNull('first_seen_at')
      .update({ first_seen_at: at, last_seen_at: at, client_name: name })
      .returning('client_id')) as unknown[];
    if (firstUse.length) return true;
    await this.db('cimd_clients').where({ client_id: clientId }).update({ last_seen_at: at, client_name: name });
    return false;
  }

  /** Blocks a client_id URL (seen or not yet seen); returns the row. */
  async block(clientId: string, actor: string): Promise<CimdClient> {
    const at = new Date();
    await this.db('cimd_clients')
      .insert({ client_id: clientId, host: clientIdHost(clientId), blocked_at: at, blocked_by: actor })
      .onConflict('client_id')
      .merge({ blocked_at: at, blocked_by: actor });
    this.#blocked.delete(clientId);
    return (await this.find(clientId))!;
  }

  /** Forgets a client (and any block on it); it is recorded again when next used. False when unknown. */
  async remove(clientId: string): Promise<boolean> {
    const deleted = await this.db('cimd_clients').where({ client_id: clientId }).delete();
    this.#blocked.delete(clientId);
    this.#touched.delete(clientId);
    this.#known.delete(clientId);
    return deleted > 0;
  }

  /** Lifts a block; undefined when the client_id is unknown. */
  async unblock(clientId: string): Promise<CimdClient | undefined> {
    const updated = await this.db('cimd_clients').where({ client_id: clientId }).update({ blocked_at: null, blocked_by: null });
    this.#blocked.delete(clientId);
    return updated ? this.find(clientId) : undefined;
  }
}
