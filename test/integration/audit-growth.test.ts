// Issue 16, finding 3: nobody may grow the audit log without bound. A flood of refusals from one source (15 KB paths,
// 8 KB user agents, bad tokens at /introspect, /revoke, /metrics, /register/<id>, /upstream/callback without its
// cookie) adds a bounded number of rows and bytes, yet each distinct event (another type, another source, a
// success) is still written and the counted repeats are summed in one row per window, matching the metrics.
// Retention: events older than AUDIT_RETENTION_DAYS are deleted in batches by the periodic cleanup, audited once.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ConfigError } from '../../src/config.js';
import { loadConfiguration as loadConfig } from '../../src/configuration.js';
import { purgeOldAuditEvents } from '../../src/gatehouse.js';
import { DETAILS_MAX_BYTES, FIELD_LIMITS, PURGE_BATCH } from '../../src/audit/writer.js';

const METRICS_TOKEN = 'scrape-me-0123456789abcdef';
const LIMIT = 10;
const FLOODER = '203.0.113.9';
const UA = `flood/${'u'.repeat(8000)}`;

let db: TestDatabase;
let gh: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, METRICS_TOKEN, TRUST_PROXY: 'true', AUDIT_REPEAT_LIMIT: String(LIMIT) });
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

const knex = () => gh.services.handle.db;
const maxId = async () => Number(((await knex()('audit_events').max('id as id').first()) as { id: string | number | null }).id ?? 0);

/** One refusal of each kind the review found unthrottled, from `ip`. */
function refusals(ip: string): Array<() => Promise<Response>> {
  const headers = { 'x-forwarded-for': ip, 'user-agent': UA };
  const form = { ...headers, 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams({ token: 'x'.repeat(100), client_id: `nobody-${'c'.repeat(4000)}` }).toString();
  return [
    () => fetch(`${gh.issuer}/console/${'p'.repeat(15_000)}`, { method: 'POST', headers: { 'x-forwarded-for': ip, 'user-agent': 'flood' } }),
    () => fetch(`${gh.issuer}/introspect`, { method: 'POST', headers: form, body }),
    () => fetch(`${gh.issuer}/revoke`, { method: 'POST', headers: form, body }),
    () => fetch(`${gh.issuer}/metrics`, { headers: { ...headers, authorization: 'Bearer wrong-token-0123456789' } }),
    () => fetch(`${gh.issuer}/register/dyn_${'r'.repeat(200)}`, { headers: { ...headers, authorization: `Bearer ${'t'.repeat(2000)}` } }),
    () => fetch(`${gh.issuer}/upstream/callback?state=${'s'.repeat(4000)}&code=x`, { headers }),
    () => fetch(`${gh.issuer}/Token`, { method: 'POST', headers: form, body }), // a refused spelling: request.refused
  ];
}

async function refusalCounts(): Promise<Map<string, number>> {
  const res = await fetch(`${gh.issuer}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  const counts = new Map<string, number>();
  for (const m of (await res.text()).matchAll(/^gatehouse_refusals_total\{([^}]*)\} (\S+)$/gm)) {
    const type = /type="([^"]+)"/.exec(m[1]!)![1]!;
    counts.set(type, (counts.get(type) ?? 0) + Number(m[2]));
  }
  return counts;
}

describe('a flood of unauthenticated refusals from one source cannot grow the audit log without bound', () => {
  it('1,000 refusals with 15 KB paths and bad tokens add a bounded number of rows and bytes; distinct events are still written', async () => {
    const metricsBefore = await refusalCounts();
    const before = await maxId();
    const kinds = refusals(FLOODER);
    const started = Date.now();
    const statuses = new Set<number>();
    for (let i = 0; i < 1000; i += 10) {
      const res = await Promise.all(Array.from({ length: 10 }, (_, j) => kinds[(i + j) % kinds.length]!()));
      for (const r of res) {
        statuses.add(r.status);
        await r.arrayBuffer();
      }
    }
    expect([...statuses].every((s) => s >= 400 && s < 500)).toBe(true);
    const windows = Math.floor((Date.now() - started) / 60_000) + 2;

    // Distinct events during the flood: another source, and a success from the flooding source.
    const other = await refusals('198.51.100.7')[3]!();
    expect(other.status).toBe(401);
    const registered = await fetch(`${gh.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': FLOODER },
      body: JSON.stringify({ client_name: 'during the flood', redirect_uris: ['http://127.0.0.1:33418/cb'], token_endpoint_auth_method: 'none' }),
    });
    expect(registered.status).toBe(201);

    const rows = (await knex()('audit_events').where('id', '>', before).select('type', 'outcome', 'ip', 'user_agent', 'details')) as Array<{ type: string; outcome: string; ip: string; user_agent: string | null; details: unknown }>;
    const types = new Set(rows.filter((r) => r.ip === FLOODER && r.outcome === 'failure').map((r) => r.type));
    // Every kind of refusal is recorded (at least its first rows), whatever the flood.
    for (const t of ['console.refused', 'introspection.refused', 'token.revoke_refused', 'metrics.refused', 'registration.management_refused', 'upstream.callback', 'request.refused']) {
      expect(types).toContain(t);
    }
    expect(rows.some((r) => r.type === 'metrics.refused' && r.ip === '198.51.100.7')).toBe(true);
    expect(rows.some((r) => r.type === 'registration.created' && r.ip === FLOODER && r.outcome === 'success')).toBe(true);
    // Bounded: per type and window, LIMIT rows in full and one summary (the summaries come at the window's end).
    expect(rows.length).toBeLessThanOrEqual(types.size * (LIMIT + 1) * windows + 2);
    const bytes = (await knex()
      .from('audit_events as a')
      .where('a.id', '>', before)
      .select(knex().raw('coalesce(sum(pg_column_size(a.*)), 0) as bytes, coalesce(max(octet_length(a.details::text)), 0) as details, coalesce(max(octet_length(a.user_agent)), 0) as ua'))
      .first()) as { bytes: string | number; details: string | number; ua: string | number };
    expect(Number(bytes.details)).toBeLessThanOrEqual(DETAILS_MAX_BYTES);
    expect(Number(bytes.ua)).toBeLessThanOrEqual(FIELD_LIMITS.user_agent);
    expect(Number(bytes.bytes)).toBeLessThanOrEqual(rows.length * 12 * 1024);
    expect(Number(bytes.bytes)).toBeLessThan(1024 * 1024);

    // The repeats are not lost: one summary row per type and source, and rows + repeats = what the metrics counted.
    await gh.services.audit.flushRepeats(true);
    const after = (await knex()('audit_events').where('id', '>', before).where({ outcome: 'failure' }).select('type', 'details')) as Array<{ type: string; details: string | { repeats?: number } | null }>;
    const metricsAfter = await refusalCounts();
    for (const t of types) {
      const ofType = after.filter((r) => r.type === t).map((r) => (typeof r.details === 'string' ? (JSON.parse(r.details) as { repeats?: number }) : r.details));
      const written = ofType.filter((d) => !d?.repeats).length;
      const repeats = ofType.reduce((n, d) => n + (d?.repeats ?? 0), 0);
      expect(repeats).toBeGreaterThan(0);
      expect(written + repeats).toBe((metricsAfter.get(t) ?? 0) - (metricsBefore.get(t) ?? 0));
    }
  }, 180_000);
});

