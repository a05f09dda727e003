// The reporting API an MCP server speaks to Gatehouse (docs/MCP-SERVER-REPORTING.md), over real HTTP with raw
// fetch (not the kit): who may report and every refusal (audited, nothing written), the tool inventory and the
// console's flags, tool-call batches as audit rows (replays, a bad event, dropped events), the audit page's tool
// filter and exports, the Overview's counts, and the rate limit in front.
import { createHash, randomUUID } from 'node:crypto';
import { consoleSignIn, type ConsoleBrowser } from '../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { postRegistration } from '../helpers/registration.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { forgetCachedClient, PostgresAdapter } from '../../src/oauth/adapter.js';
import { addStaticClient } from '../../src/oauth/static-clients.js';
import { purgeOldAuditEvents } from '../../src/gatehouse.js';

const NOTES = 'https://notes.example.test/mcp';
const OTHER = 'https://other.example.test/mcp';
const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const DAY_MS = 86_400_000;

let db: TestDatabase;
let gh: TestServer;
let admin: ConsoleBrowser;
let reporter: { id: string; secret: string };

const knex = () => gh.services.handle.db;

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function staticClient(name: string, resource?: string): Promise<{ id: string; secret: string }> {
  const s = gh.services;
  const created = await addStaticClient({ db: s.handle.db, box: s.box, provider: gh.holder.provider, registry: s.registry }, { name, redirectUris: [], confidential: true, resource });
  return { id: created.client_id, secret: created.client_secret! };
}

