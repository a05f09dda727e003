// The connect-account page (docs/CONNECT-ACCOUNT.md) over real HTTP, a real database and a real upstream IdP (a second
// oidc-provider, test/helpers/upstream-idp.ts): a signed-in person opens the URL the token exchange hands out
// (connectAccountUrl), sees which account, scopes and client it is about, presses Connect (a POST with CSRF), signs in
// at the IdP and comes back through the fixed /upstream/callback to a done page; the vault then holds the tokens with
// the added scope and a refresh token. Refused, audited, and ending on a page: a GET alone (it never leaves for the
// IdP), a post without CSRF or from another origin, another browser's callback, a replayed one, another upstream
// person for a connection the person signs in with, an upstream identity that signs in to another account, and a
// connection that keeps no tokens. One test walks the page in Debian's chromium.
import { randomBytes } from 'node:crypto';
import type { Browser as Chromium } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { launchChromium } from '../helpers/chromium.js';
import { connectionSpec } from '../helpers/connection-spec.js';
import { formAction, MultiOriginBrowser } from '../helpers/multi-origin-browser.js';
import { registerPublicClient } from '../helpers/browser-flow.js';
import { freePort, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { resourceInputOf } from '../../src/admin/resources.js';
import { startMockIdp, type MockIdp } from '../helpers/upstream-idp.js';
import { connectAccountUrl } from '../../src/upstream/connect-url.js';
import { entraKind } from '../../src/upstream/entra/index.js';
import { githubKind } from '../../src/upstream/github/index.js';
import { googleKind } from '../../src/upstream/google/index.js';
import { oidcKind } from '../../src/upstream/oidc/index.js';
import { StubIdp } from '../helpers/stub-idp.js';
import { stubConnector } from '../helpers/connection-spec.js';

const PASSWORD = 'a passphrase long enough 123';
const CLIENT_NAME = 'Calendar Agent';

let db: TestDatabase;
let gh: TestServer;
let idp: MockIdp;
let ghOrigin: string;
let clientId: string;
let people = 0;

const leavesGatehouse = (next: URL) => next.origin !== ghOrigin;
const knex = () => gh.services.handle.db;
const details = (row: Record<string, any>) => (typeof row.details === 'string' ? JSON.parse(row.details) : (row.details ?? {})) as Record<string, any>;
const auditOf = async (type: string) => (await knex()('audit_events').where({ type }).orderBy('id', 'asc')) as Array<Record<string, any>>;
const connectTransactions = async () => Number(((await knex()('upstream_transactions').where('interaction_id', 'like', 'connect:%').count('* as n')) as Array<{ n: number | string }>)[0]!.n);

interface Person {
  email: string;
  accountId: string;
  browser: MultiOriginBrowser;
}

beforeAll(async () => {
  const port = await freePort();
  idp = await startMockIdp({
    gatehouseIssuer: `http://127.0.0.1:${port}`,
    accounts: {},
    extraScopes: ['files.read', 'files.write'],
  });
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env }, port);
  ghOrigin = new URL(gh.issuer).origin;
  const common = { kind: 'oidc' as const, issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, allowPrivateNetwork: true };
  await gh.services.connections.add(connectionSpec('oidc', { ...common, id: 'mock', name: 'Mock IdP', storeTokens: true }), 'cli');
  await gh.services.connections.add(connectionSpec('oidc', { ...common, id: 'nostore', name: 'Plain IdP', storeTokens: false }), 'cli');
  await delegate(gh, { mock: ['files.read', 'files.write'], nostore: ['files.read'] });
  clientId = (await registerPublicClient(gh.issuer, ['http://127.0.0.1:9/callback'], { client_name: CLIENT_NAME })).client_id;
});

/** The MCP server's delegation policy lists these upstream scopes: a link may ask only for those. */
async function delegate(server: TestServer, connections: Record<string, string[]>): Promise<void> {
  const r = (await server.services.resources.find(TEST_RESOURCE))!;
  await server.services.resources.upsert({ ...resourceInputOf(r), delegation: { connections, resources: {} } });
}

afterAll(async () => {
  await gh?.close();
  await idp?.close();
  await db?.drop();
});

