// Per-call approval (issue 18, docs/TOOL-APPROVALS.md, "What the client is told", form 1) end to end on MCP protocol
// revision 2026-07-28: the official v2 client (@modelcontextprotocol/client) negotiates 2026-07-28 (server/discover)
// with an official v2 server (@modelcontextprotocol/server, createMcpHandler) behind the kit (`protectedResource`,
// node:http, with `report` credentials). Its call of `delete_note`, which Gatehouse marks `each-call`, is answered by
// the kit with an InputRequiredResult carrying a URL elicitation; the client's own multi-round-trip driver hands it
// to the registered `elicitation/create` handler, which opens the URL in a real chromium where the person signs in
// and decides, answers `accept`, and the driver retries at once. The kit holds that retry until the person decided:
// approved → the tool runs once; rejected → a tool error; nobody decided within `approvalWaitMs` → input_required
// again. The client pins 2026-07-28 (`versionNegotiation: { mode: { pin } }`): in 2.4.0 the default mode is
// 'legacy' (initialize, 2025-11-25). The legacy forms (-32042, the tool error) are test/e2e/mcp-sdk-approvals.test.ts.
// What this file proves for docs/COMPATIBILITY.md (scripts/compatibility.ts reads these lines):
// compatibility: client=sdk-v2 covers=bearer
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { protectedResource, type ProtectedResource } from '@gatehouse/resource-server';
import { Client, SdkError, SdkErrorCode, StreamableHTTPClientTransport, type ElicitRequest } from '@modelcontextprotocol/client';
import { createMcpHandler, McpServer, type McpHttpHandler } from '@modelcontextprotocol/server';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { z } from 'zod';
import { NOTES_APPROVALS, NOTES_SCOPES } from '../../demo/notes-server.js';
import { addStaticClient } from '../../src/oauth/static-clients.js';
import { launchChromium } from '../helpers/chromium.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { TestOAuthProvider } from '../helpers/sdk-oauth-provider.js';
import { sdkSignIn, type Person } from '../helpers/sdk-sign-in.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';

const MODERN = '2026-07-28';
const PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';
const CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
const NORA = { email: 'nora.modern@example.com', password: 'a long enough password' };
/** The kit behind `/mcp-short` waits this long for a decision (the one behind `/mcp`: the default, 60 s). */
const SHORT_WAIT_MS = 2000;

let db: TestDatabase;
let gh: TestServer;
let chromium: Chromium;
let noraBrowser: BrowserContext;
let callbackServer: Server;
let callbackUrl: string;
let mcpUrl: string;
let shortUrl: string;
let mcp: ModernNotesServer;
/** Nora's access token for the v2 server's resource (notes:read notes:write notes:delete). */
let token: string;

const knex = () => gh.services.handle.db;
const text = (result: unknown) => (result as { content: Array<{ text: string }> }).content[0]!.text;
const isError = (result: unknown) => (result as { isError?: boolean }).isError === true;

interface ModernNotesServer {
  notes: Map<number, string>;
  /** delete_note runs, in order. */
  deletions: number[];
  /** The `inputResponses` each delete_note run saw (the kit removes its own answer before the server sees it). */
  inputResponsesSeen: unknown[];
  /** Each delete_note run's protocol version: the request's envelope, then what the server instance was bound to. */
  versionsSeen: string[];
  close(): Promise<void>;
}

/**
 * An official v2 MCP server (createMcpHandler: 2026-07-28 per request, 2025 stateless fallback) behind the kit on
 * plain node:http. Two guards of the same resource: `/mcp` with the default `approvalWaitMs`, `/mcp-short` with
 * SHORT_WAIT_MS. The kit parsed the body (and removed its own `inputResponses` entry): the handler gets that body.
 */
