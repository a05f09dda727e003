// What Gatehouse refuses, and how: each protocol rule, the attack it stops, and the exact
// outcome a client or attacker sees. Real HTTP against a real server and database (PGlite, or PostgreSQL when
// TEST_DATABASE_URL is set).
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { sha256 } from '../../src/crypto/digest.js';
import { addStaticClient } from '../../src/oauth/static-clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { OTHER_RESOURCE, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import {
  authorizeThrough,
  authorizeUrl,
  Browser,
  pkcePair,
  registerPublicClient,
  tokenRequest,
  type AuthorizeParams,
} from '../helpers/browser-flow.js';

const USER = { email: 'grace@example.com', password: 'correct horse battery staple' };
const REDIRECT = 'http://127.0.0.1:33418/callback';
const EVIL_RESOURCE = 'https://evil.example/mcp';

let db: TestDatabase;
let gh: TestServer;
let jwks: ReturnType<typeof createRemoteJWKSet>;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  await gh.services.users.create(USER);
  jwks = createRemoteJWKSet(new URL(`${gh.issuer}/jwks`));
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

// ---------------------------------------------------------------------------------------------------------------
// Local helpers

type ClientParams = Omit<AuthorizeParams, 'client_id' | 'redirect_uri'> & { redirect_uri?: string };

/** The full browser flow with PKCE S256 (login + Allow); returns the redirect back to the client. */
async function authorize(clientId: string, params: ClientParams = {}) {
  const { verifier, challenge } = pkcePair();
  const redirectUri = params.redirect_uri ?? REDIRECT;
  const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
    client_id: clientId,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope: 'tools:read',
    resource: TEST_RESOURCE,
    state: 'st-1',
    ...params,
    redirect_uri: redirectUri,
  }, USER);
  return { callback, verifier, redirectUri, code: callback.searchParams.get('code') };
}

function exchange(clientId: string, code: string, verifier: string, extra: Record<string, string> = {}) {
  return tokenRequest(gh.issuer, {
    grant_type: 'authorization_code', code, code_verifier: verifier, client_id: clientId, redirect_uri: REDIRECT, ...extra,
  });
}

/** A public client that went through the whole flow and holds tokens for TEST_RESOURCE. */
async function clientWithTokens() {
  const client = await registerPublicClient(gh.issuer, [REDIRECT]);
  const { code, verifier } = await authorize(client.client_id);
  const tokens = await exchange(client.client_id, code!, verifier, { resource: TEST_RESOURCE });
  expect(tokens.status).toBe(200);
  return { clientId: client.client_id, tokens: tokens.body };
}

/** First hop of /authorize only, no redirects followed: what the client's browser is sent to, if anywhere. */
async function authorizeFirstHop(params: AuthorizeParams) {
  return new Browser(gh.issuer).get(authorizeUrl(gh.issuer, params));
}

/** The redirect target of a response that must be a redirect to the client. */
function redirectedTo(res: Response): URL {
  expect(res.status).toBeGreaterThanOrEqual(300);
  expect(res.status).toBeLessThan(400);
  return new URL(res.headers.get('location')!, gh.issuer);
}

function withoutQuery(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** An error page shown in the browser: 4xx HTML, and no redirect anywhere. */
async function expectErrorPage(res: Response, status = 400): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get('location')).toBeNull();
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  return res.text();
}

