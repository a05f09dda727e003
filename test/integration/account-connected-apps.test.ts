// The person's connected apps at /account (docs/CONNECTED-APPS.md) over real HTTP and a real database: the page lists
// exactly the signed-in person's grants, said in words (name, where the client came from, verified or not, servers
// and scopes, first authorized, last use with its address and user agent); Revoke and Revoke all stop the refresh
// tokens at once and are audited; another person's grant id, a missing CSRF token and a cross-origin post revoke
// nothing; a hostile client name is shown as text. The consent and first-administrator pages link to /account.
import { authorizeThrough, authorizeUrl, Browser, login, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { csrfOf } from '../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { addStaticClient } from '../../src/oauth/static-clients.js';
import { grantsOfAccount } from '../../src/oauth/adapter.js';
import { GrantActivity } from '../../src/oauth/grant-activity.js';
import { issueFirstAdminLink } from '../../src/upstream/local/first-admin.js';

const REDIRECT = 'http://127.0.0.1:9/callback';
const HOSTILE = '<img src=x onerror=alert(1)>';
const CIMD_ID = 'https://agent.cimd.test/client.json';

let db: TestDatabase;
let gh: TestServer;
let people = 0;

const knex = () => gh.services.handle.db;
const details = (row: Record<string, any>) => (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as Record<string, any>;
const auditOf = async (type: string) => (await knex()('audit_events').where({ type }).orderBy('id', 'asc')) as Array<Record<string, any>>;
const grantIdsOf = async (accountId: string) => (await grantsOfAccount(knex(), accountId)).map((g) => g.grantId);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Person {
  email: string;
  password: string;
  accountId: string;
}

interface Connection {
  clientId: string;
  grantId: string;
  /** The refresh token last issued (rotated on every use). */
  refresh: string;
}

async function person(): Promise<Person> {
  const user = { email: `connected${++people}@example.com`, password: 'a passphrase long enough 123' };
  return { ...user, accountId: (await gh.services.users.create(user)).id };
}

/** `p` authorizes a client (a new dynamic one named `name`, or the given id) and redeems the code from `userAgent`. */
async function connect(p: Person, options: { name?: string; clientId?: string; scope?: string; userAgent?: string } = {}): Promise<Connection> {
  const clientId = options.clientId ?? (await registerPublicClient(gh.issuer, [REDIRECT], { client_name: options.name ?? 'Test MCP Client' })).client_id;
  const before = new Set(await grantIdsOf(p.accountId));
  const { verifier, challenge } = pkcePair();
  const callback = await authorizeThrough(new Browser(new URL(gh.issuer).origin), gh.issuer, { client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: options.scope ?? 'tools:read', resource: TEST_RESOURCE }, p);
  const res = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: clientId, redirect_uri: REDIRECT }, { 'user-agent': options.userAgent ?? 'CodeAgent/1.0' });
  expect(res.status).toBe(200);
  const grantId = (await grantIdsOf(p.accountId)).find((id) => !before.has(id))!;
  expect(grantId).toBeDefined();
  return { clientId, grantId, refresh: res.body.refresh_token as string };
}

/** Refreshes (from `ip` through the trusted proxy, with `userAgent`); keeps the rotated token on success. */
async function refresh(c: Connection, headers: { ip?: string; userAgent?: string } = {}) {
  const res = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: c.refresh, client_id: c.clientId }, {
    ...(headers.ip ? { 'x-forwarded-for': headers.ip } : {}),
    'user-agent': headers.userAgent ?? 'RefreshAgent/1.0',
  });
  if (res.status === 200) c.refresh = res.body.refresh_token as string;
  return res;
}

/** A browser signed in to the account pages as `p`, on /account. */
async function accountBrowser(p: Person): Promise<Browser> {
  const browser = new Browser(new URL(gh.issuer).origin);
  const first = await browser.follow(await browser.get(`${gh.issuer}/account`));
  if (!(first instanceof Response)) throw new Error(`left the issuer: ${first.href}`);
  const page = await login(browser, first, p.email, p.password);
  if (!(page instanceof Response) || page.status !== 200 || new URL(page.url).pathname !== '/account') throw new Error('account sign-in did not land on /account');
  return browser;
}

