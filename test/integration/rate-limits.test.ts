// Rate limits (issue #7; src/http/rate-limits.ts): each limit trips at its configured value with 429,
// Retry-After and an OAuth error body (or the error page in a browser, never a redirect), other keys are untouched,
// password guessing is refused even with the right password once over the limit, and each limit's first refusal of
// a window is audited once. Sources are told apart by X-Forwarded-For behind one trusted proxy hop (TRUST_PROXY=1:
// the right-most entry is the client), one address per test. On PostgreSQL, two instances share the counters.
import { ConfigError, loadConfig } from '../../src/config.js';
import { RateLimit } from '../../src/http/rate-limits.js';
import type { Db } from '../../src/db/connection.js';
import { createStaticClient } from '../../src/oauth/static-clients.js';
import type { ResolvedAddress } from '../../src/net/guarded-fetch.js';
import { authorizeUrl, Browser, pkcePair, registerPublicClient } from '../helpers/browser-flow.js';
import { DocumentHost, makeTestPki } from '../helpers/cimd-fixture.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const REDIRECT = 'http://127.0.0.1:47123/cb';
const LIMITS = {
  TRUST_PROXY: '1',
  TOKEN_RATE_LIMIT: '3',
  TOKEN_RATE_LIMIT_IP: '5',
  TOKEN_RATE_WINDOW: '3600',
  AUTHORIZE_RATE_LIMIT: '4',
  AUTHORIZE_RATE_WINDOW: '3600',
  LOGIN_RATE_LIMIT: '3',
  LOGIN_RATE_LIMIT_IP: '6',
  LOGIN_RATE_WINDOW: '3600',
  CIMD_RATE_LIMIT: '2',
  CIMD_RATE_WINDOW: '3600',
  REGISTRATION_RATE_LIMIT: '2',
  CIMD_ALLOW_PRIVATE_ADDRESSES: 'true', // the document host below listens on 127.0.0.1
};

let db: TestDatabase;
let gh: TestServer;
let host: DocumentHost;
let client: { client_id: string };

// CIMD documents come from a local HTTPS server: *.cimd.test resolves to loopback, nothing else resolves.
async function resolve(hostname: string): Promise<ResolvedAddress[]> {
  if (hostname.endsWith('.cimd.test')) return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
}

beforeAll(async () => {
  const pki = makeTestPki();
  host = new DocumentHost(pki);
  await host.start();
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, ...LIMITS }, undefined, { cimdFetch: { ca: pki.ca, resolve } });
  client = await registerPublicClient(gh.issuer, [REDIRECT]);
});

afterAll(async () => {
  await gh?.close();
  await host?.close();
  await db?.drop();
});

/** A browser whose every request comes from `ip` (through the trusted proxy). */
class BrowserAt extends Browser {
  constructor(origin: string, readonly ip: string) {
    super(origin);
  }
  override request(url: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', this.ip);
    return super.request(url, { ...init, headers });
  }
}

async function token(ip: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${gh.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip, ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, string> };
}

function authorizeParams(clientId: string, redirectUri = REDIRECT) {
  const { challenge } = pkcePair();
  return { client_id: clientId, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE, state: 's' };
}

async function authorize(ip: string, clientId = client.client_id, redirectUri = REDIRECT) {
  const res = await fetch(authorizeUrl(gh.issuer, authorizeParams(clientId, redirectUri)), { redirect: 'manual', headers: { 'x-forwarded-for': ip } });
  return { status: res.status, location: res.headers.get('location'), retryAfter: res.headers.get('retry-after'), type: res.headers.get('content-type') ?? '', html: await res.text() };
}

