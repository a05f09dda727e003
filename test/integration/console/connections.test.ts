// Console connections page: an admin lists, adds, edits, tests and removes upstream identity providers. A
// connection added here is on the login page at once and a person logs in through it end to end (a real
// oidc-provider upstream); Test runs discovery now and reports what it found, or the failure in plain words;
// refused settings store nothing; secrets are never shown nor audited; the environment's connection is read-only.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Socket } from 'node:net';
import { authorizeUrl, pkcePair, tokenRequest } from '../../helpers/browser-flow.js';
import { consoleSignIn, type ConsoleBrowser } from '../../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.js';
import { formAction, MultiOriginBrowser } from '../../helpers/multi-origin-browser.js';
import { freePort, startTestServer, TEST_RESOURCE, type TestServer } from '../../helpers/server.js';
import { answerConsent, openAtGatehouse, registerMcpClient, startMockIdp, type MockIdp } from '../../helpers/upstream-idp.js';
import { TEST_REFUSED, TEST_UNREACHABLE } from '../../../src/console/connections.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const ADA = 'idp-sub-ada-console-1';
const EVIL = '<script>alert(1)</script><img src=x onerror=alert(1)>';
const NEW_SECRET = 'a-brand-new-secret-that-must-never-show-0123';

let db: TestDatabase;
let gh: TestServer;
let idp: MockIdp;
let admin: ConsoleBrowser;
let deadIssuer: string;

beforeAll(async () => {
  const port = await freePort();
  idp = await startMockIdp({ gatehouseIssuer: `http://127.0.0.1:${port}`, accounts: { [ADA]: { email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace', groups: [] } } });
  db = await createTestDatabase();
  gh = await startTestServer(db.env, port);
  await gh.services.users.create(ADMIN);
  admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
  // A port nothing listens on: bound, then closed.
  deadIssuer = await new Promise<string>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = srv.address() as { port: number };
      srv.close(() => resolve(`http://127.0.0.1:${p}`));
    });
  });
});

afterAll(async () => {
  await gh?.close();
  await idp?.close();
  await db?.drop();
});

const decode = (html: string) => html.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const row = (id: string) => gh.services.handle.db('upstream_connections').where({ id }).first();
const add = (form: Record<string, string>, kind = form.kind ?? 'oidc') => admin.submit('/connections', `/connections/new?kind=${kind}`, { kind, ...form });
const lastEvent = async (type: string) => (await gh.services.audit.recent({ type, limit: 1 }))[0];
// The mock IdP listens on 127.0.0.1: the connection opts in to a private network (docs/SECURITY.md, "Issue 16").
const mockForm = () => ({ kind: 'oidc', id: 'mock', name: 'Mock IdP', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, allowPrivateNetwork: 'on' });