const home = async (browser: Browser) => {
  const res = await browser.get(`${gh.issuer}/account`);
  expect(res.status).toBe(200);
  return res.text();
};

/** The page's section of the app whose Revoke form carries `grantId`. */
function sectionOf(html: string, grantId: string): string {
  const sections = html.split('<section class="app">').slice(1).map((s) => s.slice(0, s.indexOf('</section>')));
  const found = sections.find((s) => s.includes(`name="grant" value="${grantId}"`));
  if (!found) throw new Error(`no app with grant ${grantId} on the page`);
  return found;
}

const listedGrants = (html: string) => [...html.matchAll(/name="grant" value="([^"]+)"/g)].map((m) => m[1]!);

async function revoke(browser: Browser, grantId: string) {
  return browser.postForm(`${gh.issuer}/account/apps/revoke`, { _csrf: csrfOf(await home(browser)), grant: grantId });
}

/** Waits for the background write of a grant's use (never awaited by /token) to show. */
async function activityOf(grantId: string, until: (row: Record<string, any> | undefined) => boolean) {
  for (let i = 0; i < 50; i++) {
    const row = (await knex()('grant_activity').where({ grant_id: grantId }).first()) as Record<string, any> | undefined;
    if (until(row)) return row;
    await sleep(100);
  }
  throw new Error(`grant activity of ${grantId} never matched`);
}

