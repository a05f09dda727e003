// Governance facts about clients that oidc-provider does not keep: where a client came from (dynamic
// registration or an admin), whether it may authorize (approval mode), and when it was last used (so unused
// dynamic clients expire). This module owns `client_registry`; a client with no row (created before it existed)
// counts as active.
import type { Knex } from 'knex';
import type { Db } from '../db/connection.js';
import { containsPattern } from '../db/like-pattern.js';
import { storable } from '../db/storable-text.js';
import { addressSource } from '../net/address-source.js';
import { forgetCachedClient, revokeGrantsOfClient } from './adapter.js';
import { TtlCache } from '../cache/ttl-cache.js';

export type ClientOrigin = 'dynamic' | 'static';
export type ClientStatus = 'active' | 'pending' | 'disabled';

export interface RegisteredClient {
  clientId: string;
  origin: ClientOrigin;
  status: ClientStatus;
  clientName: string | null;
  registeredIp: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** The configuration file that manages this client, if one does (docs/CONFIG-FILE.md). */
  managedBy: string | null;
}

interface Row {
  client_id: string;
  origin: ClientOrigin;
  status: ClientStatus;
  client_name: string | null;
  registered_ip: string | null;
  created_at: Date | string;
  last_used_at: Date | string | null;
  managed_by?: string | null;
}

const toClient = (r: Row): RegisteredClient => ({
  clientId: r.client_id,
  origin: r.origin,
  status: r.status,
  clientName: r.client_name,
  registeredIp: r.registered_ip,
  createdAt: new Date(r.created_at),
  lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : null,
  managedBy: r.managed_by ?? null,
});

// last_used_at is written at most this often per client and instance: a token request must not cost a write.
const TOUCH_INTERVAL_MS = 5 * 60 * 1000;
const GATE_CACHE_MS = 2000;

export class ClientRegistry {
  readonly #touched = new Map<string, number>();
  // The approval gate reads a client on every /token request: a short per-instance cache keeps that
  // off the database. Changes made through this instance drop their entry at once; other instances see them
  // within GATE_CACHE_MS.
  readonly #gateCache = new TtlCache<RegisteredClient | undefined>(GATE_CACHE_MS);

  constructor(private readonly db: Db) {}

  async record(input: { clientId: string; origin: ClientOrigin; status: ClientStatus; clientName?: string | undefined; ip?: string | undefined }): Promise<void> {
    const [row] = (await this.db('client_registry')
      .insert({
        client_id: input.clientId,
        origin: input.origin,
        status: input.status,
        client_name: input.clientName === undefined ? null : storable(input.clientName).slice(0, 500),
        registered_ip: input.ip ?? null,
        // The source the per-source cap counts (countDynamicWithSource); the full address stays for the console and audit.
        registered_source: input.ip === undefined ? null : addressSource(input.ip),
      })
      .onConflict('client_id')
      .merge(['client_name'])
      .returning('*')) as Row[];
    // The row as committed: the approval gate of this instance starts from it (a new client's first /authorize
    // follows at once) instead of reading it back.
    if (row) this.#gateCache.set(input.clientId, toClient(row));
    else this.#gateCache.delete(input.clientId);
  }

  /** find(), cached for GATE_CACHE_MS: for the per-request approval gate only. */
  async findForGate(clientId: string): Promise<RegisteredClient | undefined> {
    return this.#gateCache.getOrLoad(clientId, () => this.find(clientId));
  }

  async find(clientId: string): Promise<RegisteredClient | undefined> {
    // An id PostgreSQL cannot hold (U+0000) names no stored client; asking would fail the query (a 500).
    if (storable(clientId) !== clientId) return undefined;
    const row = (await this.db('client_registry').where({ client_id: clientId }).first()) as Row | undefined;
    return row ? toClient(row) : undefined;
  }

  async list(filter: { origin?: ClientOrigin; status?: ClientStatus } = {}): Promise<RegisteredClient[]> {
    const q = this.db('client_registry').orderBy('created_at', 'desc');
    if (filter.origin) q.where({ origin: filter.origin });
    if (filter.status) q.where({ status: filter.status });
    return ((await q) as Row[]).map(toClient);
  }

  /**
   * Clients for the console's list, newest first (then by id): by origin and status, and `q` a case-insensitive
   * part of the name, client_id or registering address. At most `limit` rows.
   */
  async search(filter: { origin?: ClientOrigin | undefined; status?: ClientStatus | undefined; q?: string | undefined }, limit: number): Promise<{ clients: RegisteredClient[]; total: number }> {
    const where = (q: Knex.QueryBuilder) => {
      if (filter.origin) q.where({ origin: filter.origin });
      if (filter.status) q.where({ status: filter.status });
      if (filter.q) {
        const pattern = containsPattern(filter.q);
        q.where((w) =>
          w.whereRaw("lower(coalesce(client_name, '')) like ? escape '\\'", [pattern])
            .orWhereRaw("lower(client_id) like ? escape '\\'", [pattern])
            .orWhereRaw("lower(coalesce(registered_ip, '')) like ? escape '\\'", [pattern]),
        );
      }
      return q;
    };
    const rows = (await where(this.db('client_registry')).orderBy('created_at', 'desc').orderBy('client_id').limit(limit)) as Row[];
    const count = (await where(this.db('client_registry')).count<{ count: string | number }[]>('client_id as count').first()) as { count: string | number };
    return { clients: rows.map(toClient), total: Number(count.count) };
  }