/** The login page an MCP client's authorization shows (local accounts and every connection). */
async function loginPage(browser = new MultiOriginBrowser('visitor')) {
  const client = await registerMcpClient(gh.issuer, 'http://127.0.0.1:45125/cb', 'Console Connections Client');
  const { verifier, challenge } = pkcePair();
  const url = authorizeUrl(gh.issuer, { client_id: client.clientId, redirect_uri: client.redirectUri, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read', state: 'st-1' });
  const page = await browser.open(url, (next) => next.origin !== new URL(gh.issuer).origin);
  if (!(page instanceof Response)) throw new Error(`expected the login page, went to ${page.href}`);
  return { browser, client, verifier, page, html: await page.text() };
}

describe('the connections list and the add form', () => {
  it('lists the environment connection and offers Add connection', async () => {
    const page = await admin.page('/connections');
    expect(page.status).toBe(200);
    expect(page.html).toContain('<h1>Connections</h1>');
    expect(page.html).toMatch(/aria-current="page">Connections</);
    expect(page.html).toContain('href="/console/connections/new">Add connection</a>');
    expect(page.html).toMatch(/<td><a href="\/console\/connections\/local">local<\/a><\/td>\s*<td>local<\/td>\s*<td>Email and password<\/td>\s*<td><span class="status-active">enabled<\/span><\/td>\s*<td class="wrap"><\/td>\s*<td>environment \(UPSTREAM_\*\)<\/td>/);
    expect(page.html).toContain(`${gh.issuer}/upstream/callback`);
  });

  it("shows the fields of the chosen kind only, the secret as a password field", async () => {
    const oidc = (await admin.page('/connections/new')).html;
    for (const f of ['id', 'name', 'issuer', 'clientId', 'scopes', 'groupsClaim', 'storeTokens', 'allowPrivateNetwork']) expect(oidc).toContain(`name="${f}"`);
    expect(oidc).toContain('name="clientSecret" type="password" value=""');
    expect(oidc).not.toContain('name="tenant"');
    expect(oidc).toContain('<option value="oidc" selected>');
    expect(oidc).toMatch(/<button type="submit">Save<\/button>/);
    const entra = (await admin.page('/connections/new?kind=entra')).html;
    for (const f of ['tenant', 'allowedTenants', 'clientId', 'clientSecret']) expect(entra).toContain(`name="${f}"`);
    expect(entra).not.toContain('name="issuer"');
    expect(entra).toContain('<option value="entra" selected>');
    const google = (await admin.page('/connections/new?kind=google')).html;
    expect(google).toContain('name="hostedDomains"');
    expect(google).not.toContain('name="issuer"');
    expect((await admin.page('/connections/new?kind=%3Cscript%3E')).html).toContain('<option value="oidc" selected>');
  });
});

describe('adding a connection', () => {
  it('refuses invalid settings with 400, each problem next to its field, storing nothing and never echoing the secret', async () => {
    const res = await add({ kind: 'oidc', id: 'broken', name: 'Broken', issuer: 'ftp://idp.example.test', clientId: '', clientSecret: NEW_SECRET });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toMatch(/id="issuer-problem" role="alert"><p>Issuer URL: must be https/);
    expect(html).toMatch(/id="clientId-problem" role="alert"><p>Client ID: required for a oidc connection/);
    expect(html).toContain('value="ftp://idp.example.test"');
    expect(html).not.toContain(NEW_SECRET);
    expect(await row('broken')).toBeUndefined();
    const event = await lastEvent('connection.added');
    expect(event).toMatchObject({ outcome: 'failure', actor: ADMIN.email, reason: 'invalid settings' });
    expect(JSON.stringify(event)).not.toContain(NEW_SECRET);

    const entra = await add({ kind: 'entra', id: 'ms', tenant: 'organizations', clientId: 'x', clientSecret: 'y' });
    expect(entra.status).toBe(400);
    expect(await entra.text()).toMatch(/id="allowedTenants-problem" role="alert"><p>Allowed tenants: required with tenant organizations/);
    expect(await row('ms')).toBeUndefined();

    // A setting the kind does not read is refused, not silently dropped.
    const extra = await add({ kind: 'okta', id: 'okta', issuer: 'https://acme.okta.com', clientId: 'x', hostedDomains: 'example.com' });
    expect(extra.status).toBe(400);
    expect(decode(await extra.text())).toContain('Workspace domains: not used by an okta connection');
    expect(await row('okta')).toBeUndefined();

    const kind = await add({ kind: 'saml', id: 'saml' });
    expect(kind.status).toBe(400);
    expect(await kind.text()).toMatch(/id="kind-problem" role="alert"><p>Kind: must be one of/);
  });

  it('adds one that is on the login page at once, through which a person logs in end to end', async () => {
    const res = await add(mockForm());
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/console/connections/mock');
    const stored = await row('mock');
    expect(stored).toMatchObject({ id: 'mock', kind: 'oidc', name: 'Mock IdP', source: 'console' });
    expect(JSON.stringify(stored)).not.toContain(idp.clientSecret);
    expect((await gh.services.connections.find('mock'))?.clientSecret).toBe(idp.clientSecret);
    const event = await lastEvent('connection.added');
    expect(event).toMatchObject({ outcome: 'success', actor: ADMIN.email });
    expect(event!.details).toMatchObject({ id: 'mock', kind: 'oidc', issuer: idp.issuer });
    expect(JSON.stringify(event)).not.toContain(idp.clientSecret);

    const detail = await admin.page('/connections/mock');
    expect(detail.status).toBe(200);
    expect(detail.html).not.toContain(idp.clientSecret);
    expect(detail.html).toContain('stored (encrypted; never shown)');
    expect((await admin.page('/connections')).html).toContain('<td>console</td>');

    // The login page of an MCP client's authorization offers it, and it works.
    const { browser, client, verifier, page, html } = await loginPage(new MultiOriginBrowser('ada'));
    expect(html).toContain('Continue with Mock IdP');
    const toIdp = await browser.follow(await browser.postForm(formAction(html, page.url, 'Continue with Mock IdP'), {}), (next) => next.origin !== new URL(gh.issuer).origin);
    expect(toIdp).toBeInstanceOf(URL);
    expect((toIdp as URL).origin).toBe(idp.issuer);
    const callback = await idp.login(browser, toIdp as URL, ADA);
    let step = await openAtGatehouse(browser, gh.issuer, callback);
    if (step instanceof Response) step = await answerConsent(browser, gh.issuer, step, 'allow');
    expect(step).toBeInstanceOf(URL);
    const back = step as URL;
    expect(`${back.origin}${back.pathname}`).toBe(client.redirectUri);
    const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, code_verifier: verifier, client_id: client.clientId, redirect_uri: client.redirectUri });
    expect(tokens.status).toBe(200);
    const linked = await gh.services.handle.db('identities').where({ connection_id: 'mock', subject: ADA }).first();
    expect(linked).toBeDefined();
  });

  it('refuses an id in use with 409, storing nothing', async () => {
    const before = await row('mock');
    const res = await add({ ...mockForm(), name: 'Second' });
    expect(res.status).toBe(409);
    expect(decode(await res.text())).toContain('Id: a connection with id mock already exists');
    expect(await row('mock')).toEqual(before);
    expect(await lastEvent('connection.added')).toMatchObject({ outcome: 'failure', reason: 'connection exists' });
    expect((await add({ kind: 'local', id: '' }, 'local')).status).toBe(409); // the id defaults to the kind: local
  });
});

