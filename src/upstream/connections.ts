// Connections live in `upstream_connections` (this module owns it): settings in the clear, the client secret
// sealed with SECRET_KEY. UPSTREAM_* seeds one connection at start (source "env", owned by the environment);
// `gatehouse connection add` and the console add more. Each instance reads them through a 2 s cache and keeps one
// connector per connection version, so the IdP's discovery document is fetched once per hour, not per login.
import { forgetConnectionTokens } from './upstream-tokens.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/connection.js';
import { CONNECTION_KINDS, connectionFetch, type ConnectionKindName, type ConnectionSpec, type ConnectorDeps, type SpecField } from './connection.js';
import type { Connector, DiscoveryReport } from './connector.js';
import { KINDS } from './kinds.js';

export interface StoredConnection extends ConnectionSpec {
  source: string;
  /** The configuration file that manages this connection (docs/CONFIG-FILE.md), or null. */
  managedBy: string | null;
  /** A global token revocation credential is set (only its digest is stored: docs/UNIVERSAL-LOGOUT.md). */
  hasGlobalLogoutSecret: boolean;
  /**
   * Offered on the sign-in page. A disabled connection keeps its settings, linked identities and kept tokens, but
   * nobody signs in through it. A state, not a setting: saving the settings keeps it (setEnabled changes it).
   */
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

interface Row {
  id: string;
  name: string;
  kind: string;
  settings: Settings | string;
  client_secret: string | null;
  source: string;
  managed_by?: string | null;
  global_logout_secret_hash?: string | null;
  created_at: Date;
  updated_at: Date;
}

// `enabled: false` rides in the settings column (absent: enabled), so no migration is needed for it.
type Settings = Omit<ConnectionSpec, 'id' | 'name' | 'kind' | 'clientSecret'> & { enabled?: boolean };

const SECRET_PURPOSE = 'upstream-connection-secret';
const CACHE_MS = 2000;

export class ConnectionError extends Error {
  constructor(readonly problems: Array<[SpecField, string]>) {
    super(problems.map(([f, m]) => `${f}: ${m}`).join('; '));
  }
}

/** The id is taken (the console answers 409). */
export class ConnectionExists extends ConnectionError {}

/** Fills the list fields a caller may leave out. */
export function connectionSpec(input: Partial<ConnectionSpec> & Pick<ConnectionSpec, 'id' | 'kind'>): ConnectionSpec {
  return {
    name: KINDS[input.kind]?.displayName ?? input.kind,
    scopes: [],
    allowedTenants: [],
    hostedDomains: [],
    orgs: [],
    storeTokens: false,
    allowPrivateNetwork: false,
    idJag: false,
    ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)),
  } as unknown as ConnectionSpec;
}

export function validateConnection(spec: ConnectionSpec, production: boolean): Array<[SpecField, string]> {
  if (!CONNECTION_KINDS.includes(spec.kind)) return [['kind', `must be one of ${CONNECTION_KINDS.join(', ')}`]];
  return KINDS[spec.kind].validate(spec, production);
}

