// The console's static clients and connections as an admin meets them, in headless chromium: edit a static client's
// name and redirect URIs (a refused URI names the field and changes nothing), rotate its secret (shown once, the
// copy button copies it, the old secret gets invalid_client at /token, the new one works); add a connection that
// fails its test (the failure named, not saved until the admin chooses; saved disabled it is absent from the sign-in
// page), and one that passes (a real oidc-provider upstream: saved live, offered on the sign-in page).
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { authorizeUrl, pkcePair, registerPublicClient } from '../helpers/browser-flow.js';
import { launchChromium, signInToConsole } from '../helpers/chromium.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { startMockIdp, type MockIdp } from '../helpers/upstream-idp.js';
import { clientMetadata } from '../../src/oauth/static-clients.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const REDIRECT = 'http://127.0.0.1:45998/callback';

let db: TestDatabase;
let gh: TestServer;
let idp: MockIdp;
let chromium: Chromium;
let adminContext: BrowserContext;
let admin: Page;
let deadIssuer: string;

const knex = () => gh.services.handle.db;
const stored = (clientId: string) => clientMetadata(gh.services.handle.db, gh.services.box, clientId);
const events = async (type: string) => (await knex()('audit_events').where({ type }).orderBy('id', 'asc')) as Array<Record<string, any>>;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  await gh.services.users.create(ADMIN);
  idp = await startMockIdp({ gatehouseIssuer: gh.issuer, accounts: { 'sub-1': { email: 'pat@example.com' } } });
  // A port that was listening a moment ago and is closed now: nothing answers there.
  const probe: Server = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  deadIssuer = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  chromium = await launchChromium();
  adminContext = await chromium.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
  admin = await adminContext.newPage();
  await signInToConsole(admin, gh.issuer, ADMIN);
});

afterAll(async () => {
  await adminContext?.close();
  await chromium?.close();
  await idp?.close();
  await gh?.close();
  await db?.drop();
});