async function startModernNotesServer(port: number, resource: string, report: { clientId: string; clientSecret: string }): Promise<ModernNotesServer & { guards: ProtectedResource[] }> {
  const notes = new Map<number, string>();
  const deletions: number[] = [];
  const inputResponsesSeen: unknown[] = [];
  const versionsSeen: string[] = [];
  let nextId = 1;
  const factory = () => {
    const server = new McpServer({ name: 'modern-notes', version: '2.0.0' });
    server.registerTool('add_note', { description: 'Add a note', inputSchema: z.object({ text: z.string() }) }, async ({ text: words }) => {
      const id = nextId++;
      notes.set(id, words);
      return { content: [{ type: 'text' as const, text: JSON.stringify({ id }) }] };
    });
    server.registerTool('list_notes', { description: 'List your notes' }, async () => ({ content: [{ type: 'text' as const, text: JSON.stringify([...notes.keys()]) }] }));
    server.registerTool('delete_note', { description: 'Delete a note', annotations: { destructiveHint: true }, inputSchema: z.object({ id: z.number().int() }) }, async ({ id }, ctx) => {
      deletions.push(id);
      inputResponsesSeen.push((ctx.mcpReq as { inputResponses?: unknown }).inputResponses);
      const envelope = (ctx.mcpReq as { envelope?: Record<string, unknown> }).envelope;
      versionsSeen.push(`${String(envelope?.[PROTOCOL_VERSION])} ${server.server.getNegotiatedProtocolVersion()}`);
      if (!notes.delete(id)) return { content: [{ type: 'text' as const, text: `no note ${id}` }], isError: true };
      return { content: [{ type: 'text' as const, text: `deleted note ${id}` }] };
    });
    return server;
  };
  const handler: McpHttpHandler = createMcpHandler(factory);
  const guard = (approvalWaitMs?: number) => protectedResource({ issuer: gh.issuer, resource, report, ...(approvalWaitMs ? { approvalWaitMs } : {}) });
  const guards = [guard(), guard(SHORT_WAIT_MS)];
  const tools = [
    { name: 'add_note', description: 'Add a note' },
    { name: 'list_notes', description: 'List your notes', annotations: { readOnlyHint: true } },
    { name: 'delete_note', description: 'Delete a note', annotations: { destructiveHint: true } },
  ];
  await guards[0]!.reportTools(tools);

  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const auth = await guards[path === '/mcp-short' ? 1 : 0]!.authenticate(req, res);
    if (!auth) return; // the kit answered: metadata, 401, 403, or the call waits for approval
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || ['host', 'content-length', 'connection', 'transfer-encoding'].includes(name)) continue;
      headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const body = auth.body === undefined ? undefined : JSON.stringify(auth.body);
    const request = new Request(`http://127.0.0.1:${port}${req.url}`, { method: req.method, headers, body });
    const authInfo = (req as IncomingMessage & { auth?: unknown }).auth;
    const response = await handler.fetch(request, { authInfo: authInfo as never, parsedBody: auth.body });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (response.body) for await (const chunk of response.body) res.write(chunk);
    res.end();
  };
  const server = createServer((req, res) => {
    serve(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return {
    notes,
    deletions,
    inputResponsesSeen,
    versionsSeen,
    guards,
    close: async () => {
      await handler.close();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      for (const g of guards) await g.close();
    },
  };
}

interface Exchange {
  request: Record<string, any>;
  sentAt: number;
  status?: number;
  response?: Record<string, any>;
  answeredAt?: number;
}

/** The v2 client's HTTP, recorded: every JSON-RPC POST with its JSON answer, and when each left and came back. */
function recordingFetch(exchanges: Exchange[]): typeof fetch {
  return async (input, init) => {
    const exchange: Exchange | undefined = typeof init?.body === 'string' ? { request: JSON.parse(init.body) as Record<string, any>, sentAt: Date.now() } : undefined;
    if (exchange) exchanges.push(exchange);
    const response = await fetch(input, init);
    if (exchange) {
      exchange.status = response.status;
      if ((response.headers.get('content-type') ?? '').includes('application/json')) exchange.response = (await response.clone().json()) as Record<string, any>;
      exchange.answeredAt = Date.now();
    }
    return response;
  };
}

interface Modern {
  client: Client;
  transport: StreamableHTTPClientTransport;
  exchanges: Exchange[];
  /** The `elicitation/create` requests the client's driver handed to the handler. */
  elicitations: Array<ElicitRequest['params']>;
}

/**
 * The v2 client declaring URL elicitation, connected over 2026-07-28, with Nora's token; `onUrl` is what the person
 * and the client do with an approval URL before the handler answers `accept`.
 */
async function connectModern(url: string, onUrl: (url: string) => Promise<void>, options: { maxRounds?: number } = {}): Promise<Modern> {
  const exchanges: Exchange[] = [];
  const elicitations: Modern['elicitations'] = [];
  const client = new Client({ name: 'approvals-e2e-modern', version: '2.0.0' }, { capabilities: { elicitation: { url: {} } }, versionNegotiation: { mode: { pin: MODERN } }, ...(options.maxRounds ? { inputRequired: { maxRounds: options.maxRounds } } : {}) });
  client.setRequestHandler('elicitation/create', async (request) => {
    elicitations.push(request.params);
    if (request.params.mode !== 'url') return { action: 'decline' };
    await onUrl(request.params.url);
    return { action: 'accept' };
  });
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: recordingFetch(exchanges), requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  expect(transport.protocolVersion).toBe(MODERN);
  return { client, transport, exchanges, elicitations };
}

/** The tools/call exchanges of `tool`, in order. */
const callsOf = (m: Modern, tool: string) => m.exchanges.filter((e) => e.request.method === 'tools/call' && e.request.params?.name === tool);

/** The first answer was the kit's InputRequiredResult asking for the URL elicitation; returns the approval id. */
function expectInputRequired(exchange: Exchange, url: string): string {
  expect(exchange.status).toBe(200);
  expect(exchange.response).toEqual({
    jsonrpc: '2.0',
    id: exchange.request.id,
    result: { resultType: 'input_required', inputRequests: { gatehouse_approval: { method: 'elicitation/create', params: { mode: 'url', message: expect.stringContaining('delete_note'), url } } } },
  });
  expect(url.startsWith(`${gh.issuer}/account/approvals/`)).toBe(true);
  return url.split('/').pop()!;
}

/** A request of revision 2026-07-28 that declares URL elicitation in its `_meta` (what makes the kit use form 1). */
function expectModernRequest(exchange: Exchange): void {
  const meta = exchange.request.params?._meta as Record<string, any>;
  expect(meta?.[PROTOCOL_VERSION]).toBe(MODERN);
  expect(meta?.[CLIENT_CAPABILITIES]?.elicitation?.url).toEqual({});
}

/** Opens an approval URL in Nora's browser context, signing in to Gatehouse the first time. */
async function openApproval(context: BrowserContext, url: string, user: Person): Promise<Page> {
  const page = await context.newPage();
  const first = await page.goto(url);
  if (new URL(page.url()).href === url) {
    expect(first!.status()).toBe(200);
    return page;
  }
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  const [landed] = await Promise.all([
    page.waitForResponse((r) => r.url() === url && r.request().isNavigationRequest() && r.status() !== 303 && r.status() !== 302),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  await page.waitForLoadState();
  expect(page.url()).toBe(url);
  expect(landed.status()).toBe(200);
  return page;
}

/** Nora sees the call of delete_note with its arguments and presses `decision`; `before` runs just before the press. */
async function decide(url: string, decision: 'approve' | 'reject', noteId: number, before?: () => Promise<void>): Promise<number> {
  const page = await openApproval(noraBrowser, url, NORA);
  expect(await page.locator('h1').textContent()).toContain('delete_note');
  expect(await page.locator('pre.arguments').textContent()).toContain(`"id": ${noteId}`);
  await before?.();
  const pressedAt = Date.now();
  await page.locator(`button[name=decision][value=${decision}]`).click();
  await page.getByRole('heading', { name: decision === 'approve' ? 'Approved' : 'Rejected' }).waitFor();
  await page.close();
  return pressedAt;
}

/** Polls a condition (every 20 ms, at most `ms`). */
async function until(what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !condition(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function addNote(client: Client, words: string): Promise<number> {
  const result = await client.callTool({ name: 'add_note', arguments: { text: words } });
  expect(isError(result)).toBe(false);
  return (JSON.parse(text(result)) as { id: number }).id;
}

beforeAll(async () => {
  callbackServer = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => callbackServer.listen(0, '127.0.0.1', () => resolve()));
  callbackUrl = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/callback`;
  const mcpPort = await freePort();
  mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;
  shortUrl = `http://127.0.0.1:${mcpPort}/mcp-short`;
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, RESOURCES: JSON.stringify([{ uri: mcpUrl, name: 'Modern notes', scopes: NOTES_SCOPES, tool_approval: NOTES_APPROVALS, default: true }]) });
  await gh.services.users.create(NORA);
  const s = gh.services;
  const reporter = await addStaticClient(
    { db: s.handle.db, box: s.box, provider: gh.holder.provider, registry: s.registry },
    { name: 'modern notes server', redirectUris: [], confidential: true, resource: mcpUrl, redirectUriSchemes: s.config.REDIRECT_URI_SCHEMES },
  );
  mcp = await startModernNotesServer(mcpPort, mcpUrl, { clientId: reporter.client_id, clientSecret: reporter.client_secret! });
  chromium = await launchChromium();
  noraBrowser = await chromium.newContext();
  // Nora's token from the v1 SDK's sign-in at the kit's 401 (which asks for every scope of the catalogue): what is
  // under test is how the v2 client meets the kit's answer on 2026-07-28, not its OAuth.
  const provider = new TestOAuthProvider(() => callbackUrl, { clientName: 'Modern agent' });
  await sdkSignIn(gh.issuer, mcpUrl, provider, NORA);
  token = provider.saved!.access_token;
});

afterAll(async () => {
  await noraBrowser?.close();
  await chromium?.close();
  await mcp?.close();
  await gh?.close();
  await db?.drop();
  await new Promise<void>((resolve) => (callbackServer ? callbackServer.close(() => resolve()) : resolve()));
});

describe('the v2 SDK client on protocol revision 2026-07-28, and the person in a real browser', () => {
  it('delete_note → input_required with the URL elicitation → accept and retry at once → the kit holds it → approved → runs once', async () => {
    let approving: Promise<number> | undefined;
    let m: Modern | undefined;
    let id = 0;
    const retrySent = () => callsOf(m!, 'delete_note').length >= 2;
    // The client accepts as soon as the page is open; the person decides only once the retry is on its way.
    m = await connectModern(mcpUrl, async (url) => {
      expect(mcp.deletions).toEqual([]); // not run while pending
      approving = decide(url, 'approve', id, () => until('the retry', retrySent));
    });
    // Negotiated with server/discover, never the 2025 initialize.
    expect(m.exchanges.map((e) => e.request.method)).toContain('server/discover');
    expect(m.exchanges.map((e) => e.request.method)).not.toContain('initialize');
    id = await addNote(m.client, 'deleted after approval');

    const result = await m.client.callTool({ name: 'delete_note', arguments: { id } });
    const pressedAt = await approving!;
    expect(isError(result)).toBe(false);
    expect(text(result)).toBe(`deleted note ${id}`);
    expect(mcp.deletions).toEqual([id]);
    expect(mcp.notes.has(id)).toBe(false);

    // What went over the wire: the first answer was form 1, the retry answered the kit's own input request.
    expect(m.elicitations).toHaveLength(1);
    const elicitation = m.elicitations[0] as { mode: string; url: string; message: string };
    expect(elicitation.mode).toBe('url');
    const calls = callsOf(m, 'delete_note');
    expect(calls).toHaveLength(2);
    for (const call of calls) expectModernRequest(call);
    const approvalId = expectInputRequired(calls[0]!, elicitation.url);
    expect(calls[0]!.request.params.inputResponses).toBeUndefined();
    expect(calls[1]!.request.params.inputResponses).toEqual({ gatehouse_approval: { action: 'accept' } });
    expect(calls[1]!.request.params.arguments).toEqual({ id });
    expect(calls[1]!.response?.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: `deleted note ${id}` }] });
    // The kit held the retry: sent before the person pressed Approve, answered after.
    expect(calls[1]!.sentAt).toBeLessThan(pressedAt);
    expect(calls[1]!.answeredAt!).toBeGreaterThan(pressedAt);
    // The server ran on 2026-07-28 and never saw the kit's round trip.
    expect(mcp.versionsSeen).toEqual([`${MODERN} ${MODERN}`]);
    expect(mcp.inputResponsesSeen).toEqual([undefined]);

    const row = await knex()('tool_approvals').where({ id: approvalId }).first();
    expect(row.status).toBe('approved');
    expect(row.used_at).not.toBeNull();
    expect(JSON.parse(text(await m.client.callTool({ name: 'list_notes', arguments: {} })))).not.toContain(id);
    await m.client.close();
  });

  it('Reject while the kit holds the retry → a tool error saying the person rejected it; the tool did not run, the note stays', async () => {
    let id = 0;
    let rejecting: Promise<number> | undefined;
    let m: Modern | undefined;
    m = await connectModern(mcpUrl, async (url) => {
      rejecting = decide(url, 'reject', id, () => until('the retry', () => callsOf(m!, 'delete_note').length >= 2));
    });
    id = await addNote(m.client, 'to be kept');
    const before = mcp.deletions.length;

    const result = await m.client.callTool({ name: 'delete_note', arguments: { id } });
    const pressedAt = await rejecting!;
    expect(isError(result)).toBe(true);
    expect(text(result)).toMatch(/rejected/i);
    expect(text(result)).not.toContain(`deleted note ${id}`);
    expect(mcp.deletions).toHaveLength(before);
    expect(mcp.notes.has(id)).toBe(true);

    expect(m.elicitations).toHaveLength(1);
    const calls = callsOf(m, 'delete_note');
    expect(calls).toHaveLength(2);
    for (const call of calls) expectModernRequest(call);
    const approvalId = expectInputRequired(calls[0]!, (m.elicitations[0] as { url: string }).url);
    expect(calls[1]!.request.params.inputResponses).toEqual({ gatehouse_approval: { action: 'accept' } });
    expect(calls[1]!.response?.result).toMatchObject({ resultType: 'complete', isError: true });
    expect(calls[1]!.sentAt).toBeLessThan(pressedAt);
    expect(calls[1]!.answeredAt!).toBeGreaterThan(pressedAt);
    const row = await knex()('tool_approvals').where({ id: approvalId }).first();
    expect(row.status).toBe('rejected');
    expect(JSON.parse(text(await m.client.callTool({ name: 'list_notes', arguments: {} })))).toContain(id);
    await m.client.close();
  });

  it('nobody decides within approvalWaitMs → the held retry is answered input_required again; the tool does not run', async () => {
    let id = 0;
    // One round only: the driver's second input_required ends the call with the SDK's typed error.
    const m = await connectModern(shortUrl, async () => {}, { maxRounds: 1 });
    id = await addNote(m.client, 'nobody decides');
    const before = mcp.deletions.length;

    const err = await m.client.callTool({ name: 'delete_note', arguments: { id } }).then(
      (result) => {
        throw new Error(`expected input_required again, the call returned ${JSON.stringify(result)}`);
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SdkError);
    expect((err as SdkError).code).toBe(SdkErrorCode.InputRequiredRoundsExceeded);
    const calls = callsOf(m, 'delete_note');
    expect(calls).toHaveLength(2);
    const url = (m.elicitations[0] as { url: string }).url;
    const approvalId = expectInputRequired(calls[0]!, url);
    expect(calls[1]!.request.params.inputResponses).toEqual({ gatehouse_approval: { action: 'accept' } });
    // Held about SHORT_WAIT_MS (polling each second), then told to wait again for the same approval.
    const held = calls[1]!.answeredAt! - calls[1]!.sentAt;
    expect(held).toBeGreaterThanOrEqual(SHORT_WAIT_MS - 1000);
    expect(held).toBeLessThan(SHORT_WAIT_MS + 1000);
    expectInputRequired(calls[1]!, url);
    expect(mcp.deletions).toHaveLength(before);
    expect(mcp.notes.has(id)).toBe(true);
    expect((await knex()('tool_approvals').where({ id: approvalId }).first()).status).toBe('pending');
    await m.client.close();
  });
});
