// oidc-provider's storage adapter on PostgreSQL (or PGlite): one table, one row per model instance.
//
// - Bearer secrets (tokens, codes, sessions, interactions, registration access tokens) are looked up and stored by
//   their SHA-256 digest only; Client and Grant ids are not credentials and stay readable.
// - Client payloads carry client secrets: they are sealed with SECRET_KEY.
// - Expiry is honoured on read, whatever the cleanup job has or has not deleted yet.
// - consume() is one conditional UPDATE; the loser of a race gets invalid_grant. A plain
//   read-then-write let three concurrent refreshes of one token all succeed on real PostgreSQL.
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { sha256 } from '../crypto/digest.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { affectedRows } from '../db/affected-rows.js';
import type { Db } from '../db/connection.js';
import { scoped, transactionOpen } from '../db/transaction-scope.js';
import { storable } from '../db/storable-text.js';
import { RESOURCE_CONSENT_MARKER } from './policies/hooks/consent-covers-resource.js';
import { TtlCache } from '../cache/ttl-cache.js';
import { alreadyUsed, deferConsume, takePendingConsume } from './refresh-rotation.js';
import { forgetReads, readOnce } from '../db/request-reads.js';
import { grantKey, readTokenAhead, redeeming, sessionKey, takeAhead, type PayloadRow } from './read-ahead.js';

const PLAIN_ID_MODELS = new Set(['Client', 'Grant']);
// oidc-provider keeps the id (`jti`) inside the payload too: it is removed before storage and restored on read.
// Models also found by uid or user code keep it sealed, since those lookups do not know the id.
const SECONDARY_LOOKUP_MODELS = new Set(['Session', 'DeviceCode', 'BackchannelAuthenticationRequest']);
const SEALED_JTI = '_sealedJti';
const SEALED_MODELS = new Set(['Client']);
// Read several times by one sign-in step (db/request-reads.ts).
const KEPT_PER_REQUEST = new Set(['Interaction', 'Session']);
// Reusing a code twice, even concurrently, is an attack signal: the grant and everything it issued goes.
const REVOKE_ON_CONSUME_RACE = new Set(['AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest']);

// Client metadata is read on every /token, /revoke and /introspect request and changes rarely: each instance keeps
// the rows it found for CLIENT_CACHE_MS (cache/ttl-cache.ts), the same bound as the client-approval gate's cache.
// A write through the adapter outside a unit of work leaves the row as written; deletes, writes inside a unit of
// work and ClientRegistry.remove drop the entry at once (forgetCachedClient).
// Only found clients are kept: a client registered on another instance is never hidden by a remembered miss.
// Rows are kept unsealed (AES-GCM per request was a twentieth of a client_credentials request's CPU): the secret is
// in this process's memory either way, as oidc-provider keeps every client it built.
const CLIENT_CACHE_MS = 2000;
const clientCaches = new WeakMap<Db, TtlCache<Row | undefined>>();

function clientCache(db: Db): TtlCache<Row | undefined> {
  let cache = clientCaches.get(db);
  if (!cache) clientCaches.set(db, (cache = new TtlCache(CLIENT_CACHE_MS)));
  return cache;
}

/** Forgets a client this instance may have cached (it was deleted or changed outside the adapter). */
export function forgetCachedClient(db: Db, clientId: string): void {
  clientCaches.get(db)?.delete(clientId);
}

type Row = PayloadRow;
// Redeeming these reads the session, grant and account next: one statement reads all four (read-ahead.ts).
const READ_AHEAD_MODELS = new Set(['AuthorizationCode', 'RefreshToken']);

export interface AdapterDeps {
  db: Db;
  box: SecretBox;
}

export class PostgresAdapter implements Adapter {
  private readonly hashed: boolean;
  private readonly sealed: boolean;

  constructor(
    private readonly model: string,
    private readonly deps: AdapterDeps,
  ) {
    this.hashed = !PLAIN_ID_MODELS.has(model);
    this.sealed = SEALED_MODELS.has(model);
  }

  private key(value: string): string {
    return this.hashed ? sha256(value) : value;
  }

