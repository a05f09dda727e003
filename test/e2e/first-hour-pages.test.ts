// What a new operator and a person meet first (issue 23): the landing page at ISSUER's root, and error pages in words
// a person understands, each with the request id that the answer's X-Request-Id header, the request's log line and its
// audit row carry too. Real HTTP, the real server, Debian's chromium.
import { Writable } from 'node:stream';
import type { Browser, Page } from 'playwright-core';
import { loadConfig } from '../../src/config.js';
import { startGatehouse, type RunningGatehouse } from '../../src/gatehouse.js';
import { createLogger } from '../../src/log.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { DEFAULT_RESOURCES, freePort, TEST_RESOURCE } from '../helpers/server.js';
import { authorizeUrl, pkcePair, registerPublicClient } from '../helpers/browser-flow.js';
import { launchChromium } from '../helpers/chromium.js';
import { packageVersion } from '../../src/package-version.js';

const REDIRECT = 'http://127.0.0.1:33419/callback';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const lines: Array<Record<string, unknown>> = [];
const capture = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});

let db: TestDatabase;
let gh: RunningGatehouse;
let issuer: string;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  const config = loadConfig({ ...db.env, NODE_ENV: 'test', PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer, RESOURCES: DEFAULT_RESOURCES, LOG_LEVEL: 'info' });
  gh = await startGatehouse(config, { log: createLogger(config.LOG_LEVEL, capture) });
  browser = await launchChromium();
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await gh?.close();
  await db?.drop();
});

/** The audit rows a request wrote (the writer batches: poll briefly until its commit). */
async function auditRowsOf(requestId: string): Promise<Array<Record<string, unknown>>> {
  for (let i = 0; i < 50; i++) {
    const rows = (await gh.services.handle.db('audit_events').where({ request_id: requestId })) as Array<Record<string, unknown>>;
    if (rows.length) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
  return [];
}

const requestLine = (requestId: string) => lines.find((l) => l.msg === 'request' && l.request_id === requestId);

describe('the landing page', () => {
  it('says what this server is, names the issuer, and links to the account page, the console and the metadata', async () => {
    const res = await page.goto(`${issuer}/`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-type']).toMatch(/^text\/html/);
    const text = await page.locator('main').innerText();
    expect(text).toMatch(/authorization server for MCP servers/);
    expect(text).toContain(issuer);
    // Nothing an outsider could not read from the metadata: no version, no connection, no client.
    expect(text).not.toContain(packageVersion());
    expect(text).not.toMatch(/version/i);

    // Absolute URLs as the browser resolved them (the DOM's `href` property).
    const links = await page.locator('main a').evaluateAll((as) => as.map((a) => [a.textContent, (a as unknown as { href: string }).href]));
    expect(links).toEqual([
      ['Your account', `${issuer}/account`],
      ['Admin console', `${issuer}/console`],
      ['Authorization server metadata', `${issuer}/.well-known/oauth-authorization-server`],
    ]);
  });

  it('its links lead somewhere: the console to its sign-in, the metadata to this issuer’s document', async () => {
    await page.goto(`${issuer}/`);
    await page.click('text=Admin console');
    await page.waitForLoadState();
    // Not signed in: the console sends the browser to sign in through the authorization endpoint.
    expect(page.url()).toContain(`${issuer}/`);
    expect(await page.locator('body').innerText()).not.toMatch(/Not Found/);

    const metadata = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as { issuer: string };
    expect(metadata.issuer).toBe(issuer);
  });

  it('HEAD is answered, and other spellings of / are still refused at the edge', async () => {
    expect((await fetch(`${issuer}/`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${issuer}/`, { method: 'POST' })).status).toBe(405);
  });
});

describe('error pages in words, with the request id', () => {
  it('an unknown client at /authorize: words for a person, the code kept, oidc-provider’s wording folded away, and the request id of the header, log line and audit row', async () => {
    const { challenge } = pkcePair();
    const url = authorizeUrl(issuer, { client_id: 'no-such-client', redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE });
    const res = await page.goto(url);
    expect(res?.status()).toBe(400);
    const requestId = res?.headers()['x-request-id'];
    expect(requestId).toMatch(UUID);

    const main = page.locator('main');
    await expect(main.locator('h1').innerText()).resolves.toBe('This application is not known here');
    const text = await main.innerText();
    expect(text).toContain('Error code: invalid_client');
    expect(text).toContain(`Request id: ${requestId}`);
    // The developer's wording is there, but folded away.
    const detail = main.locator('details.technical');
    expect(await detail.getAttribute('open')).toBeNull();
    expect(await detail.locator('code').textContent()).toMatch(/client/);
    expect(await detail.locator('code').isVisible()).toBe(false);

    expect(requestLine(requestId!)).toMatchObject({ route: 'authorization', status: 400 });
    const rows = await auditRowsOf(requestId!);
    expect(rows.map((r) => r.type)).toContain('authorization.refused');
  });

  it('a redirect URI the client did not register: the person is told they are protected, not sent away', async () => {
    const client = await registerPublicClient(issuer, [REDIRECT]);
    const { challenge } = pkcePair();
    const url = authorizeUrl(issuer, { client_id: client.client_id, redirect_uri: 'http://127.0.0.1:1/elsewhere', code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE });
    const res = await page.goto(url);
    expect(res?.status()).toBe(400);
    expect(page.url()).toBe(url);
    expect(await page.locator('h1').innerText()).toBe('This application asked to send you to an address it did not register');
    expect(await page.locator('main').innerText()).toContain('Error code: invalid_redirect_uri');
  });

  it('an expired or foreign sign-in (a resume without its cookie) says to sign in again from the application', async () => {
    const res = await page.goto(`${issuer}/authorize/not-a-live-interaction`);
    expect(res?.status()).toBe(400);
    expect(await page.locator('h1').innerText()).toBe('This sign-in has expired');
    const text = await page.locator('main').innerText();
    expect(text).toContain('Go back to your application and sign in again from there.');
    expect(text).toContain(`Request id: ${res?.headers()['x-request-id']}`);
  });

  it('an address nobody serves: “Page not found” with the request id, not a bare Not Found', async () => {
    const res = await page.goto(`${issuer}/nothing-here`);
    expect(res?.status()).toBe(404);
    expect(await page.locator('h1').innerText()).toBe('Page not found');
    expect(await page.locator('main').innerText()).toContain(`Request id: ${res?.headers()['x-request-id']}`);
  });

  it('every answer carries its own request id, JSON errors too, and a client cannot choose it', async () => {
    const a = await fetch(`${issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'chosen-by-client' }, body: 'grant_type=client_credentials' });
    const b = await fetch(`${issuer}/jwks`);
    const ids = [a.headers.get('x-request-id'), b.headers.get('x-request-id')];
    for (const id of ids) expect(id).toMatch(UUID);
    expect(ids[0]).not.toBe(ids[1]);
    expect(a.status).toBe(400);
    expect(await a.json()).toMatchObject({ error: 'invalid_request' });
    expect(requestLine(ids[0]!)).toMatchObject({ route: 'token', status: 400 });
  });
});
