// Console policy page: an admin overrides the registration mode, the CIMD host lists and who may sign in, and the
// change holds at run time (on this instance at once, on every other within seconds) with no restart; invalid
// values, forged posts and self-lockout store nothing; every change is audited naming the admin.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ResolvedAddress } from '../../../src/net/guarded-fetch.js';
import { authorizeUrl, Browser, login, pkcePair, registerPublicClient } from '../../helpers/browser-flow.js';
import { DocumentHost, makeTestPki } from '../../helpers/cimd-fixture.js';
import { oneJson, runCli } from '../../helpers/cli.js';
import { PolicySettings } from '../../../src/policy/settings.js';
import { consoleSignIn, type ConsoleBrowser } from '../../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.js';
import { postRegistration } from '../../helpers/registration.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../../helpers/server.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const INSIDER = { email: 'insider@example.com', password: 'inside the walled garden' };
const OUTSIDER = { email: 'outsider@elsewhere.test', password: 'outside the walled garden' };
const REDIRECT = 'http://127.0.0.1:45123/cb';

// CIMD documents come from a local HTTPS host; *.cimd.test resolves to loopback only (see cimd.test.ts).
async function resolve(hostname: string): Promise<ResolvedAddress[]> {
  if (hostname.endsWith('.cimd.test')) return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
}

let db: TestDatabase;
let gh: TestServer;
let host: DocumentHost;
let admin: ConsoleBrowser;
const extraServers: TestServer[] = [];

beforeAll(async () => {
  const pki = makeTestPki();
  host = new DocumentHost(pki);
  await host.start();
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, CIMD_ALLOW_PRIVATE_ADDRESSES: 'true' }, undefined, { cimdFetch: { ca: pki.ca, resolve } });
  for (const u of [ADMIN, INSIDER, OUTSIDER]) await gh.services.users.create(u);
  admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
});

afterAll(async () => {
  for (const s of extraServers) await s.close();
  await gh?.close();
  await host?.close();
  await db?.drop();
});

const stored = async (name: string) => gh.services.handle.db('policy_settings').where({ name }).first();
const set = (name: string, value: string) => admin.submit(`/policy/${name}`, '/policy', { value });
const reset = (name: string) => admin.submit(`/policy/${name}/reset`, '/policy', {});
const decode = (html: string) => html.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

/** The text of one setting's section of the page. */
function section(html: string, name: string): string {
  const start = html.indexOf(`id="h-${name}"`);
  expect(start).toBeGreaterThan(-1);
  const end = html.indexOf('</section>', start);
  return decode(html.slice(start, end));
}