  private encode(payload: AdapterPayload): string {
    let stored: Record<string, unknown> = payload as Record<string, unknown>;
    if (this.hashed && typeof payload.jti === 'string') {
      const { jti, ...rest } = payload;
      stored = SECONDARY_LOOKUP_MODELS.has(this.model) ? { ...rest, [SEALED_JTI]: this.deps.box.seal(jti, `jti:${this.model}`) } : rest;
    }
    // An interaction remembers the session cookie value it belongs to: a bearer secret, so sealed as well.
    const session = (stored as { session?: { cookie?: string } }).session;
    if (this.model === 'Interaction' && typeof session?.cookie === 'string') {
      stored = { ...stored, session: { ...session, cookie: this.deps.box.seal(session.cookie, 'interaction-session') } };
    }
    return JSON.stringify(stored);
  }

  private seal(json: string): string {
    return this.sealed ? this.deps.box.seal(json, `oidc:${this.model}`) : json;
  }

  /** A row as row() returns it (payload unsealed) back into oidc-provider's payload. */
  private decode(row: Row | undefined, id?: string): AdapterPayload | undefined {
    if (!row) return undefined;
    if (row.expires_at && new Date(row.expires_at).getTime() <= Date.now()) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload & { [SEALED_JTI]?: string };
    if (this.hashed) {
      const sealedJti = payload[SEALED_JTI];
      delete payload[SEALED_JTI];
      if (id !== undefined) payload.jti = id;
      else if (sealedJti) payload.jti = this.deps.box.open(sealedJti, `jti:${this.model}`);
    }
    const session = (payload as { session?: { cookie?: string } }).session;
    if (this.model === 'Interaction' && typeof session?.cookie === 'string') session.cookie = this.deps.box.open(session.cookie, 'interaction-session');
    if (row.consumed_at) payload.consumed = Math.floor(new Date(row.consumed_at).getTime() / 1000);
    return payload;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    this.forgetKept();
    const json = this.encode(payload);
    const row = {
      model: this.model,
      id: this.key(id),
      payload: this.seal(json),
      grant_id: payload.grantId ?? null,
      uid: payload.uid ? this.key(payload.uid) : null,
      user_code: payload.userCode ? this.key(payload.userCode) : null,
      expires_at: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
    };
    // A rotated refresh token is saved only by the request that spends its predecessor (refresh-rotation.ts).
    const spent = this.model === 'RefreshToken' ? takePendingConsume() : undefined;
    if (spent !== undefined) {
      if (!(await rotate(this.deps.db, spent, row))) throw alreadyUsed();
      return;
    }
    // Inside a unit of work (consent), the save joins its transaction.
    await scoped(this.deps.db)('oidc_payloads')
      .insert(row)
      .onConflict(['model', 'id'])
      .merge(['payload', 'grant_id', 'uid', 'user_code', 'expires_at']);
    if (this.model !== 'Client') return;
    // Committed outside a unit of work: this instance's cache starts from the row as written (a registration's
    // first /authorize follows at once). Inside one it could still roll back, so the entry is only dropped.
    if (transactionOpen()) forgetCachedClient(this.deps.db, id);
    else clientCache(this.deps.db).set(id, { payload: json, consumed_at: null, expires_at: row.expires_at });
  }

  /** A write of a kept model: the request's kept reads of that model are forgotten (db/request-reads.ts). */
  private forgetKept(): void {
    if (KEPT_PER_REQUEST.has(this.model)) forgetReads(`${this.model}:`);
  }

  /** The stored row with its payload unsealed: what decode() and the client cache take. */
  private row(where: Record<string, string>): Promise<Row | undefined> {
    // A sign-in step's interaction and session, read once per request (db/request-reads.ts); decode() builds a new
    // payload from the kept row at each find, so no caller sees another's changes.
    if (!KEPT_PER_REQUEST.has(this.model)) return this.readRow(where);
    return readOnce(`${this.model}:${Object.entries(where).flat().join(':')}`, () => this.readRow(where));
  }

  private async readRow(where: Record<string, string>): Promise<Row | undefined> {
    const row = (await this.deps.db('oidc_payloads')
      .select('payload', 'consumed_at', 'expires_at')
      .where({ model: this.model, ...where })
      .first()) as Row | undefined;
    return row && this.sealed ? { ...row, payload: this.deps.box.open(row.payload, `oidc:${this.model}`) } : row;
  }

