// With several connections, the login page offers one button per connection ("Continue with <name>") and the
// password form when local login is on; a button starts that IdP's leg with nothing of the MCP request in it.
// Checked in headless chromium, as a person meets it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser as Chromium } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { authorizeUrl, pkcePair, registerPublicClient } from '../helpers/browser-flow.js';
import { launchChromium } from '../helpers/chromium.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { connectionSpec } from '../../src/upstream/connections.js';

let db: TestDatabase;
let gh: TestServer;
let chromium: Chromium;
let idp: Server;
let idpOrigin: string;
const seen: URL[] = [];
const REDIRECT = 'http://127.0.0.1:7777/callback';

beforeAll(async () => {
  // A GitHub Enterprise-style stub: only its authorization page is visited here.
  idp = createServer((req, res) => {
    seen.push(new URL(req.url ?? '/', idpOrigin));
    res.setHeader('content-type', 'text/html');
    res.end('<title>Stub IdP</title><h1>Stub IdP login</h1>');
  });
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', () => resolve()));
  idpOrigin = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  db = await createTestDatabase();
  // The environment seeds local login; two more connections come from the CLI's code path.
  gh = await startTestServer(db.env);
  await gh.services.connections.add(connectionSpec({ id: 'corp', kind: 'oidc', name: 'Corp SSO', issuer: 'https://sso.corp.example', clientId: 'gatehouse' }), 'cli');
  await gh.services.connections.add(connectionSpec({ id: 'github', kind: 'github', name: 'GitHub', issuer: idpOrigin, clientId: 'gh-client', clientSecret: 'gh-secret', allowPrivateNetwork: true }), 'cli'); // the stub listens on 127.0.0.1
  chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
  await gh?.close();
  await db?.drop();
  await new Promise<void>((resolve) => (idp ? idp.close(() => resolve()) : resolve()));
});

async function openLogin() {
  const client = await registerPublicClient(gh.issuer, [REDIRECT]);
  const { challenge } = pkcePair();
  const context = await chromium.newContext();
  const page = await context.newPage();
  await page.goto(authorizeUrl(gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read', state: 'mcp-state' }));
  return { context, page };
}

describe('the login page with several connections', () => {
  it('shows one button per connection, named "Continue with <name>", and the password form', async () => {
    const { context, page } = await openLogin();
    await page.getByRole('button', { name: 'Continue with Corp SSO' }).waitFor();
    await page.getByRole('button', { name: 'Continue with GitHub' }).waitFor();
    expect(await page.getByRole('button', { name: /^Continue with/ }).count()).toBe(2);
    await page.getByLabel('Email').waitFor();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await context.close();
  });

  it('sends the browser to the chosen IdP with PKCE and state, and without the MCP resource, scopes or state', async () => {
    const { context, page } = await openLogin();
    await page.getByRole('button', { name: 'Continue with GitHub' }).click();
    await page.getByRole('heading', { name: 'Stub IdP login' }).waitFor();
    const request = seen.filter((u) => u.pathname !== '/favicon.ico').at(-1)!;
    expect(request.pathname).toBe('/login/oauth/authorize');
    const q = request.searchParams;
    expect(q.get('client_id')).toBe('gh-client');
    expect(q.get('redirect_uri')).toBe(`${gh.issuer}/upstream/callback`);
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('state')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(q.get('state')).not.toBe('mcp-state');
    expect(q.has('resource')).toBe(false);
    expect(q.get('scope')).not.toMatch(/tools:read/);
    // The callback cookie is scoped to the callback path, HttpOnly, and names this browser's interaction.
    const cookie = (await context.cookies(`${gh.issuer}/upstream/callback`)).find((c) => c.name === 'gatehouse.upstream');
    expect(cookie).toMatchObject({ path: '/upstream/callback', httpOnly: true, sameSite: 'Lax' });
    await context.close();
  });
});
