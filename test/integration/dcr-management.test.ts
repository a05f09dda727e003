// RFC 7592 client registration management: a dynamically registered client reads, replaces and deletes its own
// registration at registration_client_uri with its registration access token, and with nothing else. Updates obey
// the same registration rules as POST /register; a refused update changes nothing.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { authorizeThrough, authorizeUrl, Browser, pkcePair, tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { clientAuthentication, expectRegistrationShape, manage, postRegistration, type HttpResult, type Json } from '../helpers/registration.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const USER = { email: 'edsger@example.com', password: 'goto considered harmful' };
const REDIRECT = 'http://127.0.0.1:47001/callback';
const NEW_REDIRECT = 'https://app.example.com/oauth/callback';

let db: TestDatabase;
let gh: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  // Far more registrations than a real client makes in an hour; the per-IP limit is not what this file tests.
  gh = await startTestServer({ ...db.env, REGISTRATION_RATE_LIMIT: '100000' });
  await gh.services.users.create(USER);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

function publicMetadata(extra: Json = {}): Json {
  return {
    client_name: 'Management test client',
    client_uri: 'https://client.example.com',
    redirect_uris: [REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...extra,
  };
}

async function register(body: Json = publicMetadata()): Promise<Json> {
  const res = await postRegistration(gh.issuer, body);
  if (res.status !== 201) throw new Error(`registration refused: ${res.status} ${res.text}`);
  return res.body;
}

/** RFC 6750 §3.1: a refused token gets 401 invalid_token with a Bearer challenge, and nothing about the client. */
function expectInvalidToken(res: HttpResult): void {
  expect(res.status).toBe(401);
  expect(res.body.error).toBe('invalid_token');
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
  expect(res.body).not.toHaveProperty('client_id');
  expect(res.body).not.toHaveProperty('redirect_uris');
}

/** The full browser flow and code exchange; returns the token response. */
async function authorizeAndRedeem(client: Json, redirectUri = REDIRECT) {
  const { verifier, challenge } = pkcePair();
  const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
    client_id: client.client_id, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read',
  }, USER);
  const auth = clientAuthentication(client);
  return tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, redirect_uri: redirectUri, ...auth.form }, auth.headers);
}

/** The first hop of /authorize as a browser makes it; an unknown client or redirect gets an error page. */
async function firstHop(clientId: string, redirectUri: string): Promise<Response> {
  const { challenge } = pkcePair();
  return fetch(authorizeUrl(gh.issuer, { client_id: clientId, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE }), {
    redirect: 'manual',
    headers: { accept: 'text/html' },
  });
}

async function expectErrorPage(res: Response): Promise<string> {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(res.headers.get('location')).toBeNull();
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  return res.text();
}

