// Per-call approval (issue 18, docs/TOOL-APPROVALS.md) end to end, as a person meets it: the official MCP SDK client
// (v1, declaring URL elicitation) calls the demo notes server's delete_note, which Gatehouse marks `each-call`; the
// kit asks Gatehouse and answers -32042 with the approval URL; the person opens it in a real chromium, signs in to
// Gatehouse, sees the tool and its arguments and decides; the client's retry runs once — or not at all. Covered:
// approve → the retry runs; reject → a clear tool error; a replayed approval, changed arguments, another person's
// browser, an expired approval and concurrent retries are refused; a client without URL elicitation is told the URL in
// a tool error; the v2 client (@modelcontextprotocol/client) receives the same elicitation. The raw-HTTP side of the
// same contract is test/integration/tool-approvals.test.ts.
// What this file proves for docs/COMPATIBILITY.md (scripts/compatibility.ts reads these lines):
// compatibility: client=sdk-v1 covers=dcr,step-up,bearer
// compatibility: client=sdk-v2 covers=bearer
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client as ClientV2, ProtocolError as ProtocolErrorV2, StreamableHTTPClientTransport as StreamableHTTPClientTransportV2, UrlElicitationRequiredError as UrlElicitationRequiredErrorV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError, UrlElicitationRequiredError } from '@modelcontextprotocol/sdk/types.js';
import { decodeJwt } from 'jose';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { NOTES_APPROVALS, NOTES_SCOPES, startNotesServer, type NotesServer } from '../../demo/notes-server.js';
import { addStaticClient } from '../../src/oauth/static-clients.js';
import { launchChromium } from '../helpers/chromium.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { TestOAuthProvider } from '../helpers/sdk-oauth-provider.js';
import { personAuthorizes, sdkSignIn, type Person } from '../helpers/sdk-sign-in.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';

const NORA = { email: 'nora.approver@example.com', password: 'a long enough password' };
const OSCAR = { email: 'oscar.other@example.com', password: 'another long enough password' };

let db: TestDatabase;
let gh: TestServer;
let notes: NotesServer;
let chromium: Chromium;
let callbackServer: Server;
let callbackUrl: string;
/** Nora's SDK client (declares URL elicitation), signed in with notes:read notes:write notes:delete. */
let nora: TestOAuthProvider;
/** One browser context per person, kept signed in to Gatehouse's account pages across tests. */
let noraBrowser: BrowserContext;
let oscarBrowser: BrowserContext;

