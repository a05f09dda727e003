// Accounts and the identities linked to them (this module owns `accounts` and `identities`). An account is the
// stable subject of Gatehouse's tokens; an identity is (connection, upstream issuer, upstream subject). Linking is
// by that triple only, never by email: two IdPs (or two tenants of one) can both vouch for alice@example.com, and
// an email match is how account-takeover bugs begin. Email, name and groups are refreshed from the IdP at every
// login. The stored `is_admin` is only a record of what the admin rule said at the last login: who is an
// administrator now is decided on every console request from the rule in force (console/admins.ts).
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/connection.js';
import { forgetReads, readOnce } from '../db/request-reads.js';
import type { Identity } from './connector.js';
import { LOCAL_ISSUER } from './local/accounts.js';

export interface Account {
  id: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  groups: string[];
  /** What the admin rule said at the last sign-in: a record, never a right (console/admins.ts decides that). */
  adminAtLastSignIn: boolean;
  disabled: boolean;
  /** The IdP said the person is gone (a re-validation, RISC account-disabled): set until they sign in through it again. */
  deprovisionedAt: Date | null;
  lastLoginAt: Date | null;
}

export interface AccountRow {
  id: string;
  email: string | null;
  email_verified: boolean;
  name: string | null;
  groups: string[] | string;
  is_admin: boolean;
  disabled_at: Date | null;
  deprovisioned_at?: Date | null;
  last_login_at: Date | null;
}

/** Whether the person may still act: not disabled by an administrator, not deprovisioned by their IdP. */
export const accountActive = (a: { disabled?: boolean; deprovisionedAt?: Date | null }): boolean => !a.disabled && !a.deprovisionedAt;

/** An accounts row (every column, as `select *` or `to_jsonb` gives it) as an Account. */
export const accountFromRow = (r: AccountRow): Account => ({
  id: r.id,
  email: r.email,
  emailVerified: r.email_verified,
  name: r.name,
  groups: typeof r.groups === 'string' ? (JSON.parse(r.groups) as string[]) : r.groups,
  adminAtLastSignIn: r.is_admin,
  disabled: !!r.disabled_at,
  deprovisionedAt: r.deprovisioned_at ? new Date(r.deprovisioned_at) : null,
  lastLoginAt: r.last_login_at ? new Date(r.last_login_at) : null,
});

/** An identity as administration sees it (admin/people.ts): who vouches for the person and when it last did. */
export interface LinkedIdentity {
  connectionId: string;
  issuer: string;
  subject: string;
  email: string | null;
  lastLoginAt: Date | null;
  /** The last time the IdP vouched (a login or a successful re-validation). */
  revalidatedAt: Date | null;
  revalidationCheckedAt: Date | null;
  /** login | ok | updated | gone | unavailable | cannot */
  revalidationOutcome: string | null;
  revalidationDetail: string | null;
}

interface IdentityRow {
  account_id: string;
  connection_id: string;
  issuer: string;
  subject: string;
  email: string | null;
  last_login_at: Date | string | null;
  revalidated_at?: Date | string | null;
  revalidation_checked_at?: Date | string | null;
  revalidation_outcome?: string | null;
  revalidation_detail?: string | null;
}

const dateOrNull = (v: Date | string | null | undefined) => (v ? new Date(v) : null);
const linkedIdentity = (r: IdentityRow): LinkedIdentity => ({
  connectionId: r.connection_id,
  issuer: r.issuer,
  subject: r.subject,
  email: r.email,
  lastLoginAt: dateOrNull(r.last_login_at),
  revalidatedAt: dateOrNull(r.revalidated_at),
  revalidationCheckedAt: dateOrNull(r.revalidation_checked_at),
  revalidationOutcome: r.revalidation_outcome ?? null,
  revalidationDetail: r.revalidation_detail ?? null,
});

/** Accounts read in this request (db/request-reads.ts): every write of an account forgets them. */
const ACCOUNT_READS = 'Account:';
const accountReadKey = (id: string) => `${ACCOUNT_READS}${id}`;

export class Accounts {
  constructor(private readonly db: Db) {}

  async count(): Promise<number> {
    const row = (await this.db('accounts').count('id as count').first()) as { count: string | number } | undefined;
    return Number(row?.count ?? 0);
  }

