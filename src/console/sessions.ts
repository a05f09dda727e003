// Console sessions (this module owns `console_sessions`, and `account_sessions` for the person's own pages under
// /account, which sign in the same way but with any account and are kept apart so one area's cookie never opens the
// other: docs/TOOL-APPROVALS.md). The cookie holds 32 random bytes; the database holds only
// their SHA-256 digest, so a database dump signs nobody in. A session ends after
// CONSOLE_IDLE_TIMEOUT without a request and after MAX_AGE_MS in any case. The CSRF token of a session is an HMAC of
// its id under a key derived from SECRET_KEY: nothing more to store, and useless without the cookie it belongs to.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { sha256 } from '../crypto/digest.js';
import { affectedRows } from '../db/affected-rows.js';
import type { Db } from '../db/connection.js';

export const CONSOLE_COOKIE = 'gatehouse.console';
export const MAX_AGE_MS = 12 * 3600 * 1000;
// last_seen_at is written at most this often per session: a page view need not cost a write.
const TOUCH_EVERY_MS = 30 * 1000;

export interface ConsoleSession {
  id: string;
  accountId: string;
  csrf: string;
}

interface Row {
  id_hash: string;
  account_id: string;
  created_at: Date | string;
  last_seen_at: Date | string;
}

export class ConsoleSessions {
  readonly #csrfKey: Buffer;

  readonly #table: string;

  constructor(
    private readonly db: Db,
    secretKey: string,
    private readonly idleTimeoutMs: number,
    area: 'console' | 'account' = 'console',
  ) {
    this.#table = `${area}_sessions`;
    this.#csrfKey = Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), `gatehouse ${area} csrf v1`, 32));
  }

  csrfFor(id: string): string {
    return createHmac('sha256', this.#csrfKey).update(id).digest('base64url');
  }

  /** Constant-time comparison of a submitted CSRF token with the session's. */
  csrfMatches(session: ConsoleSession, submitted: string | undefined): boolean {
    if (!submitted) return false;
    const a = Buffer.from(session.csrf);
    const b = Buffer.from(submitted);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  async create(accountId: string): Promise<ConsoleSession> {
    const id = randomBytes(32).toString('base64url');
    await this.db(this.#table).insert({ id_hash: sha256(id), account_id: accountId });
    return { id, accountId, csrf: this.csrfFor(id) };
  }

  /** The live session for a cookie value, its idle clock restarted; expired sessions are deleted on sight. */
  async find(id: string | undefined): Promise<ConsoleSession | undefined> {
    if (!id || id.length > 100) return undefined;
    const idHash = sha256(id);
    const row = (await this.db(this.#table).where({ id_hash: idHash }).first()) as Row | undefined;
    if (!row) return undefined;
    const now = Date.now();
    const lastSeen = new Date(row.last_seen_at).getTime();
    if (now - lastSeen > this.idleTimeoutMs || now - new Date(row.created_at).getTime() > MAX_AGE_MS) {
      await this.db(this.#table).where({ id_hash: idHash }).delete();
      return undefined;
    }
    if (now - lastSeen > TOUCH_EVERY_MS) await this.db(this.#table).where({ id_hash: idHash }).update({ last_seen_at: new Date(now) });
    return { id, accountId: row.account_id, csrf: this.csrfFor(id) };
  }

  async destroy(id: string): Promise<void> {
    await this.db(this.#table).where({ id_hash: sha256(id) }).delete();
  }

  /** Signs a person out of this area everywhere (disabled, lost admin rights, sessions ended); returns how many ended. */
  async destroyForAccount(accountId: string): Promise<number> {
    // Raw, for the count: knex on PGlite answers a builder's delete with the driver's result (db/affected-rows.ts).
    return affectedRows(await this.db.raw('delete from ?? where account_id = ?', [this.#table, accountId]));
  }

  /** A person's live sessions, newest first, for administration (docs/PEOPLE.md): times only, never an id. */
  async listForAccount(accountId: string): Promise<Array<{ createdAt: Date; lastSeenAt: Date; expiresAt: Date }>> {
    const now = Date.now();
    const rows = (await this.db(this.#table)
      .where({ account_id: accountId })
      .where('last_seen_at', '>=', new Date(now - this.idleTimeoutMs))
      .where('created_at', '>=', new Date(now - MAX_AGE_MS))
      .orderBy('created_at', 'desc')
      .limit(1000)) as Row[];
    return rows.map((r) => {
      const createdAt = new Date(r.created_at);
      const lastSeenAt = new Date(r.last_seen_at);
      return { createdAt, lastSeenAt, expiresAt: new Date(Math.min(lastSeenAt.getTime() + this.idleTimeoutMs, createdAt.getTime() + MAX_AGE_MS)) };
    });
  }

  async deleteExpired(): Promise<number> {
    const now = Date.now();
    return this.db(this.#table)
      .where('last_seen_at', '<', new Date(now - this.idleTimeoutMs))
      .orWhere('created_at', '<', new Date(now - MAX_AGE_MS))
      .delete();
  }
}