beforeAll(async () => {
  db = await createTestDatabase();
  // One trusted proxy: the refresh's address is X-Forwarded-For's, as behind a real reverse proxy.
  gh = await startTestServer({ ...db.env, TRUST_PROXY: '1' });
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

describe('the connected-apps page lists exactly the signed-in person\'s grants', () => {
  it('two people, two clients: each sees only their own', async () => {
    const alice = await person();
    const bob = await person();
    const a = await connect(alice, { name: 'Alpha Agent' });
    const b = await connect(bob, { name: 'Beta Agent', scope: 'tools:write' });

    const aliceHtml = await home(await accountBrowser(alice));
    expect(listedGrants(aliceHtml)).toEqual([a.grantId]);
    expect(aliceHtml).toContain('Alpha Agent');
    expect(aliceHtml).not.toContain('Beta Agent');
    expect(aliceHtml).not.toContain(b.grantId);
    expect(aliceHtml).not.toContain(b.clientId);

    const bobHtml = await home(await accountBrowser(bob));
    expect(listedGrants(bobHtml)).toEqual([b.grantId]);
    expect(bobHtml).not.toContain('Alpha Agent');
  });

  it('someone with no grant is told so, with no Revoke all button', async () => {
    const html = await home(await accountBrowser(await person()));
    expect(html).toContain('No application holds access on your behalf.');
    expect(html).not.toContain('/account/apps/revoke-all');
    // The pending approvals stay on the page.
    expect(html).toContain('Pending approvals');
  });
});

describe('each app is said in words', () => {
  it('name, origin, unverified, the MCP server and scopes in words, first authorized, last use with the refresh\'s address and user agent', async () => {
    const p = await person();
    const before = Date.now();
    const c = await connect(p, { name: 'Words Agent', scope: 'tools:read tools:write', userAgent: 'CodeAgent/1.0' });
    const browser = await accountBrowser(p);

    // The code's redemption is the first use.
    await activityOf(c.grantId, (r) => r?.last_user_agent === 'CodeAgent/1.0');
    let app = sectionOf(await home(browser), c.grantId);
    expect(app).toContain('Words Agent');
    expect(app).toContain('<span class="badge warn">unverified</span>');
    expect(app).toContain('dynamic registration');
    expect(app).toContain('Example MCP');
    expect(app).toContain(TEST_RESOURCE);
    expect(app).toContain('List and call read-only tools');
    expect(app).toContain('Call tools that change data');
    const granted = /First authorized<\/dt>\s*<dd><time datetime="([^"]+)"/.exec(app)![1]!;
    expect(Math.abs(new Date(granted).getTime() - before)).toBeLessThan(60_000);
    expect(app).toContain('CodeAgent/1.0');

    // A refresh from another address and agent is the last use.
    expect((await refresh(c, { ip: '203.0.113.7', userAgent: 'RefreshAgent/2.0 (hostile <b>ua</b>)' })).status).toBe(200);
    const row = await activityOf(c.grantId, (r) => r?.last_ip === '203.0.113.7');
    expect(row).toMatchObject({ account_id: p.accountId, client_id: c.clientId, last_user_agent: 'RefreshAgent/2.0 (hostile <b>ua</b>)' });
    app = sectionOf(await home(browser), c.grantId);
    expect(app).toContain('<code>203.0.113.7</code>');
    expect(app).toContain('RefreshAgent/2.0 (hostile &lt;b&gt;ua&lt;/b&gt;)');
    const used = /Last used<\/dt>\s*<dd><time datetime="([^"]+)"/.exec(app)![1]!;
    expect(new Date(used).getTime()).toBe(new Date(row!.last_used_at).getTime());
  });

  it('a grant whose code was never redeemed was never used', async () => {
    const p = await person();
    const client = await registerPublicClient(gh.issuer, [REDIRECT], { client_name: 'Idle Agent' });
    const { challenge } = pkcePair();
    await authorizeThrough(new Browser(new URL(gh.issuer).origin), gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE }, p);
    const [grantId] = await grantIdsOf(p.accountId);
    const app = sectionOf(await home(await accountBrowser(p)), grantId!);
    expect(app).toMatch(/Last used<\/dt>\s*<dd>never<\/dd>/);
  });

  it('a client an administrator created is verified as such', async () => {
    const s = gh.services;
    const created = await addStaticClient({ db: s.handle.db, box: s.box, provider: gh.holder.provider, registry: s.registry }, { name: 'Admin Made Agent', redirectUris: [REDIRECT], confidential: false });
    const p = await person();
    const c = await connect(p, { clientId: created.client_id });
    const app = sectionOf(await home(await accountBrowser(p)), c.grantId);
    expect(app).toContain('Admin Made Agent');
    expect(app).toContain('registered by an administrator');
    expect(app).toContain('Created by an administrator');
    expect(app).not.toContain('unverified');
  });

  it('a metadata-document client is verified by its host, named from what was stored (no fetch for a page view)', async () => {
    const p = await person();
    await gh.services.cimdClients.seen(CIMD_ID, 'Document Agent');
    const grant = new gh.holder.provider.Grant({ accountId: p.accountId, clientId: CIMD_ID });
    grant.addResourceScope(TEST_RESOURCE, 'tools:read');
    const grantId = await grant.save();
    const app = sectionOf(await home(await accountBrowser(p)), grantId);
    expect(app).toContain('Document Agent');
    expect(app).toContain('<span class="badge">verified domain: agent.cimd.test</span>');
    expect(app).toContain('metadata document at <strong>agent.cimd.test</strong>');
  });
});

describe('a hostile client name is text', () => {
  it('the page and the revocation page escape it', async () => {
    const p = await person();
    const c = await connect(p, { name: HOSTILE });
    const browser = await accountBrowser(p);
    const html = await home(browser);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain(HOSTILE);
    const res = await revoke(browser, c.grantId);
    expect(res.status).toBe(200);
    const done = await res.text();
    expect(done).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(done).not.toContain(HOSTILE);
  });
});

describe('Revoke stops the grant at once', () => {
  it('its refresh token then fails with invalid_grant; the revocation is audited; the activity goes', async () => {
    const p = await person();
    const c = await connect(p, { name: 'Doomed Agent' });
    const other = await connect(p, { name: 'Surviving Agent' });
    await activityOf(c.grantId, (r) => !!r);
    const browser = await accountBrowser(p);
    const res = await revoke(browser, c.grantId);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Doomed Agent');

    const refused = await refresh(c);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    expect(await grantIdsOf(p.accountId)).toEqual([other.grantId]);
    expect(await knex()('grant_activity').where({ grant_id: c.grantId })).toHaveLength(0);
    expect(listedGrants(await home(browser))).toEqual([other.grantId]);
    expect((await refresh(other)).status).toBe(200);

    const row = (await auditOf('grant.revoked')).find((r) => details(r).grantId === c.grantId && r.outcome === 'success')!;
    expect(row).toMatchObject({ outcome: 'success', actor: p.email, client_id: c.clientId });
    expect(details(row)).toMatchObject({ via: 'account', grantId: c.grantId, clientId: c.clientId });

    // The same grant again: it no longer exists.
    expect((await revoke(browser, c.grantId)).status).toBe(404);
  });
});

