// Console audit log: each filter narrows the events correctly, keyset pages reach every matching event exactly once,
// the JSON Lines and CSV exports hold exactly the filtered set (CSV quoted per RFC 4180, formulas neutralised),
// bad filter values are a 400 page, exports are audited, and event text is escaped in the page.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { consoleSignIn, type ConsoleBrowser } from '../../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const XSS = '<script>alert(1)</script><img src=x onerror=alert(1)>';
const FORMULA = '=HYPERLINK("x")';
const R1 = 'https://mcp.example.test/mcp';
const R2 = 'https://tools.example.test';
const START = Date.UTC(2025, 0, 1); // seeded event i happens at START + i hours

interface Seed { id: number; i: number; type: string; outcome: 'success' | 'failure'; actor: string; clientId: string; resource: string; at: Date; reason?: string }

let db: TestDatabase;
let gh: TestServer;
let admin: ConsoleBrowser;
const seeds: Seed[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  await gh.services.users.create(ADMIN);
  admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
  const knex = gh.services.handle.db;
  for (let i = 0; i < 130; i++) {
    const seed = {
      i,
      type: ['seed.alpha', 'seed.beta', 'seedx.gamma'][i % 3]!,
      outcome: i % 4 === 0 ? ('failure' as const) : ('success' as const),
      actor: i % 2 ? 'Alice@Example.com' : 'bob@example.com',
      clientId: i % 5 === 0 ? 'client-A' : 'client-B',
      resource: i % 2 ? R1 : R2,
      at: new Date(START + i * 3600_000),
      ...(i === 7 ? { reason: FORMULA } : i === 8 ? { reason: XSS } : i === 9 ? { reason: 'line one\nline "two", three' } : {}),
    };
    await gh.services.audit.record({ ...seed, details: { n: i, note: i === 10 ? '+cmd|calc' : 'plain' } });
    const { id } = (await knex('audit_events').max('id as id').first()) as { id: string | number };
    await knex('audit_events').where({ id }).update({ at: seed.at });
    seeds.push({ ...seed, id: Number(id) });
  }
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

const decode = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const idsOn = (html: string) => [...html.matchAll(/<tr id="event-(\d+)">/g)].map((m) => Number(m[1]));
const link = (html: string, rel: string) => {
  const m = new RegExp(`<a href="([^"]+)" rel="${rel}">`).exec(html);
  return m ? decode(m[1]!).replace(/^\/console/, '') : undefined;
};
const expected = (pred: (s: Seed) => boolean) => seeds.filter(pred).map((s) => s.id).sort((a, b) => b - a);

/** Every page of a filtered listing, following Next links; asserts 50 a page. */
async function allIds(query: string): Promise<number[]> {
  const ids: number[] = [];
  let path: string | undefined = `/audit?${query}`;
  while (path) {
    const page = await admin.page(path);
    expect(page.status).toBe(200);
    const onPage = idsOn(page.html);
    expect(onPage.length).toBeLessThanOrEqual(50);
    ids.push(...onPage);
    path = link(page.html, 'next');
  }
  return ids;
}

/** A small RFC 4180 parser: quoted fields with doubled quotes and embedded line breaks, CRLF records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\r' && text[i + 1] === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; i++; }
    else cell += c;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

describe('the audit page filters', () => {
  it('shows the filter form and the newest events first, with the export links', async () => {
    const page = await admin.page('/audit');
    expect(page.status).toBe(200);
    expect(page.html).toMatch(/aria-current="page">Audit log</);
    expect(page.html).toContain('<h1>Audit log</h1>');
    for (const label of ['Type', 'Outcome', 'Person', 'Client', 'Resource', 'From', 'To']) expect(page.html).toMatch(new RegExp(`<label for="f-\\w+">${label}</label>`));
    expect(page.html).toContain('<button type="submit">Filter</button>');
    expect(page.html).toContain('>Export JSON Lines</a>');
    expect(page.html).toContain('>Export CSV</a>');
    const ids = idsOn(page.html);
    expect(ids).toHaveLength(50);
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);
  });

  it('narrows by exact type, type prefix, outcome, person, client, resource and time range', async () => {
    const seeded = (s: Seed) => s.type.startsWith('seed');
    expect(await allIds('type=seed.alpha')).toEqual(expected((s) => s.type === 'seed.alpha'));
    expect(await allIds('type=seed.*')).toEqual(expected((s) => s.type.startsWith('seed.')));
    expect(await allIds('type=seed*&outcome=failure')).toEqual(expected((s) => seeded(s) && s.outcome === 'failure'));
    expect(await allIds('type=seed*&actor=ALICE')).toEqual(expected((s) => s.actor.startsWith('Alice')));
    expect(await allIds('client=client-A')).toEqual(expected((s) => s.clientId === 'client-A'));
    expect(await allIds(`type=seedx.gamma&resource=${encodeURIComponent(R1)}`)).toEqual(expected((s) => s.type === 'seedx.gamma' && s.resource === R1));
    // A whole UTC day (2025-01-02: hours 24–47), and a datetime-local range with an inclusive end minute.
    expect(await allIds('from=2025-01-02&to=2025-01-02')).toEqual(expected((s) => s.i >= 24 && s.i < 48));
    expect(await allIds('from=2025-01-01T10%3A00&to=2025-01-01T12%3A00')).toEqual(expected((s) => s.i >= 10 && s.i <= 12));
    expect(await allIds('type=seed.beta&outcome=success&actor=bob&from=2025-01-03')).toEqual(expected((s) => s.type === 'seed.beta' && s.outcome === 'success' && s.actor.startsWith('bob') && s.i >= 48));
    // LIKE wildcards in a filter are literal.
    expect(await allIds('type=seed*&actor=%25')).toEqual([]);
  });

  it('pages by 50 with Next and Previous, reaching every matching event exactly once', async () => {
    const all = await allIds('type=seed*');
    expect(all).toEqual(expected(() => true));
    expect(new Set(all).size).toBe(130);
    const first = await admin.page('/audit?type=seed*');
    expect(link(first.html, 'prev')).toBeUndefined();
    const second = await admin.page(link(first.html, 'next')!);
    expect(idsOn(second.html)).toEqual(all.slice(50, 100));
    expect(second.html).toContain('>Newest</a>');
    const back = await admin.page(link(second.html, 'prev')!);
    expect(idsOn(back.html)).toEqual(all.slice(0, 50));
    const third = await admin.page(link(second.html, 'next')!);
    expect(idsOn(third.html)).toEqual(all.slice(100));
    expect(link(third.html, 'next')).toBeUndefined();
  });

  it('refuses bad filter values with a 400 page naming the problem next to the field', async () => {
    const badDate = await admin.page('/audit?from=yesterday');
    expect(badDate.status).toBe(400);
    expect(badDate.html).toMatch(/id="problem-from" role="alert">From is a date/);
    expect(badDate.html).toContain('value="yesterday"');
    expect((await admin.page('/audit?to=2025-02-30')).status).toBe(400);
    expect((await admin.page('/audit?outcome=maybe')).html).toContain('Outcome is success or failure');
    expect((await admin.page('/audit?from=2025-01-03&to=2025-01-02')).html).toContain('To is before From');
    expect((await admin.page('/audit?type=a%20b')).status).toBe(400);
    expect((await admin.page('/audit?before=abc')).status).toBe(400);
    expect((await admin.page('/audit?type=a&type=b')).status).toBe(400);
    expect((await admin.page('/audit/export.csv?from=nope')).status).toBe(400);
    expect((await admin.page('/audit/export.jsonl?outcome=x')).status).toBe(400);
  });

  it('finds the rows one request wrote by the request id its answer and error page showed, in the page and the exports', async () => {
    const refused = await fetch(`${gh.issuer}/authorize?client_id=no-such-client&response_type=code`, { headers: { accept: 'text/html' } });
    const requestId = refused.headers.get('x-request-id')!;
    expect(await refused.text()).toContain(requestId);
    let page = await admin.page(`/audit?request=${requestId}`);
    for (let i = 0; i < 40 && idsOn(page.html).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50)); // the audit row's group commit
      page = await admin.page(`/audit?request=${requestId}`);
    }
    expect(page.status).toBe(200);
    const [row] = (await gh.services.handle.db('audit_events').where({ request_id: requestId })) as Array<{ id: number | string; type: string }>;
    expect(row?.type).toBe('authorization.refused');
    expect(idsOn(page.html)).toEqual([Number(row!.id)]);
    expect(page.html).toContain(`href="/console/audit?request=${requestId}"`);
    // Upper case is the same id; anything that is not a request id is refused beside the field.
    expect(idsOn((await admin.page(`/audit?request=${requestId.toUpperCase()}`)).html)).toEqual([Number(row!.id)]);
    const bad = await admin.page('/audit?request=not-an-id');
    expect(bad.status).toBe(400);
    expect(bad.html).toMatch(/id="problem-request" role="alert">Request id is/);
    const jsonl = await (await admin.get(`${gh.issuer}/console/audit/export.jsonl?request=${requestId}`)).text();
    expect(JSON.parse(jsonl.trim())).toMatchObject({ id: Number(row!.id), request_id: requestId });
  });

  it('shows an account by its email, marking one its identity provider did not verify (nobody passes for the admin)', async () => {
    const verified = await gh.services.accounts.link({ connector: 'local', issuer: 'urn:test:idp', subject: 'v-1', email: 'same@example.com', emailVerified: true, groups: [] }, false);
    const unverified = await gh.services.accounts.link({ connector: 'local', issuer: 'urn:test:idp', subject: 'u-1', email: 'same@example.com', emailVerified: false, groups: [] }, false);
    for (const account of [verified, unverified]) await gh.services.audit.record({ type: 'probe.person', outcome: 'success', actor: account.id });
    let page = await admin.page('/audit?type=probe.person');
    for (let i = 0; i < 40 && idsOn(page.html).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      page = await admin.page('/audit?type=probe.person');
    }
    const people = [...page.html.matchAll(/<td class="wrap person"[^>]*>([^<]*)<\/td>/g)].map((m) => decode(m[1]!));
    expect(people.sort()).toEqual(['same@example.com', 'same@example.com (unverified)']);
  });

  it('escapes HTML in event text', async () => {
    const page = await admin.page('/audit?type=seedx.gamma&from=2025-01-01T08%3A00&to=2025-01-01T08%3A00');
    expect(idsOn(page.html)).toEqual(expected((s) => s.i === 8));
    expect(page.html).not.toContain(XSS);
    expect(page.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('exports', () => {
  it('JSON Lines: one object per filtered event, newest first, as an attachment that is not cached; audited', async () => {
    const res = await admin.get(`${gh.issuer}/console/audit/export.jsonl?type=seed.*&outcome=failure`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="gatehouse-audit-\d{4}-\d{2}-\d{2}\.jsonl"$/);
    const text = await res.text();
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const want = seeds.filter((s) => s.type.startsWith('seed.') && s.outcome === 'failure').sort((a, b) => b.id - a.id);
    expect(lines.map((l) => l.id)).toEqual(want.map((s) => s.id));
    expect(lines[0]).toMatchObject({ type: want[0]!.type, outcome: 'failure', actor: want[0]!.actor, client_id: want[0]!.clientId, resource: want[0]!.resource, at: want[0]!.at.toISOString(), details: { n: want[0]!.i, note: 'plain' } });
    const [event] = await gh.services.audit.recent({ type: 'audit.exported', limit: 1 });
    expect(event).toMatchObject({ outcome: 'success', actor: ADMIN.email, details: expect.objectContaining({ format: 'jsonl', rows: want.length, filter: { type: 'seed.*', outcome: 'failure' } }) });
  });

  it('CSV: a header row and RFC 4180 quoting; cells that would be formulas start with an apostrophe', async () => {
    const res = await admin.get(`${gh.issuer}/console/audit/export.csv?type=seed*&from=2025-01-01T07%3A00&to=2025-01-01T10%3A00`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="gatehouse-audit-\d{4}-\d{2}-\d{2}\.csv"$/);
    const rows = parseCsv(await res.text());
    const header = rows[0]!;
    expect(header).toEqual(['id', 'at', 'type', 'outcome', 'actor', 'client_id', 'resource', 'ip', 'user_agent', 'reason', 'details', 'request_id']);
    const body = rows.slice(1).map((r) => Object.fromEntries(header.map((h, k) => [h, r[k]])));
    expect(body.map((r) => Number(r.id))).toEqual(expected((s) => s.i >= 7 && s.i <= 10));
    const byI = (i: number) => body.find((r) => Number(r.id) === seeds[i]!.id)!;
    expect(byI(7).reason).toBe(`'${FORMULA}`);
    expect(byI(8).reason).toBe(XSS);
    expect(byI(9).reason).toBe('line one\nline "two", three');
    expect(JSON.parse(byI(10).details!)).toEqual({ n: 10, note: '+cmd|calc' });
    expect(byI(7).at).toBe(seeds[7]!.at.toISOString());
    const [event] = await gh.services.audit.recent({ type: 'audit.exported', limit: 1 });
    expect(event).toMatchObject({ actor: ADMIN.email, details: expect.objectContaining({ format: 'csv', rows: 4 }) });
  });

  it('exports everything matching across batches (more than one page), not only the first page', async () => {
    const res = await admin.get(`${gh.issuer}/console/audit/export.jsonl?type=seed*`);
    const ids = (await res.text()).trimEnd().split('\n').map((l) => (JSON.parse(l) as { id: number }).id);
    expect(ids).toEqual(expected(() => true));
  });
});

describe('CSV export in any spreadsheet locale (issue 16, finding 9)', () => {
  it('a User-Agent with ;= ,= tab or a line break before a formula opens as text: every cell quoted, no cell or sub-field starts a formula', async () => {
    const agents = ['x;=1+2*cmd|calc', 'y,=SUM(A1)', 'z\t=HYPERLINK("e")', 'w; "@SUM(1)', '-2+3'];
    // Real refusals carrying the header (no console session), and one value no header can hold (a line break).
    for (const ua of agents) {
      const res = await fetch(`${gh.issuer}/console/nowhere`, { method: 'POST', headers: { 'user-agent': ua } });
      expect(res.status).toBe(401);
    }
    await gh.services.audit.record({ type: 'csv.seed', outcome: 'failure', userAgent: 'v\n@SUM(1)', reason: 'r\r+1' });
    for (const type of ['console.refused', 'csv.seed']) {
      const res = await admin.get(`${gh.issuer}/console/audit/export.csv?type=${type}`);
      expect(res.status).toBe(200);
      const text = await res.text();
      for (const line of text.split('\r\n').filter(Boolean)) {
        // Every cell quoted: the record is "…","…",…
        if (!line.includes('\n')) expect(line).toMatch(/^"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*$/);
      }
      // Split where any locale might split (, ; tab, line breaks), drop the quoting: nothing starts a formula.
      for (const fragment of text.split(/[,;\t\r\n]/)) expect(fragment.replace(/^[\s"]*/, '')).not.toMatch(/^[=+\-@]/);
      if (type === 'console.refused') {
        const uas = parseCsv(text).slice(1).map((r) => r[8]);
        expect(uas).toEqual(expect.arrayContaining(["x;'=1+2*cmd|calc", "y,'=SUM(A1)", "z\t'=HYPERLINK(\"e\")", "w; \"'@SUM(1)", "'-2+3"]));
      }
    }
  });
});