const knex = () => gh.services.handle.db;
const text = (result: unknown) => (result as { content: Array<{ text: string }> }).content[0]!.text;
const details = (row: Record<string, any>) => (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as Record<string, any>;
const isError = (result: unknown) => (result as { isError?: boolean }).isError === true;

/** A connected SDK v1 client; `urlElicitation` declares `capabilities.elicitation.url` at initialize. */
async function connect(provider: TestOAuthProvider, urlElicitation = true): Promise<Client> {
  const client = new Client({ name: 'approvals-e2e', version: '1.0.0' }, urlElicitation ? { capabilities: { elicitation: { url: {} } } } : {});
  await client.connect(new StreamableHTTPClientTransport(new URL(notes.url), { authProvider: provider }));
  return client;
}

/**
 * Step-up as the SDK does it: a call the token's scopes do not cover → 403 insufficient_scope → the SDK starts a new
 * authorization (UnauthorizedError) → the person allows → finishAuth with the wider scope.
 */
async function stepUp(provider: TestOAuthProvider, user: Person, tool: string, args: Record<string, unknown>): Promise<void> {
  const client = await connect(provider);
  provider.authorizationUrl = undefined;
  await expect(client.callTool({ name: tool, arguments: args })).rejects.toBeInstanceOf(UnauthorizedError);
  const back = await personAuthorizes(gh.issuer, provider.authorizationUrl!, user);
  if (!(back instanceof URL)) throw new Error(`step-up ended on ${back.status}`);
  await new StreamableHTTPClientTransport(new URL(notes.url), { authProvider: provider }).finishAuth(back.searchParams.get('code')!);
  await client.close();
}

/** A new DCR client of the SDK signed in as `user`, then stepped up to the scopes `steps` need. */
async function signedIn(user: Person, name: string, steps: Array<[string, Record<string, unknown>]>): Promise<TestOAuthProvider> {
  // No refresh token: the SDK (1.32) would refresh instead of re-authorizing for a wider scope (sdk-oauth-provider.ts).
  const provider = new TestOAuthProvider(() => callbackUrl, { clientName: name, keepRefreshToken: false });
  await sdkSignIn(gh.issuer, notes.url, provider, user);
  for (const [tool, args] of steps) await stepUp(provider, user, tool, args);
  return provider;
}

interface Elicitation {
  mode: string;
  elicitationId: string;
  url: string;
  message: string;
}

/** The call must fail with the SDK's URLElicitationRequiredError (-32042) naming one approval URL under the issuer. */
async function elicited(call: Promise<unknown>): Promise<Elicitation> {
  const err = await call.then(
    (result) => {
      throw new Error(`expected URL elicitation, the call returned ${JSON.stringify(result)}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UrlElicitationRequiredError);
  expect(err).toBeInstanceOf(McpError);
  const error = err as UrlElicitationRequiredError;
  expect(error.code).toBe(ErrorCode.UrlElicitationRequired);
  expect(error.code).toBe(-32042);
  expect(error.elicitations).toHaveLength(1);
  expect(error.data).toEqual({ elicitations: error.elicitations });
  const e = error.elicitations[0] as Elicitation;
  expect(e.mode).toBe('url');
  expect(e.url).toBe(`${gh.issuer}/account/approvals/${e.elicitationId}`);
  expect(e.message).toContain('delete_note');
  return e;
}

async function addNote(client: Client, words: string): Promise<number> {
  const result = await client.callTool({ name: 'add_note', arguments: { text: words } });
  expect(isError(result)).toBe(false);
  return (JSON.parse(text(result)) as { id: number }).id;
}

async function noteIds(client: Client): Promise<number[]> {
  return (JSON.parse(text(await client.callTool({ name: 'list_notes', arguments: {} }))) as Array<{ id: number }>).map((n) => n.id);
}

/**
 * Opens an approval URL in the person's browser context, signing in to Gatehouse if the context is not yet, and
 * returns the page with the HTTP status of the approval page itself (after any sign-in redirects).
 */
async function openApproval(context: BrowserContext, url: string, user: Person): Promise<{ page: Page; status: number }> {
  const page = await context.newPage();
  const first = await page.goto(url);
  if (new URL(page.url()).href === url) return { page, status: first!.status() };
  // Not signed in: Gatehouse's own login, then back to the approval page.
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  const [landed] = await Promise.all([
    page.waitForResponse((r) => r.url() === url && r.request().isNavigationRequest() && r.status() !== 303 && r.status() !== 302),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  await page.waitForLoadState();
  expect(page.url()).toBe(url);
  return { page, status: landed.status() };
}

/** Nora opens the approval, sees the tool and the arguments, and presses `decision`. */
async function decide(e: Elicitation, decision: 'approve' | 'reject', noteId: number): Promise<void> {
  const { page, status } = await openApproval(noraBrowser, e.url, NORA);
  expect(status).toBe(200);
  expect(await page.locator('h1').textContent()).toContain('delete_note');
  expect(await page.locator('pre.arguments').textContent()).toContain(`"id": ${noteId}`);
  await page.locator(`button[name=decision][value=${decision}]`).click();
  await page.getByRole('heading', { name: decision === 'approve' ? 'Approved' : 'Rejected' }).waitFor();
  await page.close();
  expect((await knex()('tool_approvals').where({ id: e.elicitationId }).first()).status).toBe(decision === 'approve' ? 'approved' : 'rejected');
}

beforeAll(async () => {
  callbackServer = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => callbackServer.listen(0, '127.0.0.1', () => resolve()));
  callbackUrl = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/callback`;
  const mcpPort = await freePort();
  const mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, RESOURCES: JSON.stringify([{ uri: mcpUrl, name: 'Demo notes', scopes: NOTES_SCOPES, tool_approval: NOTES_APPROVALS, default: true }]) });
  await gh.services.users.create(NORA);
  await gh.services.users.create(OSCAR);
  const s = gh.services;
  const reporter = await addStaticClient(
    { db: s.handle.db, box: s.box, provider: gh.holder.provider, registry: s.registry },
    { name: 'notes server', redirectUris: [], confidential: true, resource: mcpUrl, redirectUriSchemes: s.config.REDIRECT_URI_SCHEMES },
  );
  notes = await startNotesServer({ issuer: gh.issuer, port: mcpPort, resource: mcpUrl, report: { clientId: reporter.client_id, clientSecret: reporter.client_secret! } });
  chromium = await launchChromium();
  noraBrowser = await chromium.newContext();
  oscarBrowser = await chromium.newContext();
  nora = await signedIn(NORA, 'Notes agent', [
    ['add_note', { text: 'step up' }],
    ['delete_note', { id: 0 }],
  ]);
  expect(String(decodeJwt(nora.saved!.access_token).scope).split(' ').sort()).toEqual(['notes:delete', 'notes:read', 'notes:write']);
});

afterAll(async () => {
  await noraBrowser?.close();
  await oscarBrowser?.close();
  await chromium?.close();
  await notes?.close();
  await gh?.close();
  await db?.drop();
  await new Promise<void>((resolve) => (callbackServer ? callbackServer.close(() => resolve()) : resolve()));
});

describe('an SDK client that declared URL elicitation, and the person in a real browser', () => {
  it('delete_note → -32042 with the approval URL → the person signs in, sees the call, approves → the retry runs', async () => {
    const client = await connect(nora);
    const id = await addNote(client, 'to be deleted after approval');
    const e = await elicited(client.callTool({ name: 'delete_note', arguments: { id } }));
    expect(new URL(e.url).origin).toBe(gh.issuer);
    expect(await noteIds(client)).toContain(id); // not run while pending
    // Asked again before the person decided: the same request, still not run.
    expect((await elicited(client.callTool({ name: 'delete_note', arguments: { id } }))).elicitationId).toBe(e.elicitationId);

    // The first visit signs Nora in to Gatehouse's account pages (the session then stays in her context).
    const { page, status } = await openApproval(noraBrowser, e.url, NORA);
    expect(status).toBe(200);
    expect(await page.locator('h1').textContent()).toContain('delete_note');
    expect(await page.content()).toContain('Notes agent');
    expect(await page.content()).toContain('Demo notes');
    expect(await page.locator('pre.arguments').textContent()).toContain(`"id": ${id}`);
    await page.locator('button[name=decision][value=approve]').click();
    await page.getByRole('heading', { name: 'Approved' }).waitFor();
    await page.close();

    const result = await client.callTool({ name: 'delete_note', arguments: { id } });
    expect(isError(result)).toBe(false);
    expect(text(result)).toBe(`deleted note ${id}`);
    expect(await noteIds(client)).not.toContain(id);
    const row = await knex()('tool_approvals').where({ id: e.elicitationId }).first();
    expect(row.used_at).not.toBeNull();
    await client.close();
  });

  it('Reject → the retried call is a tool error saying the person rejected it; the note stays', async () => {
    const client = await connect(nora);
    const id = await addNote(client, 'to be kept');
    const e = await elicited(client.callTool({ name: 'delete_note', arguments: { id } }));
    await decide(e, 'reject', id);
    const result = await client.callTool({ name: 'delete_note', arguments: { id } });
    expect(isError(result)).toBe(true);
    expect(text(result)).toMatch(/rejected/i);
    expect(text(result)).not.toContain(`deleted note ${id}`);
    expect(await noteIds(client)).toContain(id);
    // The rejection was told once: the same call asks again.
    const again = await elicited(client.callTool({ name: 'delete_note', arguments: { id } }));
    expect(again.elicitationId).not.toBe(e.elicitationId);
    await client.close();
  });

  it('an approval is used once: a second retry of the same call is asked again, not run', async () => {
    const client = await connect(nora);
    const id = await addNote(client, 'deleted once');
    const e = await elicited(client.callTool({ name: 'delete_note', arguments: { id } }));
    await decide(e, 'approve', id);
    expect(text(await client.callTool({ name: 'delete_note', arguments: { id } }))).toBe(`deleted note ${id}`);
    // Had it run again, the tool would answer "no note <id>" (isError); it is not reached: a new approval is asked.
    const second = await elicited(client.callTool({ name: 'delete_note', arguments: { id } }));
    expect(second.elicitationId).not.toBe(e.elicitationId);
    expect((await knex()('tool_approvals').where({ id: second.elicitationId }).first()).status).toBe('pending');
    await client.close();
  });

  it('changed arguments after approval are another call: asked again, and they do not consume the approval', async () => {
    const client = await connect(nora);
    const approvedId = await addNote(client, 'approved for deletion');
    const otherId = await addNote(client, 'never approved');
    const e = await elicited(client.callTool({ name: 'delete_note', arguments: { id: approvedId } }));
    await decide(e, 'approve', approvedId);
    const swapped = await elicited(client.callTool({ name: 'delete_note', arguments: { id: otherId } }));
    expect(swapped.elicitationId).not.toBe(e.elicitationId);
    expect(await noteIds(client)).toEqual(expect.arrayContaining([approvedId, otherId]));
    const row = await knex()('tool_approvals').where({ id: e.elicitationId }).first();
    expect([row.status, row.used_at]).toEqual(['approved', null]);
    // The approved call still runs, once.
    expect(text(await client.callTool({ name: 'delete_note', arguments: { id: approvedId } }))).toBe(`deleted note ${approvedId}`);
    const left = await noteIds(client);
    expect(left).toContain(otherId);
    expect(left).not.toContain(approvedId);
    await client.close();
  });

  it('another person\'s browser cannot approve: the page answers 403, and the call still does not run', async () => {
    const client = await connect(nora);
    const id = await addNote(client, 'only Nora decides');
    const e = await elicited(client.callTool({ name: 'delete_note', arguments: { id } }));
    const { page, status } = await openApproval(oscarBrowser, e.url, OSCAR);
    expect(status).toBe(403);
    expect(await page.content()).toContain('Not your approval');
    expect(await page.locator('button[name=decision]').count()).toBe(0);
    expect(await page.locator('pre.arguments').count()).toBe(0);
    // Even a form post from Oscar's signed-in session, with his own CSRF token, is refused.
    const home = await oscarBrowser.newPage();
    await home.goto(`${gh.issuer}/account`);
    const csrf = await home.locator('input[name=_csrf]').first().getAttribute('value');
    expect(csrf).toBeTruthy();
    const posted = await home.request.post(e.url, { form: { _csrf: csrf!, decision: 'approve' }, headers: { origin: gh.issuer }, maxRedirects: 0 });
    expect(posted.status()).toBe(403);
    expect(await posted.text()).toContain('Not your approval'); // refused as not his, not as a bad form
    await home.close();
    await page.close();
    expect((await knex()('tool_approvals').where({ id: e.elicitationId }).first()).status).toBe('pending');
    const refusals = (await knex()('audit_events').where({ type: 'tool.approval.refused' })).filter((r: Record<string, any>) => details(r).approval_id === e.elicitationId);
    expect(refusals.length).toBe(2); // the page and the post
    expect(refusals.every((r: Record<string, any>) => r.actor === OSCAR.email)).toBe(true);
    const retry = await elicited(client.callTool({ name: 'delete_note', arguments: { id } }));
    expect(retry.elicitationId).toBe(e.elicitationId);
    expect(await noteIds(client)).toContain(id);
    await client.close();
  });

  it('an approval past its time is not honoured: the retry is asked again, not run', async () => {
    const client = await connect(nora);
    const id = await addNote(client, 'approved too long ago');
    const e = await elicited(client.callTool({ name: 'delete_note', arguments: { id } }));
    await decide(e, 'approve', id);
    await knex()('tool_approvals').where({ id: e.elicitationId }).update({ expires_at: new Date(Date.now() - 1000) });
    const retry = await elicited(client.callTool({ name: 'delete_note', arguments: { id } }));
    expect(retry.elicitationId).not.toBe(e.elicitationId);
    expect(await noteIds(client)).toContain(id);
    expect((await knex()('tool_approvals').where({ id: e.elicitationId }).first()).used_at).toBeNull();
    await client.close();
  });

  it('concurrent retries with one approval over separate clients sharing the token: exactly one runs', async () => {
    const first = await connect(nora);
    const id = await addNote(first, 'raced for');
    const e = await elicited(first.callTool({ name: 'delete_note', arguments: { id } }));
    await decide(e, 'approve', id);
    const clients = [first, ...(await Promise.all(Array.from({ length: 5 }, () => connect(nora))))];
    const outcomes = await Promise.allSettled(clients.map((c) => c.callTool({ name: 'delete_note', arguments: { id } })));
    const ran = outcomes.filter((o) => o.status === 'fulfilled');
    // Exactly one call reached the tool (a second run would be a fulfilled "no note <id>" tool error).
    expect(ran).toHaveLength(1);
    expect(text((ran[0] as PromiseFulfilledResult<unknown>).value)).toBe(`deleted note ${id}`);
    for (const o of outcomes.filter((o) => o.status === 'rejected')) {
      const reason = (o as PromiseRejectedResult).reason as UrlElicitationRequiredError;
      expect(reason).toBeInstanceOf(UrlElicitationRequiredError);
      expect(reason.elicitations[0]!.elicitationId).not.toBe(e.elicitationId);
    }
    const used = await knex()('audit_events').where({ type: 'tool.approval.used' });
    expect(used.filter((r: Record<string, any>) => details(r).approval_id === e.elicitationId)).toHaveLength(1);
    await Promise.all(clients.map((c) => c.close()));
  });
});

describe('an SDK client that did not declare URL elicitation', () => {
  it('gets a tool result with isError whose text carries the approval URL, and the call does not run', async () => {
    const plain = await signedIn(NORA, 'Plain agent', [
      ['add_note', { text: 'step up' }],
      ['delete_note', { id: 0 }],
    ]);
    const client = await connect(plain, false);
    const id = await addNote(client, 'asked in a tool error');
    const result = await client.callTool({ name: 'delete_note', arguments: { id } });
    expect(isError(result)).toBe(true);
    const url = /(http:\/\/\S+\/account\/approvals\/[\w-]+)/.exec(text(result))?.[1];
    expect(url).toBeDefined();
    expect(url!.startsWith(`${gh.issuer}/account/approvals/`)).toBe(true);
    const approvalId = url!.split('/').pop()!;
    const row = await knex()('tool_approvals').where({ id: approvalId }).first();
    expect(row.status).toBe('pending');
    expect(await noteIds(client)).toContain(id);
    // The same URL works the same way: approved in the browser, the retry runs.
    await decide({ mode: 'url', elicitationId: approvalId, url: url!, message: '' }, 'approve', id);
    expect(text(await client.callTool({ name: 'delete_note', arguments: { id } }))).toBe(`deleted note ${id}`);
    await client.close();
  });
});

describe('the v2 SDK client (@modelcontextprotocol/client 2.4)', () => {
  it('declaring URL elicitation, receives the elicitation as its UrlElicitationRequiredError, and its retry runs once approved', async () => {
    // Nora's token from the v1 sign-in: what is under test is how v2 meets the kit's answer, not its OAuth.
    const client = new ClientV2({ name: 'approvals-e2e-v2', version: '2.0.0' }, { capabilities: { elicitation: { url: {} } } });
    const transport = new StreamableHTTPClientTransportV2(new URL(notes.url), { authProvider: nora });
    await client.connect(transport);
    // The demo server (SDK v1) speaks 2025-11-25: v2 falls back to initialize, so the kit answers -32042 (form 2).
    expect(transport.protocolVersion).toBe('2025-11-25');
    const added = await client.callTool({ name: 'add_note', arguments: { text: 'deleted by the v2 client' } });
    const id = (JSON.parse(text(added)) as { id: number }).id;
    const err = await client.callTool({ name: 'delete_note', arguments: { id } }).then(
      (result) => {
        throw new Error(`expected URL elicitation, the call returned ${JSON.stringify(result)}`);
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UrlElicitationRequiredErrorV2);
    expect(err).toBeInstanceOf(ProtocolErrorV2);
    const error = err as UrlElicitationRequiredErrorV2;
    expect(error.code).toBe(-32042);
    expect(error.elicitations).toHaveLength(1);
    const e = error.elicitations[0] as Elicitation;
    expect(e).toMatchObject({ mode: 'url', url: `${gh.issuer}/account/approvals/${e.elicitationId}` });
    expect(await noteIdsV2(client)).toContain(id);
    await decide(e, 'approve', id);
    const result = await client.callTool({ name: 'delete_note', arguments: { id } });
    expect(isError(result)).toBe(false);
    expect(text(result)).toBe(`deleted note ${id}`);
    await client.close();
  });
});

async function noteIdsV2(client: ClientV2): Promise<number[]> {
  return (JSON.parse(text(await client.callTool({ name: 'list_notes', arguments: {} }))) as Array<{ id: number }>).map((n) => n.id);
}