function basic(clientId: string, secret: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}` };
}

async function postForm(path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${gh.issuer}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: (text ? JSON.parse(text) : {}) as Record<string, any> };
}

async function confidentialClient(resource?: string) {
  // As `client add` does: created, and recorded in the registry as an admin's (introspection asks the registry).
  const created = await addStaticClient({ db: gh.services.handle.db, box: gh.services.box, provider: gh.holder.provider, registry: gh.services.registry }, {
    name: resource ? 'Resource server' : 'Machine agent', redirectUris: [], confidential: true, resource,
  });
  return { clientId: created.client_id, secret: created.client_secret! };
}

async function accessTokenAudience(jwt: string): Promise<unknown> {
  const { payload } = await jwtVerify(jwt, jwks, { issuer: gh.issuer, typ: 'at+jwt' });
  return payload.aud;
}

// ---------------------------------------------------------------------------------------------------------------

describe('PKCE S256 is required (OAuth 2.1 §4.1.1, MCP authorization)', () => {
  it('refuses an authorization request without code_challenge: the client gets error=invalid_request, never a code', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const res = await authorizeFirstHop({ client_id: client.client_id, redirect_uri: REDIRECT, scope: 'tools:read', resource: TEST_RESOURCE, state: 'no-pkce' });
    const to = redirectedTo(res);
    expect(withoutQuery(to)).toBe(REDIRECT);
    expect(to.searchParams.get('error')).toBe('invalid_request');
    expect(to.searchParams.get('iss')).toBe(gh.issuer);
    expect(to.searchParams.get('state')).toBe('no-pkce');
    expect(to.searchParams.get('code')).toBeNull();
  });

  it('refuses code_challenge_method=plain (a downgrade that makes an intercepted code usable)', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { verifier } = pkcePair();
    const res = await authorizeFirstHop({
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: verifier, code_challenge_method: 'plain', scope: 'tools:read', resource: TEST_RESOURCE,
    });
    const to = redirectedTo(res);
    expect(withoutQuery(to)).toBe(REDIRECT);
    expect(to.searchParams.get('error')).toBe('invalid_request');
    expect(to.searchParams.get('iss')).toBe(gh.issuer);
    expect(to.searchParams.get('code')).toBeNull();
  });

  it('refuses a stolen code redeemed with the wrong code_verifier: 400 invalid_grant', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { code } = await authorize(client.client_id);
    const attacker = pkcePair();
    const res = await exchange(client.client_id, code!, attacker.verifier);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    expect(res.body.access_token).toBeUndefined();
  });
});

describe('redirect URIs match exactly (OAuth 2.1 §2.3.1); a bad one gets an error page, never a redirect', () => {
  it.each([
    ['a different path', 'http://127.0.0.1:33418/evil'],
    ['a different host', 'https://attacker.example/callback'],
  ])('refuses a redirect_uri with %s, and the attacker URI receives nothing', async (_what, attackerUri) => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { challenge } = pkcePair();
    const res = await authorizeFirstHop({
      client_id: client.client_id, redirect_uri: attackerUri, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE, state: 's',
    });
    const html = await expectErrorPage(res);
    expect(html).toContain('redirect_uri');
  });

  it('refuses a non-loopback https redirect_uri with another port (the loopback exception does not extend to it)', async () => {
    const client = await registerPublicClient(gh.issuer, ['https://app.example.com/cb']);
    const { challenge } = pkcePair();
    const res = await authorizeFirstHop({
      client_id: client.client_id, redirect_uri: 'https://app.example.com:8443/cb', code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE,
    });
    await expectErrorPage(res);
  });
});

describe('loopback redirect URIs match on any port (RFC 8252 §7.3)', () => {
  it.each([
    ['127.0.0.1 registered with a port, used with another', 'http://127.0.0.1:33418/callback', 'http://127.0.0.1:40001/callback'],
    ['localhost registered port-less, used with a port', 'http://localhost/callback', 'http://localhost:51234/callback'],
    ['[::1] registered with a port, used with another', 'http://[::1]:33418/callback', 'http://[::1]:40001/callback'],
  ])('accepts %s: the code goes to the port used, and redeems with that redirect_uri', async (_what, registered, used) => {
    const client = await registerPublicClient(gh.issuer, [registered]);
    const { callback, code, verifier } = await authorize(client.client_id, { redirect_uri: used, state: 'lb' });
    expect(withoutQuery(callback)).toBe(used);
    expect(callback.searchParams.get('iss')).toBe(gh.issuer);
    expect(callback.searchParams.get('state')).toBe('lb');
    expect(code).toBeTruthy();
    const res = await exchange(client.client_id, code!, verifier, { redirect_uri: used });
    expect(res.status).toBe(200);
    expect(await accessTokenAudience(res.body.access_token)).toBe(TEST_RESOURCE);
  });

  it('still refuses, at /token, a redirect_uri other than the one the code was sent to', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const used = 'http://127.0.0.1:40001/callback';
    const { code, verifier } = await authorize(client.client_id, { redirect_uri: used });
    const res = await exchange(client.client_id, code!, verifier, { redirect_uri: 'http://127.0.0.1:40002/callback' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });
});

describe('resource indicators (RFC 8707): only registered resources, invalid_target otherwise', () => {
  it('refuses an unregistered resource at /authorize: the client gets error=invalid_target, never a code', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { challenge } = pkcePair();
    const res = await authorizeFirstHop({
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: EVIL_RESOURCE, state: 'evil',
    });
    const to = redirectedTo(res);
    expect(withoutQuery(to)).toBe(REDIRECT);
    expect(to.searchParams.get('error')).toBe('invalid_target');
    expect(to.searchParams.get('iss')).toBe(gh.issuer);
    expect(to.searchParams.get('state')).toBe('evil');
    expect(to.searchParams.get('code')).toBeNull();
  });

  it.each([
    ['a registered resource the grant does not cover', OTHER_RESOURCE],
    ['an unregistered resource', EVIL_RESOURCE],
  ])('refuses at /token %s: 400 invalid_target (no token for an audience the person never approved)', async (_what, resource) => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { code, verifier } = await authorize(client.client_id);
    const res = await exchange(client.client_id, code!, verifier, { resource });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_target');
    expect(res.body.access_token).toBeUndefined();
  });

  it('treats https://h and https://h/ as the same resource: authorized with one, exchanged with the other, aud is canonical', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { code, verifier } = await authorize(client.client_id, { resource: `${OTHER_RESOURCE}/`, scope: 'files:read' });
    expect(code).toBeTruthy();
    const res = await exchange(client.client_id, code!, verifier, { resource: OTHER_RESOURCE });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('files:read');
    expect(await accessTokenAudience(res.body.access_token)).toBe(OTHER_RESOURCE);
  });

  it('gives a client that names no resource a token for the default resource', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { code, verifier } = await authorize(client.client_id, { resource: undefined });
    expect(code).toBeTruthy();
    const res = await exchange(client.client_id, code!, verifier);
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('tools:read');
    expect(await accessTokenAudience(res.body.access_token)).toBe(TEST_RESOURCE);
  });
});

describe('authorization codes are single-use and short-lived (OAuth 2.1 §4.1.2)', () => {
  it('refuses a replayed authorization code and revokes the refresh token the first use issued', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { code, verifier } = await authorize(client.client_id);
    const first = await exchange(client.client_id, code!, verifier, { resource: TEST_RESOURCE });
    expect(first.status).toBe(200);
    expect(typeof first.body.refresh_token).toBe('string');

    const replay = await exchange(client.client_id, code!, verifier, { resource: TEST_RESOURCE });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');

    const refresh = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token, client_id: client.client_id });
    expect(refresh.status).toBe(400);
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('refuses an expired authorization code: 400 invalid_grant', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { code, verifier } = await authorize(client.client_id);
    // Codes live 60 s; age this one past its expiry in the database rather than waiting.
    const aged = await gh.services.handle.db('oidc_payloads')
      .where({ model: 'AuthorizationCode', id: sha256(code!) })
      .update({ expires_at: new Date(Date.now() - 1000) });
    expect(aged).toBe(1);
    const res = await exchange(client.client_id, code!, verifier);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });
});

describe('refresh tokens are rotated atomically', () => {
  // Runs in both modes. On PGlite (one connection) the three requests are serialised by the database, so only
  // real PostgreSQL (TEST_DATABASE_URL) exercises the race the adapter's conditional UPDATE closes.
  it('lets exactly one of three concurrent refreshes of one token succeed; the others get invalid_grant, never a 5xx', async () => {
    const { clientId, tokens } = await clientWithTokens();
    const results = await Promise.all(
      [1, 2, 3].map(() => tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: clientId })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 400, 400]);
    for (const r of results.filter((x) => x.status !== 200)) expect(r.body.error).toBe('invalid_grant');
  });
});

describe('the person decides (consent page)', () => {
  it('sends the client error=access_denied with iss and state when the person presses Deny, and no code', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { challenge } = pkcePair();
    const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE, state: 'deny-me',
    }, USER, 'deny');
    expect(withoutQuery(callback)).toBe(REDIRECT);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('iss')).toBe(gh.issuer);
    expect(callback.searchParams.get('state')).toBe('deny-me');
    expect(callback.searchParams.get('code')).toBeNull();
  });
});

describe('client_credentials is for confidential clients only, audience-bound like every token', () => {
  it('issues a JWT for the requested registered resource to a confidential client (client_secret_basic)', async () => {
    const agent = await confidentialClient();
    const res = await postForm('/token', { grant_type: 'client_credentials', resource: TEST_RESOURCE, scope: 'tools:read' }, basic(agent.clientId, agent.secret));
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('tools:read');
    expect(await accessTokenAudience(res.body.access_token)).toBe(TEST_RESOURCE);
  });

  it('gives a confidential client that names no resource a token for the default resource', async () => {
    const agent = await confidentialClient();
    const res = await postForm('/token', { grant_type: 'client_credentials', scope: 'tools:read' }, basic(agent.clientId, agent.secret));
    expect(res.status).toBe(200);
    expect(await accessTokenAudience(res.body.access_token)).toBe(TEST_RESOURCE);
  });

  it('refuses client_credentials for an unregistered resource: 400 invalid_target', async () => {
    const agent = await confidentialClient();
    const res = await postForm('/token', { grant_type: 'client_credentials', resource: EVIL_RESOURCE, scope: 'tools:read' }, basic(agent.clientId, agent.secret));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_target');
    expect(res.body.access_token).toBeUndefined();
  });

  it('refuses client_credentials to a public client (no secret, so no machine identity)', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const res = await postForm('/token', { grant_type: 'client_credentials', client_id: client.client_id, resource: TEST_RESOURCE, scope: 'tools:read' });
    // RFC 6749 §5.2: the client authenticated (as a public client) but may not use this grant type.
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unauthorized_client');
    expect(res.body.access_token).toBeUndefined();
  });
});

describe('introspection is limited to the token\'s client and its resource server (RFC 7662 §4)', () => {
  it('lets the token\'s own client introspect its refresh token', async () => {
    const { clientId, tokens } = await clientWithTokens();
    const res = await postForm('/introspect', { token: tokens.refresh_token, client_id: clientId });
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(true);
    expect(res.body.client_id).toBe(clientId);
  });

  it('tells an unrelated confidential client nothing about someone else\'s token', async () => {
    const { tokens } = await clientWithTokens();
    const stranger = await confidentialClient();
    const res = await postForm('/introspect', { token: tokens.refresh_token }, basic(stranger.clientId, stranger.secret));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false });
  });

  it('lets the resource server the token was issued for (a client linked to it) introspect it', async () => {
    const { clientId, tokens } = await clientWithTokens();
    const rs = await confidentialClient(TEST_RESOURCE);
    const res = await postForm('/introspect', { token: tokens.refresh_token }, basic(rs.clientId, rs.secret));
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(true);
    expect(res.body.client_id).toBe(clientId);
  });

  it('refuses a resource server linked to another resource', async () => {
    const { tokens } = await clientWithTokens();
    const other = await confidentialClient(OTHER_RESOURCE);
    const res = await postForm('/introspect', { token: tokens.refresh_token }, basic(other.clientId, other.secret));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false });
  });
});

describe('revocation (RFC 7009)', () => {
  it('revokes a refresh token: 200, then refreshing it gets invalid_grant, and the revocation is audited', async () => {
    const { clientId, tokens } = await clientWithTokens();
    const before = (await gh.services.audit.recent({ type: 'token.revoked' })).length;
    const res = await postForm('/revoke', { token: tokens.refresh_token, token_type_hint: 'refresh_token', client_id: clientId });
    expect(res.status).toBe(200);

    const refresh = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: clientId });
    expect(refresh.status).toBe(400);
    expect(refresh.body.error).toBe('invalid_grant');

    const revoked = await gh.services.audit.recent({ type: 'token.revoked' });
    expect(revoked.length).toBe(before + 1);
    expect(revoked[0]).toMatchObject({ type: 'token.revoked', outcome: 'success' });
  });

  it('audits a revocation that destroyed a token, not every 200: 200 revocations of garbage write no row (issue 16 review)', async () => {
    const { clientId } = await clientWithTokens();
    const before = (await gh.services.audit.recent({ type: 'token.revoked', limit: 1000 })).length;
    for (let i = 0; i < 200; i++) {
      const res = await postForm('/revoke', { token: `garbage-${i}`, client_id: clientId });
      expect(res.status).toBe(200);
    }
    expect((await gh.services.audit.recent({ type: 'token.revoked', limit: 1000 })).length).toBe(before);
  });

  it('does not let another client revoke someone else\'s refresh token: it keeps working', async () => {
    const { clientId, tokens } = await clientWithTokens();
    const stranger = await registerPublicClient(gh.issuer, [REDIRECT]);
    // RFC 7009 §2.2: the answer is 200 either way, so a stranger learns nothing; the token must survive.
    const res = await postForm('/revoke', { token: tokens.refresh_token, token_type_hint: 'refresh_token', client_id: stranger.client_id });
    expect(res.status).toBe(200);
    const refresh = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: clientId });
    expect(refresh.status).toBe(200);
  });
});

describe('bad input gets a clear 4xx, never a 5xx', () => {
  let clientId: string;
  beforeAll(async () => {
    clientId = (await registerPublicClient(gh.issuer, [REDIRECT])).client_id;
  });

  async function rawToken(body: string, contentType?: string) {
    const res = await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: contentType ? { 'content-type': contentType } : {},
      body,
    });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type'), body: JSON.parse(text) as Record<string, unknown> };
  }

  const FORM = 'application/x-www-form-urlencoded';
  it.each([
    ['a garbage urlencoded body', () => '%%%zz&&==&=%E0%A4%A', FORM, 'invalid_request'],
    ['garbage and a real client_id', () => `%%%zz&&==&client_id=${clientId}&=%E0%A4%A`, FORM, 'invalid_request'],
    ['a JSON body', () => `{"grant_type": "authorization_code", "client_id": "${clientId}"`, 'application/json', 'invalid_request'],
    ['no content type', () => `grant_type=authorization_code&client_id=${clientId}`, undefined, 'invalid_request'],
    ['an unknown grant_type', () => `grant_type=password&username=a&password=b&client_id=${clientId}`, FORM, 'unsupported_grant_type'],
    ['a missing grant_type', () => `client_id=${clientId}&code=y`, FORM, 'invalid_request'],
    ['a duplicated grant_type', () => `grant_type=refresh_token&grant_type=authorization_code&client_id=${clientId}`, FORM, 'invalid_request'],
    ['a duplicated code', () => `grant_type=authorization_code&code=a&code=b&code_verifier=${'v'.repeat(43)}&client_id=${clientId}`, FORM, 'invalid_request'],
    ['a duplicated client_id', () => `grant_type=authorization_code&code=a&client_id=${clientId}&client_id=other`, FORM, 'invalid_request'],
  ] as Array<[string, () => string, string | undefined, string]>)('answers POST /token with %s with 400 and a JSON error', async (_what, body, contentType, error) => {
    const res = await rawToken(body(), contentType);
    expect(res.status).toBe(400);
    expect(res.type).toMatch(/^application\/json/);
    expect(res.body.error).toBe(error);
    expect(typeof res.body.error_description).toBe('string');
  });

  it('answers POST /token for an unknown client with 401 invalid_client and a JSON error', async () => {
    const res = await rawToken('grant_type=authorization_code&code=a&code_verifier=b&client_id=dyn_does-not-exist', FORM);
    expect(res.status).toBe(401);
    expect(res.type).toMatch(/^application\/json/);
    expect(res.body.error).toBe('invalid_client');
  });

  it('answers a code grant missing its code and verifier with 400 invalid_request', async () => {
    const res = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', client_id: clientId, redirect_uri: REDIRECT });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  it('answers a refresh grant with an unknown refresh token with 400 invalid_grant', async () => {
    const res = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', client_id: clientId, refresh_token: 'not-a-real-token' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  it('shows an error page (400), never a redirect, for /authorize with an unknown client_id', async () => {
    const { challenge } = pkcePair();
    const res = await authorizeFirstHop({
      client_id: 'dyn_does-not-exist', redirect_uri: 'https://attacker.example/callback', code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read',
    });
    const html = await expectErrorPage(res, 400);
    expect(html).toContain('invalid_client');
  });
});

describe('refusals are audited with their reason', () => {
  it('records a refused token request as token.refused with a reason', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { code } = await authorize(client.client_id);
    const res = await exchange(client.client_id, code!, pkcePair().verifier);
    expect(res.status).toBe(400);
    const events = await gh.services.audit.recent({ type: 'token.refused', limit: 20 });
    const mine = events.find((e) => e.client_id === client.client_id);
    expect(mine).toMatchObject({ type: 'token.refused', outcome: 'failure' });
    expect(String(mine!.reason)).toMatch(/invalid_grant/);
  });

  it('records an authorization request for an unregistered resource as authorization.refused with a reason', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { challenge } = pkcePair();
    const res = await authorizeFirstHop({
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: EVIL_RESOURCE,
    });
    expect(redirectedTo(res).searchParams.get('error')).toBe('invalid_target');
    const events = await gh.services.audit.recent({ type: 'authorization.refused', limit: 20 });
    const mine = events.find((e) => e.client_id === client.client_id);
    expect(mine).toMatchObject({ type: 'authorization.refused', outcome: 'failure' });
    expect(String(mine!.reason)).toMatch(/invalid_target/);
  });
});