async function authorize(clientId: string, redirectUri = REDIRECT) {
  const { challenge } = pkcePair();
  const res = await fetch(
    authorizeUrl(gh.issuer, { client_id: clientId, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read' }),
    { redirect: 'manual' },
  );
  return { status: res.status, location: res.headers.get('location'), html: await res.text() };
}

describe('the policy page', () => {
  it('shows each setting with its effective value, the environment value, and who overrode it when', async () => {
    let page = await admin.page('/policy');
    expect(page.status).toBe(200);
    expect(page.html).toContain('<h1>Policy</h1>');
    expect(page.html).toMatch(/aria-current="page">Policy</);
    for (const name of ['REGISTRATION', 'CIMD_ALLOWED_DOMAINS', 'CIMD_BLOCKED_DOMAINS', 'ALLOWED_EMAIL_DOMAINS', 'ALLOWED_GROUPS']) {
      const s = section(page.html, name);
      expect(s).toContain('Effective value');
      expect(s).toContain('Environment value');
      expect(s).toContain('The environment (not overridden)');
      expect(s).toContain('>Save</button>');
      expect(s).not.toContain('Use environment value');
    }
    expect(page.html).toMatch(/ADMIN_EMAILS.*ADMIN_GROUPS[\s\S]*environment only/);

    const res = await set('REGISTRATION', 'approval');
    expect(res.status).toBe(303);
    page = await admin.page('/policy');
    expect(page.html).toContain('REGISTRATION is now approval');
    const s = section(page.html, 'REGISTRATION');
    expect(s).toMatch(/Effective value \(in force now\)<\/dt>\s*<dd><strong>approval<\/strong>/);
    expect(s).toMatch(/Environment value<\/dt>\s*<dd>open<\/dd>/);
    expect(s).toContain(`Overridden in the console by ${ADMIN.email}`);
    expect(s).toContain('Use environment value');
    expect(s).toMatch(/<option value="approval" selected>/);

    expect((await reset('REGISTRATION')).status).toBe(303);
    expect(await stored('REGISTRATION')).toBeUndefined();
    expect(section((await admin.page('/policy')).html, 'REGISTRATION')).toContain('The environment (not overridden)');
  });

  it('audits every update and reset with the setting, the value and the admin', async () => {
    await set('ALLOWED_GROUPS', '');
    await reset('ALLOWED_GROUPS');
    const [updated] = await gh.services.audit.recent({ type: 'policy.updated', limit: 1 });
    expect(updated).toMatchObject({ outcome: 'success', actor: ADMIN.email, details: expect.objectContaining({ setting: 'ALLOWED_GROUPS', value: [] }) });
    const [reverted] = await gh.services.audit.recent({ type: 'policy.reset', limit: 1 });
    expect(reverted).toMatchObject({ outcome: 'success', actor: ADMIN.email, details: expect.objectContaining({ setting: 'ALLOWED_GROUPS', value: [] }) });
  });

  it('refuses an invalid list entry with 400 naming the setting next to its field, and stores nothing', async () => {
    const res = await set('CIMD_BLOCKED_DOMAINS', 'ok.example.com, https://evil.example/path');
    expect(res.status).toBe(400);
    const s = section(await res.text(), 'CIMD_BLOCKED_DOMAINS');
    expect(s).toMatch(/<p class="error" id="problem-CIMD_BLOCKED_DOMAINS" role="alert">CIMD_BLOCKED_DOMAINS: https:\/\/evil\.example\/path is not a host name/);
    expect(s).toContain('aria-invalid="true"');
    expect(s).toContain('value="ok.example.com, https://evil.example/path"'); // what was typed, to correct it
    expect(await stored('CIMD_BLOCKED_DOMAINS')).toBeUndefined();

    const mode = await set('REGISTRATION', 'wide-open');
    expect(mode.status).toBe(400);
    expect(section(await mode.text(), 'REGISTRATION')).toContain('REGISTRATION:');
    expect(await stored('REGISTRATION')).toBeUndefined();
    expect((await admin.submit('/policy/ADMIN_EMAILS', '/policy', { value: 'eve@evil.test' })).status).toBe(404);
    expect(await stored('ADMIN_EMAILS')).toBeUndefined();
  });

  it('refuses a post without the CSRF token (403), or from another origin, and stores nothing', async () => {
    const bare = await admin.postForm(`${gh.issuer}/console/policy/REGISTRATION`, { value: 'closed' });
    expect(bare.status).toBe(403);
    const { html } = await admin.page('/policy');
    const token = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    const foreign = await admin.request(`${gh.issuer}/console/policy/REGISTRATION`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ _csrf: token, value: 'closed' }).toString(),
    });
    expect(foreign.status).toBe(403);
    expect(await stored('REGISTRATION')).toBeUndefined();
    const refused = await gh.services.audit.recent({ type: 'console.refused', limit: 2 });
    expect(refused.map((e) => e.reason)).toEqual(expect.arrayContaining(['missing or wrong CSRF token', 'cross-origin form post']));
  });

  it('refuses a sign-in restriction that would lock out the admin saving it', async () => {
    const res = await set('ALLOWED_EMAIL_DOMAINS', 'elsewhere.test');
    expect(res.status).toBe(400);
    expect(section(await res.text(), 'ALLOWED_EMAIL_DOMAINS')).toContain(`this would stop you (${ADMIN.email}) from signing in`);
    expect(await stored('ALLOWED_EMAIL_DOMAINS')).toBeUndefined();
    expect((await set('ALLOWED_GROUPS', 'engineering')).status).toBe(400); // a local admin has no groups
    expect(await stored('ALLOWED_GROUPS')).toBeUndefined();
  });
});

