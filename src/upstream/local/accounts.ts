// Local accounts (UPSTREAM_PROVIDER=local): people with an email and an argon2id password, kept in `users`.
// This module owns that table; others call these functions.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../../db/connection.js';
import type { Identity, PasswordConnector, Revalidation } from '../connector.js';
import { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.js';

export interface User {
  id: string;
  email: string;
  name: string | null;
  isAdmin: boolean;
  disabled: boolean;
  /** Whether a password was ever set: a person added without one sets it through an invitation link (account-links.ts). */
  passwordSet: boolean;
}

interface Row {
  id: string;
  email: string;
  name: string | null;
  password_hash: string | null;
  is_admin: boolean;
  disabled_at: Date | null;
}

const toUser = (r: Row): User => ({ id: r.id, email: r.email, name: r.name, isAdmin: r.is_admin, disabled: !!r.disabled_at, passwordSet: !!r.password_hash });

export class AccountError extends Error {}

/** The issuer of local identities: Gatehouse's own user store, independent of ISSUER (which may change). */
export const LOCAL_ISSUER = 'urn:gatehouse:local';

const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

export function normaliseEmail(email: string): string {
  const e = email.trim().toLowerCase();
  if (e.length > 254 || !EMAIL.test(e)) throw new AccountError(`not a valid email address: ${email}`);
  return e;
}

/** Fewer different characters than this is a keyboard pattern or one key held down (`aaaaaaaaaaaa`, `abcabcabcabc`). */
export const MIN_DISTINCT_CHARACTERS = 6;

export function checkPasswordStrength(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new AccountError(`password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (new Set(password).size < MIN_DISTINCT_CHARACTERS) throw new AccountError(`password must use at least ${MIN_DISTINCT_CHARACTERS} different characters`);
  if (password.length > 1024) throw new AccountError('password must be at most 1024 characters');
}

export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

export class LocalAccounts {
  constructor(private readonly db: Db) {}

  async count(): Promise<number> {
    const row = (await this.db('users').count<{ count: string | number }[]>('id as count').first()) as { count: string | number };
    return Number(row.count);
  }

  async findById(id: string): Promise<User | undefined> {
    const row = (await this.db('users').where({ id }).first()) as Row | undefined;
    return row ? toUser(row) : undefined;
  }

  async findByEmail(email: string): Promise<User | undefined> {
    const row = (await this.db('users').where({ email: email.trim().toLowerCase() }).first()) as Row | undefined;
    return row ? toUser(row) : undefined;
  }

  /** Without a password the user cannot sign in until they set one through an invitation link (account-links.ts). */
  async create(input: { email: string; password?: string | undefined; name?: string | undefined; isAdmin?: boolean }, db: Db = this.db): Promise<User> {
    const email = normaliseEmail(input.email);
    if (input.password !== undefined) checkPasswordStrength(input.password);
    const hash = input.password === undefined ? null : await hashPassword(input.password);
    const id = randomUUID();
    try {
      await db('users').insert({ id, email, name: input.name ?? null, password_hash: hash, is_admin: input.isAdmin ?? false });
    } catch (err) {
      if ((err as { code?: string }).code === '23505' || /unique|duplicate/i.test(String(err))) {
        throw new AccountError(`a user with email ${email} already exists`);
      }
      throw err;
    }
    return { id, email, name: input.name ?? null, isAdmin: input.isAdmin ?? false, disabled: false, passwordSet: hash !== null };
  }

  /** Replaces a user's password with one already hashed (argon2id, passwords.ts): a one-time link's use, in its transaction. */
  async setPasswordHash(id: string, hash: string, db: Db = this.db): Promise<boolean> {
    const updated = await db('users').where({ id }).update({ password_hash: hash });
    return updated > 0;
  }

  /**
   * Which of these users carry the local admin mark (`user add --admin`, the first-admin setup link) and may still
   * log in: the mark is the admin rule for a password account, read at each console request, so a disabled user's
   * mark grants nothing.
   */
  async adminMarks(ids: string[]): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const rows = (await this.db('users').whereIn('id', ids).where({ is_admin: true }).whereNull('disabled_at').select('id')) as Array<{ id: string }>;
    return new Set(rows.map((r) => r.id));
  }

  /** Sets or clears a local user's admin mark (the admin rule for a password account: admin/administrators.ts). */
  async setAdmin(id: string, admin: boolean): Promise<boolean> {
    const updated = await this.db('users').where({ id }).update({ is_admin: admin });
    return updated > 0;
  }

  /** Disables or enables a local user's password login (the console keeps it in step with the account). */
  async setDisabled(id: string, disabled: boolean): Promise<boolean> {
    const updated = await this.db('users').where({ id }).update({ disabled_at: disabled ? new Date() : null });
    return updated > 0;
  }

  /** The password connector for the login form. Disabled accounts cannot log in. */
  connector(id = 'local'): PasswordConnector {
    return {
      id,
      kind: 'password',
      login: async (email, password): Promise<Identity | undefined> => {
        const row = (await this.db('users').where({ email: email.trim().toLowerCase() }).first()) as Row | undefined;
        const ok = await verifyPassword(row?.password_hash, password);
        if (!row || !ok || row.disabled_at) return undefined;
        return { connector: id, issuer: LOCAL_ISSUER, subject: row.id, email: row.email, emailVerified: true, name: row.name ?? undefined, groups: [], localAdmin: row.is_admin };
      },
      revalidate: async (known): Promise<Revalidation> => {
        const row = (await this.db('users').where({ id: known.subject }).first()) as Row | undefined;
        if (!row) return { outcome: 'gone', reason: 'the local account was removed' };
        if (row.disabled_at) return { outcome: 'gone', reason: 'the local account is disabled' };
        return { outcome: 'current', identity: { connector: id, issuer: LOCAL_ISSUER, subject: row.id, email: row.email, emailVerified: true, name: row.name ?? undefined, groups: [], localAdmin: row.is_admin } };
      },
    };
  }
}
