// Concurrent increments of one rate-limit counter are folded into one upsert (src/http/rate-limit-store.ts). The
// count must stay exact: of 50 simultaneous requests against a limit of 20, exactly 20 pass, exactly one is told it
// crossed the limit (the one audited), and the database holds all 50 — in far fewer statements than 50.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openDatabase, type DbHandle } from '../../src/db/connection.js';
import { migrateLatest } from '../../src/db/migrations.js';
import { RateLimit } from '../../src/http/rate-limits.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

let tdb: TestDatabase;
let handle: DbHandle;

beforeAll(async () => {
  tdb = await createTestDatabase();
  handle = await openDatabase({ databaseUrl: tdb.env.DATABASE_URL, dataDir: tdb.dataDir });
  await migrateLatest(handle.db);
});

afterAll(async () => {
  await handle?.close();
  await tdb?.drop();
});

async function upsertsDuring<T>(work: () => Promise<T>): Promise<[T, number]> {
  let upserts = 0;
  const listener = (q: { sql: string }) => void (/insert into "?rate_limits"?/i.test(q.sql) && upserts++);
  handle.db.on('query', listener);
  try {
    return [await work(), upserts];
  } finally {
    handle.db.off('query', listener);
  }
}

describe('rate-limit counters under concurrency', () => {
  it('50 at once against a limit of 20: exactly 20 allowed, one first refusal, all 50 counted, fewer upserts', async () => {
    const limit = new RateLimit(handle.db, 'token_client', 'client', 20, 60);
    const [verdicts, upserts] = await upsertsDuring(() => Promise.all(Array.from({ length: 50 }, () => limit.consume('one-busy-client'))));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(20);
    expect(verdicts.filter((v) => v.firstRefusal)).toHaveLength(1);
    expect(verdicts.filter((v) => !v.allowed).every((v) => v.retryAfterSeconds >= 1)).toBe(true);
    expect(upserts).toBeLessThan(50);
    const row = (await handle.db('rate_limits').where('key', 'like', 'token_client:%').first()) as { points: number | string };
    expect(Number(row.points)).toBe(50);
  });

  it('keys are counted apart but sent together (one upsert), and a lone request goes at once', async () => {
    const limit = new RateLimit(handle.db, 'token_ip', 'ip', 3, 60);
    const [both, upserts] = await upsertsDuring(() => Promise.all([limit.consume('192.0.2.1'), limit.consume('192.0.2.2')]));
    expect(both.every((v) => v.allowed)).toBe(true);
    expect(upserts).toBe(1);
    const [alone, one] = await upsertsDuring(() => limit.consume('192.0.2.1'));
    expect(alone.allowed).toBe(true);
    expect(one).toBe(1);
    for (let i = 0; i < 2; i++) await limit.consume('192.0.2.1');
    expect((await limit.consume('192.0.2.1')).allowed).toBe(false); // the 5th of a limit of 3
    expect((await limit.consume('192.0.2.2')).allowed).toBe(true); // the 2nd of the other key
  });

  it('two limits of one request (a token request\'s client and address) go in one upsert, each exact', async () => {
    const client = new RateLimit(handle.db, 'token_client', 'client', 2, 60);
    const ip = new RateLimit(handle.db, 'token_ip', 'ip', 100, 60);
    for (let i = 1; i <= 3; i++) {
      const [[byClient, byIp], upserts] = await upsertsDuring(() => Promise.all([client.consume('pair-client'), ip.consume('203.0.113.5')]));
      expect({ i, upserts, client: byClient.allowed, ip: byIp.allowed, first: byClient.firstRefusal }).toEqual({ i, upserts: 1, client: i <= 2, ip: true, first: i === 3 });
    }
    // Many keys at once: every one counted exactly, in a few statements.
    const [verdicts, upserts] = await upsertsDuring(() => Promise.all(Array.from({ length: 60 }, (_, i) => ip.consume(`203.0.113.${(i % 30) + 10}`))));
    expect(verdicts.every((v) => v.allowed)).toBe(true);
    expect(upserts).toBeLessThan(10);
    const rows = (await handle.db('rate_limits').where('key', 'like', 'token_ip:203.0.113.%')) as Array<{ key: string; points: number | string }>;
    expect(rows.filter((r) => r.key !== 'token_ip:203.0.113.5').map((r) => Number(r.points))).toEqual(Array(30).fill(2));
  });

  it('a refund folded with increments still lands in the count', async () => {
    const limit = new RateLimit(handle.db, 'login_ip', 'ip', 5, 60);
    await Promise.all([limit.consume('198.51.100.7'), limit.consume('198.51.100.7'), limit.refund('198.51.100.7'), limit.consume('198.51.100.7')]);
    const row = (await handle.db('rate_limits').where({ key: 'login_ip:198.51.100.7' }).first()) as { points: number | string };
    expect(Number(row.points)).toBe(2);
  });
});

describe('rate-limit counters while the database is away', () => {
  it('increments queued behind a failing upsert fail with it instead of each waiting out its own timeout', async () => {
    const { rateLimitStore } = await import('../../src/http/rate-limit-store.js');
    let statements = 0;
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const downDb = { raw: () => (statements++, new Promise((_, reject) => setTimeout(() => reject(refused), 20))) };
    const store = rateLimitStore(downDb as never);
    const increment = () => store.query({ name: 'rate_limits:rlflx-upsert', text: 'insert … $1 $2 $3 $4', values: ['token_ip:192.0.2.9', 1, Date.now() + 60_000, Date.now()] });
    const results = await Promise.allSettled(Array.from({ length: 5 }, increment));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'ECONNREFUSED')).toBe(true);
    expect(statements).toBe(1);
  });
});