  /** Who has consented to this client (remembered consent), newest first. */
  async consents(clientId: string): Promise<Array<{ accountId: string; grantId: string; updatedAt: Date }>> {
    const rows = (await this.db('consents').where({ client_id: clientId }).orderBy('updated_at', 'desc').limit(500)) as Array<{ account_id: string; grant_id: string; updated_at: Date | string }>;
    return rows.map((r) => ({ accountId: r.account_id, grantId: r.grant_id, updatedAt: new Date(r.updated_at) }));
  }

  /**
   * Revokes everything the client holds (every grant and token, see revokeGrantsOfClient) and its remembered
   * consents. Returns the number of grants revoked.
   */
  async revokeEverything(clientId: string): Promise<number> {
    const revoked = await revokeGrantsOfClient(this.db, clientId);
    await this.db('consents').where({ client_id: clientId }).delete();
    return revoked;
  }

  /** How many clients there are of each origin and status. */
  async counts(): Promise<Array<{ origin: ClientOrigin; status: ClientStatus; count: number }>> {
    const rows = (await this.db('client_registry').select('origin', 'status').count('client_id as count').groupBy('origin', 'status')) as Array<{ origin: ClientOrigin; status: ClientStatus; count: string | number }>;
    return rows.map((r) => ({ origin: r.origin, status: r.status, count: Number(r.count) }));
  }

  /**
   * Dynamic registrations since `since`: how many per day (UTC, newest first), and the client names registered more
   * than once (the signature of a client that loses its registration, or of someone filling the table).
   */
  async churn(since: Date): Promise<{ perDay: Array<{ day: string; count: number }>; repeated: Array<{ name: string | null; count: number; ips: number; latest: Date }> }> {
    const recent = () => this.db('client_registry').where({ origin: 'dynamic' }).where('created_at', '>=', since);
    const perDay = (await recent()
      .select(this.db.raw("to_char(date_trunc('day', created_at at time zone 'UTC'), 'YYYY-MM-DD') as day"))
      .count('client_id as count')
      .groupByRaw('1')
      .orderBy('day', 'desc')) as Array<{ day: string; count: string | number }>;
    const repeated = (await recent()
      .select('client_name')
      .count('client_id as count')
      .countDistinct('registered_ip as ips')
      .max('created_at as latest')
      .groupBy('client_name')
      .havingRaw('count(client_id) > 1')
      .orderBy('count', 'desc')
      .limit(10)) as Array<{ client_name: string | null; count: string | number; ips: string | number; latest: Date | string }>;
    return {
      perDay: perDay.map((d) => ({ day: d.day, count: Number(d.count) })),
      repeated: repeated.map((r) => ({ name: r.client_name, count: Number(r.count), ips: Number(r.ips), latest: new Date(r.latest) })),
    };
  }

  /**
   * Dynamic clients in all, and those registered from the source of `ip` (its IPv4 address or IPv6 /64) that are
   * still here — pending, active or disabled alike, until they are swept as unused or deleted — in one statement.
   */
  async countDynamicWithSource(ip: string): Promise<{ all: number; fromSource: number }> {
    const row = (await this.db('client_registry')
      .where({ origin: 'dynamic' })
      .select(this.db.raw('count(client_id) as "all"'), this.db.raw('count(client_id) filter (where registered_source = ?) as "fromSource"', [addressSource(ip)]))
      .first()) as { all: string | number; fromSource: string | number };
    return { all: Number(row.all), fromSource: Number(row.fromSource) };
  }

  /** Sets a client's status; false when the client is unknown. */
  async setStatus(clientId: string, status: ClientStatus, actor: string): Promise<boolean> {
    const updated = await this.db('client_registry')
      .where({ client_id: clientId })
      .update({ status, status_changed_at: new Date(), status_changed_by: actor });
    this.#gateCache.delete(clientId);
    return updated === 1;
  }

  /** Marks the client as managed by a configuration file (or no longer, with null). */
  async setManagedBy(clientId: string, file: string | null): Promise<void> {
    await this.db('client_registry').where({ client_id: clientId }).update({ managed_by: file });
    this.#gateCache.delete(clientId);
  }

  /** The name the console and audit show (the metadata's client_name is changed with it by static-clients.ts). */
  async setName(clientId: string, name: string): Promise<void> {
    await this.db('client_registry').where({ client_id: clientId }).update({ client_name: storable(name).slice(0, 500) });
    this.#gateCache.delete(clientId);
  }

  async touch(clientId: string): Promise<void> {
    const now = Date.now();
    if (now - (this.#touched.get(clientId) ?? 0) < TOUCH_INTERVAL_MS) return;
    this.#touched.set(clientId, now);
    await this.db('client_registry').where({ client_id: clientId }).update({ last_used_at: new Date(now) });
  }

  async remove(clientId: string): Promise<void> {
    this.#gateCache.delete(clientId);
    await this.db.transaction(async (trx) => {
      await trx('client_registry').where({ client_id: clientId }).delete();
      await trx('oidc_payloads').where({ model: 'Client', id: clientId }).delete();
      await trx('consents').where({ client_id: clientId }).delete();
    });
    forgetCachedClient(this.db, clientId);
  }

  /**
   * Deletes dynamically registered clients unused (neither authorized nor refreshed) for `days`, so the client
   * table cannot grow without bound. Clients re-register freely, so an expired one simply registers again.
   */
  async sweepUnused(days: number): Promise<string[]> {
    const cutoff = new Date(Date.now() - days * 86_400_000);
    const stale = (await this.db('client_registry')
      .where({ origin: 'dynamic' })
      .where((q) => q.where('last_used_at', '<', cutoff).orWhere((q2) => q2.whereNull('last_used_at').where('created_at', '<', cutoff)))
      .pluck('client_id')) as string[];
    for (const clientId of stale) await this.remove(clientId);
    return stale;
  }
}
