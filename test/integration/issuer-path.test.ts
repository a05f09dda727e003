// Issue 5: an ISSUER with a path (http://127.0.0.1:PORT/tenant1). Gatehouse is mounted at that path
// (src/http/issuer-path.ts): its metadata is found where RFC 8414 §3.1 (well-known inserted before the path) and OIDC
// Discovery §4 (appended after it) say, with `issuer` byte-identical to ISSUER and every endpoint under the path; the
// whole flow — DCR, login, consent, code, token, refresh, and the upstream leg — runs under it, with cookies scoped
// under it; and nothing else on the host answers, apart from the root health checks.
// What this file proves for docs/COMPATIBILITY.md (scripts/compatibility.ts reads these lines):
// compatibility: client=sdk-v1 covers=dcr,refresh
import { createRemoteJWKSet, jwtVerify } from 'jose';
import {
  buildDiscoveryUrls,
  discoverAuthorizationServerMetadata,
  exchangeAuthorization,
  refreshAuthorization,
  registerClient,
  startAuthorization,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { authorizeThrough, authorizeUrl, Browser, consent, login, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { MultiOriginBrowser } from '../helpers/multi-origin-browser.js';
import { freePort, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { answerConsent, openAtGatehouse, registerMcpClient, startAtGatehouse, startMockIdp, type MockIdp } from '../helpers/upstream-idp.js';
import { issueFirstAdminLink } from '../../src/upstream/local/first-admin.js';
import { ConfigError, loadConfig } from '../../src/config.js';

const USER = { email: 'ada@example.com', password: 'correct horse battery staple' };
const ADMIN = { email: 'root@example.com', password: 'a long enough admin password' };
const REDIRECT = 'http://127.0.0.1:33419/callback';
const BASE = '/tenant1';

let db: TestDatabase;
let gh: TestServer;
/** ISSUER, e.g. http://127.0.0.1:PORT/tenant1 */
let issuer: string;
/** scheme://host:port of the issuer: what a browser calls the site. */
let origin: string;
let setupLink: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  gh = await startTestServer({ ...db.env, ISSUER: `http://127.0.0.1:${port}${BASE}` }, port);
  issuer = gh.issuer;
  origin = new URL(issuer).origin;
  // Gatehouse printed one at start (no user yet); the log is silent in tests, so issue another the same way.
  setupLink = (await issueFirstAdminLink(gh.services.handle.db, gh.services.users, issuer))!;
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

describe('which ISSUER paths are accepted', () => {
  const issuerProblems = (ISSUER: string): string[] => {
    try {
      loadConfig({ ISSUER });
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.filter((p) => p.startsWith('ISSUER:'));
      throw err;
    }
  };

  it.each(['https://auth.example.com', 'https://auth.example.com/tenant1', 'http://127.0.0.1:8080/a/b-c_d~e.f'])('accepts %s', (issuerValue) => {
    expect(issuerProblems(issuerValue)).toEqual([]);
  });

  it.each([
    'https://auth.example.com/',
    'https://auth.example.com/tenant1/',
    'https://auth.example.com/tenant1?x=1',
    'https://auth.example.com/tenant1#f',
    'https://auth.example.com/a//b',
    'https://auth.example.com/a/./b',
    'https://auth.example.com/a/../tenant1',
    'https://auth.example.com/a%20b',
    'https://auth.example.com/a b',
    'https://auth.example.com/t\u00e9nant',
    'https://auth.example.com/.well-known/x',
  ])('refuses %s, naming ISSUER', (issuerValue) => {
    expect(issuerProblems(issuerValue).length).toBeGreaterThan(0);
  });
});

it('runs with the ISSUER given, path included', () => {
  expect(issuer).toBe(`${origin}${BASE}`);
  expect(gh.services.config.ISSUER).toBe(issuer);
});

describe('metadata at the path issuer\'s well-known URLs', () => {
  it.each([
    ['RFC 8414 §3.1: well-known inserted before the path', `/.well-known/oauth-authorization-server${BASE}`],
    ['OIDC Discovery §4: appended to the issuer', `${BASE}/.well-known/openid-configuration`],
    ['openid-configuration inserted before the path (the MCP SDK tries it)', `/.well-known/openid-configuration${BASE}`],
  ])('%s', async (_name, path) => {
    const res = await fetch(`${origin}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const raw = await res.text();
    expect(raw).toContain(`"issuer":"${issuer}"`);
    const doc = JSON.parse(raw) as Record<string, unknown>;
    expect(doc.issuer).toBe(issuer);
    expect(doc.authorization_endpoint).toBe(`${issuer}/authorize`);
    expect(doc.token_endpoint).toBe(`${issuer}/token`);
    expect(doc.registration_endpoint).toBe(`${issuer}/register`);
    expect(doc.jwks_uri).toBe(`${issuer}/jwks`);
    expect(doc.revocation_endpoint).toBe(`${issuer}/revoke`);
    expect(doc.introspection_endpoint).toBe(`${issuer}/introspect`);
    expect(doc.userinfo_endpoint).toBe(`${issuer}/userinfo`);
    expect(doc.code_challenge_methods_supported).toEqual(['S256']);
    expect(doc.client_id_metadata_document_supported).toBe(true);
    expect(doc.scopes_supported).toEqual(expect.arrayContaining(['tools:read', 'files:read']));
  });

  it('answers a CORS preflight at the inserted RFC 8414 URL', async () => {
    const res = await fetch(`${origin}/.well-known/oauth-authorization-server${BASE}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://inspector.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it.each([
    '/.well-known/oauth-authorization-server',
    '/.well-known/openid-configuration',
    '/.well-known/oauth-authorization-server/tenant2',
    '/.well-known/oauth-authorization-server/tenant10',
  ])('serves no metadata for another issuer at %s (404)', async (path) => {
    expect((await fetch(`${origin}${path}`)).status).toBe(404);
  });

  it('the official MCP SDK client discovers this document, at the first URL it tries', async () => {
    const [first] = buildDiscoveryUrls(issuer);
    expect(first!.url.href).toBe(`${origin}/.well-known/oauth-authorization-server${BASE}`);
    expect((await fetch(first!.url)).status).toBe(200);
    const metadata = await discoverAuthorizationServerMetadata(issuer);
    expect(metadata?.issuer).toBe(issuer);
    expect(metadata?.authorization_endpoint).toBe(`${issuer}/authorize`);
    expect(metadata?.token_endpoint).toBe(`${issuer}/token`);
  });
});

describe('nothing is served outside the issuer path', () => {
  it.each(['/authorize', '/token', '/register', '/jwks', '/revoke', '/introspect', '/userinfo', '/catalogue', '/static/style.css', '/upstream/callback', '/interaction/abc', '/setup/abc', '/', '/tenant10/jwks', '/tenant/jwks'])(
    'GET %s at the root is 404',
    async (path) => {
      expect((await fetch(`${origin}${path}`)).status).toBe(404);
    },
  );

  it('POST /token at the root is 404 and reaches no endpoint', async () => {
    const res = await fetch(`${origin}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    expect(res.status).toBe(404);
  });

  it('/authorize at the root (without the prefix) is 404 even with a valid request', async () => {
    const client = await registerPublicClient(issuer, [REDIRECT]);
    const { challenge } = pkcePair();
    const url = authorizeUrl(origin, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE });
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(404);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it.each(['/healthz', '/readyz', `${BASE}/healthz`, `${BASE}/readyz`])('health %s answers (root and under the path)', async (path) => {
    const res = await fetch(`${origin}${path}`);
    expect(res.status).toBe(200);
  });

  it('serves the stylesheet and the catalogue under the path', async () => {
    expect((await fetch(`${issuer}/static/style.css`)).headers.get('content-type')).toMatch(/^text\/css/);
    expect((await fetch(`${issuer}/catalogue`)).status).toBe(200);
  });
});

describe('the first-admin setup link', () => {
  it('is <ISSUER>/setup/<token>, and its form posts under the path', async () => {
    expect(setupLink.startsWith(`${issuer}/setup/`)).toBe(true);
    const token = setupLink.slice(`${issuer}/setup/`.length);
    expect((await fetch(`${origin}/setup/${token}`)).status).toBe(404);
    const page = await fetch(setupLink);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`action="${BASE}/setup/${token}"`);
    expect(html).toContain(`href="${BASE}/static/style.css"`);
    const browser = new Browser(origin);
    const done = await browser.postForm(`${origin}${BASE}/setup/${token}`, ADMIN);
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('was created');
  });
});

describe('DCR under the path', () => {
  it('registers at <ISSUER>/register and manages the client at a registration_client_uri under it', async () => {
    const client = await registerPublicClient(issuer, [REDIRECT]);
    expect(client.registration_client_uri).toBe(`${issuer}/register/${client.client_id}`);
    const read = await fetch(client.registration_client_uri, { headers: { authorization: `Bearer ${client.registration_access_token}` } });
    expect(read.status).toBe(200);
    expect(((await read.json()) as { client_id: string }).client_id).toBe(client.client_id);
  });
});

describe('the browser flow under the path', () => {
  beforeAll(async () => {
    await gh.services.users.create(USER);
  });

  it('scopes the interaction and resume cookies under the path, and serves the pages with prefixed links', async () => {
    const client = await registerPublicClient(issuer, [REDIRECT]);
    const { challenge } = pkcePair();
    const browser = new MultiOriginBrowser();
    const start = await browser.get(authorizeUrl(issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE }));
    expect(start.status).toBe(303);
    const location = start.headers.get('location')!;
    const uid = /^\/tenant1\/interaction\/([A-Za-z0-9_-]+)$/.exec(location)?.[1];
    expect(uid).toBeTruthy();
    const cookies = browser.jar(origin).names();
    expect(cookies).toEqual(expect.arrayContaining([`_interaction@${BASE}/interaction/${uid}`, `_interaction_resume@${BASE}/authorize/${uid}`]));
    expect(cookies.every((c) => c.split('@')[1]!.startsWith(`${BASE}/`))).toBe(true);

    const page = await browser.get(new URL(location, origin));
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`action="${BASE}/interaction/${uid}/login"`);
    expect(html).toContain(`href="${BASE}/static/style.css"`);
    // The same interaction without the prefix does not exist.
    expect((await browser.get(`${origin}/interaction/${uid}`)).status).toBe(404);
  });

  it('login + consent → code (iss = the path issuer) → token verifiable at <ISSUER>/jwks → refresh', async () => {
    const client = await registerPublicClient(issuer, [REDIRECT]);
    const { verifier, challenge } = pkcePair();
    const browser = new Browser(origin);
    const callback = await authorizeThrough(browser, issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256',
      scope: 'tools:read', resource: TEST_RESOURCE, state: 'st-1',
    }, USER);
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT);
    expect(callback.searchParams.get('iss')).toBe(issuer);
    expect(callback.searchParams.get('state')).toBe('st-1');

    // The session cookie (set by the login) lives under the path too.
    const jar = (browser.jar as unknown as { cookies: Map<string, { path: string }> }).cookies;
    const session = [...jar.entries()].filter(([k]) => k.startsWith('_session;'));
    expect(session.length).toBeGreaterThan(0);
    for (const [, c] of session) expect(c.path).toBe(BASE);

    const tokens = await tokenRequest(issuer, {
      grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier,
      client_id: client.client_id, redirect_uri: REDIRECT, resource: TEST_RESOURCE,
    });
    expect(tokens.status).toBe(200);
    const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
    const { payload } = await jwtVerify(tokens.body.access_token, jwks, { issuer, audience: TEST_RESOURCE, typ: 'at+jwt' });
    expect(payload.client_id).toBe(client.client_id);
    expect(payload.scope).toBe('tools:read');

    const refreshed = await tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: client.client_id });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(tokens.body.refresh_token);
    await jwtVerify(refreshed.body.access_token, jwks, { issuer, audience: TEST_RESOURCE, typ: 'at+jwt' });

    // The same browser is remembered at the next /authorize (session cookie sent under the path): no login page.
    const again = await browser.follow(await browser.get(authorizeUrl(issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE,
    })));
    expect(again).toBeInstanceOf(URL);
    expect((again as URL).searchParams.get('code')).toBeTruthy();
  });

  it('the official MCP SDK client: register, authorize, exchange and refresh against the path issuer', async () => {
    const metadata = await discoverAuthorizationServerMetadata(issuer);
    expect(metadata).toBeDefined();
    const info = await registerClient(issuer, {
      metadata,
      clientMetadata: { client_name: 'SDK client', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] },
    });
    const resource = new URL(TEST_RESOURCE);
    const { authorizationUrl, codeVerifier } = await startAuthorization(issuer, { metadata, clientInformation: info, redirectUrl: REDIRECT, scope: 'tools:read', resource });
    expect(authorizationUrl.href.startsWith(`${issuer}/authorize?`)).toBe(true);

    const browser = new Browser(origin);
    let step = await browser.follow(await browser.get(authorizationUrl.href));
    expect(step).toBeInstanceOf(Response);
    step = await login(browser, step as Response, USER.email, USER.password);
    if (step instanceof Response) step = await consent(browser, step, 'allow');
    expect(step).toBeInstanceOf(URL);
    const code = (step as URL).searchParams.get('code')!;

    const tokens = await exchangeAuthorization(issuer, { metadata, clientInformation: info, authorizationCode: code, codeVerifier, redirectUri: REDIRECT, resource });
    const jwks = createRemoteJWKSet(new URL(metadata!.jwks_uri as string));
    await jwtVerify(tokens.access_token, jwks, { issuer, audience: TEST_RESOURCE });
    const refreshed = await refreshAuthorization(issuer, { metadata, clientInformation: info, refreshToken: tokens.refresh_token!, resource });
    await jwtVerify(refreshed.access_token, jwks, { issuer, audience: TEST_RESOURCE });
  });
});

describe('the upstream leg under the path', () => {
  let udb: TestDatabase;
  let ugh: TestServer;
  let idp: MockIdp;
  const SUB = 'idp-sub-path-4e1b';

  beforeAll(async () => {
    const port = await freePort();
    const upstreamIssuer = `http://127.0.0.1:${port}${BASE}`;
    idp = await startMockIdp({ gatehouseIssuer: upstreamIssuer, accounts: { [SUB]: { email: 'lin@example.com', email_verified: true, name: 'Lin' } } });
    udb = await createTestDatabase();
    ugh = await startTestServer(
      { ...udb.env, ISSUER: upstreamIssuer, UPSTREAM_PROVIDER: 'oidc', UPSTREAM_ISSUER: idp.issuer, UPSTREAM_CLIENT_ID: idp.clientId, UPSTREAM_CLIENT_SECRET: idp.clientSecret },
      port,
    );
  });

  afterAll(async () => {
    await ugh?.close();
    await idp?.close();
    await udb?.drop();
  });

  it('the IdP returns to <ISSUER>/upstream/callback, whose cookie is scoped there, and the flow completes', async () => {
    expect(idp.callbackUrl).toBe(`${ugh.issuer}/upstream/callback`);
    const client = await registerMcpClient(ugh.issuer, 'http://127.0.0.1:42199/callback');
    const browser = new MultiOriginBrowser();
    const started = await startAtGatehouse(browser, ugh.issuer, idp, client);
    expect(started.idpUrl.searchParams.get('redirect_uri')).toBe(`${ugh.issuer}/upstream/callback`);
    const gatehouseOrigin = new URL(ugh.issuer).origin;
    expect(browser.jar(gatehouseOrigin).get('gatehouse.upstream', `${BASE}/upstream/callback`)).toBe(started.uid);

    const callback = await idp.login(browser, started.idpUrl, SUB);
    expect(`${callback.origin}${callback.pathname}`).toBe(`${ugh.issuer}/upstream/callback`);
    // The same callback at the root is not Gatehouse's.
    expect((await fetch(`${gatehouseOrigin}/upstream/callback${callback.search}`)).status).toBe(404);

    let step = await openAtGatehouse(browser, ugh.issuer, callback);
    expect(browser.visited(`${ugh.issuer}/interaction/${started.uid}/upstream/callback`)).toBe(true);
    if (step instanceof Response) step = await answerConsent(browser, ugh.issuer, step, 'allow');
    expect(step).toBeInstanceOf(URL);
    const code = (step as URL).searchParams.get('code')!;
    const tokens = await tokenRequest(ugh.issuer, { grant_type: 'authorization_code', code, code_verifier: started.verifier, client_id: client.clientId, redirect_uri: client.redirectUri });
    expect(tokens.status).toBe(200);
    await jwtVerify(tokens.body.access_token, createRemoteJWKSet(new URL(`${ugh.issuer}/jwks`)), { issuer: ugh.issuer, audience: TEST_RESOURCE });
  });
});
