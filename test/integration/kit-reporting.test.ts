// The kit's inventory and tool-call audit against a live Gatehouse (issue 17, items 3 and 4;
// docs/MCP-SERVER-REPORTING.md): the demo notes server, as `npm run demo` runs it, reports as its own confidential
// client — here through a TCP proxy the test can cut, so Gatehouse can be taken away from the kit alone (the kit
// keeps verifying tokens with the keys it already holds). The official SDK client signs a person in and calls tools.
//   - every call is one audit row with the right person, client, tool and outcome;
//   - with Gatehouse unreachable, calls still succeed without waiting for it, the queue holds at most its limit and
//     counts the rest, and once Gatehouse is back the held events arrive and the drops are recorded;
//   - the console's MCP server page shows the reported tools, and follows a changed list;
//   - no argument value reaches any audit row.
// What this file proves for docs/COMPATIBILITY.md (scripts/compatibility.ts reads these lines):
// compatibility: client=sdk-v1 covers=dcr,bearer
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { NOTES_SCOPES, startNotesServer, type NotesServer } from '../../demo/notes-server.js';
import { addStaticClient } from '../../src/oauth/static-clients.js';
import { consoleSignIn } from '../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { TestOAuthProvider } from '../helpers/sdk-oauth-provider.js';
import { sdkConnect, sdkSignIn } from '../helpers/sdk-sign-in.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const PERSON = { email: 'rita@example.com', password: 'a long enough password' };
const ADMIN = { email: 'sec@example.com', password: 'a long enough password' };
const MARKER = 'never-in-the-audit-log';
const QUEUE_LIMIT = 20;

let db: TestDatabase;
let gh: TestServer;
let proxy: TcpProxy;
let notes: NotesServer;
let callbackServer: Server;
let callbackUrl: string;
let reporterId: string;
let personId: string;
/** What the kit said went wrong: checked never to quote an argument. */
const kitErrors: string[] = [];

beforeAll(async () => {
  callbackServer = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => callbackServer.listen(0, '127.0.0.1', () => r()));
  callbackUrl = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/callback`;
  const mcpPort = await freePort();
  const mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, RESOURCES: JSON.stringify([{ uri: mcpUrl, name: 'Demo notes', scopes: NOTES_SCOPES, default: true }]) });
  personId = (await gh.services.users.create(PERSON)).id;
  await gh.services.users.create({ ...ADMIN, isAdmin: true });
  const s = gh.services;
  const reporter = await addStaticClient(
    { db: s.handle.db, box: s.box, provider: gh.holder.provider, registry: s.registry },
    { name: 'notes server', redirectUris: [], confidential: true, resource: mcpUrl, redirectUriSchemes: s.config.REDIRECT_URI_SCHEMES },
  );
  reporterId = reporter.client_id;
  const issuer = new URL(gh.issuer);
  proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(issuer.port) });
  notes = await startNotesServer({
    issuer: gh.issuer,
    port: mcpPort,
    resource: mcpUrl,
    report: { clientId: reporter.client_id, clientSecret: reporter.client_secret!, url: `http://127.0.0.1:${proxy.port}`, limit: QUEUE_LIMIT, flushIntervalMs: 50 },
    onError: (err) => kitErrors.push(err.message),
  });
});

afterAll(async () => {
  await notes?.close();
  await proxy?.close();
  await gh?.close();
  await db?.drop();
  await new Promise<void>((r) => (callbackServer ? callbackServer.close(() => r()) : r()));
});

