// DESIGN.md §6: registrations are rate-limited per source IP (default 20 per hour), so one host cannot fill the
// client table or probe the policy at speed. Counters live in PostgreSQL (rate-limiter-flexible's Postgres
// store), so every instance shares them. The store speaks to the database through knex, which also serves PGlite.
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../../db/connection.js';

/** rate-limiter-flexible's `client` store interface, answered by knex (pg or PGlite) with positional params. */
function knexStore(db: Db) {
  return {
    async query(q: { text: string; values?: unknown[] }) {
      const bindings: Record<string, unknown> = {};
      (q.values ?? []).forEach((v, i) => (bindings[`p${i + 1}`] = v));
      const text = q.text.replace(/\$(\d+)/g, (_m, n: string) => `:p${n}`);
      const res = (await db.raw(text, bindings)) as { rows?: unknown[]; rowCount?: number; affectedRows?: number };
      const rows = res.rows ?? [];
      return { rows, rowCount: res.rowCount ?? res.affectedRows ?? rows.length };
    },
  };
}

export interface RateLimitVerdict {
  allowed: boolean;
  retryAfterSeconds: number;
}

export class RegistrationRateLimit {
  readonly #limiter: RateLimiterPostgres;

  constructor(db: Db, options: { points: number; durationSeconds: number }) {
    this.#limiter = new RateLimiterPostgres({
      storeClient: knexStore(db),
      storeType: 'client',
      tableName: 'rate_limits',
      tableCreated: true, // created by migration 003
      keyPrefix: 'register',
      points: options.points,
      duration: options.durationSeconds,
    });
  }

  async consume(ip: string): Promise<RateLimitVerdict> {
    try {
      await this.#limiter.consume(ip);
      return { allowed: true, retryAfterSeconds: 0 };
    } catch (res) {
      if (res instanceof RateLimiterRes) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
      throw res;
    }
  }
}