describe('RFC 7592 §2.1 read: the registration access token reads the current registration', () => {
  it('returns the registered metadata with the shape rules of a registration response, uncached', async () => {
    const client = await register();
    const res = await manage('GET', client.registration_client_uri, client.registration_access_token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-store');
    expectRegistrationShape(res.body, gh.issuer, { redirect_uris: [REDIRECT], auth_method: 'none' });
    expect(res.body.client_id).toBe(client.client_id);
    expect(res.body.client_name).toBe('Management test client');
    expect(res.body.client_uri).toBe('https://client.example.com');
  });

  it('returns a confidential client its secret, and only to the holder of its registration access token', async () => {
    const client = await register(publicMetadata({ token_endpoint_auth_method: 'client_secret_basic' }));
    const res = await manage('GET', client.registration_client_uri, client.registration_access_token);
    expect(res.status).toBe(200);
    expectRegistrationShape(res.body, gh.issuer, { redirect_uris: [REDIRECT], auth_method: 'client_secret_basic' });
    expect(res.body.client_secret).toBe(client.client_secret);
    expectInvalidToken(await manage('GET', client.registration_client_uri, undefined));
  });
});

describe('RFC 7592 §2.2 update: PUT replaces the whole registration and rotates the registration access token', () => {
  it('replaces the metadata (omitted fields are removed), issues a new token and retires the old one (401 invalid_token)', async () => {
    const client = await register();
    const res = await manage('PUT', client.registration_client_uri, client.registration_access_token, {
      client_id: client.client_id,
      client_name: 'Renamed client',
      redirect_uris: [NEW_REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-store');
    expectRegistrationShape(res.body, gh.issuer, { redirect_uris: [NEW_REDIRECT], auth_method: 'none' });
    expect(res.body.client_id).toBe(client.client_id);
    expect(res.body.client_name).toBe('Renamed client');
    expect(res.body).not.toHaveProperty('client_uri');
    expect(res.body.registration_access_token).not.toBe(client.registration_access_token);

    expectInvalidToken(await manage('GET', client.registration_client_uri, client.registration_access_token));
    expectInvalidToken(await manage('PUT', client.registration_client_uri, client.registration_access_token, publicMetadata({ client_id: client.client_id })));
    expectInvalidToken(await manage('DELETE', client.registration_client_uri, client.registration_access_token));
    const read = await manage('GET', client.registration_client_uri, res.body.registration_access_token);
    expect(read.status).toBe(200);
    expect(read.body.client_name).toBe('Renamed client');
    expect(read.body.redirect_uris).toEqual([NEW_REDIRECT]);
  });

  it('after an update the removed redirect URI no longer receives codes (error page), the new one does', async () => {
    const client = await register();
    const res = await manage('PUT', client.registration_client_uri, client.registration_access_token, publicMetadata({ client_id: client.client_id, redirect_uris: [NEW_REDIRECT] }));
    expect(res.status).toBe(200);
    await expectErrorPage(await firstHop(client.client_id, REDIRECT));
    const tokens = await authorizeAndRedeem(res.body, NEW_REDIRECT);
    expect(tokens.status).toBe(200);
  });

  it('keeps a confidential client its secret across an update, and refuses an update that names another secret', async () => {
    const client = await register(publicMetadata({ token_endpoint_auth_method: 'client_secret_post' }));
    const wrong = await manage('PUT', client.registration_client_uri, client.registration_access_token, publicMetadata({
      client_id: client.client_id, client_secret: 'not-the-secret', token_endpoint_auth_method: 'client_secret_post', client_name: 'Hijacked',
    }));
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_request');
    const unchanged = await manage('GET', client.registration_client_uri, client.registration_access_token);
    expect(unchanged.status).toBe(200);
    expect(unchanged.body.client_name).toBe('Management test client');

    const res = await manage('PUT', client.registration_client_uri, client.registration_access_token, publicMetadata({
      client_id: client.client_id, client_secret: client.client_secret, token_endpoint_auth_method: 'client_secret_post', client_name: 'Still confidential',
    }));
    expect(res.status).toBe(200);
    expectRegistrationShape(res.body, gh.issuer, { redirect_uris: [REDIRECT], auth_method: 'client_secret_post' });
    expect(res.body.client_secret).toBe(client.client_secret);
    expect((await authorizeAndRedeem(res.body)).status).toBe(200);
  });

  it('a client updated to token_endpoint_auth_method none is told no secret, and redeems codes without one', async () => {
    const client = await register(publicMetadata({ token_endpoint_auth_method: 'client_secret_basic' }));
    const res = await manage('PUT', client.registration_client_uri, client.registration_access_token, publicMetadata({ client_id: client.client_id }));
    expect(res.status).toBe(200);
    expectRegistrationShape(res.body, gh.issuer, { redirect_uris: [REDIRECT], auth_method: 'none' });
    const read = await manage('GET', client.registration_client_uri, res.body.registration_access_token);
    expectRegistrationShape(read.body, gh.issuer, { redirect_uris: [REDIRECT], auth_method: 'none' });
    expect((await authorizeAndRedeem(res.body)).status).toBe(200);
  });

  it('a client updated to private_key_jwt is told no secret either (the old one would only get it refused at /token)', async () => {
    const client = await register(publicMetadata({ token_endpoint_auth_method: 'client_secret_basic' }));
    expect(client.client_secret).toEqual(expect.any(String));
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...(publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: 'k1', use: 'sig', alg: 'ES256' };
    const res = await manage('PUT', client.registration_client_uri, client.registration_access_token, publicMetadata({
      client_id: client.client_id, token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [jwk] },
    }));
    expect(res.status).toBe(200);
    expect(res.body.token_endpoint_auth_method).toBe('private_key_jwt');
    expect(res.body).not.toHaveProperty('client_secret');
    expect(res.body).not.toHaveProperty('client_secret_expires_at');
    const read = await manage('GET', client.registration_client_uri, res.body.registration_access_token as string);
    expect(read.status).toBe(200);
    expect(read.body).not.toHaveProperty('client_secret');
  });

  it('a public client updated to client_secret_basic is issued a secret it must then use', async () => {
    const client = await register();
    const res = await manage('PUT', client.registration_client_uri, client.registration_access_token, publicMetadata({ client_id: client.client_id, token_endpoint_auth_method: 'client_secret_basic' }));
    expect(res.status).toBe(200);
    expectRegistrationShape(res.body, gh.issuer, { redirect_uris: [REDIRECT], auth_method: 'client_secret_basic' });
    expect((await authorizeAndRedeem(res.body)).status).toBe(200);
    const asPublic = await authorizeAndRedeem({ ...res.body, token_endpoint_auth_method: 'none' });
    expect(asPublic.status).toBe(401);
    expect(asPublic.body.error).toBe('invalid_client');
  });

  it('refuses an update whose client_id is not the authenticated client (400), changing neither client', async () => {
    const a = await register();
    const b = await register(publicMetadata({ client_name: 'Victim' }));
    const res = await manage('PUT', a.registration_client_uri, a.registration_access_token, publicMetadata({ client_id: b.client_id, client_name: 'Hijacked' }));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect((await manage('GET', a.registration_client_uri, a.registration_access_token)).body.client_name).toBe('Management test client');
    expect((await manage('GET', b.registration_client_uri, b.registration_access_token)).body.client_name).toBe('Victim');
  });
});

describe('updates obey the registration rules; a refused update changes nothing and keeps the token', () => {
  it.each([
    ['a plain-http redirect URI to a remote host', { redirect_uris: ['http://evil.example/callback'] }, 'invalid_redirect_uri'],
    ['a javascript: redirect URI', { redirect_uris: ['javascript:alert(document.domain)'] }, 'invalid_redirect_uri'],
    ['a redirect URI with a fragment', { redirect_uris: ['https://app.example.com/cb#x'] }, 'invalid_redirect_uri'],
    ['a private-use scheme that is not a reverse domain', { redirect_uris: ['myapp:/callback'] }, 'invalid_redirect_uri'],
    ['the client_credentials grant (tokens with nobody signing in)', { grant_types: ['authorization_code', 'client_credentials'], token_endpoint_auth_method: 'client_secret_basic' }, 'invalid_client_metadata'],
    ['the implicit grant', { grant_types: ['implicit'], response_types: ['token'] }, 'invalid_client_metadata'],
    ['the password grant', { grant_types: ['authorization_code', 'password'] }, 'invalid_client_metadata'],
    ['a token response type', { response_types: ['code', 'code token'] }, 'invalid_client_metadata'],
    ['a self-asserted resource-server binding', { gatehouse_resource: TEST_RESOURCE, token_endpoint_auth_method: 'client_secret_basic' }, 'invalid_client_metadata'],
  ])('refuses %s with 400', async (_name, change, error) => {
    const client = await register();
    const before = await manage('GET', client.registration_client_uri, client.registration_access_token);
    const res = await manage('PUT', client.registration_client_uri, client.registration_access_token, publicMetadata({ client_id: client.client_id, ...change }));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
    expect(res.body).not.toHaveProperty('registration_access_token');
    const after = await manage('GET', client.registration_client_uri, client.registration_access_token);
    expect(after.status).toBe(200);
    expect(after.body).toEqual(before.body);
  });
});

describe('the registration access token is the only key to a registration (RFC 7592 §2)', () => {
  it('refuses no token, a wrong token and another client\'s token with 401 for read, update and delete', async () => {
    const victim = await register(publicMetadata({ client_name: 'Victim' }));
    const attacker = await register(publicMetadata({ client_name: 'Attacker' }));
    const update = publicMetadata({ client_id: victim.client_id, redirect_uris: ['https://attacker.example/cb'] });
    for (const token of [undefined, randomBytes(32).toString('base64url'), attacker.registration_access_token, `${victim.registration_access_token}x`]) {
      expectInvalidToken(await manage('GET', victim.registration_client_uri, token));
      expectInvalidToken(await manage('PUT', victim.registration_client_uri, token, update));
      expectInvalidToken(await manage('DELETE', victim.registration_client_uri, token));
    }
    // A malformed Authorization header is a malformed request (RFC 6750 §3.1: 400 invalid_request).
    for (const header of ['Bearer ', `Basic ${Buffer.from(`${victim.client_id}:x`).toString('base64')}`, `Bearer ${attacker.registration_access_token} ${victim.registration_access_token}`]) {
      const res = await fetch(victim.registration_client_uri, { method: 'DELETE', headers: { authorization: header } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as Json).error).toBe('invalid_request');
    }
    const read = await manage('GET', victim.registration_client_uri, victim.registration_access_token);
    expect(read.status).toBe(200);
    expect(read.body.client_name).toBe('Victim');
    expect(read.body.redirect_uris).toEqual([REDIRECT]);
  });

  it('refuses the client\'s own access and refresh tokens as registration tokens', async () => {
    const client = await register();
    const tokens = await authorizeAndRedeem(client);
    expect(tokens.status).toBe(200);
    for (const token of [tokens.body.access_token, tokens.body.refresh_token]) {
      expectInvalidToken(await manage('GET', client.registration_client_uri, token));
      expectInvalidToken(await manage('DELETE', client.registration_client_uri, token));
    }
  });

  it('refuses a registration access token sent in the query string, where logs and referrers would keep it (400)', async () => {
    const client = await register();
    const res = await fetch(`${client.registration_client_uri}?access_token=${encodeURIComponent(client.registration_access_token)}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as Json;
    expect(body.error).toBe('invalid_request');
    expect(body).not.toHaveProperty('client_id');
  });
});

describe('RFC 7592 §2.3 delete: the client is gone', () => {
  it('answers 204, then its token reads nothing, /authorize shows the error page and its refresh tokens stop working', async () => {
    const client = await register();
    const tokens = await authorizeAndRedeem(client);
    expect(tokens.status).toBe(200);

    const res = await manage('DELETE', client.registration_client_uri, client.registration_access_token);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');

    expectInvalidToken(await manage('GET', client.registration_client_uri, client.registration_access_token));
    expectInvalidToken(await manage('PUT', client.registration_client_uri, client.registration_access_token, publicMetadata({ client_id: client.client_id })));
    expectInvalidToken(await manage('DELETE', client.registration_client_uri, client.registration_access_token));
    const html = await expectErrorPage(await firstHop(client.client_id, REDIRECT));
    expect(html).toContain('invalid_client');

    const refresh = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: client.client_id });
    expect(refresh.status).toBe(401);
    expect(refresh.body.error).toBe('invalid_client');
    expect(refresh.body).not.toHaveProperty('access_token');
  });

  it('deleting one client leaves another client\'s registration and tokens alone', async () => {
    const doomed = await register();
    const survivor = await register();
    const tokens = await authorizeAndRedeem(survivor);
    expect((await manage('DELETE', doomed.registration_client_uri, doomed.registration_access_token)).status).toBe(204);
    expect((await manage('GET', survivor.registration_client_uri, survivor.registration_access_token)).status).toBe(200);
    const refresh = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: survivor.client_id });
    expect(refresh.status).toBe(200);
  });
});