/** The rate_limit.exceeded audit rows of one limit (and optionally one address). */
async function exceeded(limit: string, ip?: string) {
  const rows = await gh.services.audit.recent({ type: 'rate_limit.exceeded', limit: 1000 });
  return rows.filter((r) => {
    const details = (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as Record<string, unknown>;
    return details.limit === limit && (ip === undefined || r.ip === ip);
  });
}

/** A right password goes on to the authorization (a redirect back to /authorize/<uid>), not to an error. */
function expectSignedIn(res: Response) {
  expect(res.status).toBe(302);
  expect(res.headers.get('location')).toMatch(/\/authorize\//);
}

function expectRetryAfter(value: string | null) {
  expect(value).toMatch(/^[1-9]\d*$/);
  expect(Number(value)).toBeLessThanOrEqual(3600);
}

describe('/token: per client and per address', () => {
  it('a client gets tokens up to its limit, then 429 + Retry-After + temporarily_unavailable even with valid credentials; audited once', async () => {
    const machine = await createStaticClient(gh.services.handle.db, gh.services.box, gh.holder.provider, { name: 'Agent', redirectUris: [], confidential: true, resource: TEST_RESOURCE });
    const basic = { authorization: `Basic ${Buffer.from(`${encodeURIComponent(machine.client_id)}:${encodeURIComponent(machine.client_secret!)}`).toString('base64')}` };
    const grant = { grant_type: 'client_credentials', resource: TEST_RESOURCE, scope: 'tools:read' };
    // Three addresses, so the per-address limit (5) is not what trips.
    for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
      const ok = await token(ip, grant, basic);
      expect(ok.status).toBe(200);
      expect(ok.body.access_token).toBeTruthy();
    }
    for (const ip of ['198.51.100.4', '198.51.100.5', '198.51.100.6']) {
      const refused = await token(ip, grant, basic);
      expect(refused.status).toBe(429);
      expectRetryAfter(refused.retryAfter);
      expect(refused.body.error).toBe('temporarily_unavailable');
      expect(refused.body.error_description).toMatch(/too many token requests for this client/);
      expect(refused.body.access_token).toBeUndefined();
    }
    const audited = await exceeded('token_client');
    expect(audited).toHaveLength(1);
    expect(audited[0]!.client_id).toBe(machine.client_id);
    expect(audited[0]!.ip).toBe('198.51.100.4');

    // Another client from the same address is not affected.
    const other = await token('198.51.100.4', { grant_type: 'authorization_code', code: 'nope', code_verifier: 'x'.repeat(43), client_id: client.client_id, redirect_uri: REDIRECT });
    expect(other.status).toBe(400);
    expect(other.body.error).toBe('invalid_grant');
  });

  it('one address gets 429 after its limit whatever client it names; another address is not affected', async () => {
    const ip = '198.51.100.20';
    for (let i = 0; i < 5; i++) {
      const res = await token(ip, { grant_type: 'refresh_token', refresh_token: `bogus-${i}`, client_id: `client-${i}` });
      expect(res.status).not.toBe(429);
    }
    const refused = await token(ip, { grant_type: 'refresh_token', refresh_token: 'bogus', client_id: 'client-new' });
    expect(refused.status).toBe(429);
    expectRetryAfter(refused.retryAfter);
    expect(refused.body).toEqual({ error: 'temporarily_unavailable', error_description: expect.stringMatching(/too many token requests from this address/) });
    await token(ip, { grant_type: 'refresh_token', refresh_token: 'bogus', client_id: 'client-newer' });
    expect(await exceeded('token_ip', ip)).toHaveLength(1);

    const elsewhere = await token('198.51.100.21', { grant_type: 'refresh_token', refresh_token: 'bogus', client_id: 'client-new' });
    expect(elsewhere.status).toBe(401);
    expect(elsewhere.body.error).toBe('invalid_client');
  });
});

describe('/authorize: per address', () => {
  it('after the limit the browser gets a 429 page with Retry-After, never a redirect to the client; another address goes on', async () => {
    const ip = '203.0.113.10';
    for (let i = 0; i < 4; i++) {
      const res = await authorize(ip);
      expect(res.status).toBe(303);
      expect(res.location).toMatch(/\/interaction\//);
    }
    for (let i = 0; i < 3; i++) {
      const refused = await authorize(ip);
      expect(refused.status).toBe(429);
      expectRetryAfter(refused.retryAfter);
      expect(refused.location).toBeNull();
      expect(refused.type).toMatch(/text\/html/);
      expect(refused.html).toContain('Too many attempts');
      expect(refused.html).toContain('temporarily_unavailable');
    }
    expect(await exceeded('authorize_ip', ip)).toHaveLength(1);
    expect((await authorize('203.0.113.11')).status).toBe(303);
  });
});

describe('password sign-in: failures per account and per address', () => {
  /** Starts an authorization in a fresh browser at `ip` and returns it with its login page. */
  async function loginPage(ip: string) {
    const browser = new BrowserAt(gh.issuer, ip);
    const page = await browser.follow(await browser.get(authorizeUrl(gh.issuer, authorizeParams(client.client_id))));
    if (!(page instanceof Response) || page.status !== 200) throw new Error('expected the login page');
    const action = /<form[^>]*action="([^"]+)"/.exec(await page.text())![1]!.replace(/&amp;/g, '&');
    const submit = (email: string, password: string) => browser.postForm(new URL(action, gh.issuer).href, { email, password });
    return { browser, submit };
  }

  it('after N failures the right password is refused too (429 page, Retry-After, no redirect), audited once naming the account', async () => {
    const user = { email: 'ada@example.com', password: 'analytical engine notes' };
    await gh.services.users.create(user);
    const { submit } = await loginPage('192.0.2.10');
    // The account is counted by its normalised email: case and spaces do not make a new counter.
    for (const email of ['ada@example.com', ' ADA@example.com', 'Ada@Example.com ']) expect((await submit(email, 'guess')).status).toBe(401);
    for (let i = 0; i < 2; i++) {
      const refused = await submit(user.email, user.password);
      expect(refused.status).toBe(429);
      expectRetryAfter(refused.headers.get('retry-after'));
      expect(refused.headers.get('location')).toBeNull();
      expect(await refused.text()).toContain('Too many failed sign-in attempts');
    }
    const audited = await exceeded('login_account');
    expect(audited).toHaveLength(1);
    expect(audited[0]!.actor).toBe(user.email);
    expect(JSON.stringify(audited[0])).not.toContain(user.password);

    // The lock is the account's: another account signs in from the same address.
    const other = { email: 'alan@example.com', password: 'on computable numbers' };
    await gh.services.users.create(other);
    expectSignedIn(await (await loginPage('192.0.2.10')).submit(other.email, other.password));
  });

  it('a successful sign-in clears the account\'s failures', async () => {
    const user = { email: 'edsger@example.com', password: 'goto considered harmful' };
    await gh.services.users.create(user);
    const { submit } = await loginPage('192.0.2.20');
    for (let i = 0; i < 2; i++) expect((await submit(user.email, 'wrong')).status).toBe(401);
    expectSignedIn(await submit(user.email, user.password));
    const again = await loginPage('192.0.2.21');
    for (let i = 0; i < 2; i++) expect((await again.submit(user.email, 'wrong')).status).toBe(401);
    // Five failures in all, but never more than two since the last success.
    expectSignedIn(await again.submit(user.email, user.password));
    expect((await exceeded('login_account')).filter((r) => r.actor === user.email)).toHaveLength(0);
  });

  it('parallel guesses cannot slip past the limit: of 10 at once, exactly 3 are checked', async () => {
    const user = { email: 'grace@example.com', password: 'cobol and nanoseconds' };
    await gh.services.users.create(user);
    // Ten addresses, so only the per-account limit (3) can refuse.
    const pages = await Promise.all(Array.from({ length: 10 }, (_, i) => loginPage(`192.0.2.${100 + i}`)));
    const statuses = (await Promise.all(pages.map((p) => p.submit(user.email, 'guess')))).map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    expect((await exceeded('login_account')).filter((r) => r.actor === user.email)).toHaveLength(1);
  });

  it('one address guessing across many accounts is refused after its limit, even for a right password', async () => {
    const user = { email: 'frances@example.com', password: 'fortran optimising compiler' };
    await gh.services.users.create(user);
    const { submit } = await loginPage('192.0.2.30');
    for (let i = 0; i < 6; i++) expect((await submit(`victim${i}@example.com`, 'password1')).status).toBe(401);
    const refused = await submit(user.email, user.password);
    expect(refused.status).toBe(429);
    expectRetryAfter(refused.headers.get('retry-after'));
    expect(await exceeded('login_ip', '192.0.2.30')).toHaveLength(1);
    // The same account from another address is fine.
    expectSignedIn(await (await loginPage('192.0.2.31')).submit(user.email, user.password));
  });
});

