// Re-validation at refresh (docs/IDENTITY-LIFECYCLE.md): what the identity provider decides after a login reaches
// every MCP token within UPSTREAM_REVALIDATE_INTERVAL. At a refresh, each identity of the account that is due is
// asked about again through its connector (`revalidate`, one per kind) with the upstream tokens kept from the login:
//
// - current → the identity and the account take the profile the IdP gives today (email, verification, name,
//   groups), so the access policy and the resource rules that run next judge the person as they are now;
// - gone → the account is marked deprovisioned and `onGone` (from the top: every grant and session ended, audited)
//   runs once; the refresh is refused;
// - cannot (no usable upstream token) → the refresh goes on; the person is re-validated at their next login;
// - the IdP unreachable or failing → never a revocation: with UPSTREAM_REVALIDATE_FAIL_OPEN, the refresh goes on
//   while the IdP last vouched less than UPSTREAM_REVALIDATE_GRACE ago; otherwise it is answered
//   temporarily_unavailable (the client keeps its refresh token and tries again).
//
// One upstream call per identity at a time across every instance: a lease on the identity's row (a conditional
// UPDATE) is taken before the call; a refresh that finds the lease held waits for it to clear and reuses the stored
// result. Within an instance, concurrent refreshes share one promise, so only one of them polls.
//
// The upstream refresh token is redeemed only inside the token vault's lease on the upstream_tokens row
// (vault.exclusive, docs/TOKEN-VAULT.md), with the tokens read after the lease is taken and what the IdP returned
// stored before it is released: a vault refresh and a re-validation never spend the same refresh token (GitHub's are
// single use: the second redemption would be refused, and read here as "the person is gone").
import type { AuditLog } from '../audit/writer.js';
import type { Db } from '../db/connection.js';
import type { Account, Accounts } from './accounts.js';
import type { Identity, Revalidation } from './connector.js';
import type { Connections } from './connections.js';
import type { TokenVaultApi } from './token-vault.js';

export interface RevalidationSettings {
  /** How long a re-validation counts (0: every refresh asks). */
  intervalMs: number;
  /** How long after the IdP last vouched an outage may be ridden out (only with failOpen). */
  graceMs: number;
  failOpen: boolean;
}

export type RevalidationVerdict =
  | { kind: 'continue'; account: Account }
  | { kind: 'gone'; reason: string; connectionId: string }
  | { kind: 'login_required'; reason: string; connectionId: string }
  | { kind: 'unavailable'; reason: string; retryAfterSeconds: number };

export type Outcome = 'login' | 'ok' | 'updated' | 'gone' | 'cannot' | 'unavailable' | 'login_required';

/** Runs once, on the instance that learnt it, when an IdP says a person is gone: ends what they hold. */
export type OnGone = (account: Account, reason: string, connectionId: string) => Promise<void>;

/** An identities row (every column, as `select *` or `to_jsonb` gives it). */
export interface IdentityRow {
  connection_id: string;
  issuer: string;
  subject: string;
  account_id: string;
  email: string | null;
  email_verified: boolean;
  name: string | null;
  groups: string[] | string;
  created_at: Date;
  last_login_at: Date | null;
  revalidated_at: Date | null;
  revalidation_checked_at: Date | null;
  revalidation_outcome: Outcome | null;
  revalidation_detail: string | null;
  revalidation_lease_until: Date | null;
}

interface Settled {
  outcome: Outcome;
  detail: string | null;
  /** When the IdP last vouched for the identity (a login or a successful re-validation). */
  vouchedAt: Date;
}

// The upstream call is bounded by the connection's 10 s timeout; a lease outlives it so a slow answer is not asked
// twice, and a lease left by a crashed instance frees itself.
const LEASE_MS = 30_000;
const POLL_MS = 50;
// During an outage a refresh that is not yet due reuses the stored failure; try the IdP again after this long.
const OUTAGE_RETRY_MS = 10_000;
const DETAIL_MAX = 500;

const key = (r: Pick<IdentityRow, 'connection_id' | 'issuer' | 'subject'>) => ({ connection_id: r.connection_id, issuer: r.issuer, subject: r.subject });
const groupsOf = (g: string[] | string): string[] => (typeof g === 'string' ? (JSON.parse(g) as string[]) : g);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RevalidatorDeps {
  db: Db;
  connections: Connections;
  /** The upstream tokens, redeemed only under the vault's lease. */
  vault: TokenVaultApi;
  accounts: Accounts;
  audit: AuditLog;
  settings: RevalidationSettings;
  onGone: OnGone;
}

export class Revalidator {
  readonly #inflight = new Map<string, Promise<Settled>>();

  constructor(private readonly deps: RevalidatorDeps) {}

