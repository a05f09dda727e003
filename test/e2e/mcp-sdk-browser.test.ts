// End to end as a person meets it: the official MCP SDK client connects to an MCP server, gets a 401, discovers
// Gatehouse through RFC 9728 + RFC 8414, registers by DCR, and sends the person's browser (real chromium) to
// /authorize; they sign in and click Allow; the SDK exchanges the code and calls a tool with the JWT.
// What this file proves for docs/COMPATIBILITY.md (scripts/compatibility.ts reads these lines):
// compatibility: client=sdk-v1 covers=dcr,bearer
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Browser as Chromium } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { TestOAuthProvider } from '../helpers/sdk-oauth-provider.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startMcpServer, type TestMcpServer } from '../fixtures/mcp-server.js';

const USER = { email: 'margaret@example.com', password: 'apollo guidance computer' };

let db: TestDatabase;
let gh: TestServer;
let mcp: TestMcpServer;
let chromium: Chromium;
let callbackServer: Server;
let callbackUrl: string;
let nextCode: (code: string) => void = () => undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  await gh.services.users.create(USER);
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
  await db?.drop();
});

describe('MCP SDK client + real browser', () => {
  it('authorizes through login and consent pages, then calls a tool with an audience-bound token', async () => {
    const provider = new TestOAuthProvider(() => callbackUrl, { clientName: 'SDK e2e client' });
    const first = new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider });
    await expect(new Client({ name: 'e2e', version: '1.0.0' }).connect(first)).rejects.toBeInstanceOf(UnauthorizedError);

    const authUrl = provider.authorizationUrl!;
    expect(authUrl.origin).toBe(gh.issuer);
    expect(authUrl.searchParams.get('resource')).toBe(mcp.url);
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');

    const code = new Promise<string>((resolve) => (nextCode = resolve));
    const context = await chromium.newContext();
    const page = await context.newPage();
    await page.goto(authUrl.href);
    await page.getByLabel('Email').fill(USER.email);
    await page.getByLabel('Password').fill(USER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    expect(await page.content()).toContain('E2E MCP server');
    await page.getByRole('button', { name: 'Allow' }).click();
    const authorizationCode = await code;
    await context.close();

    await first.finishAuth(authorizationCode);
    expect(provider.saved?.refresh_token).toBeTruthy();

    const client = new Client({ name: 'e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider }));
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    const who = JSON.parse((result.content as Array<{ text: string }>)[0]!.text) as { sub: string; scope: string; client_id: string };
    const user = await gh.services.users.findByEmail(USER.email);
    expect(who.sub).toBe(user!.id);
    expect(who.scope).toBe('tools:read');
    expect(who.client_id).toBe((provider.info as { client_id: string }).client_id);
    await client.close();
  });

  it('a person who clicks Deny sends the client an access_denied error, and no token exists', async () => {
    const provider = new TestOAuthProvider(() => callbackUrl, { clientName: 'SDK e2e client' });
    const transport = new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider });
    await expect(new Client({ name: 'e2e', version: '1.0.0' }).connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
    const context = await chromium.newContext();
    const page = await context.newPage();
    await page.goto(provider.authorizationUrl!.href);
    await page.getByLabel('Email').fill(USER.email);
    await page.getByLabel('Password').fill(USER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.url().startsWith(callbackUrl)),
      page.getByRole('button', { name: 'Deny' }).click(),
    ]);
    const url = new URL(request.url());
    expect(url.searchParams.get('error')).toBe('access_denied');
    expect(url.searchParams.get('iss')).toBe(gh.issuer);
    expect(url.searchParams.get('code')).toBeNull();
    await context.close();
    expect(provider.saved).toBeUndefined();
  });

  it('a wrong password keeps the person on the login page with an error', async () => {
    const provider = new TestOAuthProvider(() => callbackUrl, { clientName: 'SDK e2e client' });
    const transport = new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider });
    await expect(new Client({ name: 'e2e', version: '1.0.0' }).connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
    const context = await chromium.newContext();
    const page = await context.newPage();
    await page.goto(provider.authorizationUrl!.href);
    await page.getByLabel('Email').fill(USER.email);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('Invalid email or password');
    await context.close();
    const failures = (await gh.services.audit.recent({ type: 'login' })).filter((e) => e.outcome === 'failure');
    expect(failures.length).toBeGreaterThan(0);
  });
});
