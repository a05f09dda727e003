// State lives in the database, not the process: a restart in the middle of an authorization loses nothing, and
// signing keys rotate without invalidating tokens already issued.
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { authorizeThrough, authorizeUrl, Browser, consent, login, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const USER = { email: 'grace@example.com', password: 'another long passphrase' };
const REDIRECT = 'http://127.0.0.1:41234/cb';

let db: TestDatabase;
let port: number;
let gh: TestServer | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  port = await freePort();
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

async function restart(): Promise<TestServer> {
  await gh?.close();
  gh = await startTestServer(db.env, port);
  if (!(await gh.services.users.findByEmail(USER.email))) await gh.services.users.create(USER);
  return gh;
}

async function fullFlow(server: TestServer, clientId: string) {
  const { verifier, challenge } = pkcePair();
  const callback = await authorizeThrough(new Browser(server.issuer), server.issuer, {
    client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE,
  }, USER);
  return tokenRequest(server.issuer, {
    grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: clientId, redirect_uri: REDIRECT,
  });
}

describe('restarts', () => {
  it('completes an authorization when the server restarts between each step', async () => {
    let server = await restart();
    const client = await registerPublicClient(server.issuer, [REDIRECT]);
    const { verifier, challenge } = pkcePair();
    const browser = new Browser(server.issuer);

    const loginPage = await browser.follow(await browser.get(authorizeUrl(server.issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE, state: 's1',
    })));
    expect(loginPage).toBeInstanceOf(Response);

    server = await restart(); // between the login page and its submission
    const consentPage = await login(browser, loginPage as Response, USER.email, USER.password);
    expect(consentPage).toBeInstanceOf(Response);

    server = await restart(); // between login and consent
    const callback = await consent(browser, consentPage as Response, 'allow');
    expect(callback).toBeInstanceOf(URL);
    const code = (callback as URL).searchParams.get('code')!;
    expect((callback as URL).searchParams.get('state')).toBe('s1');

    server = await restart(); // between /authorize and /token
    const tokens = await tokenRequest(server.issuer, {
      grant_type: 'authorization_code', code, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT,
    });
    expect(tokens.status).toBe(200);

    server = await restart(); // the refresh token outlives the process too
    const refreshed = await tokenRequest(server.issuer, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: client.client_id });
    expect(refreshed.status).toBe(200);
  }, 180_000);
});

describe('signing key rotation', () => {
  it('keeps verifying tokens signed before `keys rotate`, and signs new tokens with the new key', async () => {
    let server = await restart();
    const client = await registerPublicClient(server.issuer, [REDIRECT]);
    const before = await fullFlow(server, client.client_id);
    expect(before.status).toBe(200);
    const oldKid = decodeProtectedHeader(before.body.access_token).kid;

    await server.close();
    gh = undefined;
    const rotated = await runCli(['keys', 'rotate', '--activate-in', '0', '--json'], db.env);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout.trim().split('\n')).toHaveLength(1); // --json: exactly one JSON object
    const out = JSON.parse(rotated.stdout) as { kids: string[]; activates_at: string };
    expect(out.kids).toHaveLength(2);
    expect(out.kids).not.toContain(oldKid);

    server = await restart();
    const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, ...out.kids]));

    const keySet = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
    await expect(jwtVerify(before.body.access_token, keySet, { issuer: server.issuer, audience: TEST_RESOURCE, typ: 'at+jwt' })).resolves.toBeDefined();

    const after = await fullFlow(server, client.client_id);
    expect(after.status).toBe(200);
    const newKid = decodeProtectedHeader(after.body.access_token).kid;
    expect(out.kids).toContain(newKid);
    await expect(jwtVerify(after.body.access_token, keySet, { issuer: server.issuer, audience: TEST_RESOURCE, typ: 'at+jwt' })).resolves.toBeDefined();
  });

  it('publishes a key with a future activation at once, but signs with it only from then on', async () => {
    const server = gh ?? (await restart());
    const { rotateSigningKeys, loadKeySet } = await import('../../src/oauth/keys.js');
    const { kids } = await rotateSigningKeys(server.services.handle.db, server.services.box, { activateInSeconds: 3600, maxSignedLifetime: 900 });
    await server.holder.refresh();
    const published = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    expect(published.keys.map((k) => k.kid)).toEqual(expect.arrayContaining(kids));
    const set = await loadKeySet(server.services.handle.db, server.services.box);
    expect(kids).not.toContain(set.signingKey('ES256')!.kid);
    expect(kids).toContain(set.signingKey('ES256', Date.now() + 3601_000)!.kid);
  });
});

describe('a rolling upgrade', () => {
  it('an instance stays ready when the database already has a newer version’s migration', async () => {
    const server = gh ?? (await restart());
    const knex = server.services.handle.db;
    await knex('knex_migrations').insert({ name: '29991231_999_from_a_newer_version', batch: 999, migration_time: new Date() });
    try {
      const res = await fetch(`${server.issuer}/readyz`);
      expect(await res.json()).toEqual({ status: 'ready' });
      expect(res.status).toBe(200);
    } finally {
      await knex('knex_migrations').where({ name: '29991231_999_from_a_newer_version' }).delete();
    }
  });
});