  /**
   * The verdict for a refresh by this account; the account as re-validated when it may go on. `identities` are the
   * account's rows when the caller read them already (oauth/read-ahead.ts).
   */
  async atRefresh(account: Account, identities?: IdentityRow[]): Promise<RevalidationVerdict> {
    const rows = identities ?? ((await this.deps.db('identities').where({ account_id: account.id })) as IdentityRow[]);
    const startedAt = Date.now();
    let current = account;
    for (const row of rows) {
      const settled = await this.#settle(row, startedAt);
      if (settled.outcome === 'gone') return { kind: 'gone', reason: settled.detail ?? 'the identity provider says this person is gone', connectionId: row.connection_id };
      if (settled.outcome === 'login_required') return { kind: 'login_required', reason: settled.detail ?? 'the person must sign in again', connectionId: row.connection_id };
      if (settled.outcome === 'unavailable') {
        const { failOpen, graceMs } = this.deps.settings;
        if (failOpen && Date.now() - settled.vouchedAt.getTime() < graceMs) continue;
        return { kind: 'unavailable', reason: settled.detail ?? 'the identity provider could not be reached', retryAfterSeconds: Math.ceil(OUTAGE_RETRY_MS / 1000) };
      }
      if (settled.outcome === 'updated') current = (await this.deps.accounts.findById(account.id)) ?? current;
    }
    return { kind: 'continue', account: current };
  }

  /** The identity's state now: the stored one while it counts, else the result of asking (once, wherever). */
  #settle(row: IdentityRow, startedAt: number): Promise<Settled> {
    if (!this.#due(row, startedAt)) return Promise.resolve(settledOf(row));
    const id = `${row.connection_id}\n${row.issuer}\n${row.subject}`;
    let flight = this.#inflight.get(id);
    if (!flight) {
      flight = this.#singleFlight(row, startedAt).finally(() => this.#inflight.delete(id));
      this.#inflight.set(id, flight);
    }
    return flight;
  }

