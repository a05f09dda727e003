// Client metadata is cached per instance for 2 s (src/oauth/adapter.ts): a client deleted or changed through this
// instance must stop working at once — the cache may only ever hide a change made on another instance, and only
// for its short TTL.
import { addStaticClient } from '../../src/oauth/static-clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { manage, postRegistration } from '../helpers/registration.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

let db: TestDatabase;
let gh: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function clientCredentials(id: string, secret: string) {
  const res = await fetch(`${gh.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(id, secret) },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: TEST_RESOURCE, scope: 'tools:read' }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function machine() {
  const s = gh.services;
  return addStaticClient({ db: s.handle.db, box: s.box, provider: gh.holder.provider, registry: s.registry }, { name: 'Agent', redirectUris: [], confidential: true });
}

describe('client metadata cache', () => {
  it('a client deleted by an admin (console Delete) is refused on its very next request', async () => {
    const c = await machine();
    expect((await clientCredentials(c.client_id, c.client_secret!)).status).toBe(200); // now cached
    await gh.services.registry.remove(c.client_id);
    const after = await clientCredentials(c.client_id, c.client_secret!);
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('invalid_client');
  });

  it('a client deleted through RFC 7592 is refused on its very next request', async () => {
    const reg = await postRegistration(gh.issuer, {
      client_name: 'Deleted soon', redirect_uris: ['http://127.0.0.1:40000/cb'], token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
    });
    expect(reg.status).toBe(201);
    const { client_id, client_secret, registration_client_uri, registration_access_token } = reg.body;
    // Authenticates (a revocation with a made-up token answers 200 once the client is known), filling the cache.
    const revoke = () => fetch(`${gh.issuer}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client_id, client_secret) },
      body: 'token=not-a-real-token',
    });
    expect((await revoke()).status).toBe(200);
    expect((await manage('DELETE', registration_client_uri, registration_access_token)).status).toBe(204);
    const after = await revoke();
    expect(after.status).toBe(401);
    expect(((await after.json()) as { error: string }).error).toBe('invalid_client');
  });

  it('a wrong secret is refused even while the client is cached', async () => {
    const c = await machine();
    expect((await clientCredentials(c.client_id, c.client_secret!)).status).toBe(200);
    const wrong = await clientCredentials(c.client_id, `${c.client_secret}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
  });
});