describe('Revoke all', () => {
  it('ends every grant of the person, and only theirs; each revocation and the whole are audited', async () => {
    const p = await person();
    const other = await person();
    const one = await connect(p, { name: 'First Agent' });
    const two = await connect(p, { name: 'Second Agent' });
    const theirs = await connect(other, { name: 'Their Agent' });
    const browser = await accountBrowser(p);
    const res = await browser.postForm(`${gh.issuer}/account/apps/revoke-all`, { _csrf: csrfOf(await home(browser)) });
    expect(res.status).toBe(200);
    const done = await res.text();
    expect(done).toContain('First Agent');
    expect(done).toContain('Second Agent');

    for (const c of [one, two]) expect((await refresh(c)).body.error).toBe('invalid_grant');
    expect(await grantIdsOf(p.accountId)).toEqual([]);
    expect((await refresh(theirs)).status).toBe(200);
    expect(listedGrants(await home(browser))).toEqual([]);

    const all = (await auditOf('grants.revoked')).filter((r) => r.actor === p.email);
    expect(all).toHaveLength(1);
    expect(all[0]!.outcome).toBe('success');
    expect(details(all[0]!)).toMatchObject({ via: 'account', count: 2 });
    expect([...details(all[0]!).grantIds].sort()).toEqual([one.grantId, two.grantId].sort());
    const each = (await auditOf('grant.revoked')).filter((r) => r.actor === p.email && r.outcome === 'success');
    expect(each.map((r) => details(r).grantId).sort()).toEqual([one.grantId, two.grantId].sort());
  });
});

describe('another person\'s grant', () => {
  it('is answered 404, like a grant that does not exist, and nothing is revoked', async () => {
    const mallory = await person();
    const victim = await person();
    await connect(mallory, { name: 'Mallory Agent' });
    const v = await connect(victim, { name: 'Victim Agent' });
    const browser = await accountBrowser(mallory);

    const foreign = await revoke(browser, v.grantId);
    const unknown = await revoke(browser, 'no-such-grant-id');
    expect(foreign.status).toBe(404);
    expect(unknown.status).toBe(404);
    // The same answer: nothing tells the two apart but each request's own id (on every error page).
    const withoutRequestId = async (res: Response) => {
      const id = res.headers.get('x-request-id')!;
      const html = await res.text();
      expect(html).toContain(`<code>${id}</code>`);
      return html.replaceAll(id, '<request id>');
    };
    expect(await withoutRequestId(foreign)).toBe(await withoutRequestId(unknown));

    expect(await grantIdsOf(victim.accountId)).toEqual([v.grantId]);
    expect((await refresh(v)).status).toBe(200);
    const refusals = (await auditOf('grant.revoked')).filter((r) => r.actor === mallory.email);
    expect(refusals.map((r) => r.outcome)).toEqual(['failure', 'failure']);
    expect(details(refusals[0]!)).toMatchObject({ via: 'account', grantId: v.grantId });
  });
});