describe('CIMD: first use of a client_id URL per address', () => {
  function serve(path: string): string {
    const clientId = `https://app.cimd.test:${host.port}${path}`;
    host.json(path, {
      client_id: clientId,
      client_name: 'Doc client',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    return clientId;
  }

  it('new documents past the limit are refused before any fetch; a client already seen keeps working', async () => {
    const ip = '192.0.2.50';
    const [first, second, third] = [serve('/rl/one.json'), serve('/rl/two.json'), serve('/rl/three.json')];
    expect((await authorize(ip, first)).status).toBe(303);
    expect((await authorize(ip, second)).status).toBe(303);
    const refused = await authorize(ip, third);
    expect(refused.status).toBe(429);
    expectRetryAfter(refused.retryAfter);
    expect(refused.location).toBeNull();
    expect(refused.html).toContain('Too many attempts');
    expect(host.hits.get('/rl/three.json') ?? 0).toBe(0);
    // At /token too: an unknown document is not fetched for this address.
    const atToken = await token(ip, { grant_type: 'authorization_code', code: 'x', code_verifier: 'y'.repeat(43), client_id: third, redirect_uri: REDIRECT });
    expect(atToken.status).toBe(429);
    expect(host.hits.get('/rl/three.json') ?? 0).toBe(0);
    expect(await exceeded('cimd_ip', ip)).toHaveLength(1);

    // Known clients are not first uses; another address may introduce the new one.
    expect((await authorize(ip, first)).status).toBe(303);
    expect((await authorize('192.0.2.51', third)).status).toBe(303);
  });
});

describe('/register: per address, audited once per window', () => {
  it('429 after the limit, one rate_limit.exceeded row however many refusals', async () => {
    const register = () =>
      fetch(`${gh.issuer}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '192.0.2.70' },
        body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
      });
    for (let i = 0; i < 2; i++) expect((await register()).status).toBe(201);
    for (let i = 0; i < 3; i++) {
      const refused = await register();
      expect(refused.status).toBe(429);
      expectRetryAfter(refused.headers.get('retry-after'));
      expect(((await refused.json()) as { error: string }).error).toBe('temporarily_unavailable');
    }
    expect(await exceeded('register_ip', '192.0.2.70')).toHaveLength(1);
  });
});

// Issue 16, finding 4 (docs/SECURITY.md, "Issue 16"): the client address is the X-Forwarded-For entry TRUST_PROXY
// hops from the right; what a client writes further left is never its address, and an IPv6 /64 is one source.
describe('client addresses behind a trusted proxy hop', () => {
  const registerVia = (xff: string) =>
    fetch(`${gh.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': xff },
      body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
    });

  it('a spoofed left-most X-Forwarded-For entry does not buy a fresh budget: the limit holds', async () => {
    // The proxy appends the real peer (192.0.2.80) after whatever the client sent.
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++) statuses.push((await registerVia(`10.9.9.${i}, 192.0.2.80`)).status);
    expect(statuses).toEqual([201, 201, 429, 429, 429]);
    const audited = await exceeded('register_ip');
    expect(audited.filter((r) => r.ip === '192.0.2.80')).toHaveLength(1);
    expect(audited.some((r) => String(r.ip).startsWith('10.9.9.'))).toBe(false);
  });

  it('two real clients behind one proxy (different right-most entries) have separate budgets, whatever they write to the left', async () => {
    const first = '198.51.100.120';
    for (let i = 0; i < 4; i++) expect((await authorize(`6.6.6.6, ${first}`)).status).toBe(303);
    expect((await authorize(`6.6.6.6, ${first}`)).status).toBe(429);
    // The same left-most entry, another real client: its own budget.
    expect((await authorize(`6.6.6.6, 198.51.100.121`)).status).toBe(303);
    expect((await exceeded('authorize_ip', first))).toHaveLength(1);
  });

  it('IPv6 addresses of one /64 share a budget; another /64 does not; the audit row keeps the full address', async () => {
    const statuses: number[] = [];
    for (const host of ['1', 'a', 'b:c', 'dead:beef:1']) statuses.push((await authorize(`2001:db8:16:4::${host}`)).status);
    statuses.push((await authorize('2001:db8:16:4:ffff:ffff:ffff:fffe')).status);
    expect(statuses).toEqual([303, 303, 303, 303, 429]);
    expect((await authorize('2001:db8:16:5::1')).status).toBe(303);
    const audited = (await exceeded('authorize_ip')).filter((r) => String(r.ip).startsWith('2001:db8:16:4:'));
    expect(audited.map((r) => r.ip)).toEqual(['2001:db8:16:4:ffff:ffff:ffff:fffe']);
  });
});

describe('configuration of the limits', () => {
  it('a bad value stops the server with a message naming the variable', () => {
    for (const [name, value] of [['TOKEN_RATE_LIMIT', '-1'], ['LOGIN_RATE_LIMIT', 'ten'], ['AUTHORIZE_RATE_WINDOW', '0'], ['CIMD_RATE_LIMIT', '2.5'], ['LOGIN_RATE_LIMIT_IP', '99999999']]) {
      let problems: string[] = [];
      try {
        loadConfig({ [name!]: value! });
      } catch (err) {
        if (err instanceof ConfigError) problems = err.problems;
        else throw err;
      }
      expect(problems.some((p) => p.startsWith(`${name}:`))).toBe(true);
    }
    const defaults = loadConfig({});
    expect([defaults.TOKEN_RATE_LIMIT, defaults.TOKEN_RATE_LIMIT_IP, defaults.AUTHORIZE_RATE_LIMIT, defaults.LOGIN_RATE_LIMIT, defaults.LOGIN_RATE_LIMIT_IP, defaults.CIMD_RATE_LIMIT]).toEqual([600, 600, 300, 10, 100, 30]);
    expect(loadConfig({ TOKEN_RATE_LIMIT: '0' }).TOKEN_RATE_LIMIT).toBe(0);
  });

  it('0 turns a limit off: it never touches the database', async () => {
    const untouchable = (() => {
      throw new Error('a disabled limit queried the database');
    }) as unknown as Db;
    const off = new RateLimit(untouchable, 'token_ip', 'ip', 0, 60);
    expect(off.enabled).toBe(false);
    for (let i = 0; i < 3; i++) expect((await off.consume('192.0.2.1')).allowed).toBe(true);
  });
});

// Two instances on one PostgreSQL share every counter (the counters are rows, not process memory).
if (process.env.TEST_DATABASE_URL) {
  describe('several instances', () => {
    let second: TestServer;
    beforeAll(async () => {
      second = await startTestServer({ ...db.env, ...LIMITS }, await freePort());
    });
    afterAll(async () => second?.close());

    it('requests to A and B count against one limit', async () => {
      const ip = '203.0.113.90';
      const statuses: number[] = [];
      for (const server of [gh, second, gh, second, gh, second]) {
        const res = await fetch(authorizeUrl(server.issuer, authorizeParams(client.client_id)), { redirect: 'manual', headers: { 'x-forwarded-for': ip } });
        statuses.push(res.status);
      }
      expect(statuses).toEqual([303, 303, 303, 303, 429, 429]);
      expect(await exceeded('authorize_ip', ip)).toHaveLength(1);
    });
  });
}
