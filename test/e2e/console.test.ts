// The admin console as an admin meets it, in headless chromium: sign in, approve a waiting DCR client (whose
// person's pending authorization then succeeds), revoke that person's grant (their refresh token then gets
// invalid_grant), create an MCP server with two scopes, filter the audit log to see these actions, export it as CSV.
// Every page is also photographed at desktop and phone width into test-artifacts/console/ (docs/ keeps copies).
import { mkdirSync, readFileSync } from 'node:fs';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { authorizeUrl, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { launchChromium, signInToConsole } from '../helpers/chromium.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const PERSON = { email: 'dana@example.com', password: 'dana has a long passphrase', name: 'Dana Reyes' };
const REDIRECT = 'http://127.0.0.1:45999/callback';
const NEW_SERVER = 'https://crm.example.test/mcp';
const ARTIFACTS = 'test-artifacts/console';
const WIDTHS = [
  { name: 'desktop', width: 1280, height: 900 },
  { name: 'phone', width: 390, height: 844 },
];

let db: TestDatabase;
let gh: TestServer;
let chromium: Chromium;
let adminContext: BrowserContext;
let admin: Page;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, REGISTRATION: 'approval' });
  await gh.services.users.create(ADMIN);
  await gh.services.users.create(PERSON);
  chromium = await launchChromium();
  adminContext = await chromium.newContext({ viewport: WIDTHS[0] });
  admin = await adminContext.newPage();
});

afterAll(async () => {
  await adminContext?.close();
  await chromium?.close();
  await gh?.close();
  await db?.drop();
});