describe('every POST needs this origin and the session\'s CSRF token', () => {
  it('a post without the token, with a wrong one, or from another origin is refused (403) and revokes nothing', async () => {
    const p = await person();
    const c = await connect(p, { name: 'Guarded Agent' });
    const browser = await accountBrowser(p);
    const csrf = csrfOf(await home(browser));
    const post = (path: string, form: Record<string, string>, origin = browser.origin) =>
      browser.request(`${gh.issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin }, body: new URLSearchParams(form).toString() });

    const attempts = [
      await post('/account/apps/revoke', { grant: c.grantId }),
      await post('/account/apps/revoke', { grant: c.grantId, _csrf: 'x'.repeat(csrf.length) }),
      await post('/account/apps/revoke', { grant: c.grantId, _csrf: csrf }, 'http://evil.example'),
      await post('/account/apps/revoke-all', {}),
      await post('/account/apps/revoke-all', { _csrf: csrf }, 'http://evil.example'),
    ];
    expect(attempts.map((r) => r.status)).toEqual([403, 403, 403, 403, 403]);
    expect(await grantIdsOf(p.accountId)).toEqual([c.grantId]);
    expect((await refresh(c)).status).toBe(200);
    const refused = (await auditOf('account.refused')).filter((r) => r.actor === p.email);
    expect(refused).toHaveLength(5);
    expect((await auditOf('grant.revoked')).filter((r) => r.actor === p.email)).toHaveLength(0);

    // Without a session at all: refused too.
    const anonymous = await fetch(`${gh.issuer}/account/apps/revoke-all`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: browser.origin }, body: `_csrf=${csrf}` });
    expect(anonymous.status).toBe(401);
    expect(await grantIdsOf(p.accountId)).toEqual([c.grantId]);
  });
});

describe('grant activity is cheap and follows the grant', () => {
  it('a refresh from the same address and agent within a minute writes nothing; a new agent writes at once', async () => {
    const p = await person();
    const c = await connect(p, { name: 'Busy Agent' });
    expect((await refresh(c, { ip: '198.51.100.1', userAgent: 'Same/1.0' })).status).toBe(200);
    const first = await activityOf(c.grantId, (r) => r?.last_user_agent === 'Same/1.0');
    await sleep(50);
    expect((await refresh(c, { ip: '198.51.100.1', userAgent: 'Same/1.0' })).status).toBe(200);
    await sleep(300);
    const still = (await knex()('grant_activity').where({ grant_id: c.grantId }).first()) as Record<string, any>;
    expect(new Date(still.last_used_at).getTime()).toBe(new Date(first!.last_used_at).getTime());
    expect((await refresh(c, { ip: '198.51.100.1', userAgent: 'Other/2.0' })).status).toBe(200);
    const changed = await activityOf(c.grantId, (r) => r?.last_user_agent === 'Other/2.0');
    expect(new Date(changed!.first_used_at).getTime()).toBe(new Date(first!.first_used_at).getTime());
  });

  it('the sweep deletes the activity of grants that no longer exist, and keeps the live ones', async () => {
    const p = await person();
    const c = await connect(p, { name: 'Swept Agent' });
    await activityOf(c.grantId, (r) => !!r);
    await knex()('grant_activity').insert({ grant_id: 'gone-grant', account_id: p.accountId, client_id: c.clientId });
    expect(await new GrantActivity(knex()).deleteOrphans()).toBeGreaterThanOrEqual(1);
    expect(await knex()('grant_activity').where({ grant_id: 'gone-grant' })).toHaveLength(0);
    expect(await knex()('grant_activity').where({ grant_id: c.grantId })).toHaveLength(1);
  });
});

describe('the consent and first-administrator pages link to /account', () => {
  it('the consent page says where connected apps can be revoked', async () => {
    const p = await person();
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const browser = new Browser(new URL(gh.issuer).origin);
    const { challenge } = pkcePair();
    const loginPage = await browser.follow(await browser.get(authorizeUrl(gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE })));
    const consentPage = await login(browser, loginPage as Response, p.email, p.password);
    const html = await (consentPage as Response).text();
    expect(html).toContain('name="decision"');
    expect(html).toContain('You can see and revoke the applications you have connected at <a href="/account">');
  });

  it('the first-administrator page, once done, links there too', async () => {
    const link = await issueFirstAdminLink(knex(), gh.services.users, gh.issuer);
    expect(link).toBeDefined();
    const res = await fetch(link!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(gh.issuer).origin }, body: new URLSearchParams({ email: 'first-admin@example.com', password: 'a long enough first password' }).toString() });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('was created');
    expect(html).toContain('You can see and revoke the applications you have connected at <a href="/account">');
  });
});
