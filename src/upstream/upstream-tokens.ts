// Upstream tokens, one row per account + connection, sealed with SECRET_KEY: the token vault's storage
// (docs/TOKEN-VAULT.md). Nothing here ever reaches a Gatehouse token, a page or an MCP client. An IdP that answers a
// later login or a refresh without a refresh token (Google without prompt=consent, for one) must not erase the one
// already kept. The refresh lease (refresh_lease_until) is taken and released by conditional UPDATEs, never by a
// transaction held across an upstream call.
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/connection.js';
import type { UpstreamTokens } from './connector.js';
import type { VaultStatus } from './token-vault.js';

/** A row as the vault reads it: the tokens opened, the state beside them. */
export interface VaultRow {
  tokens: UpstreamTokens;
  status: VaultStatus;
  statusDetail: string | null;
  issuer: string | null;
  subject: string | null;
  refreshedAt: Date | null;
  leaseUntil: Date | null;
  updatedAt: Date;
}

interface Row {
  access_token: string | null;
  refresh_token: string | null;
  access_token_expires_at: Date | null;
  scope: string | null;
  status: VaultStatus;
  status_detail: string | null;
  upstream_issuer: string | null;
  upstream_subject: string | null;
  refreshed_at: Date | null;
  refresh_lease_until: Date | null;
  updated_at: Date;
}

/** How a lease ends: new tokens (for the row's own access token, or only the refresh token), a dead refresh token, or nothing. */
export type LeaseEnd =
  | { tokens: UpstreamTokens; refreshOnly?: boolean }
  | { refused: string }
  | { outage: string }
  | Record<string, never>;

const DETAIL_MAX = 500;
/** status_detail of an active row whose last refresh met an outage (waiters read it instead of asking again). */
export const OUTAGE_PREFIX = 'unavailable: ';

const purpose = (kind: 'access' | 'refresh', accountId: string, connectionId: string) => `upstream-${kind}-token:${accountId}:${connectionId}`;

/** Forgets every token kept for a connection (in the caller's transaction): its people must connect again. */
export async function forgetConnectionTokens(trx: Db, connectionId: string, detail: string): Promise<void> {
  await trx('upstream_tokens').where({ connection_id: connectionId }).update({ access_token: null, refresh_token: null, access_token_expires_at: null, status: 'needs_reauth', status_detail: detail });
}

export class UpstreamTokenStore {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  /** Tokens a login obtained: the row becomes active again (a new login is the cure for needs_reauth). */
  async save(accountId: string, connectionId: string, tokens: UpstreamTokens, who?: { issuer: string; subject: string }): Promise<void> {
    const row: Record<string, unknown> = {
      account_id: accountId,
      connection_id: connectionId,
      access_token: tokens.accessToken ? this.box.seal(tokens.accessToken, purpose('access', accountId, connectionId)) : null,
      access_token_expires_at: tokens.expiresAt ?? null,
      scope: tokens.scope ?? null,
      status: 'active',
      status_detail: null,
      updated_at: new Date(),
    };
    if (who) Object.assign(row, { upstream_issuer: who.issuer, upstream_subject: who.subject });
    if (tokens.refreshToken) row.refresh_token = this.box.seal(tokens.refreshToken, purpose('refresh', accountId, connectionId));
    // Another upstream account's refresh token must not outlive the link to it.
    else if (who) {
      const before = (await this.db('upstream_tokens').where({ account_id: accountId, connection_id: connectionId }).first('upstream_issuer', 'upstream_subject')) as Pick<Row, 'upstream_issuer' | 'upstream_subject'> | undefined;
      if (before && (before.upstream_issuer !== who.issuer || before.upstream_subject !== who.subject)) row.refresh_token = null;
    }
    await this.db('upstream_tokens').insert(row).onConflict(['account_id', 'connection_id']).merge(Object.keys(row).filter((k) => k !== 'account_id' && k !== 'connection_id'));
  }

  /** The row with its tokens opened. */
  async read(accountId: string, connectionId: string): Promise<VaultRow | undefined> {
    const row = (await this.db('upstream_tokens').where({ account_id: accountId, connection_id: connectionId }).first()) as Row | undefined;
    return row ? this.#open(accountId, connectionId, row) : undefined;
  }

  /**
   * Takes the row's refresh lease when free (or left expired by a crashed instance): the conditional UPDATE is the
   * row lock. The row as it is now when taken; undefined when someone else holds it or there is no row.
   */
  async takeLease(accountId: string, connectionId: string, ms: number): Promise<VaultRow | undefined> {
    const now = new Date();
    const [row] = (await this.db('upstream_tokens')
      .where({ account_id: accountId, connection_id: connectionId })
      .where((q) => q.whereNull('refresh_lease_until').orWhere('refresh_lease_until', '<', now))
      .update({ refresh_lease_until: new Date(now.getTime() + ms) }, ['*'])) as Row[];
    return row ? this.#open(accountId, connectionId, row) : undefined;
  }