/** Saves the page at each width (full page), named after the console section. */
async function photograph(page: Page, name: string): Promise<void> {
  for (const w of WIDTHS) {
    await page.setViewportSize({ width: w.width, height: w.height });
    await page.screenshot({ path: `${ARTIFACTS}/${name}-${w.name}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: WIDTHS[0]!.width, height: WIDTHS[0]!.height });
}

async function signInAsAdmin(): Promise<void> {
  await signInToConsole(admin, gh.issuer, ADMIN);
}

const nav = (section: string) => admin.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: section }).click();

/** A person's browser: the MCP client's redirect target answers in the browser, so the code can be read. */
async function personBrowser(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chromium.newContext();
  await context.route(`${new URL(REDIRECT).origin}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<title>MCP client</title><h1>Signed in</h1>' }));
  return { context, page: await context.newPage() };
}

describe('an admin governing Gatehouse in the console', () => {
  let clientId: string;
  let refreshToken: string;

  it('approves a waiting DCR client, after which the person its authorization was waiting for gets tokens', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT], { client_name: 'Acme Desktop Agent' });
    clientId = client.client_id;
    const { verifier, challenge } = pkcePair();
    const { context, page } = await personBrowser();
    await page.goto(authorizeUrl(gh.issuer, { client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read', state: 'st-1' }));
    await page.getByRole('heading', { name: 'Waiting for approval' }).waitFor();

    await signInAsAdmin();
    await photograph(admin, 'overview');
    expect(await admin.getByText('Acme Desktop Agent').count()).toBeGreaterThan(0); // waiting, on the overview

    await nav('Clients');
    await admin.getByRole('heading', { name: 'Clients', exact: true }).waitFor();
    await photograph(admin, 'clients');
    await admin.getByRole('link', { name: 'Acme Desktop Agent' }).first().click();
    await admin.getByRole('heading', { name: 'Acme Desktop Agent' }).waitFor();
    await admin.getByRole('button', { name: /^Approve/ }).click();
    await admin.getByRole('status').filter({ hasText: /approved/i }).waitFor();
    await photograph(admin, 'client-detail');
    expect((await gh.services.registry.find(clientId))?.status).toBe('active');

    // The person's pending page offers to try again: now the login, the consent, and the code.
    await page.getByRole('link', { name: 'try again' }).click();
    await page.getByLabel('Email').fill(PERSON.email);
    await page.getByLabel('Password').fill(PERSON.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'Signed in' }).waitFor();
    const callback = new URL(page.url());
    expect(callback.searchParams.get('state')).toBe('st-1');
    const tokens = await tokenRequest(gh.issuer, {
      grant_type: 'authorization_code', client_id: clientId, code: callback.searchParams.get('code')!,
      redirect_uri: REDIRECT, code_verifier: verifier, resource: TEST_RESOURCE,
    });
    expect(tokens.status).toBe(200);
    refreshToken = tokens.body.refresh_token as string;
    expect(refreshToken).toEqual(expect.any(String));
    await context.close();
  });

  it('revokes the person\'s grant in People: their refresh token gets invalid_grant at once', async () => {
    await nav('People');
    await admin.getByRole('heading', { name: 'People', exact: true }).waitFor();
    await photograph(admin, 'people');
    await admin.getByRole('link', { name: PERSON.email }).first().click();
    await admin.getByText('Acme Desktop Agent').first().waitFor();
    await photograph(admin, 'person');
    await admin.getByRole('button', { name: /^Revoke(?! all)/ }).first().click();
    await admin.getByRole('status').filter({ hasText: /revoked/i }).waitFor();

    const refreshed = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken });
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
  });

  it('creates an MCP server with two scopes, which the public catalogue then lists', async () => {
    await nav('MCP servers');
    await admin.getByRole('heading', { name: 'MCP servers', exact: true }).waitFor();
    await photograph(admin, 'resources');
    await admin.getByRole('link', { name: 'New MCP server' }).click();
    await admin.getByLabel('Name', { exact: true }).fill('CRM');
    await admin.getByLabel(/Resource URI/).fill(NEW_SERVER);
    await admin.getByLabel(/^Scopes/).fill('crm:read | Read accounts and deals | search_accounts, get_deal\ncrm:write | Change deals | update_deal');
    await photograph(admin, 'resource-new');
    await admin.getByRole('button', { name: 'Save' }).click();
    await admin.getByRole('status').filter({ hasText: /CRM/ }).waitFor();
    await photograph(admin, 'resource-detail');
    const created = await gh.services.resources.find(NEW_SERVER);
    expect(Object.keys(created?.scopes ?? {}).sort()).toEqual(['crm:read', 'crm:write']);
    expect(created?.catalogue['crm:read']?.tools).toEqual(['search_accounts', 'get_deal']);
    const catalogue = (await (await fetch(`${gh.issuer}/catalogue?resource=${encodeURIComponent(NEW_SERVER)}`)).json()) as { resource: string; scopes: Record<string, { tools: string[] }> };
    expect(catalogue.resource).toBe(NEW_SERVER);
    expect(catalogue.scopes['crm:write']?.tools).toEqual(['update_deal']);
  });

  it('photographs the remaining sections', async () => {
    for (const [section, heading, name] of [['Connections', 'Connections', 'connections'], ['Keys', 'Keys', 'keys'], ['Policy', 'Policy', 'policy']] as const) {
      await nav(section);
      await admin.getByRole('heading', { name: heading, exact: true }).waitFor();
      await photograph(admin, name);
    }
  });

  it('filters the audit log to the admin\'s actions and exports them as CSV', async () => {
    await nav('Audit log');
    await admin.getByRole('heading', { name: 'Audit log', exact: true }).waitFor();
    await admin.getByLabel('Person').fill(ADMIN.email);
    await admin.getByRole('button', { name: 'Filter' }).click();
    await admin.waitForURL(/actor=/);
    const table = admin.getByRole('table');
    for (const type of ['client.approved', 'grant.revoked', 'resource.created']) {
      await table.getByText(type, { exact: true }).first().waitFor();
    }
    // A person's own events are filtered out.
    expect(await table.getByText(PERSON.email).count()).toBe(0);
    await photograph(admin, 'audit');

    const [download] = await Promise.all([admin.waitForEvent('download'), admin.getByRole('link', { name: 'Export CSV' }).click()]);
    const csv = readFileSync((await download.path())!, 'utf8');
    expect(csv.split('\n')[0]).toMatch(/type/);
    for (const type of ['client.approved', 'grant.revoked', 'resource.created']) expect(csv).toContain(type);
    expect(csv).not.toContain(PERSON.email);
  });
});