async function send(path: '/mcp-server/inventory' | '/mcp-server/tool-calls', body: unknown, options: { auth?: string | undefined; type?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': options.type ?? 'application/json' };
  const auth = 'auth' in options ? options.auth : basic(reporter.id, reporter.secret);
  if (auth) headers.authorization = auth;
  const res = await fetch(`${gh.issuer}${path}`, { method: path === '/mcp-server/inventory' ? 'PUT' : 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: Record<string, any> = {};
  try {
    json = JSON.parse(text) as Record<string, any>;
  } catch {
    /* left empty: the status says what happened */
  }
  return { status: res.status, json, headers: res.headers };
}

const refusedRows = async () => (await knex()('audit_events').where({ type: 'mcp_server.report.refused' }).orderBy('id', 'asc')) as Array<Record<string, any>>;
const details = (row: Record<string, any>) => (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as Record<string, any>;
const storedInventory = async () => (await knex()('mcp_server_inventories').where({ resource: NOTES }).first()) as Record<string, any> | undefined;

const TOOLS = [
  { name: 'list_notes', title: 'List notes', description: 'Lists every note', annotations: { readOnlyHint: true }, scopes: [['notes:read']] },
  { name: 'read_note', annotations: { readOnlyHint: true }, scopes: [] }, // no scope
  { name: 'delete_note', description: 'Deletes one note by id', scopes: [['notes:read']] }, // MCP defaults: destructive, behind a read scope
  { name: 'export_notes', annotations: { readOnlyHint: true }, scopes: [['notes:export']] }, // not in the catalogue
  // archive_note is in the catalogue and never reported
];
const inventory = (tools: unknown[] = TOOLS, resource = NOTES) => ({ resource, kit: { name: '@gatehouse/resource-server', version: '0.2.0' }, policy: { unmapped_tools: 'deny', required_scopes: [] }, tools });

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer({
    ...db.env,
    RESOURCES: JSON.stringify([
      {
        uri: NOTES,
        name: 'Notes',
        default: true,
        scopes: {
          'notes:read': { description: 'Read notes', tools: ['list_notes', 'read_note'] },
          'notes:delete': { description: 'Delete notes', tools: ['delete_note', 'archive_note'] },
        },
      },
      { uri: OTHER, name: 'Other', scopes: { 'other:read': 'Read' } },
    ]),
  });
  await gh.services.users.create(ADMIN);
  admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
  reporter = await staticClient('notes MCP server', NOTES);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

/** The HTML of one reported tool's row on the MCP server's page. */
function toolRow(html: string, name: string): string | undefined {
  return new RegExp(`<tr data-tool="${name}">([\\s\\S]*?)</tr>`).exec(html)?.[1];
}

describe('the tool inventory', () => {
  it('before any report the server is never reported (page) and silent (list)', async () => {
    const page = await admin.page(`/resources/${encodeURIComponent(NOTES)}`);
    expect(page.html).toContain('Tools reported by the server');
    expect(page.html).toContain('never reported');
    const list = await admin.page('/resources');
    expect(list.html).toMatch(/data-flag="silent"/);
  });

  it('a PUT is stored and the console shows each tool, its scopes and every flag whose condition holds', async () => {
    const res = await send('/mcp-server/inventory', inventory());
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ resource: NOTES, tools: 4, changed: true });
    expect(Date.parse(res.json.reported_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(res.headers.get('cache-control')).toBe('no-store');

    const { status, html } = await admin.page(`/resources/${encodeURIComponent(NOTES)}`);
    expect(status).toBe(200);
    expect(html).toContain(reporter.id);
    expect(html).toContain('@gatehouse/resource-server 0.2.0');
    expect(html).toContain('unmapped_tools: deny');
    expect(html).not.toContain('never reported');
    expect(html).not.toMatch(/data-flag="silent"/);
    const list = toolRow(html, 'list_notes')!;
    expect(list).toContain('<code>notes:read</code>');
    expect(list).toContain('List notes');
    expect(list).toContain('read-only');
    expect(list).not.toContain('class="flag"');
    const read = toolRow(html, 'read_note')!;
    expect(read).toContain('no rule');
    expect(read).toContain('<span class="flag">no scope</span>');
    const del = toolRow(html, 'delete_note')!;
    expect(del).toContain('<code>notes:read</code>');
    expect(del).toContain('may be destructive');
    expect(del).toContain('<span class="flag">destructive behind a read scope</span>');
    expect(del).not.toContain('no scope');
    const exp = toolRow(html, 'export_notes')!;
    expect(exp).toContain('<code>notes:export</code>');
    expect(exp).toContain('<span class="flag">not in the catalogue</span>');
    expect(exp).not.toContain('destructive behind');
    // A catalogue tool the report does not contain.
    expect(html).toMatch(/data-flag="no_longer_reported"[\s\S]*?<code>archive_note<\/code>/);
    expect(toolRow(html, 'archive_note')).toBeUndefined();

    // The list: 4 flags (three tool flags and one tool no longer reported), not silent.
    const listPage = await admin.page('/resources');
    const row = new RegExp(`${NOTES.replace(/[./]/g, '\\$&')}[\\s\\S]*?</tr>`).exec(listPage.html)![0];
    expect(row).toContain('4 flags');
    expect(row).not.toContain('data-flag="silent"');
  });

  it('silent: a last report more than a day old is flagged on the page and the list', async () => {
    await knex()('mcp_server_inventories').where({ resource: NOTES }).update({ reported_at: new Date(Date.now() - 2 * DAY_MS) });
    const { html } = await admin.page(`/resources/${encodeURIComponent(NOTES)}`);
    expect(html).toMatch(/data-flag="silent">silent<\/span> more than a day ago/);
    const list = await admin.page('/resources');
    const row = new RegExp(`${NOTES.replace(/[./]/g, '\\$&')}[\\s\\S]*?</tr>`).exec(list.html)![0];
    expect(row).toContain('data-flag="silent"');
  });

  it('a changed list updates the page and writes one mcp_server.inventory.changed row; an identical PUT writes none', async () => {
    const changedRows = () => knex()('audit_events').where({ type: 'mcp_server.inventory.changed' }).orderBy('id', 'asc') as Promise<Array<Record<string, any>>>;
    expect(await changedRows()).toHaveLength(1); // the first report
    const next = [
      TOOLS[0],
      TOOLS[1],
      { name: 'delete_note', description: 'Deletes one note by id', annotations: { destructiveHint: true }, scopes: [['notes:delete']] },
      { name: 'archive_note', annotations: { destructiveHint: false }, scopes: [['notes:delete']] },
    ];
    const res = await send('/mcp-server/inventory', inventory(next));
    expect(res.json).toMatchObject({ tools: 4, changed: true });
    const rows = await changedRows();
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatchObject({ outcome: 'success', actor: reporter.id, client_id: reporter.id, resource: NOTES });
    expect(details(rows[1]!)).toMatchObject({ added: ['archive_note'], removed: ['export_notes'], changed: ['delete_note'] });

    const { html } = await admin.page(`/resources/${encodeURIComponent(NOTES)}`);
    expect(toolRow(html, 'export_notes')).toBeUndefined();
    expect(toolRow(html, 'archive_note')).toContain('<code>notes:delete</code>');
    expect(toolRow(html, 'delete_note')).not.toContain('class="flag"');
    expect(html).not.toMatch(/data-flag="silent"/); // the report is fresh again
    expect(html).not.toContain('data-flag="no_longer_reported"');

    // The same tools in another order, with a default hint spelt out: no change, only reported_at moves.
    const before = (await storedInventory())!;
    const same = [next[3], next[2], next[1], { ...next[0], annotations: { readOnlyHint: true, openWorldHint: true } }];
    await new Promise((r) => setTimeout(r, 5));
    const again = await send('/mcp-server/inventory', inventory(same));
    expect(again.json).toMatchObject({ tools: 4, changed: false });
    expect(await changedRows()).toHaveLength(2);
    const after = (await storedInventory())!;
    expect(new Date(after.reported_at).getTime()).toBeGreaterThan(new Date(before.reported_at).getTime());
    expect(new Date(after.changed_at).getTime()).toBe(new Date(before.changed_at).getTime());
  });
});

describe('who may report: every refusal is answered, audited, and writes nothing', () => {
  async function expectRefused(res: Awaited<ReturnType<typeof send>>, status: number, error: string, audit: { clientId?: string | null; reason: RegExp }, before: number) {
    expect([res.status, res.json.error]).toEqual([status, error]);
    expect(typeof res.json.error_description).toBe('string');
    // One answer for every failed authentication: which client ids exist is not told (the audit row says why).
    if (status === 401) expect(res.json.error_description).toBe('client authentication failed');
    if (status === 401) expect(res.headers.get('www-authenticate')).toBe('Basic realm="gatehouse"');
    else expect(res.headers.get('www-authenticate')).toBeNull();
    const rows = await refusedRows();
    expect(rows).toHaveLength(before + 1);
    const row = rows[rows.length - 1]!;
    expect(row.outcome).toBe('failure');
    expect(row.reason).toMatch(audit.reason);
    expect(row.client_id).toBe(audit.clientId ?? null);
    expect(row.ip).toBeTruthy();
    return row;
  }

  it('no credentials, malformed credentials, an unknown client, a wrong secret: 401 invalid_client', async () => {
    const stored = JSON.stringify(await storedInventory());
    let n = (await refusedRows()).length;
    await expectRefused(await send('/mcp-server/inventory', inventory([]), { auth: undefined }), 401, 'invalid_client', { reason: /authentication required/ }, n++);
    await expectRefused(await send('/mcp-server/inventory', inventory([]), { auth: 'Basic !!!' }), 401, 'invalid_client', { reason: /malformed/ }, n++);
    await expectRefused(await send('/mcp-server/inventory', inventory([]), { auth: `Bearer ${reporter.secret}` }), 401, 'invalid_client', { reason: /malformed/ }, n++);
    await expectRefused(await send('/mcp-server/inventory', inventory([]), { auth: basic('gh_nobody', 'whatever') }), 401, 'invalid_client', { clientId: 'gh_nobody', reason: /unknown client/ }, n++);
    const wrong = 'not-the-secret-of-this-client';
    const row = await expectRefused(await send('/mcp-server/tool-calls', { resource: NOTES, batch_id: randomUUID(), dropped: 1, events: [] }, { auth: basic(reporter.id, wrong) }), 401, 'invalid_client', { clientId: reporter.id, reason: /wrong client secret/ }, n++);
    expect(JSON.stringify(row)).not.toContain(wrong);
    expect(JSON.stringify(await refusedRows())).not.toContain(reporter.secret);
    expect(JSON.stringify(await storedInventory())).toBe(stored);
    expect(Number(((await knex()('audit_events').where({ type: 'tool.calls_dropped' }).count('id as c').first()) as { c: string }).c)).toBe(0);
  });

  it('a dynamically registered confidential client is refused (403) even when it carries gatehouse_resource', async () => {
    const reg = await postRegistration(gh.issuer, { redirect_uris: ['http://127.0.0.1:7001/cb'], token_endpoint_auth_method: 'client_secret_basic', client_name: 'pretender' });
    expect(reg.status).toBe(201);
    const id = String(reg.body.client_id);
    const secret = String(reg.body.client_secret);
    // Plant the administrator's link on it, as a stored client from before the metadata rule could look.
    const s = gh.services;
    const adapter = new PostgresAdapter('Client', { db: s.handle.db, box: s.box });
    const payload = (await adapter.find(id))!;
    await adapter.upsert(id, { ...payload, gatehouse_resource: NOTES } as never, 0);
    forgetCachedClient(s.handle.db, id);
    const client = await gh.holder.provider.Client.find(id);
    expect((client as unknown as Record<string, unknown>).gatehouse_resource).toBe(NOTES);

    const n = (await refusedRows()).length;
    const stored = JSON.stringify(await storedInventory());
    await expectRefused(await send('/mcp-server/inventory', inventory([]), { auth: basic(id, secret) }), 403, 'unauthorized_client', { clientId: id, reason: /administrator created/ }, n);
    expect(JSON.stringify(await storedInventory())).toBe(stored);
  });

  it('a static client with no resource link, one linked to another server, a disabled one: 403 unauthorized_client', async () => {
    const stored = JSON.stringify(await storedInventory());
    let n = (await refusedRows()).length;
    const unlinked = await staticClient('agent without a server');
    await expectRefused(await send('/mcp-server/inventory', inventory([]), { auth: basic(unlinked.id, unlinked.secret) }), 403, 'unauthorized_client', { clientId: unlinked.id, reason: /not linked/ }, n++);

    const foreign = await staticClient('other MCP server', OTHER);
    await expectRefused(await send('/mcp-server/inventory', inventory([]), { auth: basic(foreign.id, foreign.secret) }), 403, 'unauthorized_client', { clientId: foreign.id, reason: /resource is not the MCP server/ }, n++);
    await expectRefused(await send('/mcp-server/tool-calls', { resource: NOTES, batch_id: randomUUID(), dropped: 2, events: [] }, { auth: basic(foreign.id, foreign.secret) }), 403, 'unauthorized_client', { clientId: foreign.id, reason: /resource is not the MCP server/ }, n++);
    // Its own resource is fine.
    expect((await send('/mcp-server/inventory', inventory([], OTHER), { auth: basic(foreign.id, foreign.secret) })).status).toBe(200);

    const disabled = await staticClient('disabled notes server', NOTES);
    await gh.services.registry.setStatus(disabled.id, 'disabled', 'test');
    await expectRefused(await send('/mcp-server/inventory', inventory([]), { auth: basic(disabled.id, disabled.secret) }), 403, 'unauthorized_client', { clientId: disabled.id, reason: /disabled/ }, n++);
    expect(JSON.stringify(await storedInventory())).toBe(stored);
    expect(Number(((await knex()('audit_events').where({ type: 'tool.calls_dropped' }).count('id as c').first()) as { c: string }).c)).toBe(0);
  });

  it('a server whose resource was removed is refused, and its inventory went with the resource', async () => {
    const gone = 'https://gone.example.test/mcp';
    await gh.services.resources.upsert({ uri: gone, name: 'Gone', scopes: {} });
    const client = await staticClient('gone MCP server', gone);
    expect((await send('/mcp-server/inventory', inventory([], gone), { auth: basic(client.id, client.secret) })).status).toBe(200);
    expect(await knex()('mcp_server_inventories').where({ resource: gone }).first()).toBeTruthy();
    await gh.services.resources.remove(gone);
    expect(await knex()('mcp_server_inventories').where({ resource: gone }).first()).toBeUndefined();
    const n = (await refusedRows()).length;
    await expectRefused(await send('/mcp-server/inventory', inventory([], gone), { auth: basic(client.id, client.secret) }), 403, 'unauthorized_client', { clientId: client.id, reason: /no longer registered/ }, n);
  });

  it('malformed bodies: 400 invalid_request naming the field (413 over the size limit), audited, nothing stored', async () => {
    const stored = JSON.stringify(await storedInventory());
    let n = (await refusedRows()).length;
    const tool = (patch: Record<string, unknown>) => inventory([{ name: 'list_notes', scopes: [['notes:read']], ...patch }]);
    const cases: Array<[string, unknown, number, RegExp, string?]> = [
      ['bad JSON', '{"resource": ', 400, /not valid JSON/],
      ['not JSON', 'resource=x', 400, /application\/json/, 'application/x-www-form-urlencoded'],
      ['too large', JSON.stringify(inventory([{ name: 'x', description: 'd'.repeat(600 * 1024), scopes: [] }])), 413, /larger than 512 KiB/],
      ['1001 tools', inventory(Array.from({ length: 1001 }, (_, i) => ({ name: `t${i}`, scopes: [] }))), 400, /^tools: /],
      ['bad hint type', tool({ annotations: { readOnlyHint: 'yes' } }), 400, /^tools\[0\]\.annotations\.readOnlyHint: /],
      ['bad scope token', tool({ scopes: [['notes read']] }), 400, /^tools\[0\]\.scopes\[0\]\[0\]: .*scope token/],
      ['NUL in a name', tool({ name: 'list\u0000notes' }), 400, /NUL/],
      ['duplicate names', inventory([{ name: 'a', scopes: [] }, { name: 'a', scopes: [] }]), 400, /^tools\[1\]\.name: repeats/],
      ['a name too long', tool({ name: 'n'.repeat(257) }), 400, /^tools\[0\]\.name: /],
    ];
    for (const [what, body, status, description, type] of cases) {
      const res = await send('/mcp-server/inventory', body, type ? { type } : {});
      expect([what, res.status, res.json.error]).toEqual([what, status, 'invalid_request']);
      expect([what, res.json.error_description]).toEqual([what, expect.stringMatching(description)]);
      const rows = await refusedRows();
      expect([what, rows.length]).toEqual([what, ++n]);
      expect(rows[rows.length - 1]!.client_id).toBe(reporter.id);
    }
    expect(JSON.stringify(await storedInventory())).toBe(stored);
  });
});

const sha = (v: string) => createHash('sha256').update(v).digest('hex');

function event(i: number, patch: Record<string, unknown> = {}) {
  return { at: new Date(Date.now() - (60 - i) * 1000).toISOString(), tool: 'delete_note', sub: `acct_${i}`, client_id: `https://client${i}.example.test/meta.json`, scopes: ['notes:delete'], outcome: 'allowed', duration_ms: 10 + i, arguments_sha256: sha(`{"id":${i}}`), ...patch };
}

const reportedRows = async (batchTool: string) => (await knex()('audit_events').whereRaw("details->>'tool' = ?", [batchTool]).orderBy('id', 'asc')) as Array<Record<string, any>>;

describe('tool calls', () => {
  const OUTCOMES = [
    ['allowed', 'tool.called', 'success', null],
    ['tool_error', 'tool.called', 'failure', 'tool_error'],
    ['unknown', 'tool.called', 'failure', 'result_unknown'],
    ['refused_scope', 'tool.refused', 'failure', 'insufficient_scope'],
    ['refused_unmapped', 'tool.refused', 'failure', 'unmapped_tool'],
    ['refused_batch', 'tool.refused', 'failure', 'refused_with_batch'],
  ] as const;
  const batchId = randomUUID();
  const events = OUTCOMES.map(([outcome], i) => event(i, { outcome }));

  it('a batch of N events is N audit rows, each as the contract maps it, at the event\'s time', async () => {
    const res = await send('/mcp-server/tool-calls', { resource: NOTES, batch_id: batchId, dropped: 0, events });
    expect([res.status, res.json]).toEqual([200, { accepted: 6, duplicate: false }]);
    const rows = await reportedRows('delete_note');
    expect(rows).toHaveLength(6);
    rows.forEach((row, i) => {
      const [outcome, type, auditOutcome, reason] = OUTCOMES[i]!;
      expect(row).toMatchObject({ type, outcome: auditOutcome, reason, actor: `acct_${i}`, client_id: `https://client${i}.example.test/meta.json`, resource: NOTES });
      expect(new Date(row.at).toISOString()).toBe(events[i]!.at);
      expect(details(row)).toEqual({ tool: 'delete_note', result: outcome, scopes: ['notes:delete'], duration_ms: 10 + i, arguments_sha256: sha(`{"id":${i}}`), reporter: reporter.id });
    });
  });

  it('a replayed batch id is a duplicate and writes nothing; concurrent replays of a new batch write it once', async () => {
    const again = await send('/mcp-server/tool-calls', { resource: NOTES, batch_id: batchId, dropped: 0, events });
    expect([again.status, again.json]).toEqual([200, { accepted: 0, duplicate: true }]);
    // The same UUID in upper case is the same id.
    const shouted = await send('/mcp-server/tool-calls', { resource: NOTES, batch_id: batchId.toUpperCase(), dropped: 0, events });
    expect([shouted.status, shouted.json]).toEqual([200, { accepted: 0, duplicate: true }]);
    expect(await reportedRows('delete_note')).toHaveLength(6);

    const racing = { resource: NOTES, batch_id: randomUUID(), dropped: 0, events: [event(1, { tool: 'race_tool' }), event(2, { tool: 'race_tool' })] };
    const answers = await Promise.all(Array.from({ length: 6 }, () => send('/mcp-server/tool-calls', racing)));
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
    expect(answers.filter((a) => !a.json.duplicate)).toHaveLength(1);
    expect(answers.filter((a) => a.json.duplicate).every((a) => a.json.accepted === 0)).toBe(true);
    expect(await reportedRows('race_tool')).toHaveLength(2);
  });

  it('one bad event refuses the whole batch, naming it; nothing is written and the batch id stays free', async () => {
    const id = randomUUID();
    const bad = [0, 1, 2, 3, 4].map((i) => event(i, { tool: 'bad_batch_tool', ...(i === 3 ? { arguments_sha256: 'ABC' } : {}) }));
    const before = (await refusedRows()).length;
    const res = await send('/mcp-server/tool-calls', { resource: NOTES, batch_id: id, dropped: 0, events: bad });
    expect([res.status, res.json.error]).toEqual([400, 'invalid_request']);
    expect(res.json.error_description).toMatch(/^events\[3\]\.arguments_sha256: /);
    expect(await reportedRows('bad_batch_tool')).toHaveLength(0);
    expect(await refusedRows()).toHaveLength(before + 1);
    // Other bounds: an event too old, an unknown outcome, a batch id that is not a UUID.
    for (const [body, field] of [
      [{ resource: NOTES, batch_id: randomUUID(), events: [event(0, { tool: 'bad_batch_tool', at: new Date(Date.now() - 8 * DAY_MS).toISOString() })] }, /^events\[0\]\.at: /],
      [{ resource: NOTES, batch_id: randomUUID(), events: [event(0, { tool: 'bad_batch_tool', outcome: 'maybe' })] }, /^events\[0\]\.outcome: /],
      [{ resource: NOTES, batch_id: 'not-a-uuid', events: [event(0, { tool: 'bad_batch_tool' })] }, /^batch_id: /],
      [{ resource: NOTES, batch_id: randomUUID(), events: [] }, /^events: /],
    ] as const) {
      const r = await send('/mcp-server/tool-calls', body);
      expect([r.status, r.json.error_description]).toEqual([400, expect.stringMatching(field)]);
    }
    expect(await reportedRows('bad_batch_tool')).toHaveLength(0);
    // The id of the refused batch was not taken: the mended batch is accepted under it.
    const mended = bad.map((e, i) => (i === 3 ? { ...e, arguments_sha256: sha('{}') } : e));
    expect((await send('/mcp-server/tool-calls', { resource: NOTES, batch_id: id, dropped: 0, events: mended })).json).toEqual({ accepted: 5, duplicate: false });
    expect(await reportedRows('bad_batch_tool')).toHaveLength(5);
  });

  it('the retention run forgets batch ids older than 8 days, and keeps the newer ones', async () => {
    const old = randomUUID();
    await knex()('tool_call_batches').insert({ batch_id: old, resource: NOTES, accepted_at: new Date(Date.now() - 9 * DAY_MS) });
    await purgeOldAuditEvents(gh.services);
    expect(await knex()('tool_call_batches').where({ batch_id: old }).first()).toBeUndefined();
    expect(await knex()('tool_call_batches').where({ batch_id: batchId }).first()).toBeTruthy();
  });

  it('dropped: 5 is one tool.calls_dropped row', async () => {
    const res = await send('/mcp-server/tool-calls', { resource: NOTES, batch_id: randomUUID(), dropped: 5, events: [] });
    expect([res.status, res.json]).toEqual([200, { accepted: 0, duplicate: false }]);
    const rows = (await knex()('audit_events').where({ type: 'tool.calls_dropped' })) as Array<Record<string, any>>;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: 'failure', resource: NOTES, client_id: reporter.id });
    expect(details(rows[0]!)).toEqual({ dropped: 5, reporter: reporter.id });
  });

  it('the console audit page filters by tool and resource; the CSV and JSONL exports honour the tool filter', async () => {
    // Another server's call of a tool with the same name: the resource filter tells them apart.
    const foreign = await staticClient('other MCP server (calls)', OTHER);
    const other = await send('/mcp-server/tool-calls', { resource: OTHER, batch_id: randomUUID(), events: [event(9)] }, { auth: basic(foreign.id, foreign.secret) });
    expect(other.json).toEqual({ accepted: 1, duplicate: false });

    const page = await admin.page(`/audit?tool=delete_note&resource=${encodeURIComponent(NOTES)}`);
    expect(page.status).toBe(200);
    const rows = [...page.html.matchAll(/<tr id="event-\d+">([\s\S]*?)<\/tr>/g)].map((m) => m[1]!);
    expect(rows).toHaveLength(6);
    // Each row's details, shown as indented JSON (escaped HTML), name the tool.
    const unescaped = (html: string) => html.replace(/&(quot|#39|lt|gt|amp);/g, (_m, e: string) => ({ quot: '"', '#39': "'", lt: '<', gt: '>', amp: '&' })[e]!);
    for (const row of rows) {
      const shown = /<td class="details"><pre>([\s\S]*?)<\/pre>/.exec(row)?.[1];
      expect(JSON.parse(unescaped(shown ?? 'null'))).toMatchObject({ tool: 'delete_note' });
      expect(row).toContain(NOTES);
    }
    const byTool = await admin.page('/audit?tool=delete_note');
    expect([...byTool.html.matchAll(/<tr id="event-\d+">/g)]).toHaveLength(7);
    const raceOnly = await admin.page('/audit?tool=race_tool');
    expect([...raceOnly.html.matchAll(/<tr id="event-\d+">/g)]).toHaveLength(2);

    const jsonl = await (await admin.get(`${gh.issuer}/console/audit/export.jsonl?tool=delete_note`)).text();
    const lines = jsonl.trim().split('\n').map((l) => JSON.parse(l) as { details: { tool: string }; resource: string });
    expect(lines).toHaveLength(7);
    expect(lines.every((l) => l.details.tool === 'delete_note')).toBe(true);
    expect(lines.filter((l) => l.resource === OTHER)).toHaveLength(1);
    const csv = await (await admin.get(`${gh.issuer}/console/audit/export.csv?tool=race_tool`)).text();
    const csvRows = csv.trim().split('\r\n');
    expect(csvRows).toHaveLength(3); // header and the two calls
    expect(csvRows.slice(1).every((r) => r.includes('""tool"":""race_tool""'))).toBe(true);

    const bad = await admin.page(`/audit?tool=${encodeURIComponent('a\u0001b')}`);
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('Tool is an exact tool name');
    expect((await admin.page(`/audit?tool=${'t'.repeat(257)}`)).status).toBe(400);
  });

  it('the Overview counts each server\'s calls and refusals of the last 24 hours, and its flags', async () => {
    // An old call does not count.
    await send('/mcp-server/tool-calls', { resource: NOTES, batch_id: randomUUID(), events: [event(0, { tool: 'old_tool', at: new Date(Date.now() - 2 * DAY_MS).toISOString() })] });
    const { html } = await admin.page();
    const row = (uri: string) => new RegExp(`<tr data-resource="${uri}">([\\s\\S]*?)</tr>`).exec(html)![1]!;
    const cells = (uri: string) => [...row(uri).matchAll(/<td>(?:<a [^>]*>)?(\d+)/g)].map((m) => Number(m[1]));
    // NOTES: tool.called = 3 of the first batch (allowed, tool_error, unknown) + 2 of the race + 5 of the mended
    // batch; tool.refused = 3 of the first batch. The old call is not counted.
    const count = async (type: string, resource: string) => Number(((await knex()('audit_events').where({ type, resource }).where('at', '>=', new Date(Date.now() - DAY_MS)).count('id as c').first()) as { c: string }).c);
    const notes = [await count('tool.called', NOTES), await count('tool.refused', NOTES)];
    expect(notes).toEqual([3 + 2 + 5, 3]);
    expect(cells(NOTES).slice(0, 2)).toEqual(notes);
    expect(cells(OTHER).slice(0, 2)).toEqual([1, 0]);
    // Flags: NOTES reports read_note with no scope (its other tools are clean now); OTHER has no catalogue tool.
    expect(cells(NOTES)[2]).toBe(1);
    expect(cells(OTHER)[2]).toBe(0);
    expect(html).toContain('MCP servers, last 24 hours');
  });
});

describe('the rate limit in front', () => {
  let limited: TestServer;
  let limitedDb: TestDatabase;
  beforeAll(async () => {
    limitedDb = await createTestDatabase();
    limited = await startTestServer({ ...limitedDb.env, TOKEN_RATE_LIMIT_IP: '3' });
  });
  afterAll(async () => {
    await limited?.close();
    await limitedDb?.drop();
  });

  it('every attempt costs the address a point, failed authentications too: the 4th is 429', async () => {
    const put = () => fetch(`${limited.issuer}/mcp-server/inventory`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: basic('gh_guess', 'guess') }, body: '{}' });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await put()).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    const res = await put();
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await res.json()) as { error: string }).error).toBe('temporarily_unavailable');
  });

  it('gives an authenticated reporter its point back: it may report more often than the limit', async () => {
    const other = await createTestDatabase();
    const server = await startTestServer({ ...other.env, TOKEN_RATE_LIMIT_IP: '3', RESOURCES: JSON.stringify([{ uri: NOTES, name: 'Notes', scopes: { 'notes:read': 'Read' } }]) });
    try {
      const s = server.services;
      const created = await addStaticClient({ db: s.handle.db, box: s.box, provider: server.holder.provider, registry: s.registry }, { name: 'busy server', redirectUris: [], confidential: true, resource: NOTES });
      const statuses = [];
      for (let i = 0; i < 6; i++) {
        const res = await fetch(`${server.issuer}/mcp-server/inventory`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: basic(created.client_id, created.client_secret!) }, body: JSON.stringify(inventory()) });
        statuses.push(res.status);
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    } finally {
      await server.close();
      await other.drop();
    }
  });
});