export class Connections {
  #cache: { at: number; value: Promise<StoredConnection[]> } | undefined;
  readonly #connectors = new Map<string, { version: number; connector: Connector }>();

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly deps: ConnectorDeps,
  ) {}

  list(): Promise<StoredConnection[]> {
    if (this.#cache && Date.now() - this.#cache.at < CACHE_MS) return this.#cache.value;
    const value = this.load();
    this.#cache = { at: Date.now(), value };
    value.catch(() => (this.#cache = undefined));
    return value;
  }

  async find(id: string): Promise<StoredConnection | undefined> {
    return (await this.list()).find((c) => c.id === id);
  }

  /**
   * The connection as stored now, never the 2 s cache: administration reads, checks versions and writes on this, so
   * a change on another instance a moment ago is neither missed nor written over.
   */
  async current(id: string): Promise<StoredConnection | undefined> {
    const row = (await this.db('upstream_connections').where({ id }).first()) as Row | undefined;
    return row && this.fromRow(row);
  }

  /**
   * Enables or disables a connection, changing that flag only (in one statement on the stored settings), whatever
   * else another instance changed since this one read it.
   */
  async setEnabled(id: string, enabled: boolean): Promise<StoredConnection | undefined> {
    const changed = await this.db.transaction(async (trx) => {
      const row = (await trx('upstream_connections').where({ id }).forUpdate().first()) as Row | undefined;
      if (!row) return false;
      const settings = (typeof row.settings === 'string' ? JSON.parse(row.settings) : row.settings) as Settings;
      const { enabled: _was, ...rest } = settings;
      await trx('upstream_connections').where({ id }).update({ settings: JSON.stringify(enabled ? rest : { ...rest, enabled: false }), updated_at: new Date() });
      return true;
    });
    this.#cache = undefined;
    return changed ? this.current(id) : undefined;
  }

  /** The connector for a connection, rebuilt only when the connection changed. */
  connector(connection: StoredConnection): Connector {
    const version = connection.updatedAt.getTime();
    const cached = this.#connectors.get(connection.id);
    if (cached && cached.version === version) return cached.connector;
    const connector = KINDS[connection.kind].create(connection, this.deps);
    this.#connectors.set(connection.id, { version, connector });
    return connector;
  }

  /** Adds a connection; refuses an invalid one or an id already in use. */
  async add(spec: ConnectionSpec, source: string, enabled = true): Promise<StoredConnection> {
    this.check(spec);
    const existing = await this.db('upstream_connections').where({ id: spec.id }).first();
    if (existing) throw new ConnectionExists([['id', `a connection with id ${spec.id} already exists`]]);
    await this.db('upstream_connections').insert(this.toRow(spec, source, enabled));
    this.#cache = undefined;
    return (await this.find(spec.id))!;
  }

  /**
   * Changes a connection's settings (not its id or kind: identities are linked through them). `keepSecret` keeps
   * the stored client secret whatever `spec` says, so a form never has to show it. The environment's connection is
   * refused: seed() would put UPSTREAM_* back at the next start.
   */
  async update(spec: ConnectionSpec, options: { keepSecret: boolean; enabled?: boolean | undefined }): Promise<StoredConnection> {
    const current = (await this.db('upstream_connections').where({ id: spec.id }).first()) as Row | undefined;
    if (!current) throw new ConnectionError([['id', `no connection with id ${spec.id}`]]);
    if (current.source === 'env') throw new ConnectionError([['id', `connection ${spec.id} comes from UPSTREAM_*: change the environment instead`]]);
    if (current.kind !== spec.kind) throw new ConnectionError([['kind', 'cannot change: remove the connection and add another']]);
    const stored = this.fromRow(current);
    const full = options.keepSecret ? { ...spec, clientSecret: stored.clientSecret } : spec;
    this.check(full);
    await this.db.transaction(async (trx) => {
      await trx('upstream_connections').where({ id: spec.id }).update({ ...this.toRow(full, current.source, options.enabled ?? stored.enabled), updated_at: new Date() });
      await this.forgetTokensOfAnotherIdp(trx, current, full);
    });
    this.#cache = undefined;
    return (await this.find(spec.id))!;
  }

  /**
   * Runs a connection's discovery now, on a connector of its own (never the cached one: the answer must be today's,
   * and a failure must not disturb logins). Undefined for a kind with nothing to discover (local accounts).
   */
  async discover(connection: ConnectionSpec): Promise<DiscoveryReport | undefined> {
    const connector = KINDS[connection.kind].create(connection, this.deps);
    return connector.kind === 'redirect' ? connector.discover() : undefined;
  }

  /**
   * Makes the environment's connection current, and removes connections an earlier environment seeded: when an
   * operator switches UPSTREAM_PROVIDER from local to okta, the password form must go away too.
   */
  async seed(spec: ConnectionSpec): Promise<void> {
    this.check(spec);
    const row = this.toRow(spec, 'env');
    await this.db.transaction(async (trx) => {
      await trx('upstream_connections').where({ source: 'env' }).whereNot({ id: spec.id }).delete();
      const current = (await trx('upstream_connections').where({ id: spec.id }).first()) as Row | undefined;
      if (!current) {
        await trx('upstream_connections').insert(row);
      } else if (this.changed(current, spec)) {
        await trx('upstream_connections').where({ id: spec.id }).update({ ...row, created_at: current.created_at, updated_at: new Date() });
        await this.forgetTokensOfAnotherIdp(trx, current, spec);
      }
    });
    this.#cache = undefined;
  }

  /** Marks a connection as managed by a configuration file (null: by nobody); false when it is unknown. */
  async setManagedBy(id: string, file: string | null): Promise<boolean> {
    // Asked first: knex on PGlite does not always hand back a count (db/affected-rows.ts).
    if (!(await this.db('upstream_connections').where({ id }).first('id'))) return false;
    await this.db('upstream_connections').where({ id }).update({ managed_by: file });
    this.#cache = undefined;
    return true;
  }

  /**
   * Sets (or with null removes) the SHA-256 digest of a connection's global token revocation credential
   * (docs/UNIVERSAL-LOGOUT.md); false when the connection is unknown. Not a setting: seed() and update() leave it.
   */
  async setGlobalLogoutSecretHash(id: string, hash: string | null): Promise<boolean> {
    if (!(await this.db('upstream_connections').where({ id }).first('id'))) return false;
    await this.db('upstream_connections').where({ id }).update({ global_logout_secret_hash: hash });
    this.#cache = undefined;
    return true;
  }

  /** Every stored credential digest with its connection, read now (no cache: a rotation holds at once). */
  async globalLogoutSecretHashes(): Promise<Array<{ id: string; hash: string }>> {
    const rows = (await this.db('upstream_connections').whereNotNull('global_logout_secret_hash').select('id', 'global_logout_secret_hash')) as Array<{ id: string; global_logout_secret_hash: string }>;
    return rows.map((r) => ({ id: r.id, hash: r.global_logout_secret_hash }));
  }

  /** The guarded fetch of a connection (connection.ts), for a request its connector does not make (the IdP's keys). */
  fetchFor(connection: Pick<ConnectionSpec, 'allowPrivateNetwork'>): typeof fetch {
    return connectionFetch(connection, this.deps);
  }

  /** Removes a connection and the upstream tokens kept for it; the linked accounts stay. */
  async remove(id: string): Promise<boolean> {
    const removed = await this.db.transaction(async (trx) => {
      await trx('upstream_tokens').where({ connection_id: id }).delete();
      await trx('upstream_transactions').where({ connection_id: id }).delete();
      return (await trx('upstream_connections').where({ id }).delete()) as number;
    });
    this.#cache = undefined;
    this.#connectors.delete(id);
    return removed > 0;
  }

  /** What is wrong with a connection's settings (nothing: it may be saved). */
  problems(spec: ConnectionSpec): Array<[SpecField, string]> {
    return validateConnection(spec, this.deps.production);
  }

  private check(spec: ConnectionSpec): void {
    const problems = this.problems(spec);
    if (problems.length) throw new ConnectionError(problems);
  }

  /**
   * Tokens kept from one IdP (or one client registration) are never sent to another (docs/TOKEN-VAULT.md): when a
   * connection's issuer, client id or tenant changes — through any door, UPSTREAM_* at a start included — they are
   * forgotten and the people connect again.
   */
  private async forgetTokensOfAnotherIdp(trx: Db, row: Row, next: ConnectionSpec): Promise<void> {
    const before = this.fromRow(row);
    if (!(['issuer', 'clientId', 'tenant'] as const).some((f) => (before[f] ?? null) !== (next[f] ?? null))) return;
    await forgetConnectionTokens(trx, next.id, 'the connection now points at another identity provider or client registration');
  }

  private changed(row: Row, spec: ConnectionSpec): boolean {
    const stored = this.fromRow(row);
    const { source: _s, managedBy: _m, hasGlobalLogoutSecret: _g, enabled: _e, createdAt: _c, updatedAt: _u, ...before } = stored;
    return JSON.stringify(sorted(before)) !== JSON.stringify(sorted(spec));
  }

  private toRow(spec: ConnectionSpec, source: string, enabled = true) {
    const { id, name, kind, clientSecret, ...settings } = spec;
    return {
      id,
      name,
      kind,
      settings: JSON.stringify(enabled ? settings : { ...settings, enabled: false }),
      client_secret: clientSecret ? this.box.seal(clientSecret, SECRET_PURPOSE) : null,
      source,
      updated_at: new Date(),
    };
  }

  private fromRow(row: Row): StoredConnection {
    const { enabled, ...settings } = (typeof row.settings === 'string' ? JSON.parse(row.settings) : row.settings) as Settings;
    return {
      ...connectionSpec({ id: row.id, kind: row.kind as ConnectionKindName, ...settings }),
      enabled: enabled !== false,
      name: row.name,
      clientSecret: row.client_secret ? this.box.open(row.client_secret, SECRET_PURPOSE) : undefined,
      source: row.source,
      managedBy: row.managed_by ?? null,
      hasGlobalLogoutSecret: !!row.global_logout_secret_hash,
      createdAt: new Date(row.created_at),
      updatedAt: new Date(row.updated_at),
    };
  }

  private async load(): Promise<StoredConnection[]> {
    // The environment's connection first (the operator's main IdP), then the others in the order they were added.
    const rows = (await this.db('upstream_connections').orderByRaw("case when source = 'env' then 0 else 1 end, created_at, id")) as Row[];
    return rows.filter((r) => CONNECTION_KINDS.includes(r.kind as ConnectionKindName)).map((r) => this.fromRow(r));
  }
}

function sorted(spec: Partial<ConnectionSpec>): Array<[string, unknown]> {
  return Object.entries(spec)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => a.localeCompare(b));
}