  private async findWhere(where: Record<string, string>, id?: string): Promise<AdapterPayload | undefined> {
    return this.decode(await this.row(where), id);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    // A plain id (a client_id from a request) that PostgreSQL cannot hold (U+0000) names nothing stored; asking
    // would fail the query and answer 500 instead of invalid_client.
    if (!this.hashed && storable(id) !== id) return undefined;
    const key = this.key(id);
    const where = { id: key };
    if (this.model === 'Client') return this.decode(await clientCache(this.deps.db).getOrLoad(id, () => this.row(where), (r) => r !== undefined), id);
    if (READ_AHEAD_MODELS.has(this.model) && redeeming()) return this.decode(await readTokenAhead(this.deps.db, this.model, key), id);
    if (this.model === 'Grant') {
      const ahead = takeAhead<Row>(grantKey(key));
      if (ahead !== undefined) return this.decode(ahead ?? undefined, id);
    }
    return this.decode(await this.row(where), id);
  }

  async findByUid(uid: string) {
    const key = this.key(uid);
    if (this.model === 'Session') {
      const ahead = takeAhead<Row>(sessionKey(key));
      if (ahead !== undefined) return this.decode(ahead ?? undefined);
    }
    return this.findWhere({ uid: key });
  }

  findByUserCode(userCode: string) {
    return this.findWhere({ user_code: this.key(userCode) });
  }

  async consume(id: string): Promise<void> {
    this.forgetKept();
    // A refresh token is spent together with the save of its successor, in one statement (refresh-rotation.ts).
    if (this.model === 'RefreshToken' && deferConsume(this.key(id))) return;
    if (await spend(this.deps.db, this.model, this.key(id))) return;
    if (REVOKE_ON_CONSUME_RACE.has(this.model)) {
      const row = (await this.deps.db('oidc_payloads')
        .select('grant_id')
        .where({ model: this.model, id: this.key(id) })
        .first()) as { grant_id: string | null } | undefined;
      if (row?.grant_id) await revokeGrant(this.deps.db, row.grant_id);
    }
    throw this.model === 'RefreshToken' ? alreadyUsed() : new errors.InvalidGrant('grant already used');
  }

  async destroy(id: string): Promise<void> {
    this.forgetKept();
    await this.deps.db('oidc_payloads').where({ model: this.model, id: this.key(id) }).delete();
    if (this.model === 'Client') forgetCachedClient(this.deps.db, id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    this.forgetKept();
    await this.deps.db('oidc_payloads').where({ model: this.model, grant_id: grantId }).delete();
  }
}

/** Marks a stored code or token consumed; false if it was consumed already (or is not there). */
async function spend(db: Db, model: string, key: string): Promise<boolean> {
  const updated = await db('oidc_payloads').where({ model, id: key }).whereNull('consumed_at').update({ consumed_at: new Date() });
  return updated === 1;
}

/** Spends a refresh token noted by a request that did not save a successor (refresh-rotation.ts). */
/** The ids of every stored client whose id does not start with `exceptPrefix` (ids are stored readable). */
export async function storedClientIds(db: Db, exceptPrefix: string): Promise<string[]> {
  const rows = (await db('oidc_payloads')
    .select('id')
    .where({ model: 'Client' })
    .andWhereRaw('left(id, ?) <> ?', [exceptPrefix.length, exceptPrefix])) as Array<{ id: string }>;
  return rows.map((r) => r.id);
}

export const spendRefreshToken = (db: Db, key: string) => spend(db, 'RefreshToken', key);

type StoredRow = Record<'model' | 'id' | 'payload', string> & Record<'grant_id' | 'uid' | 'user_code', string | null> & { expires_at: Date | null };

/** Spends the refresh token `spentKey` and stores its successor in one statement; false if it was already spent. */
async function rotate(db: Db, spentKey: string, next: StoredRow): Promise<boolean> {
  const result = (await db.raw(
    `with spent as (
       update oidc_payloads set consumed_at = ? where model = 'RefreshToken' and id = ? and consumed_at is null returning 1
     )
     insert into oidc_payloads (model, id, payload, grant_id, uid, user_code, expires_at)
     select ?, ?, ?, ?, ?, ?, ?::timestamptz from spent`,
    [new Date(), spentKey, next.model, next.id, next.payload, next.grant_id, next.uid, next.user_code, next.expires_at],
  ));
  return affectedRows(result) === 1;
}

/** Deletes every artefact issued under a grant, and the grant itself. */
export async function revokeGrant(db: Db, grantId: string): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('oidc_payloads').where({ grant_id: grantId }).delete();
    await trx('oidc_payloads').where({ model: 'Grant', id: grantId }).delete();
    await trx('consents').where({ grant_id: grantId }).delete();
  });
}

