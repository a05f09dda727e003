// rate-limiter-flexible's Postgres store, answered by knex (pg or PGlite), with one change: concurrent increments
// of one counter are folded into one upsert.
//
// Under load most requests at /token count against the same two rows (their client's, their address's). Sent one
// by one, those upserts queue on the row lock and cost a round trip and a commit each: with the limits on, /token
// served half the requests (docs/PERFORMANCE.md). Folded, the increments that arrive while one upsert of a key is in
// flight go together in the next: `points + k` for k callers, and caller i of them is told the count it would have
// seen alone (total − k + its running sum). The database still holds the one shared, exact count — each request
// still gets its own number, so exactly one of them is told `limit + 1` — and no request waits for a timer:
// alone, an increment goes at once.
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

interface Waiting {
  q: StoreQuery;
  points: number;
  resolve(result: StoreResult): void;
  reject(err: unknown): void;
}

export function rateLimitStore(db: Db) {
  async function run(q: StoreQuery): Promise<StoreResult> {
    const bindings: Record<string, unknown> = {};
    (q.values ?? []).forEach((v, i) => (bindings[`p${i + 1}`] = v));
    const text = q.text.replace(/\$(\d+)/g, (_m, n: string) => `:p${n}`);
    const res = (await db.raw(text, bindings)) as { rows?: unknown[]; rowCount?: number; affectedRows?: number };
    const rows = res.rows ?? [];
    return { rows, rowCount: res.rowCount ?? res.affectedRows ?? rows.length };
  }

  // Per counter key: the increments waiting for the upsert in flight to finish.
  const queued = new Map<string, Waiting[]>();

  async function drain(key: string): Promise<void> {
    for (;;) {
      const batch = queued.get(key) ?? [];
      if (!batch.length) {
        queued.delete(key);
        return;
      }
      queued.set(key, []);
      const total = batch.reduce((sum, w) => sum + w.points, 0);
      // The batch's first statement with the summed points: its expiry and clock are the earliest of the batch.
      const first = batch[0]!.q;
      const values = [...(first.values ?? [])];
      values[1] = total;
      try {
        const result = await run({ ...first, values });
        const row = result.rows[0] as { points: number | string; expire: unknown } | undefined;
        if (!row) throw new Error('rate limit upsert returned no row');
        let seen = Number(row.points) - total;
        for (const w of batch) {
          seen += w.points;
          w.resolve({ rows: [{ ...row, points: seen }], rowCount: 1 });
        }
      } catch (err) {
        for (const w of batch) w.reject(err);
        // The database is away: the increments that queued behind this statement would each wait out a timeout of
        // their own in turn (a request must meet an outage within 5 s, not after several), so they fail with it.
        if (isDatabaseUnavailable(err)) {
          for (const w of queued.get(key) ?? []) w.reject(err);
          queued.set(key, []);
        }
      }
    }
  }

  return {
    query(q: StoreQuery): Promise<StoreResult> {
      const key = q.values?.[0];
      const points = Number(q.values?.[1]);
      if (!q.name || !INCREMENT.test(q.name) || typeof key !== 'string' || !Number.isFinite(points)) return run(q);
      return new Promise<StoreResult>((resolve, reject) => {
        const waiting = queued.get(key);
        if (waiting) return void waiting.push({ q, points, resolve, reject });
        queued.set(key, [{ q, points, resolve, reject }]);
        void drain(key);
      });
    },
  };
}