function upstreamAccount(label: string): string {
  const sub = `${label}-${randomBytes(4).toString('hex')}`;
  idp.accounts[sub] = { email: `${sub}@upstream.example`, email_verified: true, name: label, groups: [] };
  return sub;
}

/** Gatehouse's sign-in page (the interaction) shown after opening `url` signed out. */
async function toSignIn(browser: MultiOriginBrowser, url: string): Promise<Response> {
  const page = await browser.open(url, leavesGatehouse);
  if (!(page instanceof Response) || !new URL(page.url).pathname.startsWith('/interaction/')) throw new Error(`expected the sign-in page, got ${page instanceof URL ? page.href : page.url}`);
  return page;
}

/** A local person signed in to the account pages; `start` is where they begin (sign-in brings them back there). */
async function localPerson(start = `${'/account'}`): Promise<Person & { landed: Response }> {
  const email = `connect${++people}@example.com`;
  const { id } = await gh.services.users.create({ email, password: PASSWORD });
  const browser = new MultiOriginBrowser(email);
  const login = await toSignIn(browser, `${gh.issuer}${start}`);
  const res = await browser.postForm(formAction(await login.text(), login.url, 'name="password"'), { email, password: PASSWORD });
  const landed = await browser.follow(res, leavesGatehouse);
  if (!(landed instanceof Response) || landed.status !== 200) throw new Error(`sign-in did not land on a page: ${landed instanceof URL ? landed.href : landed.status}`);
  return { email, accountId: id, browser, landed };
}

/** A person who signs in to Gatehouse through the Mock IdP as `sub` (an identities row of connection "mock"). */
async function upstreamPerson(sub: string): Promise<Person> {
  const browser = new MultiOriginBrowser(sub);
  const login = await toSignIn(browser, `${gh.issuer}/account`);
  const toIdp = await browser.follow(await browser.postForm(formAction(await login.text(), login.url, 'Continue with Mock IdP'), {}), leavesGatehouse);
  if (!(toIdp instanceof URL)) throw new Error(`expected the IdP, got ${toIdp.status}`);
  const callback = await idp.login(browser, toIdp, sub);
  const landed = await browser.open(callback, leavesGatehouse);
  if (!(landed instanceof Response) || new URL(landed.url).pathname !== '/account') throw new Error(`upstream sign-in did not land on /account: ${landed instanceof URL ? landed.href : `${landed.status} ${landed.url}`}`);
  const accountId = await gh.services.accounts.findByIdentity('mock', idp.issuer, sub);
  return { email: `${sub}@upstream.example`, accountId: accountId!, browser };
}

function hiddenFields(html: string, marker: string): Record<string, string> {
  const form = [...html.matchAll(/<form\b[\s\S]*?<\/form>/g)].map((m) => m[0]).find((f) => f.includes(marker));
  if (!form) throw new Error(`no form with ${marker}`);
  return Object.fromEntries([...form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!.replace(/&amp;/g, '&')]));
}

/** Opens the connect page; returns the page and its Connect form. */
async function connectPage(p: Person, connection = 'mock', request: { scopes?: string[]; clientId?: string } = {}) {
  const page = await p.browser.open(connectAccountUrl(gh.issuer, connection, request), leavesGatehouse);
  if (!(page instanceof Response)) throw new Error(`the connect page sent the browser to ${page.href}`);
  const html = await page.text();
  return { page, html, action: html.includes('name="connect"') ? formAction(html, page.url, 'name="connect"') : undefined, fields: html.includes('name="connect"') ? hiddenFields(html, 'name="connect"') : {} };
}

/** Presses Connect; returns the IdP URL Gatehouse redirected to. */
async function pressConnect(p: Person, connection = 'mock', request: { scopes?: string[]; clientId?: string } = {}): Promise<URL> {
  const { action, fields } = await connectPage(p, connection, request);
  const res = await p.browser.postForm(action!, fields);
  expect(res.status).toBe(303);
  const to = new URL(res.headers.get('location')!);
  expect(to.origin).toBe(new URL(idp.issuer).origin);
  return to;
}

