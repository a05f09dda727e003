// rate-limiter-flexible's Postgres store, answered by knex (pg or PGlite), with one change: the increments that
// arrive together go to the database together, in one multi-row upsert, whatever their keys.
//
// A token request counts against two rows (its client's, its address's), and under load most requests at /token
// count against the same few rows. Sent one by one, those upserts cost a round trip and a commit each and queue on
// the row locks (docs/PERFORMANCE.md). Here every increment of one event-loop turn — and every one that arrives
// while an upsert is in flight — goes in the next single statement: `points + k` per key for its k callers, each
// caller told the count it would have seen alone (that key's total − k + its running sum). The database still holds
// the one shared, exact count per key — each request still gets its own number, so exactly one of them is told
// `limit + 1` — and no request waits for a timer: alone, a request's increments go at the next turn.
import type { Db } from '../db/connection.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';

interface StoreQuery {
  name?: string;
  text: string;
  values?: unknown[];
}
interface StoreResult {
  rows: unknown[];
  rowCount: number;
}

// rate-limiter-flexible names its statements `<table>:<name>`; this is the plain increment (consume, penalty,
// reward): values [key, points, newExpire, now]. The forced variant (block, set) goes as it is.
const INCREMENT = /:rlflx-upsert$/;
// Keys per statement: 21 rows keep it under the prepared-statement parameter cap (db/prepared-statements.ts).
const MAX_KEYS = 21;

interface Waiting {
  key: string;
  points: number;
  expire: unknown;
  now: number;
  resolve(result: StoreResult): void;
  reject(err: unknown): void;
}

type StoreClient = { query(q: StoreQuery): Promise<StoreResult> };

// One store per database handle: every limit's increments share its batches.
const stores = new WeakMap<Db, StoreClient>();

export function rateLimitStore(db: Db): StoreClient {
  let store = stores.get(db);
  if (!store) {
    store = batchedStore(db);
    stores.set(db, store);
  }
  return store;
}

function batchedStore(db: Db): StoreClient {
  async function run(q: StoreQuery): Promise<StoreResult> {
    const bindings: Record<string, unknown> = {};
    (q.values ?? []).forEach((v, i) => (bindings[`p${i + 1}`] = v));
    const text = q.text.replace(/\$(\d+)/g, (_m, n: string) => `:p${n}`);
    const res = (await db.raw(text, bindings)) as { rows?: unknown[]; rowCount?: number; affectedRows?: number };
    const rows = res.rows ?? [];
    return { rows, rowCount: res.rowCount ?? res.affectedRows ?? rows.length };
  }

  /** One upsert for several keys (each once): the library's increment, row by row, with EXCLUDED for its values. */
  async function upsert(rows: Array<{ key: string; points: number; expire: unknown }>, now: number): Promise<Map<string, { points: number; expire: unknown }>> {
    const values = rows.map(() => '(?, ?, ?)').join(', ');
    const res = (await db.raw(
      `INSERT INTO rate_limits (key, points, expire) VALUES ${values}
         ON CONFLICT (key) DO UPDATE SET
           points = CASE WHEN rate_limits.expire <= ? THEN EXCLUDED.points ELSE rate_limits.points + EXCLUDED.points END,
           expire = CASE WHEN rate_limits.expire <= ? THEN EXCLUDED.expire ELSE rate_limits.expire END
       RETURNING key, points, expire`,
      [...rows.flatMap((r) => [r.key, r.points, r.expire as number | null]), now, now],
    )) as { rows?: Array<{ key: string; points: number | string; expire: unknown }> };
    return new Map((res.rows ?? []).map((r) => [r.key, { points: Number(r.points), expire: r.expire }]));
  }

  let queued: Waiting[] = [];
  let flushing = false;

  async function drain(): Promise<void> {
    while (queued.length) {
      // This batch: the keys of the first MAX_KEYS distinct ones, with every waiting increment of each.
      const byKey = new Map<string, Waiting[]>();
      const rest: Waiting[] = [];
      for (const w of queued) {
        const callers = byKey.get(w.key);
        if (callers) callers.push(w);
        else if (byKey.size < MAX_KEYS) byKey.set(w.key, [w]);
        else rest.push(w);
      }
      queued = rest;
      const batch = [...byKey.values()].flat();
      // Each key's row takes its first caller's expiry; the batch's clock is its earliest.
      const rows = [...byKey].map(([key, callers]) => ({ key, points: callers.reduce((sum, w) => sum + w.points, 0), expire: callers[0]!.expire }));
      try {
        const counted = await upsert(rows, Math.min(...batch.map((w) => w.now)));
        for (const { key, points } of rows) {
          const row = counted.get(key);
          if (!row) throw new Error('rate limit upsert returned no row for a key');
          let seen = row.points - points;
          for (const w of byKey.get(key)!) {
            seen += w.points;
            w.resolve({ rows: [{ points: seen, expire: row.expire }], rowCount: 1 });
          }
        }
      } catch (err) {
        for (const w of batch) w.reject(err);
        // The database is away: the increments queued behind this statement would each wait out a timeout of their
        // own in turn (a request must meet an outage within 5 s, not after several), so they fail with it.
        if (isDatabaseUnavailable(err)) {
          for (const w of queued) w.reject(err);
          queued = [];
        }
      }
    }
    flushing = false;
  }

  return {
    query(q: StoreQuery): Promise<StoreResult> {
      const key = q.values?.[0];
      const points = Number(q.values?.[1]);
      const now = Number(q.values?.[3]);
      if (!q.name || !INCREMENT.test(q.name) || typeof key !== 'string' || !Number.isFinite(points) || !Number.isFinite(now)) return run(q);
      return new Promise<StoreResult>((resolve, reject) => {
        queued.push({ key, points, expire: q.values?.[2] ?? null, now, resolve, reject });
        if (!flushing) {
          flushing = true;
          // The increments of this turn (a token request's client and address) join the first statement.
          setImmediate(() => void drain());
        }
      });
    },
  };
}