describe('testing a connection', () => {
  it('reports the issuer and endpoints the mock IdP publishes', async () => {
    const res = await admin.submit('/connections/mock/test', '/connections/mock', {});
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Discovery succeeded');
    expect(html).toContain(`${idp.issuer}/.well-known/openid-configuration`);
    expect(html).toContain(`<dd class="wrap" id="found-issuer">${idp.issuer}</dd>`);
    expect(html).toContain(`${idp.issuer}/auth`);
    expect(html).toContain(`${idp.issuer}/token`);
    expect(html).toContain(`${idp.issuer}/me`);
    expect(html).toContain(`${idp.issuer}/jwks`);
    expect(html).toMatch(/PKCE methods<\/dt><dd>S256/);
    expect(html).toMatch(/Scopes supported<\/dt><dd class="wrap">[^<]*openid/);
    const event = await lastEvent('connection.tested');
    expect(event).toMatchObject({ outcome: 'success', actor: ADMIN.email });
    expect(event!.details).toMatchObject({ id: 'mock', issuer: idp.issuer });
  });

  it('reports a dead issuer as a failure in plain words (no 5xx), audited', async () => {
    expect((await add({ kind: 'oidc', id: 'dead', name: 'Dead IdP', issuer: deadIssuer, clientId: 'x', allowPrivateNetwork: 'on', decision: 'disabled' })).status).toBe(303);
    const res = await admin.submit('/connections/dead/test', '/connections/dead', {});
    expect(res.status).toBe(200);
    const html = decode(await res.text());
    expect(html).toContain('The test failed.');
    expect(html).toContain(TEST_UNREACHABLE);
    const event = await lastEvent('connection.tested');
    expect(event).toMatchObject({ outcome: 'failure', actor: ADMIN.email, reason: TEST_UNREACHABLE });

    const local = await admin.submit('/connections/local/test', '/connections/local', {});
    expect(local.status).toBe(200);
    expect(await local.text()).toContain('has nothing to discover');
    expect((await admin.submit('/connections/no-such-id/test', '/connections', {})).status).toBe(404);
  });

  // Issue 16, finding 8: the Test button was a port scanner (connection refused, reset, a parse error or a timeout
  // each had its own words). Now a closed port and an open port that speaks no HTTP read alike.
  it('answers the same for a closed port and an open non-HTTP port (no port oracle)', async () => {
    const sockets = new Set<Socket>();
    const banner = createServer((socket) => {
      sockets.add(socket);
      socket.end('SSH-2.0-OpenSSH_9.6\r\n');
    });
    await new Promise<void>((resolve) => banner.listen(0, '127.0.0.1', resolve));
    try {
      const open = `http://127.0.0.1:${(banner.address() as { port: number }).port}`;
      expect((await add({ kind: 'oidc', id: 'open-port', name: 'Open port', issuer: open, clientId: 'x', allowPrivateNetwork: 'on', decision: 'disabled' })).status).toBe(303);
      expect((await add({ kind: 'oidc', id: 'closed-port', name: 'Closed port', issuer: deadIssuer, clientId: 'x', allowPrivateNetwork: 'on', decision: 'disabled' })).status).toBe(303);
      const answer = async (id: string) => {
        const html = decode(await (await admin.submit(`/connections/${id}/test`, `/connections/${id}`, {})).text());
        const reason = String((await lastEvent('connection.tested'))!.reason);
        // The page names the connection; everything else must be identical.
        return { page: html.replace(/Open port|Closed port|open-port|closed-port|http:\/\/127\.0\.0\.1:\d+/g, '…'), reason };
      };
      const [closed, opened] = [await answer('closed-port'), await answer('open-port')];
      expect(opened.reason).toBe(closed.reason);
      expect(opened.page).toBe(closed.page);
      expect(closed.page).toContain(TEST_UNREACHABLE);
      expect(closed.page).not.toMatch(/ECONNREFUSED|refused\)|HPE_|reset|SSH/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => banner.close(resolve));
    }
  });

  it('refuses a loopback issuer without the private-network opt-in before connecting, and says how to allow it', async () => {
    let accepted = 0;
    const listener = createServer((socket) => {
      accepted++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const issuer = `http://127.0.0.1:${(listener.address() as { port: number }).port}`;
      expect((await add({ kind: 'oidc', id: 'loopback', name: 'Loopback', issuer, clientId: 'x', decision: 'disabled' })).status).toBe(303);
      expect((await gh.services.connections.find('loopback'))!.allowPrivateNetwork).toBe(false);
      const html = decode(await (await admin.submit('/connections/loopback/test', '/connections/loopback', {})).text());
      expect(html).toContain(TEST_REFUSED);
      expect(accepted).toBe(0);
      expect((await admin.page('/connections/loopback')).html).toContain('public addresses only');
      expect(await lastEvent('connection.added')).toMatchObject({ details: { id: 'loopback', allowPrivateNetwork: false } });
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
  });

});

describe('editing a connection', () => {
  it('saves new settings, keeps the stored secret when the field is left empty, and the login page follows', async () => {
    const res = await admin.submit('/connections/mock', '/connections/mock', { name: 'Mock Renamed', issuer: idp.issuer, clientId: idp.clientId, clientSecret: '', scopes: 'openid email profile', allowPrivateNetwork: 'on' });
    expect(res.status).toBe(303);
    const c = (await gh.services.connections.find('mock'))!;
    expect(c.name).toBe('Mock Renamed');
    expect(c.scopes).toEqual(['openid', 'email', 'profile']);
    expect(c.clientSecret).toBe(idp.clientSecret);
    expect(c.source).toBe('console');
    const event = await lastEvent('connection.updated');
    expect(event).toMatchObject({ outcome: 'success', actor: ADMIN.email });
    expect(event!.details).toMatchObject({ id: 'mock', name: 'Mock Renamed', credentialReplaced: false });
    expect((await loginPage()).html).toContain('Continue with Mock Renamed');

    const page = await admin.page('/connections/mock');
    expect(page.html).toContain('value="Mock Renamed"');
    expect(page.html).toContain('value="openid, email, profile"');
    expect(page.html).toContain('Leave empty to keep the stored secret');

    // A new secret replaces it, and is neither shown nor audited.
    expect((await admin.submit('/connections/mock', '/connections/mock', { name: 'Mock Renamed', issuer: idp.issuer, clientId: idp.clientId, clientSecret: NEW_SECRET, allowPrivateNetwork: 'on' })).status).toBe(303);
    expect((await gh.services.connections.find('mock'))!.clientSecret).toBe(NEW_SECRET);
    expect((await admin.page('/connections/mock')).html).not.toContain(NEW_SECRET);
    expect(JSON.stringify(await lastEvent('connection.updated'))).not.toContain(NEW_SECRET);
    await admin.submit('/connections/mock', '/connections/mock', { name: 'Mock IdP', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, allowPrivateNetwork: 'on' });
  });

  it('refuses invalid settings with 400 and changes nothing', async () => {
    const before = await row('mock');
    const res = await admin.submit('/connections/mock', '/connections/mock', { name: '', issuer: 'not a url', clientId: idp.clientId, clientSecret: NEW_SECRET });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toMatch(/id="issuer-problem" role="alert"><p>Issuer URL: must be an absolute https URL/);
    expect(html).not.toContain(NEW_SECRET);
    expect(await row('mock')).toEqual(before);
    expect(await lastEvent('connection.updated')).toMatchObject({ outcome: 'failure', reason: 'invalid settings' });
    expect((await admin.submit('/connections/no-such-id', '/connections', { name: 'x' })).status).toBe(404);
  });

  it("shows the environment's connection read-only and refuses to change or remove it", async () => {
    const page = await admin.page('/connections/local');
    expect(page.status).toBe(200);
    expect(page.html).toContain('comes from the environment');
    expect(page.html).not.toContain('>Save</button>');
    expect(page.html).not.toContain('>Remove</button>');
    const before = await row('local');
    const edit = await admin.submit('/connections/local', '/connections/local', { name: 'Hijacked' });
    expect(edit.status).toBe(409);
    const remove = await admin.submit('/connections/local/remove', '/connections/local/remove', {});
    expect(remove.status).toBe(409);
    expect(await row('local')).toEqual(before);
    expect(await lastEvent('connection.removed')).toMatchObject({ outcome: 'failure', reason: 'defined by the environment' });
  });

  it('shows HTML in a display name escaped (list, detail, login page)', async () => {
    expect((await add({ kind: 'oidc', id: 'evil', name: EVIL, issuer: idp.issuer, clientId: 'x', decision: 'enable_anyway' })).status).toBe(303);
    for (const html of [(await admin.page('/connections')).html, (await admin.page('/connections/evil')).html, (await admin.page('/connections/evil/remove')).html, (await loginPage()).html]) {
      expect(html).not.toContain('<script>alert(1)');
      expect(html).not.toContain('<img src=x');
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;');
    }
  });
});

describe('re-validation and global logout on a connection\'s page', () => {
  it('says how the connection re-validates its people: one that keeps no upstream refresh token says so', async () => {
    expect((await gh.services.connections.find('mock'))!.storeTokens).toBe(false);
    expect(decode((await admin.page('/connections/mock')).html)).toMatch(/<dd id="revalidation">No upstream refresh token \(turn on "[^"]+" to get one\): people are re-validated/);
    expect((await admin.page('/connections/local')).html).toMatch(/<dd id="revalidation">[^<]+<\/dd>/);
  });

  it('creates a global logout secret shown once with the endpoint URL, then offers Rotate and Remove; the secret is never shown again nor audited', async () => {
    const before = await admin.page('/connections/mock');
    expect(before.html).toContain('Create global logout secret');
    expect(before.html).toContain(`POST ${gh.issuer}/global-token-revocation`);
    expect(before.html).toContain(`${gh.issuer}/ssf/events/mock`);
    const res = await admin.submit('/connections/mock/global-logout-secret', '/connections/mock', {});
    expect(res.status).toBe(200);
    const html = await res.text();
    const secret = /<code class="wrap" id="secret">(ghgl_[A-Za-z0-9_-]{43})<\/code>/.exec(html)?.[1];
    expect(secret).toBeDefined();
    expect(html).toContain(`id="endpoint">${gh.issuer}/global-token-revocation</code>`);
    const after = (await admin.page('/connections/mock')).html;
    expect(after).toContain('Rotate global logout secret');
    expect(after).toContain('A global logout secret is set');
    expect(after).not.toContain(secret!);
    // It authenticates at the endpoint (nobody by that email: the draft's 404).
    const call = await fetch(`${gh.issuer}/global-token-revocation`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ sub_id: { format: 'email', email: 'nobody@example.com' } }) });
    expect(call.status).toBe(404);
    expect(await lastEvent('connection.global_logout_secret_rotated')).toMatchObject({ outcome: 'success', actor: ADMIN.email });

    const removed = await admin.submit('/connections/mock/global-logout-secret/clear', '/connections/mock', {});
    expect([removed.status, removed.headers.get('location')]).toEqual([303, '/console/connections/mock']);
    expect((await admin.page('/connections/mock')).html).toContain('No global logout secret.');
    expect(await lastEvent('connection.global_logout_secret_cleared')).toMatchObject({ outcome: 'success', actor: ADMIN.email });
    expect((await admin.submit('/connections/mock/global-logout-secret/clear', '/connections/mock', {})).status).toBe(409);
    expect(JSON.stringify(await gh.services.handle.db('audit_events').select('*'))).not.toContain(secret!);
  });
});

describe('removing a connection', () => {
  it('asks first, then removes it: gone from the list and the login page; audited', async () => {
    const confirm = await admin.page('/connections/mock/remove');
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain('<h1>Remove Mock IdP?</h1>');
    expect(confirm.html).toMatch(/<button type="submit" class="danger">Remove<\/button>/);
    expect(await row('mock')).toBeDefined();

    const res = await admin.submit('/connections/mock/remove', '/connections/mock/remove', {});
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/console/connections');
    expect(await row('mock')).toBeUndefined();
    expect((await admin.page('/connections')).html).not.toContain('href="/console/connections/mock"');
    expect((await loginPage()).html).not.toContain('Continue with Mock IdP');
    const event = await lastEvent('connection.removed');
    expect(event).toMatchObject({ outcome: 'success', actor: ADMIN.email });
    expect(event!.details).toMatchObject({ id: 'mock', kind: 'oidc' });
    expect((await admin.page('/connections/mock')).status).toBe(404);
    expect((await admin.submit('/connections/mock/remove', '/connections', {})).status).toBe(404);
  });
});
