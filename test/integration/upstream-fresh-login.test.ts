// An MCP client that demands a fresh sign-in (prompt=login, or max_age) must not be satisfied by a session the person
// still has at the IdP: Gatehouse passes prompt=login upstream. Without that demand it sends no prompt, so people are
// not asked to sign in again at every authorization.
import { authorizeUrl, pkcePair } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { MultiOriginBrowser } from '../helpers/multi-origin-browser.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { registerMcpClient, startMockIdp, type McpClientUnderTest, type MockIdp } from '../helpers/upstream-idp.js';

let db: TestDatabase;
let gh: TestServer;
let idp: MockIdp;
let client: McpClientUnderTest;

beforeAll(async () => {
  const port = await freePort();
  idp = await startMockIdp({ gatehouseIssuer: `http://127.0.0.1:${port}`, accounts: { 'sub-1': { email: 'a@example.com', email_verified: true } } });
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, UPSTREAM_PROVIDER: 'oidc', UPSTREAM_ISSUER: idp.issuer, UPSTREAM_CLIENT_ID: idp.clientId, UPSTREAM_CLIENT_SECRET: idp.clientSecret }, port);
  client = await registerMcpClient(gh.issuer, 'http://127.0.0.1:7654/callback');
});

afterAll(async () => {
  await gh?.close();
  await idp?.close();
  await db?.drop();
});

async function upstreamRequestFor(extra: Record<string, string>): Promise<URLSearchParams> {
  const { challenge } = pkcePair();
  const browser = new MultiOriginBrowser();
  const url = authorizeUrl(gh.issuer, { client_id: client.clientId, redirect_uri: client.redirectUri, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', ...extra });
  const step = await browser.open(url, (next) => next.origin !== new URL(gh.issuer).origin);
  if (!(step instanceof URL) || step.origin !== new URL(idp.issuer).origin) throw new Error(`expected a redirect to the IdP, got ${step instanceof URL ? step.href : step.status}`);
  return step.searchParams;
}

describe('a fresh sign-in demanded by the MCP client', () => {
  it('is passed upstream as prompt=login for prompt=login', async () => {
    expect((await upstreamRequestFor({ prompt: 'login' })).get('prompt')).toBe('login');
  });

  it('is passed upstream as prompt=login for max_age', async () => {
    // max_age is an OpenID Connect parameter: oidc-provider honours it for openid requests.
    expect((await upstreamRequestFor({ max_age: '0', scope: 'openid tools:read' })).get('prompt')).toBe('login');
  });

  it('is not asked for otherwise', async () => {
    expect((await upstreamRequestFor({})).has('prompt')).toBe(false);
  });
});
