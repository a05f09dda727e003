// Issue 5 end to end: the official MCP SDK client (StreamableHTTPClientTransport + an OAuthClientProvider) against the
// demo notes server, which the resource-server kit protects. The person's sign-in and consent are driven over real
// HTTP with a cookie jar (chromium drives the same pages in mcp-sdk-browser.test.ts). Covered: 401 → RFC 9728 → RFC 8414
// → DCR or CIMD → authorization → token → tools/list → tools/call; an access token the server no longer accepts →
// the SDK refreshes; a revoked grant → the SDK re-authorizes; step-up to a wider scope; a scope the access rules
// refuse; a token for another resource.
// What this file proves for docs/COMPATIBILITY.md (scripts/compatibility.ts reads these lines):
// compatibility: client=sdk-v1 covers=dcr,cimd,refresh,step-up,bearer
// compatibility: client=sdk-v2 covers=dcr,refresh,step-up,bearer
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2, UnauthorizedError as UnauthorizedV2 } from '@modelcontextprotocol/client';
import { decodeJwt } from 'jose';
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { TestOAuthProvider, type TestOAuthProviderOptions } from '../helpers/sdk-oauth-provider.js';
import { personAuthorizes as personAuthorizesAt } from '../helpers/sdk-sign-in.js';
import { DocumentHost, makeTestPki, type TestPki } from '../helpers/cimd-fixture.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { NOTES_SCOPES, startNotesServer, type NotesServer } from '../../demo/notes-server.js';

const USER = { email: 'nora@example.com', password: 'a long enough password' };
const NO_DELETE = { email: 'dan@example.com', password: 'a long enough password' };

let db: TestDatabase;
let gh: TestServer;
let notes: NotesServer;
let callbackServer: Server;
let callbackUrl: string;
let pki: TestPki;
let docHost: DocumentHost;

/** The SDK client's provider, answering at this file's callback server. */
class Provider extends TestOAuthProvider {
  constructor(options: TestOAuthProviderOptions = {}) {
    super(() => callbackUrl, { clientName: 'SDK notes client', ...options });
  }
}

/** The person's part: sign in and press Allow (or meet a denial); returns the redirect to the client. */
const personAuthorizes = (url: URL, user = USER) => personAuthorizesAt(gh.issuer, url, user);

