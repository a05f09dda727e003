// One-time links for local people (docs/PEOPLE.md): an invitation (7 days) for someone added without a password, and a
// password reset (1 hour). This module owns `local_account_links`. Rules (docs/SECURITY.md, "Issue 16: first-admin
// setup and token lifetimes", applied to these links):
//   - the token is 32 random bytes; only its SHA-256 is stored, so a database dump opens no link;
//   - a new link of a kind for a person deletes their earlier ones of that kind (links are made by administrators,
//     one at a time in the admin lane: admin/serialized.ts);
//   - a link is used by one conditional UPDATE (unused and unexpired), in the transaction that sets the password, so
//     two posts of one link, concurrent or not, set at most one password; using a link ends the person's other links;
//   - a refused link (unknown, replaced, used, expired) gets one answer whatever the cause; the audit row says which.
import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../../audit/writer.js';
import { sha256 } from '../../crypto/digest.js';
import type { Db } from '../../db/connection.js';
import { checkPasswordStrength, type LocalAccounts } from './accounts.js';
import { hashPassword } from './passwords.js';

export type LinkKind = 'invitation' | 'password_reset';

export const LINK_LIFETIME_MS: Record<LinkKind, number> = {
  invitation: 7 * 24 * 3600 * 1000,
  password_reset: 3600 * 1000,
};

/** The page a link opens (interaction/welcome-routes.ts; the route table's `welcome`). */
export const linkUrl = (issuer: string, token: string) => `${issuer}/welcome/${token}`;

/** Longer than any token this module makes (43 characters): a longer value is refused before any digest or query. */
const MAX_TOKEN = 100;

interface Row {
  token_hash: string;
  kind: LinkKind;
  user_id: string;
  created_by: string | null;
  created_at: Date | string;
  expires_at: Date | string;
  used_at: Date | string | null;
}

export interface CreatedLink {
  token: string;
  kind: LinkKind;
  expiresAt: Date;
}

/** A link that may be used now: what its page shows. */
export interface OpenLink {
  kind: LinkKind;
  email: string;
}

export type LinkUse = { ok: true; kind: LinkKind; userId: string; email: string } | { ok: false };

type Origin = { ip?: string | undefined; userAgent?: string | undefined };

export class AccountLinks {
  constructor(
    private readonly db: Db,
    private readonly users: LocalAccounts,
    private readonly audit: AuditLog,
  ) {}

  /** A new link, replacing the user's earlier links of this kind; the token is returned once and stored as a digest. */
  async create(kind: LinkKind, userId: string, createdBy: string, db: Db = this.db): Promise<CreatedLink> {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + LINK_LIFETIME_MS[kind]);
    const write = async (trx: Db) => {
      await trx('local_account_links').where({ user_id: userId, kind }).delete();
      await trx('local_account_links').insert({ token_hash: sha256(token), kind, user_id: userId, created_by: createdBy.slice(0, 320), expires_at: expiresAt });
    };
    // Inside the caller's transaction (a person added with their invitation) or in one of its own.
    if ((db as { isTransaction?: boolean }).isTransaction) await write(db);
    else await this.db.transaction(write);
    return { token, kind, expiresAt };
  }

  /** What the link is for, or undefined (audited) when it cannot be used. Reads only: opening a link changes nothing. */
  async open(token: string, origin: Origin, step: 'open' | 'use' = 'open'): Promise<OpenLink | undefined> {
    const row = await this.#live(token);
    const user = row ? await this.users.findById(row.user_id) : undefined;
    if (!row || !user) {
      await this.#refused(token, step, origin);
      return undefined;
    }
    return { kind: row.kind, email: user.email };
  }

  /**
   * Sets the password through the link: refused (audited) when the link cannot be used; a weak password throws
   * AccountError and leaves the link as it was. The password is hashed before the link is taken, so the transaction
   * that takes it holds no lock while argon2 runs.
   */
  async consume(token: string, password: string, origin: Origin): Promise<LinkUse> {
    if (!(await this.#live(token))) {
      await this.#refused(token, 'use', origin);
      return { ok: false };
    }
    checkPasswordStrength(password);
    const hash = await hashPassword(password);
    const tokenHash = sha256(token);
    const taken = await this.db.transaction(async (trx) => {
      const [row] = (await trx('local_account_links')
        .where({ token_hash: tokenHash })
        .whereNull('used_at')
        .where('expires_at', '>', trx.fn.now())
        .update({ used_at: trx.fn.now() })
        .returning(['kind', 'user_id'])) as Array<Pick<Row, 'kind' | 'user_id'>>;
      if (!row || !(await this.users.setPasswordHash(row.user_id, hash, trx))) return undefined;
      await trx('local_account_links').where({ user_id: row.user_id }).whereNot({ token_hash: tokenHash }).delete();
      return row;
    });
    const user = taken ? await this.users.findById(taken.user_id) : undefined;
    if (!taken || !user) {
      // Another post of the same link won the UPDATE between the check above and here.
      await this.#refused(token, 'use', origin);
      return { ok: false };
    }
    await this.audit.record({
      type: 'person.password_set',
      outcome: 'success',
      actor: user.email,
      reason: taken.kind === 'invitation' ? 'invitation link' : 'password reset link',
      details: { accountId: user.id, email: user.email, kind: taken.kind, link: tokenHash.slice(0, 12), via: 'link' },
      ...origin,
    });
    return { ok: true, kind: taken.kind, userId: user.id, email: user.email };
  }

  async #live(token: string): Promise<Row | undefined> {
    if (!token || token.length > MAX_TOKEN) return undefined;
    return (await this.db('local_account_links')
      .where({ token_hash: sha256(token) })
      .whereNull('used_at')
      .where('expires_at', '>', this.db.fn.now())
      .first()) as Row | undefined;
  }

  /** The refusal's audit row: which link (a digest prefix), why, and whose, when the link is known. */
  async #refused(token: string, step: 'open' | 'use', origin: Origin): Promise<void> {
    const tokenHash = token && token.length <= MAX_TOKEN ? sha256(token) : undefined;
    const row = tokenHash ? ((await this.db('local_account_links').where({ token_hash: tokenHash }).first()) as Row | undefined) : undefined;
    const user = row ? await this.users.findById(row.user_id) : undefined;
    const reason = !row ? 'unknown or replaced link' : row.used_at ? 'link already used' : new Date(row.expires_at).getTime() <= Date.now() ? 'link expired' : 'link of an unknown user';
    await this.audit.record({
      type: 'person.password_set',
      outcome: 'failure',
      actor: user?.email,
      reason,
      details: { step, ...(tokenHash ? { link: tokenHash.slice(0, 12) } : {}), ...(row ? { kind: row.kind, accountId: row.user_id } : {}), ...(user ? { email: user.email } : {}), via: 'link' },
      ...origin,
    });
  }
}
