// Issue #3 registration policy: approval mode, closed mode with initial access tokens, per-IP rate limit, the
// client cap, expiry of unused dynamic clients, resource/scope caps and the private-use scheme allowlist.
import { decodeJwt } from 'jose';
import { authorizeThrough, authorizeUrl, Browser, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { OTHER_RESOURCE, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const USER = { email: 'hedy@example.com', password: 'frequency hopping spread' };
const REDIRECT = 'http://127.0.0.1:44444/cb';

const dbs: TestDatabase[] = [];
const servers: TestServer[] = [];

async function server(env: Record<string, string>): Promise<TestServer> {
  const db = await createTestDatabase();
  dbs.push(db);
  const gh = await startTestServer({ ...db.env, ...env });
  servers.push(gh);
  await gh.services.users.create(USER);
  return gh;
}

afterAll(async () => {
  for (const s of servers) await s.close();
  for (const d of dbs) await d.drop();
});

async function register(gh: TestServer, body: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const res = await fetch(`${gh.issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: 'Governed', ...body }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

async function flow(gh: TestServer, clientId: string, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkcePair();
  const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
    client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read', ...extra,
  }, USER);
  return { callback, verifier };
}

describe('REGISTRATION=approval', () => {
  let gh: TestServer;
  beforeAll(async () => {
    gh = await server({ REGISTRATION: 'approval' });
  });

  it('a new client exists but cannot authorize: the person sees a waiting-for-approval page, not a redirect', async () => {
    const reg = await register(gh);
    expect(reg.status).toBe(201);
    expect((await gh.services.registry.find(reg.body.client_id))?.status).toBe('pending');
    const { challenge } = pkcePair();
    const res = await fetch(authorizeUrl(gh.issuer, { client_id: reg.body.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256' }), { redirect: 'manual' });
    expect(res.status).toBe(403);
    expect(res.headers.get('location')).toBeNull();
    const html = await res.text();
    expect(html).toContain('Waiting for approval');
    expect(html).toContain('Governed');
    const token = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: 'x', code_verifier: 'y'.repeat(43), client_id: reg.body.client_id, redirect_uri: REDIRECT });
    expect(token.status).toBe(401);
    expect(token.body.error).toBe('invalid_client');
    const refusals = await gh.services.audit.recent({ type: 'authorization.refused' });
    expect(refusals.some((e) => e.client_id === reg.body.client_id && String(e.reason).includes('approval'))).toBe(true);
  });

  it('once approved it completes a flow; once disabled its refresh token stops working', async () => {
    const reg = await register(gh);
    expect(await gh.services.registry.setStatus(reg.body.client_id, 'active', 'test')).toBe(true);
    const { callback, verifier } = await flow(gh, reg.body.client_id);
    const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: reg.body.client_id, redirect_uri: REDIRECT });
    expect(tokens.status).toBe(200);

    await gh.services.registry.setStatus(reg.body.client_id, 'disabled', 'test');
    const refresh = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: reg.body.client_id });
    expect(refresh.status).toBe(401);
    expect(refresh.body.error).toBe('invalid_client');
    const { challenge } = pkcePair();
    const page = await fetch(authorizeUrl(gh.issuer, { client_id: reg.body.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256' }), { redirect: 'manual' });
    expect(page.status).toBe(403);
    expect(await page.text()).toContain('disabled');
  });
});

describe('REGISTRATION=closed', () => {
  let gh: TestServer;
  beforeAll(async () => {
    gh = await server({ REGISTRATION: 'closed' });
  });

  it('refuses a registration without an initial access token, and accepts one with it', async () => {
    const without = await register(gh);
    expect(without.status).toBeGreaterThanOrEqual(400);
    expect(without.status).toBeLessThan(500);
    expect(typeof without.body.error).toBe('string');
    const wrong = await register(gh, {}, { authorization: 'Bearer not-a-token' });
    expect(wrong.status).toBeGreaterThanOrEqual(400);
    expect(wrong.status).toBeLessThan(500);

    const iat = await new gh.holder.provider.InitialAccessToken({ expiresIn: 600 }).save();
    const withToken = await register(gh, {}, { authorization: `Bearer ${iat}` });
    expect(withToken.status).toBe(201);
    const { callback } = await flow(gh, withToken.body.client_id);
    expect(callback.searchParams.get('code')).toBeTruthy();
  });
});

describe('limits on an open registration endpoint', () => {
  let gh: TestServer;
  beforeAll(async () => {
    gh = await server({ REGISTRATION_RATE_LIMIT: '3', REGISTRATION_RATE_WINDOW: '3600', DCR_MAX_CLIENTS: '1000' });
  });

  it('rate-limits registrations per source address: 429 with Retry-After, audited', async () => {
    for (let i = 0; i < 3; i++) expect((await register(gh)).status).toBe(201);
    const limited = await register(gh);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.body.error).toBe('temporarily_unavailable');
    expect((await gh.services.audit.recent({ type: 'rate_limit.exceeded' })).some((e) => String(e.reason).includes('too many registrations'))).toBe(true);
  });
});

describe('caps', () => {
  let gh: TestServer;
  beforeAll(async () => {
    gh = await server({ DCR_MAX_CLIENTS: '3', DCR_ALLOWED_RESOURCES: TEST_RESOURCE, DCR_ALLOWED_SCOPES: 'tools:read', REDIRECT_URI_SCHEMES: 'cursor' });
  });

  it('dynamic clients only get the allowed resources and scopes', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    // The consent page lists only what the token can carry.
    const { challenge: c0 } = pkcePair();
    const browser = new Browser(gh.issuer);
    const { login } = await import('../helpers/browser-flow.js');
    const loginPage = await browser.follow(await browser.get(authorizeUrl(gh.issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: c0, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read tools:write',
    })));
    const consentHtml = await ((await login(browser, loginPage as Response, USER.email, USER.password)) as Response).text();
    expect(consentHtml).toContain('tools:read');
    expect(consentHtml).not.toContain('tools:write');

    const { callback, verifier } = await flow(gh, client.client_id, { scope: 'tools:read tools:write' });
    const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT });
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.access_token).scope).toBe('tools:read');

    const { challenge } = pkcePair();
    const other = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: OTHER_RESOURCE, scope: 'files:read',
    }, USER);
    expect(other.searchParams.get('error')).toBe('invalid_target');
  });

  it('allows a listed private-use scheme (Cursor-style) and refuses an unlisted one', async () => {
    const cursor = await register(gh, { redirect_uris: ['cursor://anysphere.cursor-retrieval/oauth/callback'] });
    expect(cursor.status).toBe(201);
    const other = await register(gh, { redirect_uris: ['vscode://publisher.extension/callback'] });
    expect(other.status).toBe(400);
    expect(other.body.error).toBe('invalid_redirect_uri');
  });

  it('refuses registrations beyond DCR_MAX_CLIENTS', async () => {
    while ((await gh.services.registry.countDynamicWithSource('127.0.0.1')).all < 3) expect((await register(gh)).status).toBe(201);
    const over = await register(gh);
    expect(over.status).toBe(400);
    expect(over.body.error_description).toMatch(/maximum number/);
  });
});

// Issue 16, finding 5 (docs/SECURITY.md, "Issue 16"): one source cannot fill the client table and hold it.
describe('the per-source cap on dynamic clients', () => {
  let gh: TestServer;
  beforeAll(async () => {
    gh = await server({ TRUST_PROXY: '1', DCR_MAX_CLIENTS: '1000', DCR_MAX_CLIENTS_PER_SOURCE: '3' });
  });

  it('refuses the N+1th live client from one source (an IPv6 /64, whatever it writes to the left) while another source still registers', async () => {
    const from = (xff: string) => ({ 'x-forwarded-for': xff });
    for (let i = 1; i <= 3; i++) expect((await register(gh, {}, from(`10.0.0.${i}, 2001:db8:5:6::${i}`))).status).toBe(201);
    // Pending, active or disabled: every live client counts, and a neighbour in the same /64 is the same source.
    const over = await register(gh, {}, from('10.0.0.9, 2001:db8:5:6::99'));
    expect(over.status).toBe(400);
    expect(over.body.error).toBe('invalid_client_metadata');
    expect(over.body.error_description).toMatch(/clients registered from this address/);
    const refused = await gh.services.audit.recent({ type: 'registration.refused' });
    expect(refused.some((r) => r.ip === '2001:db8:5:6::99' && /from this address/.test(String(r.reason)))).toBe(true);

    expect((await register(gh, {}, from('2001:db8:5:7::1'))).status).toBe(201);
    expect((await register(gh, {}, from('198.51.100.44'))).status).toBe(201);
    // The registry keeps the full registering address.
    const listed = await gh.services.registry.list({ origin: 'dynamic' });
    expect(listed.map((c) => c.registeredIp)).toEqual(expect.arrayContaining(['2001:db8:5:6::1', '2001:db8:5:6::3', '198.51.100.44']));

    // Once one of that source's clients is gone (deleted or swept), it may register again.
    const one = listed.find((c) => c.registeredIp === '2001:db8:5:6::2')!;
    await gh.services.registry.remove(one.clientId);
    expect((await register(gh, {}, from('2001:db8:5:6::99'))).status).toBe(201);
  });
});

describe('expiry of unused dynamic clients', () => {
  let gh: TestServer;
  beforeAll(async () => {
    gh = await server({ DCR_CLIENT_TTL_DAYS: '90' });
  });

  it('deletes only dynamic clients unused for the period; recently used and admin-created clients stay', async () => {
    const { sweepUnusedClients } = await import('../../src/gatehouse.js');
    const stale = await registerPublicClient(gh.issuer, [REDIRECT]);
    const fresh = await registerPublicClient(gh.issuer, [REDIRECT]);
    const usedLongAgo = await registerPublicClient(gh.issuer, [REDIRECT]);
    const d = gh.services.handle.db;
    const old = new Date(Date.now() - 100 * 86_400_000);
    await d('client_registry').where({ client_id: stale.client_id }).update({ created_at: old });
    await d('client_registry').where({ client_id: usedLongAgo.client_id }).update({ created_at: old, last_used_at: new Date(Date.now() - 91 * 86_400_000) });
    await d('client_registry').where({ client_id: fresh.client_id }).update({ created_at: old, last_used_at: new Date() });
    await gh.services.registry.record({ clientId: 'gh_static_old', origin: 'static', status: 'active' });
    await d('client_registry').where({ client_id: 'gh_static_old' }).update({ created_at: old });

    const expired = await sweepUnusedClients(gh.services);
    expect(expired.sort()).toEqual([stale.client_id, usedLongAgo.client_id].sort());
    expect(await gh.holder.provider.Client.find(stale.client_id)).toBeUndefined();
    expect(await gh.holder.provider.Client.find(fresh.client_id)).toBeDefined();
    expect(await gh.services.registry.find('gh_static_old')).toBeDefined();
    const events = await gh.services.audit.recent({ type: 'client.expired' });
    expect(events).toHaveLength(1);

    // A client that was swept simply registers again.
    expect((await register(gh)).status).toBe(201);
  });

  it('naming a client in /authorize or /token without being given a code or tokens does not keep it alive: the sweep removes it', async () => {
    const { sweepUnusedClients } = await import('../../src/gatehouse.js');
    const idle = await registerPublicClient(gh.issuer, [REDIRECT]);
    const d = gh.services.handle.db;
    const longAgo = new Date(Date.now() - 100 * 86_400_000);
    await d('client_registry').where({ client_id: idle.client_id }).update({ created_at: longAgo, last_used_at: longAgo });

    // An attacker keeping its registrations alive: a valid authorization request (it reaches the sign-in page) …
    const { challenge } = pkcePair();
    const authorize = await fetch(authorizeUrl(gh.issuer, { client_id: idle.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read', state: 's' }), { redirect: 'manual' });
    expect(authorize.status).toBe(303);
    // … and a token request that fails.
    const token = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: 'not-a-code', code_verifier: 'x'.repeat(43), client_id: idle.client_id, redirect_uri: REDIRECT });
    expect(token.status).toBe(400);

    expect((await gh.services.registry.find(idle.client_id))?.lastUsedAt?.getTime()).toBe(longAgo.getTime());
    expect(await sweepUnusedClients(gh.services)).toContain(idle.client_id);
    expect(await gh.holder.provider.Client.find(idle.client_id)).toBeUndefined();
  });

  it('using a client records its last use', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    expect((await gh.services.registry.find(client.client_id))?.lastUsedAt).toBeNull();
    await flow(gh, client.client_id);
    expect((await gh.services.registry.find(client.client_id))?.lastUsedAt).toBeInstanceOf(Date);
  });
});

describe('RFC 7592 updates count against the registration limit (issue 16 review)', () => {
  it('a client rewriting itself with its own registration access token is stopped by REGISTRATION_RATE_LIMIT', async () => {
    const gh = await server({ REGISTRATION_RATE_LIMIT: '3' });
    const created = await register(gh);
    expect(created.status).toBe(201);
    let token = created.body.registration_access_token as string;
    const put = async () => {
      const res = await fetch(created.body.registration_client_uri, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ client_id: created.body.client_id, redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: 'Renamed' }),
      });
      const body = (await res.json()) as Record<string, any>;
      if (res.status === 200) token = body.registration_access_token;
      return res.status;
    };
    expect(await put()).toBe(200);
    expect(await put()).toBe(200);
    expect(await put()).toBe(429);
  });
});