/** Deletes expired rows in small batches, so a large backlog never holds long locks. Returns how many went. */
export async function deleteExpiredPayloads(db: Db, batch = 1000): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await db.raw(
      `delete from oidc_payloads where ctid in (
         select ctid from oidc_payloads where expires_at is not null and expires_at <= ? limit ?)`,
      [new Date(), batch],
    );
    const count = affectedRows(result);
    total += count;
    if (count < batch) return total;
  }
}

/** A person's grant to one client, as the console lists it (Grant payloads are stored readable: no secret in them). */
export interface GrantSummary {
  grantId: string;
  accountId: string;
  clientId: string;
  /** resource URI → the scopes granted for it (without the consent marker, which is not a scope). */
  resources: Record<string, string[]>;
  /** The OpenID Connect scopes granted without a resource (openid, profile…), if any. */
  openidScope: string | null;
  grantedAt: Date;
  /**
   * When the access it gives ends unless the client refreshes: the expiry of its live refresh token (each rotation
   * moves it, never past REFRESH_TOKEN_ABSOLUTE_TTL from the sign-in; policies/hooks/refresh-lifetime.ts). Not the
   * Grant row's own expiry, a year that only bounds the remembered consent. null when it holds no live refresh token.
   */
  expiresAt: Date | null;
}

interface GrantPayload {
  accountId?: string;
  clientId?: string;
  iat?: number;
  resources?: Record<string, string>;
  openid?: { scope?: string };
}

type PayloadField = 'accountId' | 'clientId';
// A field of a readable payload. The CASE keeps the JSON cast off sealed Client rows whatever order the database
// evaluates the conditions in.
const payloadField = (field: PayloadField) => `(case when model <> 'Client' then payload::jsonb ->> '${field}' end)`;

function liveGrants(db: Db) {
  return db('oidc_payloads')
    .where({ model: 'Grant' })
    .where((q) => q.whereNull('expires_at').orWhere('expires_at', '>', new Date()));
}

async function liveGrantsWhere(db: Db, field: PayloadField, value: string): Promise<GrantSummary[]> {
  const rows = (await liveGrants(db)
    .whereRaw(`${payloadField(field)} = ?`, [value])
    .select('id', 'payload', 'created_at', 'expires_at')
    .orderBy('created_at', 'desc')
    .limit(1000)) as Array<{ id: string; payload: string; created_at: Date | string; expires_at: Date | string | null }>;
  const refreshEnds = await refreshExpiries(db, rows.map((r) => r.id));
  return rows.map((r) => {
    const p = JSON.parse(r.payload) as GrantPayload;
    return {
      grantId: r.id,
      accountId: String(p.accountId ?? ''),
      clientId: String(p.clientId ?? ''),
      resources: Object.fromEntries(
        Object.entries(p.resources && typeof p.resources === 'object' ? p.resources : {}).map(([uri, scope]) => [
          uri,
          String(scope).split(' ').filter((s) => s && s !== RESOURCE_CONSENT_MARKER),
        ]),
      ),
      openidScope: p.openid?.scope ?? null,
      grantedAt: p.iat ? new Date(p.iat * 1000) : new Date(r.created_at),
      expiresAt: refreshEnds.get(r.id) ?? null,
    };
  });
}

/**
 * The latest expiry of each grant's live (unspent, unexpired) refresh tokens, in one statement per 500 grants on the
 * grant_id index; a grant with none is absent.
 */
async function refreshExpiries(db: Db, grantIds: string[]): Promise<Map<string, Date>> {
  const ends = new Map<string, Date>();
  for (let i = 0; i < grantIds.length; i += 500) {
    const rows = (await db('oidc_payloads')
      .where({ model: 'RefreshToken' })
      .whereIn('grant_id', grantIds.slice(i, i + 500))
      .whereNull('consumed_at')
      .where('expires_at', '>', new Date())
      .groupBy('grant_id')
      .select('grant_id')
      .max('expires_at as expires_at')) as Array<{ grant_id: string; expires_at: Date | string }>;
    for (const r of rows) ends.set(r.grant_id, new Date(r.expires_at));
  }
  return ends;
}

