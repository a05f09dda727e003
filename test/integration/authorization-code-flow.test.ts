// The whole MCP authorization flow over real HTTP: discovery → DCR → /authorize → login → consent → code with iss
// → /token → JWT verified against /jwks → refresh → rotation → reuse detection.
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';

const USER = { email: 'ada@example.com', password: 'correct horse battery staple' };
const REDIRECT = 'http://127.0.0.1:33418/callback';

let db: TestDatabase;
let gh: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  await gh.services.users.create(USER);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

async function authorizeAndExchange(clientId: string, scope = 'tools:read') {
  const { verifier, challenge } = pkcePair();
  const browser = new Browser(gh.issuer);
  const callback = await authorizeThrough(browser, gh.issuer, {
    client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256',
    scope, resource: TEST_RESOURCE, state: 'xyz',
  }, USER);
  const code = callback.searchParams.get('code')!;
  const tokens = await tokenRequest(gh.issuer, {
    grant_type: 'authorization_code', code, code_verifier: verifier, client_id: clientId, redirect_uri: REDIRECT, resource: TEST_RESOURCE,
  });
  return { callback, tokens, browser };
}

describe('authorization code + PKCE flow for an MCP client', () => {
  it('issues an audience-bound JWT access token and a rotating refresh token; reuse kills the grant', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { callback, tokens } = await authorizeAndExchange(client.client_id);

    // RFC 9207: the authorization response names its issuer; state comes back untouched.
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT);
    expect(callback.searchParams.get('iss')).toBe(gh.issuer);
    expect(callback.searchParams.get('state')).toBe('xyz');

    expect(tokens.status).toBe(200);
    expect(tokens.headers.get('cache-control')).toContain('no-store');
    expect(tokens.body.token_type).toMatch(/^bearer$/i);
    expect(typeof tokens.body.expires_in).toBe('number');
    expect(tokens.body.scope).toBe('tools:read');
    expect(typeof tokens.body.refresh_token).toBe('string');

    // RFC 9068 access token verifiable by the MCP server against /jwks.
    const jwks = createRemoteJWKSet(new URL(`${gh.issuer}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(tokens.body.access_token, jwks, {
      issuer: gh.issuer, audience: TEST_RESOURCE, typ: 'at+jwt',
    });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload.client_id).toBe(client.client_id);
    expect(payload.scope).toBe('tools:read');
    expect(typeof payload.sub).toBe('string');
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(900);

    // Refresh: a new refresh token each time, bound to the same resource and scope.
    const first = tokens.body.refresh_token as string;
    const refreshed = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: first, client_id: client.client_id });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(first);
    const again = await jwtVerify(refreshed.body.access_token, jwks, { issuer: gh.issuer, audience: TEST_RESOURCE, typ: 'at+jwt' });
    expect(again.payload.scope).toBe('tools:read');

    // Reusing the rotated token fails, and revokes the grant: the new refresh token dies with it.
    const reuse = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: first, client_id: client.client_id });
    expect(reuse.status).toBe(400);
    expect(reuse.body.error).toBe('invalid_grant');
    const afterReuse = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token, client_id: client.client_id });
    expect(afterReuse.status).toBe(400);
    expect(afterReuse.body.error).toBe('invalid_grant');

    const events = (await gh.services.audit.recent({ limit: 50 })).map((e) => `${e.type}:${e.outcome}`);
    expect(events).toEqual(expect.arrayContaining(['login:success', 'consent:success', 'token.issued:success', 'token.refreshed:success', 'token.refused:failure', 'token.refresh.reused:failure']));
  });

  it('remembers consent per person and client, and asks again for a new scope', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const first = await authorizeAndExchange(client.client_id);
    expect(first.tokens.status).toBe(200);

    // Same browser, same scope: no consent page, straight back to the client.
    const { challenge } = pkcePair();
    const res = await first.browser.follow(await first.browser.get(`${gh.issuer}/authorize?${new URLSearchParams({
      response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE,
    })}`));
    expect(res).toBeInstanceOf(URL);
    expect((res as URL).searchParams.get('code')).toBeTruthy();

    // A new scope shows the consent page again.
    const more = await first.browser.follow(await first.browser.get(`${gh.issuer}/authorize?${new URLSearchParams({
      response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read tools:write', resource: TEST_RESOURCE,
    })}`));
    expect(more).toBeInstanceOf(Response);
    const html = await (more as Response).text();
    expect(html).toContain('tools:write');
    expect(html).toContain('Allow');
  });

  it('shows the consent page with the client, the redirect host with a loopback warning, the MCP server and scope descriptions', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT], { client_name: 'Evil <script>alert(1)</script> App' });
    const { challenge } = pkcePair();
    const browser = new Browser(gh.issuer);
    let step = await browser.follow(await browser.get(`${gh.issuer}/authorize?${new URLSearchParams({
      response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE,
    })}`));
    const { login } = await import('../helpers/browser-flow.js');
    step = await login(browser, step as Response, USER.email, USER.password);
    const page = step as Response;
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const html = await page.text();
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('Evil &lt;script&gt;');
    expect(html).toContain('unverified');
    expect(html).toContain('127.0.0.1:33418');
    expect(html).toMatch(/this computer/);
    expect(html).toContain('Example MCP');
    expect(html).toContain('List and call read-only tools');
  });

  it('signs with ES256 keys published at /jwks', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { tokens } = await authorizeAndExchange(client.client_id);
    const kid = decodeProtectedHeader(tokens.body.access_token).kid;
    const jwks = (await (await fetch(`${gh.issuer}/jwks`)).json()) as { keys: Array<{ kid: string; d?: string }> };
    expect(jwks.keys.map((k) => k.kid)).toContain(kid);
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
  });
});