  #due(row: Pick<IdentityRow, 'revalidation_checked_at' | 'revalidation_outcome'>, startedAt: number): boolean {
    const checked = row.revalidation_checked_at ? new Date(row.revalidation_checked_at).getTime() : undefined;
    if (checked === undefined) return true;
    // Stands until the person signs in again (accounts.ts link() records the login).
    if (row.revalidation_outcome === 'login_required') return false;
    const { intervalMs } = this.deps.settings;
    const validFor = row.revalidation_outcome === 'unavailable' ? Math.min(intervalMs, OUTAGE_RETRY_MS) : intervalMs;
    // A result obtained after this refresh began is as fresh as asking again (interval 0 included).
    return checked < startedAt - validFor || (validFor === 0 && checked < startedAt);
  }

  async #singleFlight(row: IdentityRow, startedAt: number): Promise<Settled> {
    const { db } = this.deps;
    for (let waited = 0; ; ) {
      const now = new Date();
      const taken = (await db('identities')
        .where(key(row))
        .where((q) => q.whereNull('revalidation_lease_until').orWhere('revalidation_lease_until', '<', now))
        .update({ revalidation_lease_until: new Date(now.getTime() + LEASE_MS) }, ['*'])) as IdentityRow[];
      const fresh = taken[0];
      if (fresh) {
        // Someone else finished between our read and the lease: use theirs.
        if (!this.#due(fresh, startedAt)) {
          await db('identities').where(key(row)).update({ revalidation_lease_until: null });
          return settledOf(fresh);
        }
        return this.#ask(fresh);
      }
      const seen = (await db('identities').where(key(row)).first()) as IdentityRow | undefined;
      if (!seen) return { outcome: 'cannot', detail: 'the identity was removed', vouchedAt: new Date(0) };
      if (!this.#due(seen, startedAt)) return settledOf(seen);
      if (waited > LEASE_MS * 2) throw new Error('re-validation: the lease was never released');
      await sleep(POLL_MS);
      waited += POLL_MS;
    }
  }

  /** Holding the lease: asks the IdP, stores the outcome and releases the lease in the same statement. */
  async #ask(row: IdentityRow): Promise<Settled> {
    const { db, connections, vault, accounts, audit } = this.deps;
    const known: Identity = {
      connector: row.connection_id,
      issuer: row.issuer,
      subject: row.subject,
      email: row.email ?? undefined,
      emailVerified: row.email_verified,
      name: row.name ?? undefined,
      groups: groupsOf(row.groups),
    };
    const vouchedBefore = new Date(row.revalidated_at ?? row.last_login_at ?? row.created_at);
    const finish = async (outcome: Outcome, detail: string | null, extra: Record<string, unknown> = {}): Promise<Settled> => {
      const now = new Date();
      const vouched = outcome === 'ok' || outcome === 'updated';
      await db('identities')
        .where(key(row))
        .update({ ...extra, revalidation_checked_at: now, revalidation_outcome: outcome, revalidation_detail: detail?.slice(0, DETAIL_MAX) ?? null, revalidation_lease_until: null, ...(vouched ? { revalidated_at: now } : {}) });
      return { outcome, detail, vouchedAt: vouched ? now : vouchedBefore };
    };
    let answer: Revalidation;
    try {
      const connection = await connections.find(row.connection_id);
      if (!connection) return await finish('cannot', 'the connection was removed');
      // A disabled connection is not asked (nor sent its refresh tokens): its people's refreshes wait for a new
      // sign-in, which it no longer offers (docs/IDENTITY-LIFECYCLE.md, outcome login_required).
      if (!connection.enabled) return await finish('login_required', 'the connection is disabled by an administrator');
      const connector = connections.connector(connection);
      answer =
        connector.kind === 'password'
          ? await connector.revalidate(known)
          : await vault.exclusive(row.account_id, row.connection_id, async (stored) => {
              const result = await connector.revalidate(known, stored);
              return {
                result,
                // Kept before the lease is released: the next redemption uses the rotated refresh token.
                tokens: result.outcome === 'current' ? result.tokens : undefined,
                refused: result.outcome === 'gone' && result.refreshTokenRefused ? result.reason : undefined,
              };
            });
    } catch (err) {
      const detail = `the identity provider could not be reached or answered wrongly: ${err instanceof Error ? err.message : String(err)}`;
      const settled = await finish('unavailable', detail);
      await audit.record({ type: 'identity.revalidation_failed', outcome: 'failure', reason: detail.slice(0, DETAIL_MAX), actor: row.email ?? row.account_id, details: { accountId: row.account_id, connector: row.connection_id } });
      return settled;
    }
    if (answer.outcome === 'cannot') return finish('cannot', answer.reason);
    // After an outage, an earlier refresh may have reached the IdP and rotated the refresh token without its answer
    // reaching us: the IdP refusing the (now spent) token then says nothing about the person. Their refresh tokens
    // stop until they sign in again through the IdP — which decides — but nothing is revoked or marked.
    if (answer.outcome === 'gone' && answer.refreshTokenRefused && row.revalidation_outcome === 'unavailable') {
      const detail = `${answer.reason}, after an unanswered refresh: the upstream refresh token may have been spent; the person must sign in again`;
      await audit.record({ type: 'identity.revalidation_failed', outcome: 'failure', reason: detail.slice(0, DETAIL_MAX), actor: row.email ?? row.account_id, details: { accountId: row.account_id, connector: row.connection_id, loginRequired: true } });
      return finish('login_required', detail);
    }
    if (answer.outcome === 'gone') {
      const account = await accounts.findById(row.account_id);
      await accounts.markDeprovisioned(row.account_id, `${row.connection_id}: ${answer.reason}`);
      // Before the lease is released, so a refresh waiting on it finds nothing left to spend.
      if (account) await this.deps.onGone(account, answer.reason, row.connection_id);
      return finish('gone', answer.reason);
    }
    const identity = answer.identity;
    const profile = { email: identity.email ?? null, email_verified: !!identity.email && identity.emailVerified === true, name: identity.name ?? null, groups: identity.groups };
    const changes = changedFields(known, profile);
    if (!changes.length) return finish('ok', null);
    const stored = { ...profile, groups: JSON.stringify(profile.groups) };
    await accounts.updateProfile(row.account_id, stored);
    await audit.record({ type: 'identity.revalidated', outcome: 'success', actor: profile.email ?? row.account_id, details: { accountId: row.account_id, connector: row.connection_id, changed: changes } });
    return finish('updated', `changed: ${changes.join(', ')}`, stored);
  }
}

function settledOf(row: IdentityRow): Settled {
  return {
    outcome: row.revalidation_outcome ?? 'login',
    detail: row.revalidation_detail,
    vouchedAt: new Date(row.revalidated_at ?? row.last_login_at ?? row.created_at),
  };
}

function changedFields(known: Identity, now: { email: string | null; email_verified: boolean; name: string | null; groups: string[] }): string[] {
  const changes: string[] = [];
  if ((known.email ?? null) !== now.email) changes.push('email');
  if (!!known.emailVerified !== now.email_verified) changes.push('email_verified');
  if ((known.name ?? null) !== now.name) changes.push('name');
  const before = [...known.groups].sort().join('\n');
  if (before !== [...now.groups].sort().join('\n')) changes.push('groups');
  return changes;
}
