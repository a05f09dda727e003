// A copy of the database yields no usable credential. Bearer secrets are stored as SHA-256 digests,
// client secrets and signing keys are sealed with SECRET_KEY, passwords are argon2id.
import { createHash } from 'node:crypto';
import { authorizeThrough, Browser, pkcePair, tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const USER = { email: 'linus@example.com', password: 'yet another long passphrase' };
const REDIRECT = 'http://127.0.0.1:45678/cb';

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

async function dump(): Promise<string> {
  const d = gh.services.handle.db;
  const tables = ['oidc_payloads', 'signing_keys', 'users', 'consents', 'audit_events', 'setup_tokens'];
  const rows = await Promise.all(tables.map((t) => d(t).select()));
  return JSON.stringify(rows);
}

describe('secrets at rest', () => {
  it('stores codes, refresh tokens, sessions and registration tokens only as digests, and client secrets sealed', async () => {
    const reg = await fetch(`${gh.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Confidential', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_post' }),
    });
    expect(reg.status).toBe(201);
    const client = (await reg.json()) as { client_id: string; client_secret: string; registration_access_token: string };
    const { verifier, challenge } = pkcePair();
    const browser = new Browser(gh.issuer);
    const callback = await authorizeThrough(browser, gh.issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE,
    }, USER);
    const code = callback.searchParams.get('code')!;
    const tokens = await tokenRequest(gh.issuer, {
      grant_type: 'authorization_code', code, code_verifier: verifier, client_id: client.client_id, client_secret: client.client_secret, redirect_uri: REDIRECT,
    });
    expect(tokens.status).toBe(200);

    const everything = await dump();
    const secrets = {
      code,
      refresh_token: tokens.body.refresh_token as string,
      client_secret: client.client_secret,
      registration_access_token: client.registration_access_token,
      password: USER.password,
    };
    for (const [name, value] of Object.entries(secrets)) {
      expect({ name, found: everything.includes(value) }).toEqual({ name, found: false });
    }
    // The session cookie value does not appear either.
    for (const cookie of browser.jar.header(`${gh.issuer}/`).split('; ')) {
      const value = cookie.split('=')[1];
      if (value && value.length > 20) expect(everything.includes(value)).toBe(false);
    }
    // An interaction in progress (second authorization, same browser session) keeps no session cookie in clear.
    const { challenge: c2 } = pkcePair();
    const started = await browser.get(`${gh.issuer}/authorize?${new URLSearchParams({
      response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: c2, code_challenge_method: 'S256', scope: 'tools:read tools:write', resource: TEST_RESOURCE,
    })}`);
    expect(started.status).toBe(303);
    const sessionCookie = browser.jar.header(`${gh.issuer}/`).split('; ').find((c) => c.startsWith('_session='))!.split('=')[1]!;
    const interactions = JSON.stringify(await gh.services.handle.db('oidc_payloads').where({ model: 'Interaction' }).select('payload'));
    expect(interactions.length).toBeGreaterThan(20);
    expect(interactions.includes(sessionCookie)).toBe(false);
    // Lookups work through the digest.
    const digest = createHash('sha256').update(secrets.refresh_token).digest('base64url');
    const row = await gh.services.handle.db('oidc_payloads').where({ model: 'RefreshToken', id: digest }).first();
    expect(row).toBeDefined();
    // Signing keys: no private parameter in clear.
    const keys = (await gh.services.handle.db('signing_keys').select('private_jwk')) as Array<{ private_jwk: string }>;
    for (const k of keys) expect(k.private_jwk).not.toMatch(/"d"\s*:/);
    // Passwords are argon2id.
    const user = (await gh.services.handle.db('users').where({ email: USER.email }).first()) as { password_hash: string };
    expect(user.password_hash).toMatch(/^\$argon2id\$/);
  });
});