async function connect(provider: Provider): Promise<Client> {
  const client = new Client({ name: 'notes-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(notes.url), { authProvider: provider }));
  return client;
}

/** connect → 401 → the SDK's whole discovery and registration → the person authorizes → finishAuth. */
async function authorizeFresh(provider: Provider, user = USER): Promise<URL> {
  const transport = new StreamableHTTPClientTransport(new URL(notes.url), { authProvider: provider });
  await expect(new Client({ name: 'notes-e2e', version: '1.0.0' }).connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
  const back = await personAuthorizes(provider.authorizationUrl!, user);
  if (!(back instanceof URL)) throw new Error(`authorization ended on ${back.status}: ${(await back.text()).slice(0, 300)}`);
  const code = back.searchParams.get('code');
  if (code) await transport.finishAuth(code);
  return back;
}

const text = (result: unknown) => (result as { content: Array<{ text: string }> }).content[0]!.text;

beforeAll(async () => {
  pki = makeTestPki();
  docHost = new DocumentHost(pki);
  await docHost.start();
  callbackServer = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => callbackServer.listen(0, '127.0.0.1', () => resolve()));
  callbackUrl = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/callback`;
  db = await createTestDatabase();
  const port = await freePort();
  notes = await startNotesServer({ issuer: `http://127.0.0.1:${port}` });
  gh = await startTestServer(
    { ...db.env, CIMD_ALLOW_PRIVATE_ADDRESSES: 'true', RESOURCES: JSON.stringify([{ uri: notes.url, name: 'Demo notes', scopes: NOTES_SCOPES, default: true }, { uri: TEST_RESOURCE, name: 'Other', scopes: { 'tools:read': 'Read' } }]) },
    port,
    { cimdFetch: { ca: pki.ca, resolve: async () => [{ address: '127.0.0.1', family: 4 }] } },
  );
  await gh.services.users.create(USER);
  await gh.services.users.create(NO_DELETE);
});

afterAll(async () => {
  await notes?.close();
  await gh?.close();
  await db?.drop();
  await docHost?.close();
  await new Promise<void>((resolve) => (callbackServer ? callbackServer.close(() => resolve()) : resolve()));
});

describe('the official MCP SDK client against the demo server', () => {
  it('walks 401 → metadata → DCR → sign-in and consent → token → tools/list → tools/call', async () => {
    const provider = new Provider();
    await authorizeFresh(provider);
    expect((provider.info as { client_id: string }).client_id).toMatch(/^dyn_/);
    expect(provider.authorizationUrl!.searchParams.get('resource')).toBe(notes.url);
    expect(provider.authorizationUrl!.searchParams.get('scope')).toBe('notes:read');
    expect(decodeJwt(provider.saved!.access_token).aud).toBe(notes.url);
    const client = await connect(provider);
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(['list_notes', 'read_note', 'add_note', 'delete_note', 'whoami']));
    const who = JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(who).toMatchObject({ client_id: (provider.info as { client_id: string }).client_id, scopes: ['notes:read'] });
    await client.close();
  });

  it('does the same with a Client ID Metadata Document URL instead of DCR', async () => {
    const path = '/sdk-client.json';
    const clientId = `https://app.cimd.test:${docHost.port}${path}`;
    docHost.json(path, { client_id: clientId, client_name: 'SDK via CIMD', redirect_uris: [callbackUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' });
    const provider = new Provider({ clientMetadataUrl: clientId });
    await authorizeFresh(provider);
    expect((provider.info as { client_id: string }).client_id).toBe(clientId);
    const client = await connect(provider);
    expect(JSON.parse(text(await client.callTool({ name: 'list_notes', arguments: {} })))).toEqual([]);
    expect(decodeJwt(provider.saved!.access_token).client_id).toBe(clientId);
    await client.close();
  });

  it('refreshes when the server stops accepting its access token (401 invalid_token), and continues', async () => {
    const provider = new Provider();
    await authorizeFresh(provider);
    const before = provider.saved!;
    // What an expired token meets at the server: 401 invalid_token (the kit's tests cover real expiry).
    provider.saved = { ...before, access_token: `${before.access_token.slice(0, -4)}AAAA` };
    const client = await connect(provider);
    expect(JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} }))).scopes).toEqual(['notes:read']);
    expect(provider.saved!.refresh_token).not.toBe(before.refresh_token); // rotated
    expect(provider.saved!.access_token).not.toBe(before.access_token);
    await client.close();
  });

  it('re-authorizes when its grant was revoked (the refresh fails with invalid_grant)', async () => {
    const provider = new Provider();
    await authorizeFresh(provider);
    const clientId = (provider.info as { client_id: string }).client_id;
    const revoked = await fetch(`${gh.issuer}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: provider.saved!.refresh_token!, client_id: clientId }) });
    expect(revoked.status).toBe(200);
    provider.saved = { ...provider.saved!, access_token: 'no-longer-accepted' };
    provider.authorizationUrl = undefined;
    await expect(connect(provider)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.invalidated).toContain('tokens');
    expect(provider.authorizationUrl).toBeDefined();
    const transport = new StreamableHTTPClientTransport(new URL(notes.url), { authProvider: provider });
    const back = (await personAuthorizes(provider.authorizationUrl!)) as URL;
    await transport.finishAuth(back.searchParams.get('code')!);
    const client = await connect(provider);
    expect(JSON.parse(text(await client.callTool({ name: 'list_notes', arguments: {} })))).toEqual([]);
    await client.close();
  });

  it('steps up: the delete tool with only notes:read → 403 insufficient_scope → re-authorization with the wider scope → the call succeeds', async () => {
    // The SDK (1.32) refreshes instead of re-authorizing when it holds a refresh token (its refresh carries no
    // scope), so step-up reaches the consent page for a client that keeps no refresh token.
    const provider = new Provider({ keepRefreshToken: false });
    await authorizeFresh(provider);
    const client = await connect(provider);
    const added = JSON.parse(text(await client.callTool({ name: 'list_notes', arguments: {} })));
    expect(added).toEqual([]);
    provider.authorizationUrl = undefined;
    await expect(client.callTool({ name: 'delete_note', arguments: { id: 1 } })).rejects.toBeInstanceOf(UnauthorizedError);
    const wanted = provider.authorizationUrl!.searchParams.get('scope')!.split(' ').sort();
    expect(wanted).toEqual(['notes:delete', 'notes:read']);
    const back = (await personAuthorizes(provider.authorizationUrl!)) as URL;
    const transport = new StreamableHTTPClientTransport(new URL(notes.url), { authProvider: provider });
    await transport.finishAuth(back.searchParams.get('code')!);
    const wider = await connect(provider);
    const result = await wider.callTool({ name: 'delete_note', arguments: { id: 999 } });
    expect(text(result)).toBe('no note 999'); // authorized: the tool ran (there is no note 999)
    expect(String(decodeJwt(provider.saved!.access_token).scope).split(' ').sort()).toEqual(['notes:delete', 'notes:read']);
    await wider.close();
    await client.close();
  });

  it('gives a person the access rules refuse the wider scope a clear denial page, whose one button returns to the client', async () => {
    // notes:delete restricted to a group this person is not in.
    await gh.services.resources.upsert({ uri: notes.url, name: 'Demo notes', default: true, scopes: { ...NOTES_SCOPES, 'notes:delete': { ...NOTES_SCOPES['notes:delete'], access: { email_domains: [], groups: ['notes-admins'] } } } });
    gh.services.resources.invalidate();
    try {
      const provider = new Provider({ keepRefreshToken: false });
      await authorizeFresh(provider, NO_DELETE);
      const client = await connect(provider);
      provider.authorizationUrl = undefined;
      await expect(client.callTool({ name: 'delete_note', arguments: { id: 1 } })).rejects.toBeInstanceOf(UnauthorizedError);
      const denied = await personAuthorizes(provider.authorizationUrl!, NO_DELETE);
      expect(denied).toBeInstanceOf(Response);
      const page = denied as Response;
      expect(page.status).toBe(403);
      const html = await page.text();
      expect(html).toContain('notes:delete');
      // The page's only button returns to the client with access_denied.
      const action = /action="([^"]+)"/.exec(html)![1]!;
      expect(action).toMatch(/^\/interaction\/[^/]+\/confirm$/);
      await client.close();
    } finally {
      await gh.services.resources.upsert({ uri: notes.url, name: 'Demo notes', default: true, scopes: NOTES_SCOPES });
    }
  });

  it('refuses a token issued for another resource with 401 invalid_token', async () => {
    const provider = new Provider();
    await authorizeFresh(provider);
    const other = await fetch(notes.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${provider.saved!.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(other.status).toBe(200);
    // A token whose audience is another MCP server registered at the same Gatehouse.
    const foreign = await mintFor(TEST_RESOURCE, 'tools:read');
    const res = await fetch(notes.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${foreign}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });
});

describe('the official MCP SDK v2 client (@modelcontextprotocol/client) against the demo server', () => {
  // v2 re-authorizes on 403 insufficient_scope even while it holds a refresh token (unlike v1, above), and checks the
  // callback's `iss` (RFC 9207), so finishAuth is given the whole callback query.
  it('DCR → sign-in and consent → tools/call; refreshes when the token is refused; steps up with its refresh token kept', async () => {
    const provider = new Provider({ clientName: 'SDK v2 notes client' });
    const first = new TransportV2(new URL(notes.url), { authProvider: provider });
    await expect(new ClientV2({ name: 'notes-e2e-v2', version: '2.0.0' }).connect(first)).rejects.toBeInstanceOf(UnauthorizedV2);
    expect((provider.info as { client_id: string }).client_id).toMatch(/^dyn_/);
    const back = (await personAuthorizes(provider.authorizationUrl!)) as URL;
    expect(back.searchParams.get('iss')).toBe(gh.issuer);
    await first.finishAuth(back.searchParams);
    expect(provider.saved?.refresh_token).toBeTruthy();

    const transport = new TransportV2(new URL(notes.url), { authProvider: provider });
    const client = new ClientV2({ name: 'notes-e2e-v2', version: '2.0.0' });
    await client.connect(transport);
    expect(JSON.parse(text(await client.callTool({ name: 'list_notes', arguments: {} })))).toEqual([]);

    // What an expired token meets at the server (401 invalid_token): v2 refreshes, with rotation, and goes on.
    const before = provider.saved!;
    provider.saved = { ...before, access_token: `${before.access_token.slice(0, -4)}AAAA` };
    const again = new ClientV2({ name: 'notes-e2e-v2', version: '2.0.0' });
    await again.connect(new TransportV2(new URL(notes.url), { authProvider: provider }));
    expect(JSON.parse(text(await again.callTool({ name: 'whoami', arguments: {} }))).scopes).toEqual(['notes:read']);
    expect(provider.saved!.refresh_token).not.toBe(before.refresh_token);
    await again.close();

    // Step-up: a tool that needs notes:delete → 403 insufficient_scope → a new authorization for the wider scope.
    provider.authorizationUrl = undefined;
    await expect(client.callTool({ name: 'delete_note', arguments: { id: 1 } })).rejects.toBeInstanceOf(UnauthorizedV2);
    // v2 asks for offline_access as well, to be given a refresh token again.
    expect(provider.authorizationUrl!.searchParams.get('scope')!.split(' ').sort()).toEqual(['notes:delete', 'notes:read', 'offline_access']);
    const wider = (await personAuthorizes(provider.authorizationUrl!)) as URL;
    await transport.finishAuth(wider.searchParams);
    expect(text(await client.callTool({ name: 'delete_note', arguments: { id: 999 } }))).toBe('no note 999');
    expect(String(decodeJwt(provider.saved!.access_token).scope).split(' ')).toEqual(expect.arrayContaining(['notes:delete', 'notes:read']));
    await client.close();
  });
});

describe('a resource URI with an empty path', () => {
  it('interoperates: PRM says http://host:port, the SDK connects to http://host:port/, Gatehouse and the kit agree', async () => {
    const port = await freePort();
    const bare = await startNotesServer({ issuer: gh.issuer, port, resource: `http://127.0.0.1:${port}` });
    try {
      // Registered with the slash; Gatehouse stores (and puts in `aud`) the canonical form without it.
      await gh.services.resources.upsert({ uri: `http://127.0.0.1:${port}/`, name: 'Bare notes', scopes: NOTES_SCOPES });
      gh.services.resources.invalidate();
      const prm = (await (await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource`)).json()) as { resource: string };
      expect(prm.resource).toBe(`http://127.0.0.1:${port}`);
      const provider = new Provider();
      const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/`), { authProvider: provider });
      await expect(new Client({ name: 'bare', version: '1.0.0' }).connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
      const back = (await personAuthorizes(provider.authorizationUrl!)) as URL;
      await transport.finishAuth(back.searchParams.get('code')!);
      expect(decodeJwt(provider.saved!.access_token).aud).toBe(`http://127.0.0.1:${port}`);
      const client = new Client({ name: 'bare', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/`), { authProvider: provider }));
      expect(JSON.parse(text(await client.callTool({ name: 'list_notes', arguments: {} })))).toEqual([]);
      await client.close();
    } finally {
      await bare.close();
    }
  });
});

/** A real Gatehouse token for another resource, through the same pages. */
async function mintFor(resource: string, scope: string): Promise<string> {
  const client = await registerPublicClient(gh.issuer, [callbackUrl]);
  const { verifier, challenge } = pkcePair();
  const back = await authorizeThrough(new Browser(gh.issuer), gh.issuer, { client_id: client.client_id, redirect_uri: callbackUrl, code_challenge: challenge, code_challenge_method: 'S256', resource, scope }, USER);
  const token = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, code_verifier: verifier, redirect_uri: callbackUrl, client_id: client.client_id, resource });
  return token.body.access_token as string;
}
