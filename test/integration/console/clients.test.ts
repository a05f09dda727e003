// Console clients page: one list over DCR, static and CIMD clients (filters, search, pages); a page per client (its
// metadata, who consented, its live grants, its events); approve, disable, re-enable and delete (everything it holds
// revoked) with their effect on real authorizations and tokens; a static client created with its secret shown once;
// the host of a CIMD client blocked through the policy; and client names shown escaped wherever they appear.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { grantsOfClient } from '../../../src/oauth/adapter.js';
import type { ResolvedAddress } from '../../../src/net/guarded-fetch.js';
import { authorizeThrough, authorizeUrl, Browser, login, pkcePair, registerPublicClient, tokenRequest } from '../../helpers/browser-flow.js';
import { DocumentHost, makeTestPki } from '../../helpers/cimd-fixture.js';
import { consoleSignIn, type ConsoleBrowser } from '../../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../../helpers/server.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const PERSON = { email: 'person@example.com', password: 'a person who uses clients' };
const REDIRECT = 'http://127.0.0.1:45123/cb';
const XSS = '<script>alert(1)</script><img src=x onerror=alert(1)>';

// CIMD documents come from a local HTTPS host; *.cimd.test resolves to loopback only (see cimd.test.ts).
async function resolve(hostname: string): Promise<ResolvedAddress[]> {
  if (hostname.endsWith('.cimd.test')) return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
}

let db: TestDatabase;
let gh: TestServer;
let host: DocumentHost;
let admin: ConsoleBrowser;

beforeAll(async () => {
  const pki = makeTestPki();
  host = new DocumentHost(pki);
  await host.start();
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, CIMD_ALLOW_PRIVATE_ADDRESSES: 'true' }, undefined, { cimdFetch: { ca: pki.ca, resolve } });
  for (const u of [ADMIN, PERSON]) await gh.services.users.create(u);
  admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
});

afterAll(async () => {
  await gh?.close();
  await host?.close();
  await db?.drop();
});

const enc = encodeURIComponent;
const decode = (html: string) => html.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
const audit = async (type: string) => (await gh.services.audit.recent({ type, limit: 1 }))[0];
const clientPath = (clientId: string) => `/clients/${enc(clientId)}`;
const post = (clientId: string, action: string, form: Record<string, string> = {}) => admin.submit(`${clientPath(clientId)}/${action}`, clientPath(clientId), form);

/** The rows of the list table, one string of HTML each. */
function rows(html: string): string[] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? '';
  return body.split('</tr>').filter((r) => r.includes('<td'));
}
const listed = async (query: string) => rows((await admin.page(`/clients${query}`)).html);
const idsIn = (rs: string[]) => rs.map((r) => decode(/<code>([^<]*)<\/code>/.exec(r)?.[1] ?? ''));

/** A person authorizes a fresh public client in a browser of their own; returns its client and a refresh token. */
async function clientWithGrant(name: string) {
  const client = await registerPublicClient(gh.issuer, [REDIRECT], { client_name: name });
  return { client, refreshToken: await grantFor(client.client_id) };
}

/** A person authorizes the client (login, consent, code exchange); returns the refresh token it got. */
async function grantFor(clientId: string): Promise<string> {
  const { verifier, challenge } = pkcePair();
  const callback = await authorizeThrough(new Browser(new URL(gh.issuer).origin), gh.issuer, {
    client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read',
  }, PERSON);
  const code = callback.searchParams.get('code');
  expect(code).toBeTruthy();
  const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', client_id: clientId, code: code!, code_verifier: verifier, redirect_uri: REDIRECT });
  expect(tokens.status).toBe(200);
  expect(typeof tokens.body.refresh_token).toBe('string');
  return tokens.body.refresh_token as string;
}

const refresh = (clientId: string, refreshToken: string) => tokenRequest(gh.issuer, { grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken });

/** The first hop of /authorize, as a browser makes it. */
async function authorize(clientId: string) {
  const { challenge } = pkcePair();
  const res = await fetch(authorizeUrl(gh.issuer, { client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read' }), {
    redirect: 'manual',
    headers: { accept: 'text/html' },
  });
  return { status: res.status, location: res.headers.get('location'), html: await res.text() };
}

/** A CIMD client served by the document host, used once so Gatehouse records it. */
async function cimdClient(sub: string, name: string): Promise<string> {
  const clientId = `https://${sub}.cimd.test:${host.port}/${sub}/client.json`;
  host.json(`/${sub}/client.json`, {
    client_id: clientId, client_name: name, redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
  }, { 'cache-control': 'max-age=3600' });
  const first = await authorize(clientId);
  expect(first.status).toBe(303);
  expect(await gh.services.cimdClients.find(clientId)).toBeDefined();
  return clientId;
}

async function createStatic(form: Record<string, string>) {
  return admin.submit('/clients', '/clients/new', form);
}

describe('the clients list', () => {
  let dcr: string;
  let pending: string;
  let staticId: string;
  let cimd: string;

  beforeAll(async () => {
    dcr = (await registerPublicClient(gh.issuer, [REDIRECT], { client_name: 'Listed DCR App' })).client_id;
    await gh.services.policy.set('REGISTRATION', 'approval', 'test');
    pending = (await registerPublicClient(gh.issuer, [REDIRECT], { client_name: 'Listed Waiting App' })).client_id;
    await gh.services.policy.reset('REGISTRATION');
    const created = await createStatic({ name: 'Listed Static App', redirect_uris: REDIRECT });
    expect(created.status).toBe(201);
    staticId = /<code>(gh_[^<]+)<\/code>/.exec(await created.text())![1]!;
    cimd = await cimdClient('listed', 'Listed CIMD App');
  });

  it('shows every kind in one table with its kind, status, client_id, host, dates and the actions that apply', async () => {
    const page = await admin.page('/clients');
    expect(page.status).toBe(200);
    expect(page.html).toContain('<h1>Clients</h1>');
    expect(page.html).toMatch(/aria-current="page">Clients</);
    expect(page.html).toContain('class="table-wrap"');
    expect(page.html).toMatch(/<a href="[^"]*\/console\/clients\/new">New static client<\/a>/);
    const all = rows(page.html);
    const row = (id: string) => decode(all.find((r) => decode(r).includes(`<code>${id}</code>`)) ?? '');
    expect(row(dcr)).toMatch(/Listed DCR App<\/a>[\s\S]*<td>DCR<\/td>[\s\S]*status-active">active[\s\S]*from 127\.0\.0\.1/);
    expect(row(dcr)).toContain('aria-label="Disable Listed DCR App">Disable</button>');
    expect(row(dcr)).not.toContain('>Approve</button>');
    expect(row(pending)).toMatch(/<td>DCR<\/td>[\s\S]*status-pending">waiting/);
    expect(row(pending)).toContain('aria-label="Approve Listed Waiting App">Approve</button>');
    expect(row(staticId)).toMatch(/Listed Static App<\/a>[\s\S]*<td>static<\/td>[\s\S]*status-active/);
    expect(row(cimd)).toMatch(/Listed CIMD App<\/a>[\s\S]*<td>CIMD<\/td>[\s\S]*status-active[\s\S]*listed\.cimd\.test:/);
    expect(row(cimd)).toContain(`href="/console/clients/${enc(cimd)}"`);
    expect(row(cimd)).toMatch(/<time datetime="\d{4}-/);
  });

  it('filters by kind, by status, and searches name, client_id and host case-insensitively', async () => {
    const kind = async (k: string) => idsIn(await listed(`?kind=${k}`));
    expect(await kind('dcr')).toEqual(expect.arrayContaining([dcr, pending]));
    expect(await kind('dcr')).not.toEqual(expect.arrayContaining([staticId]));
    expect((await kind('dcr')).some((id) => id.startsWith('https://'))).toBe(false);
    expect(await kind('static')).toEqual([staticId]);
    expect(await kind('cimd')).toEqual([cimd]);

    expect(idsIn(await listed('?status=waiting'))).toEqual([pending]);
    expect(idsIn(await listed('?status=active'))).toEqual(expect.arrayContaining([dcr, staticId, cimd]));
    expect(idsIn(await listed('?status=active'))).not.toContain(pending);
    expect(idsIn(await listed('?kind=cimd&status=waiting'))).toEqual([]);

    expect(idsIn(await listed('?q=listed%20static'))).toEqual([staticId]);
    expect(idsIn(await listed(`?q=${enc(dcr.slice(-8).toUpperCase())}`))).toEqual([dcr]);
    expect(idsIn(await listed('?q=LISTED.cimd.TEST'))).toEqual([cimd]);
    // LIKE wildcards are taken literally: "%" and "_" match only themselves.
    expect(await listed('?q=%25')).toEqual([]);
    expect(await listed('?q=Listed_DCR')).toEqual([]);
    const page = await admin.page('/clients?kind=static&q=listed');
    expect(page.html).toMatch(/<option value="static" selected>/);
    expect(page.html).toContain('value="listed"');
  });

  it('treats hostile query parameters as absent or clamps them', async () => {
    for (const q of ['?kind=evil', '?page=-3', '?page=99999999999', '?kind=dcr&kind=cimd', `?q=${'x'.repeat(5000)}`, '?q=%27%3B--']) {
      const page = await admin.page(`/clients${q}`);
      expect(page.status).toBe(200);
    }
    // A NUL is refused at the edge (http/input-sanity.ts), never handed to a query.
    expect((await admin.page('/clients?status=%00')).status).toBe(400);
    expect(idsIn(await listed('?kind=evil'))).toEqual(expect.arrayContaining([dcr, cimd, staticId]));
  });

  it('pages 50 at a time with Next and Previous links, keeping the filters', async () => {
    for (let i = 0; i < 60; i++) {
      await gh.services.registry.record({ clientId: `dyn_bulk${String(i).padStart(3, '0')}`, origin: 'dynamic', status: 'active', clientName: `Bulk client ${i}` });
    }
    const first = await admin.page('/clients?q=bulk%20client');
    expect(rows(first.html)).toHaveLength(50);
    expect(first.html).toContain('1–50 of 60 client(s)');
    expect(first.html).toMatch(/<nav class="pager"/);
    expect(decode(first.html)).toMatch(/href="[^"]*\/console\/clients\?q=bulk\+client&page=2" rel="next">Next</);
    expect(first.html).not.toContain('>Previous<');
    const second = await admin.page('/clients?q=bulk+client&page=2');
    const secondRows = rows(second.html);
    expect(secondRows).toHaveLength(10);
    expect(second.html).toContain('51–60 of 60 client(s)');
    expect(decode(second.html)).toMatch(/href="[^"]*\/console\/clients\?q=bulk\+client" rel="prev">Previous</);
    expect(second.html).not.toContain('>Next<');
    const seen = new Set([...idsIn(rows(first.html)), ...idsIn(secondRows)]);
    expect(seen.size).toBe(60);
    expect(rows((await admin.page('/clients?q=bulk+client&page=3')).html)).toHaveLength(0);
  });
});

describe('a client page', () => {
  it('shows the metadata, who consented, the active grant and the recent events', async () => {
    const { client } = await clientWithGrant('Detailed App');
    const page = await admin.page(clientPath(client.client_id));
    expect(page.status).toBe(200);
    const html = decode(page.html);
    expect(html).toContain('<h1>Detailed App</h1>');
    expect(html).toContain(`<code>${client.client_id}</code>`);
    expect(html).toMatch(/<code>redirect_uris<\/code><\/dt>\s*<dd class="wrap">http:\/\/127\.0\.0\.1:45123\/cb/);
    expect(html).toMatch(/<code>token_endpoint_auth_method<\/code><\/dt>\s*<dd class="wrap">none/);
    expect(html).not.toContain('registration_access_token');
    const consents = html.slice(html.indexOf('id="consents-h"'), html.indexOf('id="grants-h"'));
    expect(consents).toContain(PERSON.email);
    const grants = html.slice(html.indexOf('id="grants-h"'), html.indexOf('id="events-h"'));
    expect(grants).toContain(PERSON.email);
    expect(grants).toContain(`<code>${TEST_RESOURCE}</code>: tools:read`);
    const events = html.slice(html.indexOf('id="events-h"'));
    expect(events).toContain('<code>consent</code>');
    expect(html).toMatch(/Last used<\/dt>\s*<dd><time/);
    expect(html).toContain('aria-label="Disable Detailed App">Disable</button>');
    expect(html).not.toContain('>Re-enable</button>');
    expect(html).not.toContain('>Block host</button>');
  });

  it('routes a CIMD client_id URL (encoded slashes) to its page; an unknown id is a 404 page', async () => {
    const clientId = await cimdClient('detail', 'Document App');
    const page = await admin.page(clientPath(clientId));
    expect(page.status).toBe(200);
    expect(decode(page.html)).toContain(`<code>${clientId}</code>`);
    expect(page.html).toContain('<h1>Document App</h1>');
    expect(page.html).toContain('>Block host</button>');
    expect((await admin.page(`/clients/${enc('https://nowhere.cimd.test/x.json')}`)).status).toBe(404);
    expect((await admin.page('/clients/dyn_unknown')).status).toBe(404);
    expect((await admin.page(`/clients/${enc('dyn_unknown')}/delete`)).status).toBe(404);
    expect((await admin.submit('/clients/dyn_unknown/disable', '/clients', {})).status).toBe(404);
    expect((await admin.submit(`/clients/${enc('https://nowhere.cimd.test/x.json')}/delete`, '/clients', {})).status).toBe(404);
  });
});

describe('approving, disabling, re-enabling', () => {
  it('approves a waiting client, after which its authorization proceeds; approving again is a 409', async () => {
    await gh.services.policy.set('REGISTRATION', 'approval', 'test');
    let client;
    try {
      client = await registerPublicClient(gh.issuer, [REDIRECT], { client_name: 'Approve Me' });
    } finally {
      await gh.services.policy.reset('REGISTRATION');
    }
    const waiting = await authorize(client.client_id);
    expect(waiting.status).toBe(403);
    expect(waiting.html).toContain('Waiting for approval');

    const res = await post(client.client_id, 'approve');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/console${clientPath(client.client_id)}`);
    expect((await gh.services.registry.find(client.client_id))?.status).toBe('active');
    expect(await audit('client.approved')).toMatchObject({ outcome: 'success', actor: ADMIN.email, client_id: client.client_id });
    expect((await admin.page(clientPath(client.client_id))).html).toContain('Approve Me is approved');
    const proceeds = await authorize(client.client_id);
    expect(proceeds.status).toBe(303);
    expect(proceeds.location).toMatch(/\/interaction\//);

    const again = await post(client.client_id, 'approve');
    expect(again.status).toBe(409);
    expect(await audit('client.approved')).toMatchObject({ outcome: 'failure', actor: ADMIN.email, reason: 'This client is not waiting for approval.' });
  });

  it('disables a client (its refresh token is refused at /token), then re-enables it from the list', async () => {
    const { client, refreshToken } = await clientWithGrant('Disable Me');
    const res = await post(client.client_id, 'disable');
    expect(res.status).toBe(303);
    expect((await gh.services.registry.find(client.client_id))?.status).toBe('disabled');
    expect(await audit('client.disabled')).toMatchObject({ outcome: 'success', actor: ADMIN.email, client_id: client.client_id });
    const refused = await refresh(client.client_id, refreshToken);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: 'invalid_client', error_description: 'client disabled by an administrator' });
    expect((await authorize(client.client_id)).html).toContain('This application is disabled');
    expect((await post(client.client_id, 'disable')).status).toBe(409);

    const row = decode(rows((await admin.page('/clients?q=disable%20me')).html)[0]!);
    expect(row).toContain('status-disabled');
    expect(row).toContain('aria-label="Re-enable Disable Me">Re-enable</button>');
    const enabled = await admin.submit(`${clientPath(client.client_id)}/enable`, '/clients', { from: 'list' });
    expect(enabled.status).toBe(303);
    expect(enabled.headers.get('location')).toBe('/console/clients');
    expect((await gh.services.registry.find(client.client_id))?.status).toBe('active');
    expect(await audit('client.enabled')).toMatchObject({ outcome: 'success', actor: ADMIN.email, client_id: client.client_id });
    expect((await refresh(client.client_id, refreshToken)).status).toBe(200);
    expect((await post(client.client_id, 'enable')).status).toBe(409);
  });
});

describe('deleting a client', () => {
  it('asks for confirmation, then revokes its grant and tokens and removes it', async () => {
    const { client, refreshToken } = await clientWithGrant('Delete Me');
    const detail = await admin.page(clientPath(client.client_id));
    expect(detail.html).toMatch(/<form method="get" action="[^"]*\/delete"><button type="submit" class="danger" aria-label="Delete Delete Me">Delete<\/button>/);
    const confirm = await admin.page(`${clientPath(client.client_id)}/delete`);
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain('<h1>Delete Delete Me?</h1>');
    expect(confirm.html).toContain('1 active grant(s) are revoked');
    expect(confirm.html).toMatch(/<form method="post" action="[^"]*\/delete">/);
    expect(confirm.html).toContain('>Delete</button>');
    expect((await gh.services.registry.find(client.client_id))?.status).toBe('active'); // nothing happened yet

    const grantIds = (await grantsOfClient(gh.services.handle.db, client.client_id)).map((g) => g.grantId);
    expect(grantIds).toHaveLength(1);
    const res = await admin.submit(`${clientPath(client.client_id)}/delete`, `${clientPath(client.client_id)}/delete`, {});
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/console/clients');
    expect(await gh.services.registry.find(client.client_id)).toBeUndefined();
    expect(await gh.services.handle.db('oidc_payloads').whereIn('grant_id', grantIds).orWhereIn('id', grantIds)).toEqual([]);
    expect(await gh.services.handle.db('consents').where({ client_id: client.client_id })).toEqual([]);
    expect(await audit('client.deleted')).toMatchObject({ outcome: 'success', actor: ADMIN.email, client_id: client.client_id, details: expect.objectContaining({ grants_revoked: 1 }) });

    // The client is gone, so /token no longer knows it; its refresh token was revoked with its grant (above).
    const refused = await refresh(client.client_id, refreshToken);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_client');
    const managed = await fetch(client.registration_client_uri, { headers: { authorization: `Bearer ${client.registration_access_token}` } });
    expect(managed.status).toBe(401);
    const list = await admin.page('/clients');
    expect(list.html).toContain('Delete Me is deleted; 1 grant(s)');
    expect(idsIn(rows(list.html))).not.toContain(client.client_id);
    expect((await admin.page(clientPath(client.client_id))).status).toBe(404);
  });

  it("deletes a CIMD client's record and grants, saying it comes back when used again", async () => {
    const clientId = await cimdClient('deleted', 'Forget Me');
    const refreshToken = await grantFor(clientId);
    const grants = await grantsOfClient(gh.services.handle.db, clientId);
    expect(grants).toHaveLength(1);
    expect(decode((await admin.page(clientPath(clientId))).html)).toContain(`<code>${TEST_RESOURCE}</code>: tools:read`);
    const res = await post(clientId, 'delete');
    expect(res.status).toBe(303);
    expect(await gh.services.cimdClients.find(clientId)).toBeUndefined();
    expect(await gh.services.handle.db('oidc_payloads').where({ grant_id: grants[0]!.grantId }).orWhere({ id: grants[0]!.grantId })).toEqual([]);
    expect(await audit('client.deleted')).toMatchObject({ outcome: 'success', client_id: clientId, details: expect.objectContaining({ kind: 'cimd', grants_revoked: 1 }) });
    // Its document still resolves, so /token knows the client: the refresh token itself is gone.
    const refused = await refresh(clientId, refreshToken);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    expect((await admin.page('/clients')).html).toContain('comes back when it is used again');
    expect((await authorize(clientId)).status).toBe(303);
    expect(await gh.services.cimdClients.find(clientId)).toBeDefined();
  });
});

describe('a new static client', () => {
  it('shows its secret once on a 201 page, and the secret works for client_credentials at /token', async () => {
    const form = await admin.page('/clients/new');
    expect(form.status).toBe(200);
    for (const label of ['Name', 'Redirect URIs', 'Confidential', 'Scope', 'Resource']) expect(form.html).toMatch(new RegExp(`<label for="c-[a-z]+">${label}</label>`));
    expect(form.html).toContain(`<option value="${TEST_RESOURCE}">`);

    const res = await createStatic({ name: 'Machine Agent', redirect_uris: '', confidential: 'on', scope: 'tools:read', resource: TEST_RESOURCE });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    const clientId = /<code>(gh_[^<]+)<\/code>/.exec(html)![1]!;
    const secret = /<section class="secret"[\s\S]*?<code class="wrap" id="client-secret">([^<]+)<\/code>/.exec(html)![1]!;
    expect(html).toContain('it will not be shown again');
    expect(await gh.services.registry.find(clientId)).toMatchObject({ origin: 'static', status: 'active', clientName: 'Machine Agent' });
    const event = await audit('client.created');
    expect(event).toMatchObject({ outcome: 'success', actor: ADMIN.email, client_id: clientId });
    expect(JSON.stringify(event)).not.toContain(secret);

    const basic = `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}`;
    const token = await tokenRequest(gh.issuer, { grant_type: 'client_credentials', resource: TEST_RESOURCE, scope: 'tools:read' }, { authorization: basic });
    expect(token.status).toBe(200);
    expect(token.body.scope).toBe('tools:read');
    // The page of the client never shows the secret again.
    expect((await admin.page(clientPath(clientId))).html).not.toContain(secret);
  });

  it('refuses a missing name or a bad redirect URI with 400, keeps the form, shows the problem and stores nothing', async () => {
    const before = (await gh.services.registry.list({ origin: 'static' })).length;
    const noName = await createStatic({ name: '  ', redirect_uris: REDIRECT });
    expect(noName.status).toBe(400);
    const noNameHtml = await noName.text();
    expect(noNameHtml).toMatch(/<p class="error" id="problem-name" role="alert">Give the client a name/);
    expect(noNameHtml).toContain(`>${REDIRECT}</textarea>`);

    const bad = await createStatic({ name: 'Bad Redirect', redirect_uris: 'javascript:alert(1)' });
    expect(bad.status).toBe(400);
    const badHtml = await bad.text();
    expect(badHtml).toMatch(/<p class="error" id="problem-redirectUris" role="alert">[^<]+<\/p>/);
    expect(badHtml).toContain('value="Bad Redirect"');
    expect(badHtml).toContain('>javascript:alert(1)</textarea>');

    const publicWithout = await createStatic({ name: 'No Redirect', redirect_uris: '' });
    expect(publicWithout.status).toBe(400);
    expect(await publicWithout.text()).toContain('a public client needs at least one redirect URI');
    const badResource = await createStatic({ name: 'Bad Resource', redirect_uris: REDIRECT, resource: 'https://evil.example/mcp' });
    expect(badResource.status).toBe(400);
    expect(await badResource.text()).toMatch(/id="problem-resource" role="alert">Choose one of the registered MCP servers/);

    expect((await gh.services.registry.list({ origin: 'static' })).length).toBe(before);
    expect(await audit('client.created')).toMatchObject({ outcome: 'failure', actor: ADMIN.email, reason: 'Choose one of the registered MCP servers, or none.' });
  });
});

describe('a CIMD client', () => {
  afterAll(async () => {
    await gh.services.policy.reset('CIMD_BLOCKED_DOMAINS');
  });

  it('is disabled by blocking its URL and re-enabled by lifting the block', async () => {
    const clientId = await cimdClient('toggle', 'Toggle App');
    expect((await post(clientId, 'disable')).status).toBe(303);
    expect((await gh.services.cimdClients.find(clientId))?.blockedAt).toBeInstanceOf(Date);
    expect(await audit('client.disabled')).toMatchObject({ outcome: 'success', actor: ADMIN.email, client_id: clientId });
    expect((await authorize(clientId)).status).toBeGreaterThanOrEqual(400);
    expect((await admin.page(clientPath(clientId))).html).toContain('status-blocked">blocked');
    expect((await post(clientId, 'approve')).status).toBe(409);
    expect((await post(clientId, 'enable')).status).toBe(303);
    expect((await gh.services.cimdClients.find(clientId))?.blockedAt).toBeNull();
    expect(await audit('client.enabled')).toMatchObject({ outcome: 'success', client_id: clientId });
    expect((await authorize(clientId)).status).toBe(303);
  });

  it('Block host adds its host to CIMD_BLOCKED_DOMAINS: its next authorization is refused, though cached', async () => {
    const clientId = await cimdClient('hostblock', 'Host Blocked App');
    const res = await post(clientId, 'block-host');
    expect(res.status).toBe(303);
    expect(await gh.services.policy.get('CIMD_BLOCKED_DOMAINS')).toEqual(['hostblock.cimd.test']);
    // Through the service layer: the policy change it is, with the admin as actor.
    expect(await audit('policy.updated')).toMatchObject({ outcome: 'success', actor: ADMIN.email, details: expect.objectContaining({ setting: 'CIMD_BLOCKED_DOMAINS', value: ['hostblock.cimd.test'], via: 'person' }) });
    const refused = await authorize(clientId);
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.location).toBeNull();
    expect(decode(refused.html)).toContain('the host hostblock.cimd.test is blocked');
    const page = await admin.page(clientPath(clientId));
    expect(page.html).toContain('The host hostblock.cimd.test is blocked');
    expect(page.html).not.toContain('>Block host</button>');
    expect((await post(clientId, 'block-host')).status).toBe(409);

    // A second host is added to the list, not put in its place; a registered client has no host to block.
    const other = await cimdClient('second', 'Second Host App');
    expect((await post(other, 'block-host')).status).toBe(303);
    expect(await gh.services.policy.get('CIMD_BLOCKED_DOMAINS')).toEqual(['hostblock.cimd.test', 'second.cimd.test']);
    const dcr = await registerPublicClient(gh.issuer, [REDIRECT]);
    expect((await post(dcr.client_id, 'block-host')).status).toBe(409);
  });
});

describe('client names are shown escaped', () => {
  it('on the list, on the client page, and on the consent page a person sees', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT], { client_name: XSS });
    const check = (html: string) => {
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;');
      expect(html).not.toContain('<script>alert(1)');
      expect(html).not.toContain('<img src=x');
    };
    check((await admin.page(`/clients?q=${enc(client.client_id)}`)).html);
    check((await admin.page('/clients')).html);
    check((await admin.page(clientPath(client.client_id))).html);
    check((await admin.page(`${clientPath(client.client_id)}/delete`)).html);

    const browser = new Browser(new URL(gh.issuer).origin);
    const { challenge } = pkcePair();
    const loginPage = await browser.follow(await browser.get(authorizeUrl(gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read' })));
    const consentPage = await login(browser, loginPage as Response, PERSON.email, PERSON.password);
    expect(consentPage).toBeInstanceOf(Response);
    const html = await (consentPage as Response).text();
    expect(html).toContain('name="decision"');
    check(html);
  });
});
