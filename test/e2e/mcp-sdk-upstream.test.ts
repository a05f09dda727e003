// End to end through an upstream IdP, as a person meets it: the official MCP SDK client connects to an MCP server,
// gets a 401, discovers Gatehouse and registers; real chromium follows /authorize to the organisation's IdP (a real
// oidc-provider instance, UPSTREAM_PROVIDER=oidc), signs in there, comes back to Gatehouse's own consent page and
// clicks Allow; the SDK exchanges the code and calls a tool with a Gatehouse JWT — never an upstream token.
// What this file proves for docs/COMPATIBILITY.md (scripts/compatibility.ts reads these lines):
// compatibility: client=sdk-v1 covers=dcr,bearer
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import type { Browser as Chromium } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { TestOAuthProvider } from '../helpers/sdk-oauth-provider.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { startMockIdp, type MockIdp } from '../helpers/upstream-idp.js';
import { startMcpServer, type TestMcpServer } from '../fixtures/mcp-server.js';

let db: TestDatabase;
let gh: TestServer;
let idp: MockIdp;
let mcp: TestMcpServer;
let chromium: Chromium;
let callbackServer: Server;
let callbackUrl: string;
let nextCode: (code: string) => void = () => undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  idp = await startMockIdp({
    gatehouseIssuer: `http://127.0.0.1:${port}`,
    accounts: { 'idp-user-42': { email: 'grace@corp.example', email_verified: true, name: 'Grace Hopper', groups: ['engineering'] } },
  });
  gh = await startTestServer(
    { ...db.env, UPSTREAM_PROVIDER: 'oidc', UPSTREAM_NAME: 'Corp SSO', UPSTREAM_ISSUER: idp.issuer, UPSTREAM_CLIENT_ID: idp.clientId, UPSTREAM_CLIENT_SECRET: idp.clientSecret, ALLOWED_EMAIL_DOMAINS: 'corp.example', ALLOWED_GROUPS: 'engineering' },
    port,
  );
  mcp = await startMcpServer(gh.issuer, ['tools:read']);
  await gh.services.resources.upsert({ uri: mcp.url, name: 'E2E MCP server', scopes: { 'tools:read': 'Call read-only tools' }, default: false });
  callbackServer = createServer((req, res) => {
    const url = new URL(req.url ?? '/', callbackUrl);
    res.setHeader('content-type', 'text/plain');
    res.end('You can close this window.');
    const code = url.searchParams.get('code');
    if (code) nextCode(code);
  });
  await new Promise<void>((resolve) => callbackServer.listen(0, '127.0.0.1', () => resolve()));
  callbackUrl = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/callback`;
  chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
  await new Promise<void>((resolve) => (callbackServer ? callbackServer.close(() => resolve()) : resolve()));
  await mcp?.close();
  await gh?.close();
  await idp?.close();
  await db?.drop();
});

describe('MCP SDK client + real browser + upstream OIDC IdP', () => {
  it('signs in at the IdP, asks Gatehouse consent, and calls a tool with a Gatehouse token for the linked account', async () => {
    const provider = new TestOAuthProvider(() => callbackUrl, { clientName: 'SDK e2e client' });
    const first = new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider });
    await expect(new Client({ name: 'e2e', version: '1.0.0' }).connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
    const authUrl = provider.authorizationUrl!;
    expect(authUrl.origin).toBe(gh.issuer);

    const code = new Promise<string>((resolve) => (nextCode = resolve));
    const context = await chromium.newContext();
    const page = await context.newPage();
    await page.goto(authUrl.href);
    // One IdP and no password form: Gatehouse sends the browser straight to the IdP.
    await page.getByRole('heading', { name: 'Mock IdP sign-in' }).waitFor();
    expect(new URL(page.url()).origin).toBe(idp.issuer);
    const upstreamRequest = idp.authorizationRequests.at(-1)!;
    expect(upstreamRequest.has('resource')).toBe(false);
    expect(upstreamRequest.get('code_challenge_method')).toBe('S256');
    await page.getByLabel('Account').fill('idp-user-42');
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Back at Gatehouse: its consent page for this MCP client, whatever the IdP consented to.
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    expect(new URL(page.url()).origin).toBe(gh.issuer);
    expect(await page.content()).toContain('E2E MCP server');
    await page.getByRole('button', { name: 'Allow' }).click();
    const authorizationCode = await code;
    await context.close();

    await first.finishAuth(authorizationCode);
    const accessToken = provider.saved!.access_token;
    const claims = decodeJwt(accessToken);
    const link = await gh.services.handle.db('identities').where({ connection_id: 'oidc', issuer: idp.issuer, subject: 'idp-user-42' }).first();
    expect(link).toBeDefined();
    expect(claims.sub).toBe(link.account_id);
    expect(claims.sub).not.toBe('idp-user-42');
    expect(claims.iss).toBe(gh.issuer);
    expect(claims.aud).toBe(mcp.url);
    expect(JSON.stringify(provider.saved)).not.toContain(idp.issuer);

    const client = new Client({ name: 'e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider }));
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    const who = JSON.parse((result.content as Array<{ text: string }>)[0]!.text) as { sub: string; scope: string };
    expect(who).toMatchObject({ sub: link.account_id, scope: 'tools:read' });
    await client.close();
    const logins = (await gh.services.audit.recent({ type: 'login' })).filter((e) => e.outcome === 'success');
    expect(logins.length).toBeGreaterThan(0);
  });
});