/** A client_credentials request at /token with this secret: its status and error code. */
async function tokenWith(clientId: string, secret: string): Promise<{ status: number; error?: string; access_token?: string }> {
  const res = await fetch(`${gh.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: TEST_RESOURCE }),
  });
  return { status: res.status, ...((await res.json()) as { error?: string; access_token?: string }) };
}

/** The sign-in page an MCP client's authorization request opens, in a fresh browser. */
async function signInPage(): Promise<{ context: BrowserContext; page: Page }> {
  const client = await registerPublicClient(gh.issuer, [REDIRECT]);
  const { challenge } = pkcePair();
  const context = await chromium.newContext();
  const page = await context.newPage();
  await page.goto(authorizeUrl(gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read', state: 'st' }));
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  return { context, page };
}

describe('a static client in the console', () => {
  let clientId: string;
  let firstSecret: string;

  it('is created confidential, its secret shown once with a copy button', async () => {
    await admin.goto(`${gh.issuer}/console/clients/new`);
    await admin.getByLabel('Name', { exact: true }).fill('Build agent');
    await admin.getByLabel(/Redirect URIs/).fill('http://127.0.0.1:45001/cb');
    await admin.getByLabel(/Confidential/).check();
    await admin.getByRole('button', { name: 'Create client' }).click();
    await admin.getByRole('heading', { name: 'Client created' }).waitFor();
    firstSecret = (await admin.locator('#client-secret').textContent())!.trim();
    clientId = (await admin.locator('dd code').first().textContent())!.trim();
    expect((await tokenWith(clientId, firstSecret)).status).toBe(200);
  });

  it('edits its name and redirect URIs; a refused URI names the field and changes nothing', async () => {
    await admin.goto(`${gh.issuer}/console/clients/${encodeURIComponent(clientId)}`);
    await admin.getByLabel('Name', { exact: true }).fill('Build agent (CI)');
    await admin.getByRole('textbox', { name: 'Redirect URIs' }).fill('http://127.0.0.1:45001/cb\nhttps://ci.example.com/oauth/callback');
    await admin.getByRole('button', { name: 'Save changes' }).click();
    await admin.getByRole('heading', { name: 'Build agent (CI)' }).waitFor();
    expect(await admin.getByRole('status').textContent()).toContain('is saved');
    const after = await stored(clientId);
    expect(after).toMatchObject({ client_name: 'Build agent (CI)', redirect_uris: ['http://127.0.0.1:45001/cb', 'https://ci.example.com/oauth/callback'] });

    await admin.getByLabel('Name', { exact: true }).fill('Must not be saved');
    await admin.getByRole('textbox', { name: 'Redirect URIs' }).fill('javascript:alert(1)');
    await admin.getByRole('button', { name: 'Save changes' }).click();
    const problem = admin.locator('#client-redirect-uris-problem');
    await problem.waitFor();
    expect(await problem.textContent()).toMatch(/redirect/i);
    expect(await admin.getByRole('textbox', { name: 'Redirect URIs' }).getAttribute('aria-invalid')).toBe('true');
    expect(await admin.getByRole('textbox', { name: 'Redirect URIs' }).inputValue()).toBe('javascript:alert(1)'); // what was typed, to correct
    expect(await stored(clientId)).toEqual(after);
    expect((await events('client.updated')).filter((e) => e.client_id === clientId).map((e) => e.outcome)).toEqual(['success', 'failure']);
  });

  it('rotates its secret: shown once, the copy button copies it, the old one is refused at /token at once', async () => {
    await admin.goto(`${gh.issuer}/console/clients/${encodeURIComponent(clientId)}`);
    expect(await admin.locator('#secret-h ~ p').first().textContent()).toContain('The old secret stops working at once');
    await admin.getByRole('button', { name: 'Rotate secret' }).click();
    await admin.getByRole('heading', { name: 'New client secret' }).waitFor();
    const secret = (await admin.locator('#client-secret').textContent())!.trim();
    expect(secret).not.toBe(firstSecret);
    expect(secret.length).toBeGreaterThanOrEqual(32);
    await admin.getByRole('button', { name: 'Copy secret' }).click();
    await admin.getByRole('button', { name: 'Copied' }).waitFor();
    expect(await admin.evaluate('navigator.clipboard.readText()')).toBe(secret);

    expect(await tokenWith(clientId, firstSecret)).toMatchObject({ status: 401, error: 'invalid_client' });
    expect(await tokenWith(clientId, secret)).toMatchObject({ status: 200, access_token: expect.any(String) });
    // Shown once: the client's page never shows it again.
    await admin.goto(`${gh.issuer}/console/clients/${encodeURIComponent(clientId)}`);
    expect(await admin.content()).not.toContain(secret);
    expect((await events('client.secret_rotated')).filter((e) => e.client_id === clientId && e.outcome === 'success')).toHaveLength(1);
  });

  it('a dynamically registered client is not editable here: the page says why', async () => {
    const dcr = await registerPublicClient(gh.issuer, [REDIRECT], { client_name: 'Self-registered' });
    await admin.goto(`${gh.issuer}/console/clients/${encodeURIComponent(dcr.client_id)}`);
    expect(await admin.locator('#edit-h ~ p').first().textContent()).toContain('RFC 7592');
    expect(await admin.getByRole('button', { name: 'Save changes' }).count()).toBe(0);
    expect(await admin.getByRole('button', { name: 'Rotate secret' }).count()).toBe(0);
  });
});

describe('a connection is tested before it goes live', () => {
  async function addConnection(id: string, name: string, issuer: string, clientId: string, clientSecret: string): Promise<void> {
    await admin.goto(`${gh.issuer}/console/connections/new?kind=oidc`);
    await admin.getByLabel('Id', { exact: true }).fill(id);
    await admin.getByLabel('Name on the login button').fill(name);
    await admin.getByLabel('Issuer URL').fill(issuer);
    await admin.getByLabel('Client ID').fill(clientId);
    await admin.getByLabel('Client secret').fill(clientSecret);
    await admin.getByLabel('The identity provider is on a private network').check(); // both listen on 127.0.0.1
    await admin.getByRole('button', { name: 'Save' }).click();
  }

  it('a failing test names the failure and saves nothing until the admin chooses; saved disabled it is not on the sign-in page', async () => {
    await addConnection('dead', 'Dead IdP', deadIssuer, 'gatehouse', 'dead-idp-secret');
    const alert = admin.locator('#untested-problem');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('Could not reach the identity provider');
    expect(await gh.services.connections.find('dead')).toBeUndefined();
    expect(await admin.getByLabel('Issuer URL').inputValue()).toBe(deadIssuer);
    await admin.getByRole('button', { name: 'Save disabled' }).click();
    await admin.getByRole('heading', { name: 'Dead IdP' }).waitFor();
    expect(await admin.locator('#sign-in-state').textContent()).toContain('disabled');
    const saved = (await gh.services.connections.find('dead'))!;
    expect(saved).toMatchObject({ enabled: false, clientSecret: 'dead-idp-secret' }); // the typed secret was kept
    expect((await events('connection.added')).filter((e) => e.details?.id === 'dead' || JSON.parse(String(e.details ?? '{}')).id === 'dead').map((e) => e.outcome)).toEqual(['failure', 'success']);

    const { context, page } = await signInPage();
    expect(await page.getByRole('button', { name: 'Continue with Dead IdP' }).count()).toBe(0);
    // Nor can it be started by posting to its button's address.
    const action = new URL(page.url()).pathname.replace(/\/?$/, '/upstream/dead');
    await page.evaluate(`(() => { const f = document.createElement('form'); f.method = 'post'; f.action = ${JSON.stringify(action)}; document.body.append(f); f.submit(); })()`);
    await page.getByRole('heading', { name: 'Unknown sign-in option' }).waitFor();
    await context.close();
  });

  it('Enable tests it again; "Enable anyway" puts it on the sign-in page, and Disable takes it off', async () => {
    await admin.goto(`${gh.issuer}/console/connections/dead`);
    await admin.getByRole('button', { name: 'Enable', exact: true }).click();
    const alert = admin.locator('#enabling-problem');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('Could not reach the identity provider');
    expect((await gh.services.connections.find('dead'))!.enabled).toBe(false);
    await admin.getByRole('button', { name: 'Enable anyway' }).click();
    expect(await admin.locator('#sign-in-state').textContent()).toContain('enabled');
    let { context, page } = await signInPage();
    await page.getByRole('button', { name: 'Continue with Dead IdP' }).waitFor();
    await context.close();

    await admin.getByRole('button', { name: 'Disable' }).click();
    await admin.locator('#sign-in-state', { hasText: 'disabled' }).waitFor();
    ({ context, page } = await signInPage());
    expect(await page.getByRole('button', { name: 'Continue with Dead IdP' }).count()).toBe(0);
    await context.close();
  });

  it('a connection whose test passes (a real OpenID provider) is saved live and offered on the sign-in page', async () => {
    await addConnection('corp', 'Corp SSO', idp.issuer, idp.clientId, idp.clientSecret);
    await admin.getByRole('heading', { name: 'Corp SSO' }).waitFor();
    expect(await admin.locator('#sign-in-state').textContent()).toContain('enabled');
    const { context, page } = await signInPage();
    await page.getByRole('button', { name: 'Continue with Corp SSO' }).waitFor();
    expect(await page.getByRole('button', { name: 'Continue with Dead IdP' }).count()).toBe(0);
    await context.close();
  });
});