/** The live grants of one account, newest first. */
export function grantsOfAccount(db: Db, accountId: string): Promise<GrantSummary[]> {
  return liveGrantsWhere(db, 'accountId', accountId);
}

/** The live grants given to one client, newest first. */
export function grantsOfClient(db: Db, clientId: string): Promise<GrantSummary[]> {
  return liveGrantsWhere(db, 'clientId', clientId);
}

/** How many grants are live. */
export async function countLiveGrants(db: Db): Promise<number> {
  const row = (await liveGrants(db).count('id as count').first()) as { count: string | number } | undefined;
  return Number(row?.count ?? 0);
}

/** How many live grants each of these accounts has (absent: none). */
export async function countGrantsByAccount(db: Db, accountIds: string[]): Promise<Map<string, number>> {
  if (!accountIds.length) return new Map();
  const account = payloadField('accountId');
  const rows = (await liveGrants(db)
    .whereRaw(`${account} in (${accountIds.map(() => '?').join(', ')})`, accountIds)
    .select(db.raw(`${account} as account_id`))
    .count('id as count')
    .groupByRaw('1')) as Array<{ account_id: string; count: string | number }>;
  return new Map(rows.map((r) => [r.account_id, Number(r.count)]));
}

/** Revokes every grant of an account (and what each issued); returns the grant ids revoked. */
export async function revokeGrantsOfAccount(db: Db, accountId: string): Promise<string[]> {
  // Expired grants too: nothing issued under any grant of the person may survive.
  const ids = (await db('oidc_payloads').where({ model: 'Grant' }).whereRaw(`${payloadField('accountId')} = ?`, [accountId]).pluck('id')) as string[];
  for (const id of ids) await revokeGrant(db, id);
  return ids;
}

/**
 * Revokes everything a client holds: each of its grants with every token and code issued under it, and the tokens
 * it holds without a grant (client_credentials). Works for any client id, registered or metadata-document.
 * Returns the number of grants revoked. (Remembered consents belong to remembered-consent; the caller drops them.)
 */
export async function revokeGrantsOfClient(db: Db, clientId: string): Promise<number> {
  const client = payloadField('clientId');
  const ids = (await db('oidc_payloads').where({ model: 'Grant' }).whereRaw(`${client} = ?`, [clientId]).pluck('id')) as string[];
  for (const id of ids) await revokeGrant(db, id);
  await db('oidc_payloads').whereNot({ model: 'Client' }).whereRaw(`${client} = ?`, [clientId]).delete();
  return ids.length;
}

/** A person's browser sign-in at /authorize (an oidc-provider Session), as administration lists it: no id, no secret. */
export interface BrowserSession {
  createdAt: Date;
  /** When the person last signed in within it (oidc-provider's loginTs). */
  loginAt: Date | null;
  expiresAt: Date | null;
}

function liveSessionsOf(db: Db, accountId: string) {
  return db('oidc_payloads')
    .where({ model: 'Session' })
    .whereRaw(`${payloadField('accountId')} = ?`, [accountId])
    .where((q) => q.whereNull('expires_at').orWhere('expires_at', '>', new Date()));
}

/** The live oidc-provider sessions of an account, newest first (at most 1000). */
export async function sessionsOfAccount(db: Db, accountId: string): Promise<BrowserSession[]> {
  const rows = (await liveSessionsOf(db, accountId).select('payload', 'created_at', 'expires_at').orderBy('created_at', 'desc').limit(1000)) as Array<{ payload: string; created_at: Date | string; expires_at: Date | string | null }>;
  return rows.map((r) => {
    const loginTs = (JSON.parse(r.payload) as { loginTs?: unknown }).loginTs;
    return { createdAt: new Date(r.created_at), loginAt: typeof loginTs === 'number' ? new Date(loginTs * 1000) : null, expiresAt: r.expires_at ? new Date(r.expires_at) : null };
  });
}

/** Deletes every oidc-provider session of an account, expired or not (no silent sign-in rides on it); returns how many. */
export async function deleteSessionsOfAccount(db: Db, accountId: string): Promise<number> {
  // Raw, for the count: knex on PGlite answers a builder's delete with the driver's result (db/affected-rows.ts).
  return affectedRows(await db.raw(`delete from oidc_payloads where model = 'Session' and ${payloadField('accountId')} = ?`, [accountId]));
}