describe('retention: AUDIT_RETENTION_DAYS', () => {
  it('deletes the events older than the retention in batches, keeps the rest, and audits the purge once', async () => {
    const day = 86_400_000;
    const old = Array.from({ length: 2 * PURGE_BATCH + 7 }, (_, i) => ({ type: 'seed.old', outcome: 'success', at: new Date(Date.now() - 401 * day - i * 1000) }));
    for (let i = 0; i < old.length; i += 1000) await knex()('audit_events').insert(old.slice(i, i + 1000));
    await knex()('audit_events').insert(Array.from({ length: 5 }, () => ({ type: 'seed.kept', outcome: 'success', at: new Date(Date.now() - 399 * day) })));
    expect(gh.services.config.AUDIT_RETENTION_DAYS).toBe(400);
    const deleted = await purgeOldAuditEvents(gh.services);
    expect(deleted).toBe(old.length);
    expect(Number(((await knex()('audit_events').where({ type: 'seed.old' }).count('id as n').first()) as { n: string | number }).n)).toBe(0);
    expect(Number(((await knex()('audit_events').where({ type: 'seed.kept' }).count('id as n').first()) as { n: string | number }).n)).toBe(5);
    const purges = await gh.services.audit.recent({ type: 'audit.purged' });
    expect(purges).toHaveLength(1);
    const details = (typeof purges[0]!.details === 'string' ? JSON.parse(purges[0]!.details) : purges[0]!.details) as { deleted: number; batches: number };
    expect(details).toMatchObject({ deleted: old.length, batches: 3 });
    expect(await purgeOldAuditEvents(gh.services)).toBe(0); // nothing left: no second event
    expect(await gh.services.audit.recent({ type: 'audit.purged' })).toHaveLength(1);
  }, 120_000);

  it.each(['abc', '0', '1.5', '-3'])('AUDIT_RETENTION_DAYS=%s stops the configuration with one line naming it', (value) => {
    let problems: string[] = [];
    try {
      loadConfig({ AUDIT_RETENTION_DAYS: value });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = err.problems;
    }
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^AUDIT_RETENTION_DAYS: /);
  });
});