  async findById(id: string): Promise<Account | undefined> {
    // A sign-in step asks for its person in several places: one read per request (db/request-reads.ts), a new
    // Account object for each caller.
    const row = await readOnce(accountReadKey(id), async () => (await this.db('accounts').where({ id }).first()) as AccountRow | undefined);
    return row ? accountFromRow(row) : undefined;
  }

  /**
   * One page of accounts for the console, by email then id, with the connections each has signed in through.
   * `q` matches a part of the email or name (case-insensitive). Returns one row more than `limit` if there is more.
   */
  async list(options: { q?: string; offset: number; limit: number }): Promise<Array<Account & { connections: string[] }>> {
    const query = this.db('accounts').orderByRaw('email asc nulls last').orderBy('id').offset(options.offset).limit(options.limit + 1);
    if (options.q) {
      const pattern = `%${options.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query.where((w) => w.whereRaw("lower(email) like ? escape '\\'", [pattern]).orWhereRaw("lower(name) like ? escape '\\'", [pattern]));
    }
    const rows = (await query) as AccountRow[];
    const links = rows.length
      ? ((await this.db('identities').whereIn('account_id', rows.map((r) => r.id)).select('account_id', 'connection_id').orderBy('created_at')) as Array<{ account_id: string; connection_id: string }>)
      : [];
    return rows.map((r) => ({ ...accountFromRow(r), connections: [...new Set(links.filter((l) => l.account_id === r.id).map((l) => l.connection_id))] }));
  }

  /** Disables (refused at login, token refresh and the console) or enables an account; false when it is unknown. */
  async setDisabled(id: string, disabled: boolean): Promise<boolean> {
    forgetReads(ACCOUNT_READS);
    const updated = await this.db('accounts').where({ id }).update({ disabled_at: disabled ? new Date() : null });
    return updated > 0;
  }

  /**
   * Marks an account deprovisioned (the IdP says the person is gone). Unlike an administrator's disable, a later
   * sign-in through the IdP clears it: the IdP vouching again is the same authority changing its mind.
   */
  async markDeprovisioned(id: string, reason: string): Promise<void> {
    forgetReads(ACCOUNT_READS);
    await this.db('accounts').where({ id }).update({ deprovisioned_at: new Date(), deprovisioned_reason: reason.slice(0, 500) });
  }

  /** The profile the IdP gave at a re-validation (upstream/revalidation.ts), stored as the account's. */
  async updateProfile(id: string, profile: { email: string | null; email_verified: boolean; name: string | null; groups: string }): Promise<void> {
    forgetReads(ACCOUNT_READS);
    await this.db('accounts').where({ id }).update(profile);
  }

  /** The account linked to one identity of one connection (docs/UNIVERSAL-LOGOUT.md: an `iss_sub` subject). */
  async findByIdentity(connectionId: string, issuer: string, subject: string): Promise<string | undefined> {
    const row = (await this.db('identities').where({ connection_id: connectionId, issuer, subject }).first('account_id')) as { account_id: string } | undefined;
    return row?.account_id;
  }

  /**
   * The accounts whose identity of THIS connection carries this email, verified by that IdP (docs/UNIVERSAL-LOGOUT.md:
   * an `email` subject). Never another connection's: the same address vouched for elsewhere is not this IdP's word.
   */
  async findByConnectionEmail(connectionId: string, email: string): Promise<string[]> {
    const rows = (await this.db('identities')
      .where({ connection_id: connectionId, email_verified: true })
      .whereRaw('lower(email) = ?', [email.trim().toLowerCase()])
      .distinct('account_id')) as Array<{ account_id: string }>;
    return rows.map((r) => r.account_id).sort();
  }

  /** The local users (password identities) linked to each of these accounts, by account id. */
  async localUsersOf(accountIds: string[]): Promise<Map<string, string[]>> {
    const rows = accountIds.length
      ? ((await this.db('identities').whereIn('account_id', accountIds).where({ issuer: LOCAL_ISSUER }).select('account_id', 'subject')) as Array<{ account_id: string; subject: string }>)
      : [];
    const byAccount = new Map<string, string[]>();
    for (const r of rows) byAccount.set(r.account_id, [...(byAccount.get(r.account_id) ?? []), r.subject]);
    return byAccount;
  }

  /** The identities linked to an account (for the console and tests). */
  async identities(accountId: string): Promise<Array<{ connectionId: string; issuer: string; subject: string }>> {
    const rows = (await this.db('identities').where({ account_id: accountId }).orderBy('created_at')) as Array<{ connection_id: string; issuer: string; subject: string }>;
    return rows.map((r) => ({ connectionId: r.connection_id, issuer: r.issuer, subject: r.subject }));
  }

  /** Each account's identities with what administration shows of them: last login and last re-validation (docs/PEOPLE.md). */
  async linkedIdentities(accountIds: string[]): Promise<Map<string, LinkedIdentity[]>> {
    const rows = accountIds.length ? ((await this.db('identities').whereIn('account_id', accountIds).orderBy('created_at')) as IdentityRow[]) : [];
    const byAccount = new Map<string, LinkedIdentity[]>();
    for (const r of rows) byAccount.set(r.account_id, [...(byAccount.get(r.account_id) ?? []), linkedIdentity(r)]);
    return byAccount;
  }

  /** When and why each of these accounts was marked deprovisioned (absent: it is not). */
  async deprovisionings(accountIds: string[]): Promise<Map<string, { at: Date; reason: string | null }>> {
    const rows = accountIds.length
      ? ((await this.db('accounts').whereIn('id', accountIds).whereNotNull('deprovisioned_at').select('id', 'deprovisioned_at', 'deprovisioned_reason')) as Array<{ id: string; deprovisioned_at: Date | string; deprovisioned_reason: string | null }>)
      : [];
    return new Map(rows.map((r) => [r.id, { at: new Date(r.deprovisioned_at), reason: r.deprovisioned_reason }]));
  }

  /**
   * The account of a local user added by an administrator (docs/ARCHITECTURE.md, "The admin service layer"), before
   * their first sign-in: the account id is the user id and the identity is the one that sign-in would link, so the
   * person can be listed, disabled or made an administrator at once, and link() finds them at their first login.
   */
  async addLocal(user: { id: string; email: string; name: string | null }, connectionId: string, db: Db = this.db): Promise<Account> {
    const profile = { email: user.email, email_verified: true, name: user.name, groups: JSON.stringify([]) };
    forgetReads(ACCOUNT_READS);
    await db('accounts').insert({ id: user.id, ...profile, is_admin: false }).onConflict('id').ignore();
    await db('identities').insert({ connection_id: connectionId, issuer: LOCAL_ISSUER, subject: user.id, account_id: user.id, ...profile }).onConflict(['connection_id', 'issuer', 'subject']).ignore();
    return accountFromRow((await db('accounts').where({ id: user.id }).first()) as AccountRow);
  }

  /**
   * The account an identity belongs to, created at its first login, with the profile refreshed. A local identity
   * keeps its user id as account id, so grants issued before accounts existed still name the right person.
   */
  async link(identity: Identity, adminNow: boolean): Promise<Account> {
    const key = { connection_id: identity.connector, issuer: identity.issuer, subject: identity.subject };
    const profile = {
      email: identity.email ?? null,
      email_verified: !!identity.email && identity.emailVerified === true,
      name: identity.name ?? null,
      groups: JSON.stringify(identity.groups),
      last_login_at: new Date(),
    };
    // The IdP vouched for the person just now: the outage grace starts again, and an earlier deprovisioning ends.
    const vouched = { revalidated_at: profile.last_login_at, revalidation_checked_at: profile.last_login_at, revalidation_outcome: 'login', revalidation_detail: null };
    forgetReads(ACCOUNT_READS);
    return this.db.transaction(async (trx) => {
      let link = (await trx('identities').where(key).first('account_id')) as { account_id: string } | undefined;
      if (!link) {
        const accountId = identity.issuer === LOCAL_ISSUER ? identity.subject : randomUUID();
        await trx('accounts').insert({ id: accountId, ...profile, is_admin: adminNow }).onConflict('id').ignore();
        // A concurrent first login of the same identity may have linked it already: the key decides.
        await trx('identities').insert({ ...key, account_id: accountId, ...profile, ...vouched }).onConflict(['connection_id', 'issuer', 'subject']).ignore();
        link = (await trx('identities').where(key).first('account_id')) as { account_id: string };
      } else {
        await trx('identities').where(key).update({ ...profile, ...vouched });
      }
      await trx('accounts').where({ id: link.account_id }).update({ ...profile, is_admin: adminNow, deprovisioned_at: null, deprovisioned_reason: null });
      return accountFromRow((await trx('accounts').where({ id: link.account_id }).first()) as AccountRow);
    });
  }
}