/** The whole flow: Connect, sign in at the IdP as `sub`, back through /upstream/callback; returns the final page. */
async function connectAs(p: Person, sub: string, request: { scopes?: string[]; clientId?: string } = {}) {
  const idpUrl = await pressConnect(p, 'mock', request);
  const callback = await idp.login(p.browser, idpUrl, sub);
  const page = await p.browser.open(callback, leavesGatehouse);
  if (!(page instanceof Response)) throw new Error(`the callback sent the browser to ${page.href}`);
  return { idpUrl, callback, page, html: await page.text() };
}

async function expectRefusal(page: Response | URL, status: number): Promise<string> {
  if (page instanceof URL) throw new Error(`expected a refusal page, was sent to ${page.href}`);
  expect(page.status).toBe(status);
  expect(page.headers.get('location')).toBeNull();
  expect(page.headers.get('content-type')).toMatch(/text\/html/);
  return page.text();
}

describe('the page: a GET shows, never starts', () => {
  it('signed out, the link goes through sign-in and back to the page with its scope and client_id; nothing is sent to the IdP', async () => {
    const idpRequests = idp.authorizationRequests.length;
    const url = connectAccountUrl(gh.issuer, 'mock', { scopes: ['files.read'], clientId });
    const p = await localPerson(new URL(url).pathname + new URL(url).search);
    expect(new URL(p.landed.url).pathname).toBe('/account/connect/mock');
    expect(new URL(p.landed.url).searchParams.get('scope')).toBe('files.read');
    expect(new URL(p.landed.url).searchParams.get('client_id')).toBe(clientId);
    const html = await p.landed.text();
    expect(html).toContain('Connect your Mock IdP account');
    expect(html).toMatch(/id="extra-scopes">[\s\S]*<code>files\.read<\/code>/);
    expect(html).toContain(CLIENT_NAME);
    expect(html).toMatch(/id="linked">nothing yet/);
    expect(hiddenFields(html, 'name="connect"')).toEqual({ _csrf: expect.any(String), scope: 'files.read', client_id: clientId });
    // Opening the page (twice) never left for the IdP and started no upstream transaction.
    await connectPage(p, 'mock', { scopes: ['files.read'], clientId });
    expect(idp.authorizationRequests.length).toBe(idpRequests);
    expect(p.browser.visited(idp.issuer)).toBe(false);
    expect(await connectTransactions()).toBe(0);
  });

  it('an unknown client_id is simply not named; a next that is not a connect page path falls back to /account', async () => {
    const p = await localPerson();
    const { html } = await connectPage(p, 'mock', { clientId: 'https://evil.example/<b>client' });
    expect(html).toContain('An application asks');
    expect(html).not.toContain('evil.example');
    const off = await p.browser.open(`${gh.issuer}/account/login?next=${encodeURIComponent('//evil.example/account/connect/mock')}`, (n) => n.origin !== ghOrigin);
    expect(off).toBeInstanceOf(Response);
    expect(new URL((off as Response).url).pathname).toBe('/account');
  });

  it('refuses an unknown connection (404), the local one (400) and one that keeps no tokens (400, "keep upstream tokens"), on GET and POST', async () => {
    const p = await localPerson();
    expect((await connectPage(p, 'no-such-idp')).page.status).toBe(404);
    const local = (await gh.services.connections.list()).find((c) => c.kind === 'local')!;
    expect((await connectPage(p, local.id)).page.status).toBe(400);
    const off = await connectPage(p, 'nostore');
    expect(off.page.status).toBe(400);
    expect(off.html).toContain('keep upstream tokens');
    expect(off.action).toBeUndefined();
    // The Connect form of another connection, pointed at the one that keeps no tokens: refused too, no redirect.
    const { fields } = await connectPage(p, 'mock');
    const post = await p.browser.postForm(`${gh.issuer}/account/connect/nostore`, fields);
    expect(await expectRefusal(post, 400)).toContain('keep upstream tokens');
    const refusals = (await auditOf('account.upstream_connected')).filter((r) => r.actor === p.email);
    expect(refusals.map((r) => r.reason)).toEqual(['unknown connection', 'connection keeps no upstream tokens (local)', 'connection has storeTokens off', 'connection has storeTokens off']);
  });

  it('refuses a link asking the IdP for a scope no MCP server\'s delegation policy lists (a crafted link cannot widen the grant)', async () => {
    const p = await localPerson();
    const idpRequests = idp.authorizationRequests.length;
    const wide = await connectPage(p, 'mock', { scopes: ['files.read', 'admin.everything'] });
    expect(wide.page.status).toBe(400);
    expect(wide.html).toContain('admin.everything');
    expect(wide.action).toBeUndefined();
    const { fields } = await connectPage(p, 'mock', { scopes: ['files.read'] });
    const post = await p.browser.postForm(`${gh.issuer}/account/connect/mock`, { ...fields, scope: 'files.read admin.everything' });
    await expectRefusal(post, 400);
    expect(idp.authorizationRequests.length).toBe(idpRequests);
  });

  it('refuses a POST without the CSRF token, or from another origin: no redirect to the IdP, audited', async () => {
    const p = await localPerson();
    const { action, fields } = await connectPage(p, 'mock', { scopes: ['files.read'] });
    const requests = idp.authorizationRequests.length;
    const without = await p.browser.postForm(action!, { scope: fields.scope! });
    await expectRefusal(without, 403);
    const post = (from: string | undefined) =>
      p.browser.request(action!, { method: 'POST', from, headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://attacker.example' }, body: new URLSearchParams(fields).toString() });
    // From another site the (SameSite=Lax) session cookie is not even sent: no session, no start.
    await expectRefusal(await post('https://attacker.example'), 401);
    // With the cookie (a same-site page of another origin), the Origin check refuses it, even with the right token.
    await expectRefusal(await post(undefined), 403);
    expect(idp.authorizationRequests.length).toBe(requests);
    const refused = (await auditOf('account.refused')).filter((r) => r.actor === p.email).map((r) => r.reason);
    expect(refused).toEqual(['missing or wrong CSRF token', 'cross-origin form post']);
  });
});

describe('connecting', () => {
  it('links the upstream account with the added scope and a refresh token, audited, and says to return to the client', async () => {
    const p = await localPerson();
    const sub = upstreamAccount('alice');
    const { idpUrl, html, page } = await connectAs(p, sub, { scopes: ['files.read'], clientId });
    // The IdP was asked for the connection's scopes plus the added one, with offline_access for a refresh token.
    expect(idpUrl.searchParams.get('scope')!.split(' ').sort()).toEqual(['email', 'files.read', 'offline_access', 'openid', 'profile']);
    expect(page.status).toBe(200);
    expect(html).toContain('Mock IdP is connected');
    expect(html).toContain(`You can return to <strong>${CLIENT_NAME}</strong> and try again.`);
    const linked = await gh.services.vault.linked(p.accountId, 'mock');
    expect(linked).toEqual(expect.objectContaining({ issuer: idp.issuer, subject: sub, status: 'active' }));
    expect(linked!.scope?.split(' ')).toContain('files.read');
    const tokens = await gh.services.upstreamTokens.find(p.accountId, 'mock');
    expect(tokens?.accessToken).toBeTruthy();
    expect(tokens?.refreshToken).toBeTruthy();
    const ok = (await auditOf('account.upstream_connected')).filter((r) => r.actor === p.email && r.outcome === 'success');
    expect(ok).toHaveLength(1);
    expect(details(ok[0]!)).toEqual(expect.objectContaining({ connection: 'mock', subject: sub, requested: ['files.read'] }));
    // Connecting is not signing in: the upstream identity did not become a way into this account.
    expect(await gh.services.accounts.findByIdentity('mock', idp.issuer, sub)).toBeUndefined();
    expect(await connectTransactions()).toBe(0);
  });

  it('shows the linked account on /account, whose Disconnect removes it from the vault (audited)', async () => {
    const p = await localPerson();
    const sub = upstreamAccount('erin');
    await connectAs(p, sub);
    const home = await p.browser.get(`${gh.issuer}/account`);
    const html = await home.text();
    const section = html.slice(html.indexOf('data-connection="mock"'));
    expect(section).toContain(sub);
    expect(section).toMatch(/class="status">active</);
    expect(html).toContain('Upstream accounts');
    expect(html).not.toContain('data-connection="nostore"');
    const res = await p.browser.postForm(formAction(html, home.url, 'value="mock"'), hiddenFields(html, 'value="mock"'));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Mock IdP is disconnected');
    // The row stays, revoked, with its tokens forgotten: the page offers Reconnect and no second Disconnect.
    expect((await gh.services.vault.linked(p.accountId, 'mock'))?.status).toBe('revoked');
    expect((await gh.services.upstreamTokens.find(p.accountId, 'mock'))?.refreshToken).toBeUndefined();
    const after = await (await p.browser.get(`${gh.issuer}/account`)).text();
    const again = after.slice(after.indexOf('data-connection="mock"'));
    expect(again).toMatch(/class="status">revoked</);
    expect(again.slice(0, again.indexOf('</section>'))).toContain('Reconnect');
    expect(again.slice(0, again.indexOf('</section>'))).not.toContain('Disconnect');
    const events = (await auditOf('account.upstream_disconnected')).filter((r) => r.actor === p.email);
    expect(events.map((e) => details(e))).toEqual([expect.objectContaining({ connection: 'mock', subject: sub })]);
  });

  it('replaces a different upstream account already linked (the person just chose it upstream); the audit names the one replaced', async () => {
    const p = await localPerson();
    const first = upstreamAccount('frank');
    const second = upstreamAccount('frank-work');
    await connectAs(p, first);
    p.browser.forgetOrigin(idp.issuer); // signed out at the IdP: it asks who you are again
    const { html } = await connectAs(p, second);
    expect(html).toContain('Mock IdP is connected');
    expect((await gh.services.vault.linked(p.accountId, 'mock'))?.subject).toBe(second);
    const last = (await auditOf('account.upstream_connected')).filter((r) => r.actor === p.email && r.outcome === 'success').pop()!;
    expect(details(last)).toEqual(expect.objectContaining({ subject: second, replacedSubject: first }));
  });

  it('a person who signs in through the IdP keeps the login\'s tokens in the vault, and may connect more scopes as the same upstream person', async () => {
    const sub = upstreamAccount('grace');
    const p = await upstreamPerson(sub);
    // The login linked its tokens in the vault with who signed in (login-result.ts → vault.link), not only saved them.
    expect(await gh.services.vault.linked(p.accountId, 'mock')).toEqual(expect.objectContaining({ subject: sub, status: 'active' }));
    expect(await knex()('upstream_tokens').where({ account_id: p.accountId, connection_id: 'mock' }).first('upstream_issuer', 'upstream_subject')).toEqual({ upstream_issuer: idp.issuer, upstream_subject: sub });
    // This browser still holds the login's upstream cookie: the callback goes to the connect leg by its state.
    expect(p.browser.jar(gh.issuer).get('gatehouse.upstream')).toBeTruthy();
    const { html } = await connectAs(p, sub, { scopes: ['files.write'] });
    expect(html).toContain('Mock IdP is connected');
    expect((await gh.services.vault.linked(p.accountId, 'mock'))!.scope?.split(' ')).toContain('files.write');
  });
});

describe('a login and a connect in one browser', () => {
  it('a login\'s response still goes to its interaction while the connect cookie is left in the browser', async () => {
    const p = await localPerson();
    await connectAs(p, upstreamAccount('lena'));
    expect(p.browser.jar(gh.issuer).get('gatehouse.upstream.connect')).toBeTruthy();
    // Sign in again, this time through the IdP as another upstream person ("sign in as someone else").
    const login = await toSignIn(p.browser, `${gh.issuer}/account/login?switch=1`);
    const toIdp = await p.browser.follow(await p.browser.postForm(formAction(await login.text(), login.url, 'Continue with Mock IdP'), {}), leavesGatehouse);
    p.browser.forgetOrigin(idp.issuer);
    const other = upstreamAccount('lena-login');
    const callback = await idp.login(p.browser, toIdp as URL, other);
    const landed = await p.browser.open(callback, leavesGatehouse);
    expect((landed as Response).status).toBe(200);
    expect(new URL((landed as Response).url).pathname).toBe('/account');
    expect(p.browser.history.some((h) => /\/interaction\/[^/]+\/upstream\/callback/.test(h.url))).toBe(true);
    expect(p.browser.visited(`${gh.issuer}/account/connect-callback?${callback.search.slice(1)}`)).toBe(false);
    expect(await gh.services.accounts.findByIdentity('mock', idp.issuer, other)).toBeTruthy();
  });
});

describe('refusals after the IdP', () => {
  it('refuses another upstream person for a connection the person signs in with', async () => {
    const sub = upstreamAccount('heidi');
    const p = await upstreamPerson(sub);
    const other = upstreamAccount('mallory');
    p.browser.forgetOrigin(idp.issuer);
    const { page, html } = await connectAs(p, other, { scopes: ['files.read'] });
    expect(page.status).toBe(403);
    expect(html).toContain('You signed in to Mock IdP as someone else');
    expect((await gh.services.vault.linked(p.accountId, 'mock'))?.subject).toBe(sub);
    const last = (await auditOf('account.upstream_connected')).filter((r) => r.actor === p.email).pop()!;
    expect(last.outcome).toBe('failure');
    expect(last.reason).toBe('upstream subject is not the one this account signs in with');
  });

  it('refuses an upstream identity that signs in to another Gatehouse account', async () => {
    const owned = upstreamAccount('ivan');
    const owner = await upstreamPerson(owned);
    const p = await localPerson();
    const { page, html } = await connectAs(p, owned);
    expect(page.status).toBe(403);
    expect(html).toContain('belongs to someone else');
    expect(await gh.services.vault.linked(p.accountId, 'mock')).toBeUndefined();
    expect((await gh.services.vault.linked(owner.accountId, 'mock'))?.subject).toBe(owned);
    const last = (await auditOf('account.upstream_connected')).filter((r) => r.actor === p.email).pop()!;
    expect(last.reason).toBe('upstream identity is the sign-in identity of another account');
  });

  it('refuses another browser\'s callback (its code, its state), keeps this browser\'s connect for its own response', async () => {
    const attacker = await localPerson();
    const attackerSub = upstreamAccount('attacker');
    const held = await idp.login(attacker.browser, await pressConnect(attacker), attackerSub);
    const victim = await localPerson();
    const victimIdp = await pressConnect(victim);
    // The victim opens the attacker's callback (a link on the attacker's page).
    const result = await victim.browser.open(held, leavesGatehouse, 'https://attacker.example');
    expect(await expectRefusal(result, 400)).toContain('not yours');
    expect(await gh.services.vault.linked(victim.accountId, 'mock')).toBeUndefined();
    const last = (await auditOf('account.upstream_connected')).filter((r) => r.actor === victim.email).pop()!;
    expect(last.reason).toMatch(/^state mismatch/);
    // The victim's own response still connects their own account.
    const own = await idp.login(victim.browser, victimIdp, upstreamAccount('victim'));
    const done = await victim.browser.open(own, leavesGatehouse);
    expect((done as Response).status).toBe(200);
    expect((await gh.services.vault.linked(victim.accountId, 'mock'))?.subject).toMatch(/^victim-/);
    // And a browser that started nothing gets the fixed callback's refusal.
    const bystander = await localPerson();
    const none = await bystander.browser.open(held, leavesGatehouse, 'https://attacker.example');
    await expectRefusal(none, 400);
    expect(await gh.services.vault.linked(bystander.accountId, 'mock')).toBeUndefined();
  });

  it('refuses a replayed callback', async () => {
    const p = await localPerson();
    const { callback } = await connectAs(p, upstreamAccount('judy'));
    const again = await p.browser.open(callback, leavesGatehouse);
    expect(await expectRefusal(again, 400)).toContain('already used or has expired');
    const last = (await auditOf('account.upstream_connected')).filter((r) => r.actor === p.email).pop()!;
    expect(last.outcome).toBe('failure');
    expect(last.reason).toMatch(/^no connect transaction/);
  });

  it('refuses a callback in a browser whose account session is gone', async () => {
    const p = await localPerson();
    const callback = await idp.login(p.browser, await pressConnect(p), upstreamAccount('ken'));
    p.browser.jar(gh.issuer).delete('gatehouse.account');
    const result = await p.browser.open(callback, leavesGatehouse);
    await expectRefusal(result, 401);
    expect(await gh.services.vault.linked(p.accountId, 'mock')).toBeUndefined();
  });
});

describe('a connection an administrator disabled', () => {
  it('is refused on the page, at Connect and at a callback already on its way (403, audited, nothing linked); a kept link can still be disconnected', async () => {
    const linkedPerson = await localPerson();
    await connectAs(linkedPerson, upstreamAccount('olga'));
    const p = await localPerson();
    const { action, fields } = await connectPage(p, 'mock', { scopes: ['files.read'] });
    const held = await idp.login(p.browser, await pressConnect(p, 'mock', { scopes: ['files.read'] }), upstreamAccount('oscar'));
    const mock = (await gh.services.connections.find('mock'))!;
    await gh.services.connections.update(mock, { keepSecret: true, enabled: false });
    try {
      const requests = idp.authorizationRequests.length;
      const shown = await connectPage(p, 'mock', { scopes: ['files.read'] });
      expect(shown.page.status).toBe(403);
      expect(shown.html).toContain('Mock IdP is turned off');
      expect(shown.action).toBeUndefined();
      expect(await expectRefusal(await p.browser.postForm(action!, fields), 403)).toContain('Mock IdP is turned off');
      expect(idp.authorizationRequests.length).toBe(requests);
      // Started before the administrator turned it off: the IdP's answer connects nothing.
      expect(await expectRefusal(await p.browser.open(held, leavesGatehouse), 403)).toContain('Mock IdP is turned off');
      expect(await gh.services.vault.linked(p.accountId, 'mock')).toBeUndefined();
      const reasons = (await auditOf('account.upstream_connected')).filter((r) => r.actor === p.email && r.outcome === 'failure').map((r) => r.reason);
      expect(reasons).toEqual(['connection disabled', 'connection disabled', 'connection disabled']);
      // /account offers no Connect for it; a person whose tokens are still kept sees them, with Disconnect.
      expect(await (await p.browser.get(`${gh.issuer}/account`)).text()).not.toContain('data-connection="mock"');
      const home = await linkedPerson.browser.get(`${gh.issuer}/account`);
      const html = await home.text();
      expect(html).toContain('data-connection="mock"');
      const res = await linkedPerson.browser.postForm(formAction(html, home.url, 'value="mock"'), hiddenFields(html, 'value="mock"'));
      expect(await res.text()).toContain('Mock IdP is disconnected');
      expect((await gh.services.vault.linked(linkedPerson.accountId, 'mock'))?.status).toBe('revoked');
    } finally {
      await gh.services.connections.update(mock, { keepSecret: true, enabled: true });
    }
  });
});

describe('in a real browser', () => {
  let chromium: Chromium;
  let browserIdp: MockIdp;
  let browserGh: TestServer;
  let browserDb: TestDatabase;

  beforeAll(async () => {
    const port = await freePort();
    // The IdP on `localhost`, Gatehouse on 127.0.0.1: two sites, so their oidc-provider cookies stay apart.
    browserIdp = await startMockIdp({ gatehouseIssuer: `http://127.0.0.1:${port}`, accounts: { 'browser-person': { email: 'bp@upstream.example', email_verified: true, name: 'BP', groups: [] } }, extraScopes: ['files.read'], host: 'localhost' });
    browserDb = await createTestDatabase();
    browserGh = await startTestServer({ ...browserDb.env }, port);
    await browserGh.services.connections.add(connectionSpec('oidc', { id: 'mock', name: 'Mock IdP', kind: 'oidc', issuer: browserIdp.issuer, clientId: browserIdp.clientId, clientSecret: browserIdp.clientSecret, allowPrivateNetwork: true, storeTokens: true }), 'cli');
    await delegate(browserGh, { mock: ['files.read'] });
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium?.close();
    await browserGh?.close();
    await browserIdp?.close();
    await browserDb?.drop();
  });

  it('walks the page and clicks Connect through the IdP\'s login', async () => {
    const { id } = await browserGh.services.users.create({ email: 'walker@example.com', password: PASSWORD });
    const context = await chromium.newContext();
    const page = await context.newPage();
    await page.goto(connectAccountUrl(browserGh.issuer, 'mock', { scopes: ['files.read'] }));
    await page.fill('input[name="email"]', 'walker@example.com');
    await page.fill('input[name="password"]', PASSWORD);
    await page.click('button:has-text("Sign in")');
    await page.waitForSelector('h1:has-text("Connect your Mock IdP account")');
    expect(new URL(page.url()).searchParams.get('scope')).toBe('files.read');
    await page.click('button:has-text("Connect")');
    await page.waitForSelector('h1:has-text("Mock IdP sign-in")');
    await page.fill('input[name="sub"]', 'browser-person');
    await page.click('button:has-text("Sign in")');
    await page.waitForSelector('h1:has-text("Mock IdP is connected")');
    expect(await browserGh.services.vault.linked(id, 'mock')).toEqual(expect.objectContaining({ subject: 'browser-person', status: 'active' }));
    await page.goto(`${browserGh.issuer}/account`);
    expect(await page.textContent('section[data-connection="mock"]')).toContain('browser-person');
    await context.close();
  });
});

describe('each kind asks for the added scopes (incremental consent)', () => {
  let stub: StubIdp;
  beforeEach(async () => {
    stub = await StubIdp.start();
  });
  afterEach(async () => {
    await stub.close();
  });
  const scopesOf = (url: URL) => url.searchParams.get('scope')!.split(' ').sort();

  it('Google: the added scopes with access_type=offline, prompt=consent and include_granted_scopes', async () => {
    stub.intercept('https://accounts.google.com');
    stub.issuer = 'https://accounts.google.com';
    stub.endpoints = { ...stub.endpoints, authorization_endpoint: 'https://accounts.google.com/o/oauth2/v2/auth' };
    const google = stubConnector(googleKind, connectionSpec('google', { storeTokens: true }), stub.fetch);
    const plain = (await google.start()).url;
    expect(plain.searchParams.get('include_granted_scopes')).toBeNull();
    const { url } = await google.start({ scopes: ['https://www.googleapis.com/auth/calendar.readonly'] });
    expect(scopesOf(url)).toEqual(['email', 'https://www.googleapis.com/auth/calendar.readonly', 'openid', 'profile']);
    expect(Object.fromEntries(['access_type', 'prompt', 'include_granted_scopes'].map((k) => [k, url.searchParams.get(k)]))).toEqual({ access_type: 'offline', prompt: 'consent', include_granted_scopes: 'true' });
  });

  it('Entra: the added Graph scopes with offline_access, even on a connection that asks none itself', async () => {
    const tenant = '3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b';
    stub.intercept('https://login.microsoftonline.com');
    stub.issuer = `https://login.microsoftonline.com/${tenant}/v2.0`;
    stub.endpoints = { ...stub.endpoints, authorization_endpoint: `https://login.microsoftonline.com/${tenant}/oauth2/v2.0/authorize` };
    const entra = stubConnector(entraKind, connectionSpec('entra', { tenant }), stub.fetch);
    const { url } = await entra.start({ scopes: ['https://graph.microsoft.com/Mail.Read'] });
    expect(scopesOf(url)).toEqual(expect.arrayContaining(['https://graph.microsoft.com/Mail.Read', 'offline_access', 'openid', 'profile']));
  });

  it('GitHub and generic OIDC: the connection\'s scopes plus the added ones', async () => {
    const github = stubConnector(githubKind, connectionSpec('github', { storeTokens: true }), stub.fetch);
    expect(scopesOf((await github.start({ scopes: ['repo'] })).url)).toEqual(['read:user', 'repo', 'user:email']);
    const oidc = stubConnector(oidcKind, connectionSpec('oidc', { issuer: stub.issuer, scopes: ['openid', 'email'], storeTokens: true }), stub.fetch);
    expect(scopesOf((await oidc.start()).url)).toEqual(['email', 'offline_access', 'openid']);
    expect(scopesOf((await oidc.start({ scopes: ['files.read'] })).url)).toEqual(['email', 'files.read', 'offline_access', 'openid']);
  });
});
