// Issue 7, races: concurrent requests on one credential must not multiply it. They only show on
// real PostgreSQL, where requests run on separate connections; on the embedded database (one connection) the same
// requests are serialised and the same outcome must hold.
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const USER = { email: 'edsger@example.com', password: 'go to statement considered harmful' };
const REDIRECT = 'http://127.0.0.1:47200/cb';
const NO_RATE_LIMITS = { TOKEN_RATE_LIMIT: '1000000', TOKEN_RATE_LIMIT_IP: '1000000', AUTHORIZE_RATE_LIMIT: '1000000' };

let db: TestDatabase;
let server: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestServer({ ...db.env, ...NO_RATE_LIMITS });
  await server.services.users.create(USER);
}, 60_000);

afterAll(async () => {
  await server?.close();
  await db?.drop();
});

async function codeFor(clientId: string) {
  const { verifier, challenge } = pkcePair();
  const callback = await authorizeThrough(new Browser(server.issuer), server.issuer, {
    client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE,
  }, USER);
  return { code: callback.searchParams.get('code')!, verifier };
}

const grantRows = (clientId: string) => server.services.handle.db('oidc_payloads').where({ model: 'Grant' }).whereRaw(`payload::jsonb ->> 'clientId' = ?`, [clientId]).count<{ count: string | number }[]>('id as count');

describe('an authorization code redeemed 20 times at once', () => {
  it('issues tokens exactly once, refuses the rest with invalid_grant, and revokes what the winner got', async () => {
    const client = await registerPublicClient(server.issuer, [REDIRECT]);
    const { code, verifier } = await codeFor(client.client_id);
    const form = { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT };
    const answers = await Promise.all(Array.from({ length: 20 }, () => tokenRequest(server.issuer, form)));

    const winners = answers.filter((a) => a.status === 200);
    expect(winners).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.status).toBe(400);
      expect(a.body.error).toBe('invalid_grant');
    }
    // The code was used more than once: an attack signal, so the grant and everything it issued are gone.
    const refreshed = await tokenRequest(server.issuer, { grant_type: 'refresh_token', refresh_token: winners[0]!.body.refresh_token, client_id: client.client_id });
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
    expect(Number((await grantRows(client.client_id))[0]!.count)).toBe(0);
  });
});

describe('a refresh token presented 20 times at once', () => {
  it('rotates exactly once; the losers get invalid_grant, never a 5xx or a second token pair', async () => {
    const client = await registerPublicClient(server.issuer, [REDIRECT]);
    const { code, verifier } = await codeFor(client.client_id);
    const tokens = await tokenRequest(server.issuer, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT });
    expect(tokens.status).toBe(200);
    const form = { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: client.client_id };
    const answers = await Promise.all(Array.from({ length: 20 }, () => tokenRequest(server.issuer, form)));

    const winners = answers.filter((a) => a.status === 200);
    expect(winners).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.status).toBe(400);
      expect(a.body.error).toBe('invalid_grant');
    }
    // A loser that reads the token before the winner's consume commits fails the atomic consume (the grant stays);
    // one that reads it after sees a rotated token, which oidc-provider treats as reuse and revokes the grant.
    // Either way no second token pair exists: at most one grant, never two.
    expect(Number((await grantRows(client.client_id))[0]!.count)).toBeLessThanOrEqual(1);
  });
});

describe('50 dynamic registrations at once', () => {
  it('creates 50 distinct clients, each with exactly one registry entry', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetch(`${server.issuer}/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ client_name: `racer ${i}`, redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { client_id: string; client_name: string } })),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(201));
    const ids = answers.map((a) => a.body.client_id);
    expect(new Set(ids).size).toBe(50);
    const d = server.services.handle.db;
    const registry = (await d('client_registry').whereIn('client_id', ids).select('client_id', 'client_name')) as Array<{ client_id: string; client_name: string }>;
    expect(registry).toHaveLength(50);
    expect(Object.fromEntries(registry.map((r) => [r.client_id, r.client_name]))).toEqual(Object.fromEntries(answers.map((a) => [a.body.client_id, a.body.client_name])));
    expect(Number(((await d('oidc_payloads').where({ model: 'Client' }).whereIn('id', ids).count('id as count')) as Array<{ count: string | number }>)[0]!.count)).toBe(50);
  });
});