describe('REGISTRATION set in the console holds at once, without a restart', () => {
  afterAll(async () => {
    await gh.services.policy.reset('REGISTRATION');
  });

  it('approval: the next dynamic client is pending and its authorization shows the waiting page', async () => {
    expect((await set('REGISTRATION', 'approval')).status).toBe(303);
    const client = await registerPublicClient(gh.issuer, [REDIRECT], { client_name: 'Waiting Client' });
    expect((await gh.services.registry.find(client.client_id))?.status).toBe('pending');
    const res = await authorize(client.client_id);
    expect(res.status).toBe(403);
    expect(res.location).toBeNull();
    expect(res.html).toContain('Waiting for approval');
  });

  it('closed: /register needs an initial access token (one from the CLI works); back to the environment: it does not', async () => {
    expect((await set('REGISTRATION', 'closed')).status).toBe(303);
    const body = { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: 'Closed Door' };
    const without = await postRegistration(gh.issuer, body);
    expect(without.status).toBe(401);
    expect(without.body.error).toBe('invalid_token');
    expect(without.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect((await postRegistration(gh.issuer, body, { authorization: 'Bearer not-a-token' })).status).toBe(401);
    const refusals = await gh.services.audit.recent({ type: 'registration.refused', limit: 2 });
    expect(String(refusals[0]!.reason)).toContain('registration is closed');

    // The CLI's token (a second process: only where the database is shared); on PGlite, the same model it uses.
    let token: string;
    if (db.realPostgres) {
      const out = await runCli(['registration-token', 'create', '--json'], db.env);
      expect(out.code).toBe(0);
      token = oneJson(out.stdout).initial_access_token as string;
    } else {
      token = await new gh.holder.provider.InitialAccessToken({ expiresIn: 600 }).save();
    }
    const withToken = await postRegistration(gh.issuer, body, { authorization: `Bearer ${token}` });
    expect(withToken.status).toBe(201);
    expect((await gh.services.registry.find(withToken.body.client_id as string))?.status).toBe('active');

    expect((await reset('REGISTRATION')).status).toBe(303);
    expect((await postRegistration(gh.issuer, body)).status).toBe(201);
  });
});

describe('CIMD_BLOCKED_DOMAINS set in the console', () => {
  afterAll(async () => {
    await gh.services.policy.reset('CIMD_BLOCKED_DOMAINS');
  });

  it("refuses a metadata-document client's next authorization, though its document is cached", async () => {
    const clientId = `https://blockme.cimd.test:${host.port}/client.json`;
    host.json('/client.json', {
      client_id: clientId, client_name: 'Soon Blocked', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
    }, { 'cache-control': 'max-age=3600' });
    const first = await authorize(clientId);
    expect(first.status).toBe(303);
    expect(first.location).toMatch(/\/interaction\//);

    expect((await set('CIMD_BLOCKED_DOMAINS', 'other.example, blockme.cimd.test')).status).toBe(303);
    const refused = await authorize(clientId);
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.status).toBeLessThan(500);
    expect(refused.location).toBeNull();
    expect(decode(refused.html)).toContain('the host blockme.cimd.test is blocked');
    expect(host.hits.get('/client.json')).toBe(1); // refused from the cache: the block is checked on every use
    const [event] = await gh.services.audit.recent({ type: 'cimd.refused', limit: 1 });
    expect(event).toMatchObject({ client_id: clientId, outcome: 'failure' });

    expect((await reset('CIMD_BLOCKED_DOMAINS')).status).toBe(303);
    expect((await authorize(clientId)).status).toBe(303);
  });
});

describe('ALLOWED_EMAIL_DOMAINS set in the console', () => {
  afterAll(async () => {
    await gh.services.policy.reset('ALLOWED_EMAIL_DOMAINS');
  });

  async function signIn(user: { email: string; password: string }) {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { challenge } = pkcePair();
    const browser = new Browser(new URL(gh.issuer).origin);
    const page = await browser.follow(await browser.get(authorizeUrl(gh.issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read',
    })));
    return login(browser, page as Response, user.email, user.password);
  }

  it('refuses a local user outside the domain at login (audited with the reason), where the environment had no restriction', async () => {
    expect(gh.services.config.ALLOWED_EMAIL_DOMAINS).toEqual([]);
    expect((await set('ALLOWED_EMAIL_DOMAINS', 'Example.com')).status).toBe(303);
    expect(await gh.services.policy.get('ALLOWED_EMAIL_DOMAINS')).toEqual(['example.com']);

    const outsider = await signIn(OUTSIDER);
    expect(outsider).toBeInstanceOf(Response);
    expect((outsider as Response).status).toBe(403);
    expect(await (outsider as Response).text()).toContain('elsewhere.test are not allowed');
    const [event] = await gh.services.audit.recent({ type: 'login', limit: 1 });
    expect(event).toMatchObject({ outcome: 'failure', actor: OUTSIDER.email, reason: 'email domain elsewhere.test not allowed' });

    const insider = await signIn(INSIDER);
    expect(insider instanceof Response ? insider.status : 200).toBe(200); // the consent page (or the callback)
    expect(insider instanceof Response ? await insider.text() : '').not.toContain('Access not allowed');
  });
});

describe('another instance on the same database', () => {
  // On PostgreSQL a second Gatehouse process serves the same issuer; the embedded database belongs to one process,
  // so there the other instance's view is a second policy reader with its own warm cache on the same tables.
  it('follows a change made on the first within a few seconds', async () => {
    const body = { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' };
    let probe: () => Promise<string>;
    if (process.env.TEST_DATABASE_URL) {
      const other = await startTestServer(db.env);
      extraServers.push(other);
      probe = async () => ((await postRegistration(other.issuer, body)).status === 401 ? 'closed' : 'open');
    } else {
      const reader = new PolicySettings(gh.services.handle.db, gh.services.config);
      probe = async () => (await reader.get('REGISTRATION'));
    }
    expect(await probe()).toBe('open'); // and its cache is warm
    expect((await set('REGISTRATION', 'closed')).status).toBe(303);
    try {
      const started = Date.now();
      let seen = '';
      while (Date.now() - started < 6000) {
        seen = await probe();
        if (seen === 'closed') break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(seen).toBe('closed');
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await reset('REGISTRATION');
    }
  });
});
