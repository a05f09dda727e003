// Gatehouse's own rules around oidc-provider: what dynamic registration may ask for, which redirect URIs exist at
// all, the default scope, ISSUER as the only origin, cross-site form posts, and who may log in.
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { decodeJwt } from 'jose';

const USER = { email: 'frances@example.com', password: 'allen optimising compilers' };
const OUTSIDER = { email: 'mallory@elsewhere.test', password: 'outsider password here' };
const REDIRECT = 'http://127.0.0.1:43210/cb';

let db: TestDatabase;
let gh: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, ALLOWED_EMAIL_DOMAINS: 'Example.com' });
  await gh.services.users.create(USER);
  await gh.services.users.create(OUTSIDER);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

async function register(body: Record<string, unknown>) {
  const res = await fetch(`${gh.issuer}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('dynamic registration never grants tokens without a person', () => {
  it('refuses client_credentials (a self-registered client could otherwise mint tokens for any MCP server)', async () => {
    const res = await register({ grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_client_metadata');
    const events = await gh.services.audit.recent({ type: 'registration.refused' });
    expect(events.some((e) => String(e.reason).includes('client_credentials'))).toBe(true);
  });

  it.each([['implicit'], ['password'], ['urn:ietf:params:oauth:grant-type:device_code']])('refuses the %s grant', async (grant) => {
    const res = await register({ grant_types: ['authorization_code', grant], redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_client_metadata');
  });

  it('accepts resource scopes in the registration without letting them cap later requests', async () => {
    const res = await register({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', scope: 'tools:read' });
    expect(res.status).toBe(201);
    expect(res.body.redirect_uris).toEqual([REDIRECT]);
  });
});

describe('redirect URI rules (https, loopback http, reverse-domain private-use schemes)', () => {
  it.each([
    ['http://evil.example/cb', 'plain http to a remote host'],
    ['javascript:alert(1)', 'a script URI'],
    ['data:text/html,hi', 'a data URI'],
    ['myapp:/callback', 'a private-use scheme that is not a reverse domain'],
    ['https://app.example.com/cb#frag', 'a fragment'],
  ])('refuses %s (%s)', async (uri) => {
    const res = await register({ redirect_uris: [uri], token_endpoint_auth_method: 'none' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_redirect_uri');
  });

  it.each([['https://app.example.com/cb'], ['http://localhost/callback'], ['http://[::1]:9000/cb'], ['com.example.app:/oauth2redirect']])('accepts %s', async (uri) => {
    const res = await register({ redirect_uris: [uri], token_endpoint_auth_method: 'none', application_type: uri.startsWith('com.') ? 'native' : 'web' });
    expect(res.status).toBe(201);
  });
});

describe('default scope', () => {
  it('a request without scope is a request for the resource\'s whole catalogue, shown on the consent page', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { verifier, challenge } = pkcePair();
    const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256',
    }, USER);
    expect(callback.searchParams.get('error')).toBeNull();
    const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT });
    expect(tokens.status).toBe(200);
    const claims = decodeJwt(tokens.body.access_token);
    expect(claims.aud).toBe(TEST_RESOURCE);
    expect(String(claims.scope).split(' ').sort()).toEqual(['tools:read', 'tools:write']);
  });
});

describe('ISSUER is the only origin', () => {
  it('ignores a forged Host header when building discovery', async () => {
    const res = await fetch(`${gh.issuer}/.well-known/oauth-authorization-server`, { headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } });
    const doc = (await res.json()) as Record<string, string>;
    expect(doc.issuer).toBe(gh.issuer);
    expect(doc.token_endpoint).toBe(`${gh.issuer}/token`);
    expect(JSON.stringify(doc)).not.toContain('evil.example');
  });
});

describe('cross-site form posts', () => {
  it('refuses a login form posted from another origin', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { challenge } = pkcePair();
    const browser = new Browser(gh.issuer);
    const page = await browser.follow(await browser.get(`${gh.issuer}/authorize?${new URLSearchParams({
      response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read',
    })}`));
    const action = /action="([^"]+)"/.exec(await (page as Response).text())![1]!;
    const res = await browser.request(new URL(action, gh.issuer).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://attacker.example' },
      body: new URLSearchParams(USER).toString(),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('location')).toBeNull();
  });

  it('refuses an oversized form body with 413', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { challenge } = pkcePair();
    const browser = new Browser(gh.issuer);
    const page = await browser.follow(await browser.get(`${gh.issuer}/authorize?${new URLSearchParams({
      response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read',
    })}`));
    const action = /action="([^"]+)"/.exec(await (page as Response).text())![1]!;
    const res = await browser.postForm(new URL(action, gh.issuer).href, { email: 'a'.repeat(100_000), password: 'x' });
    expect(res.status).toBe(413);
    const res2 = await fetch(`${gh.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=refresh_token&refresh_token=${'a'.repeat(100_000)}` });
    expect(res2.status).toBe(413);
    expect(((await res2.json()) as { error: string }).error).toBe('invalid_request');
  });
});

describe('who may log in', () => {
  it('refuses an account outside ALLOWED_EMAIL_DOMAINS (compared case-insensitively) and audits it', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { challenge } = pkcePair();
    await expect(authorizeThrough(new Browser(gh.issuer), gh.issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read',
    }, OUTSIDER)).rejects.toThrow(/403/);
    const events = await gh.services.audit.recent({ type: 'login' });
    expect(events.some((e) => e.outcome === 'failure' && /^email domain .* not allowed$/.test(String(e.reason)))).toBe(true);
  });
});