type Row = Record<string, any>;
const details = (row: Row) => (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as Record<string, any>;
const toolRows = async (): Promise<Row[]> => [...(await gh.services.audit.recent({ type: 'tool.called', limit: 1000 })), ...(await gh.services.audit.recent({ type: 'tool.refused', limit: 1000 }))];

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let clientId: string;
let client: Client;
let accessToken: string;

describe('tool calls in the audit log', () => {
  it('writes one row per call with the person, the client, the tool and how it ended', async () => {
    const provider = new TestOAuthProvider(() => callbackUrl, { clientName: 'audited client' });
    await sdkSignIn(gh.issuer, notes.url, provider, PERSON);
    clientId = (provider.info as { client_id: string }).client_id;
    accessToken = provider.saved!.access_token;
    client = await sdkConnect(notes.url, provider);
    await client.callTool({ name: 'list_notes', arguments: {} });
    await client.callTool({ name: 'read_note', arguments: { id: 999 } }); // isError: no such note
    await expect(client.callTool({ name: 'delete_note', arguments: { id: 1, why: MARKER } })).rejects.toThrow(); // notes:delete not granted
    await expect(client.callTool({ name: 'drop_everything', arguments: { really: MARKER } })).rejects.toThrow(); // in no scope

    // The SDK steps up once on a 403 (a refresh, then the same call again): each attempt is a call of its own.
    const tools = ['list_notes', 'read_note', 'delete_note', 'drop_everything'];
    const rows = await eventually(toolRows, (r) => tools.every((t) => r.some((row) => details(row).tool === t)), 'a row for each tool');
    const byTool = Object.fromEntries(rows.map((r) => [details(r).tool, r]));
    expect(rows.filter((r) => details(r).tool === 'list_notes')).toHaveLength(1);
    expect(rows.filter((r) => details(r).tool === 'read_note')).toHaveLength(1);
    expect(rows.filter((r) => details(r).tool === 'delete_note').every((r) => r.type === 'tool.refused')).toBe(true);
    for (const r of rows) expect(r).toMatchObject({ actor: personId, client_id: clientId, resource: notes.url });
    expect(byTool.list_notes).toMatchObject({ type: 'tool.called', outcome: 'success' });
    expect(details(byTool.list_notes!)).toMatchObject({ result: 'allowed', scopes: ['notes:read'], reporter: reporterId });
    expect(byTool.read_note).toMatchObject({ type: 'tool.called', outcome: 'failure', reason: 'tool_error' });
    expect(byTool.delete_note).toMatchObject({ type: 'tool.refused', reason: 'insufficient_scope' });
    expect(details(byTool.delete_note!).scopes).toEqual(['notes:read', 'notes:delete']);
    expect(byTool.drop_everything).toMatchObject({ type: 'tool.refused', reason: 'unmapped_tool' });
    expect(JSON.stringify(await gh.services.audit.recent({ limit: 1000 }))).not.toContain(MARKER);
    expect(kitErrors.join('\n')).not.toContain(MARKER);
  });

  it('refuses a JSON-RPC batch larger than the SDK serves before auditing any of it (one request, thousands of rows)', async () => {
    await eventually(() => Promise.resolve(notes.guard.reportingStats().queued), (n) => n === 0, 'an empty queue');
    const before = (await toolRows()).length;
    const batch = Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'no_such_tool', arguments: {} } }));
    const res = await fetch(notes.url, { method: 'POST', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify(batch) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32600);
    await eventually(() => Promise.resolve(notes.guard.reportingStats().queued), (n) => n === 0, 'an empty queue');
    expect((await toolRows()).length).toBe(before);
  });

  it('keeps serving while Gatehouse is unreachable, bounds its queue, and delivers once Gatehouse is back', async () => {
    await eventually(() => Promise.resolve(notes.guard.reportingStats().queued), (n) => n === 0, 'an empty queue');
    const before = (await toolRows()).length;
    proxy.cut(); // connections to Gatehouse's reporting API are accepted and never answered
    const calls = QUEUE_LIMIT + 10;
    try {
      for (let i = 0; i < calls; i++) {
        const started = Date.now();
        await client.callTool({ name: 'list_notes', arguments: { i } });
        // A call never waits for the audit: were it to, it would hang for the kit's 10 s send timeout.
        expect(Date.now() - started).toBeLessThan(5000);
      }
      const held = notes.guard.reportingStats();
      expect(held.queued).toBeLessThanOrEqual(QUEUE_LIMIT);
      expect(held.dropped).toBe(calls - QUEUE_LIMIT);
      expect((await toolRows()).length).toBe(before);
    } finally {
      proxy.restore();
    }
    const rows = await eventually(toolRows, (r) => r.length >= before + QUEUE_LIMIT, 'the held events');
    expect(rows.length).toBe(before + QUEUE_LIMIT);
    const [dropped] = await eventually(() => gh.services.audit.recent({ type: 'tool.calls_dropped' }), (r) => r.length > 0, 'the drop count');
    expect(details(dropped!)).toMatchObject({ dropped: calls - QUEUE_LIMIT, reporter: reporterId });
    // Gatehouse commits the rows before it answers: the kit empties its queue when the answer arrives.
    const after = await eventually(() => Promise.resolve(notes.guard.reportingStats()), (st) => st.queued === 0, 'the kit to hear back');
    expect(after).toMatchObject({ queued: 0, dropped: calls - QUEUE_LIMIT });
  });
});

describe('the tool inventory in the console', () => {
  it('shows the tools the server reported, and follows a changed list', async () => {
    await eventually(() => gh.services.audit.recent({ type: 'mcp_server.inventory.changed' }), (r) => r.length > 0, 'the first inventory');
    const admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
    const page = `/resources/${encodeURIComponent(notes.url)}`;
    const first = await admin.page(page);
    expect(first.status).toBe(200);
    for (const tool of ['whoami', 'list_notes', 'read_note', 'add_note', 'delete_note']) expect(first.html).toContain(tool);
    expect(first.html).not.toContain('export_notes');

    // The server gains a tool no catalogue scope lists: reported, shown, and flagged.
    expect(await notes.guard.reportTools([{ name: 'list_notes', description: 'List your notes', annotations: { readOnlyHint: true } }, { name: 'export_notes', description: 'Export every note' }])).toBe(true);
    const second = await admin.page(page);
    expect(second.html).toContain('export_notes');
    expect(second.html).toMatch(/not in the catalogue/i);
    expect(second.html).toMatch(/no longer reported/i); // delete_note and the others, still in the catalogue
  });
});