  /**
   * Releases the lease in the same UPDATE that records the outcome: new tokens are written before the lease is free
   * (a refresh token the answer omits keeps the stored one); a refused refresh token makes the row needs_reauth.
   */
  async endLease(accountId: string, connectionId: string, end: LeaseEnd): Promise<void> {
    const now = new Date();
    const where = { account_id: accountId, connection_id: connectionId };
    const change: Record<string, unknown> = { refresh_lease_until: null };
    if ('tokens' in end) {
      const t = end.tokens;
      if (t.refreshToken) change.refresh_token = this.box.seal(t.refreshToken, purpose('refresh', accountId, connectionId));
      if (!end.refreshOnly) {
        change.access_token = t.accessToken ? this.box.seal(t.accessToken, purpose('access', accountId, connectionId)) : null;
        change.access_token_expires_at = t.expiresAt ?? null;
        if (t.scope) change.scope = t.scope;
      }
      Object.assign(change, { status_detail: null, refreshed_at: now, updated_at: now });
      // A disconnect during the refresh wins: its row stays revoked and empty.
      const written = await this.db('upstream_tokens').where(where).where({ status: 'active' }).update(change);
      if (!written) await this.db('upstream_tokens').where(where).update({ refresh_lease_until: null });
      return;
    }
    if ('refused' in end) Object.assign(change, { status: 'needs_reauth', status_detail: end.refused.slice(0, DETAIL_MAX), updated_at: now });
    if ('outage' in end) Object.assign(change, { status_detail: `${OUTAGE_PREFIX}${end.outage}`.slice(0, DETAIL_MAX), updated_at: now });
    const q = this.db('upstream_tokens').where(where);
    // Only an active row learns of an outage or a refusal; a revoked one stays as the person left it.
    if ('refused' in end || 'outage' in end) {
      const written = await q.clone().where({ status: 'active' }).update(change);
      if (!written) await q.clone().update({ refresh_lease_until: null });
      return;
    }
    await q.update(change);
  }

  /** The person must connect again (no usable token and nothing to refresh it with). */
  async markNeedsReauth(accountId: string, connectionId: string, detail: string): Promise<boolean> {
    const n = await this.db('upstream_tokens')
      .where({ account_id: accountId, connection_id: connectionId, status: 'active' })
      .update({ status: 'needs_reauth', status_detail: detail.slice(0, DETAIL_MAX), updated_at: new Date() });
    return n > 0;
  }

  /** Disconnected: the tokens are forgotten, the row kept as revoked (who was linked stays, for the record). */
  async revoke(accountId: string, connectionId: string, detail: string): Promise<boolean> {
    const n = await this.db('upstream_tokens')
      .where({ account_id: accountId, connection_id: connectionId })
      .update({ status: 'revoked', status_detail: detail, access_token: null, refresh_token: null, access_token_expires_at: null, refresh_lease_until: null, updated_at: new Date() });
    return n > 0;
  }

  #open(accountId: string, connectionId: string, row: Row): VaultRow {
    return {
      tokens: {
        accessToken: row.access_token ? this.box.open(row.access_token, purpose('access', accountId, connectionId)) : undefined,
        refreshToken: row.refresh_token ? this.box.open(row.refresh_token, purpose('refresh', accountId, connectionId)) : undefined,
        expiresAt: row.access_token_expires_at ? new Date(row.access_token_expires_at) : undefined,
        scope: row.scope ?? undefined,
      },
      status: row.status,
      statusDetail: row.status_detail,
      issuer: row.upstream_issuer,
      subject: row.upstream_subject,
      refreshedAt: row.refreshed_at ? new Date(row.refreshed_at) : null,
      leaseUntil: row.refresh_lease_until ? new Date(row.refresh_lease_until) : null,
      updatedAt: new Date(row.updated_at),
    };
  }

  /** The decrypted tokens (for the token vault; tests). */
  async find(accountId: string, connectionId: string): Promise<UpstreamTokens | undefined> {
    const row = (await this.db('upstream_tokens').where({ account_id: accountId, connection_id: connectionId }).first()) as
      | { access_token: string | null; refresh_token: string | null; access_token_expires_at: Date | null; scope: string | null }
      | undefined;
    if (!row) return undefined;
    return {
      accessToken: row.access_token ? this.box.open(row.access_token, purpose('access', accountId, connectionId)) : undefined,
      refreshToken: row.refresh_token ? this.box.open(row.refresh_token, purpose('refresh', accountId, connectionId)) : undefined,
      expiresAt: row.access_token_expires_at ? new Date(row.access_token_expires_at) : undefined,
      scope: row.scope ?? undefined,
    };
  }
}
