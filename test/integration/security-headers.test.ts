// Security headers on every kind of response, not only the consent page: JSON errors and successes
// from oidc-provider's endpoints, Gatehouse's own documents, HTML pages and error pages, health and a 404. With an
// https issuer, HSTS too. And bodies past the size limits are refused before anything is parsed or stored.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { authorizeUrl, Browser, pkcePair, registerPublicClient } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
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

function expectHardened(res: Response, what: string) {
  const h = (name: string) => res.headers.get(name) ?? `(no ${name} on ${what})`;
  expect(h('x-content-type-options')).toBe('nosniff');
  expect(h('referrer-policy')).toBe('same-origin');
  expect(h('x-frame-options')).toBe('DENY');
  expect(h('cross-origin-opener-policy')).toBe('same-origin');
  const csp = h('content-security-policy');
  for (const directive of ["default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "style-src 'self'"]) expect(`${what}: ${csp}`).toContain(directive);
}

describe('security headers', () => {
  it('are on JSON, HTML, error, health and not-found responses alike', async () => {
    const client = await registerPublicClient(gh.issuer, ['http://127.0.0.1:45126/cb']);
    const { challenge } = pkcePair();
    const browser = new Browser(gh.issuer);
    const login = await browser.follow(await browser.get(authorizeUrl(gh.issuer, { client_id: client.client_id, redirect_uri: 'http://127.0.0.1:45126/cb', code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE })));
    const responses: Array<[string, Response]> = [
      ['metadata', await fetch(`${gh.issuer}/.well-known/oauth-authorization-server`)],
      ['jwks', await fetch(`${gh.issuer}/jwks`)],
      ['token error', await fetch(`${gh.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=refresh_token&refresh_token=x&client_id=nobody' })],
      ['register error', await fetch(`${gh.issuer}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"redirect_uris":["javascript:alert(1)"]}' })],
      ['authorize error page', await fetch(`${gh.issuer}/authorize?client_id=nobody&response_type=code`)],
      ['login page', login as Response],
      ['healthz', await fetch(`${gh.issuer}/healthz`)],
      ['not found', await fetch(`${gh.issuer}/no/such/page`)],
      ['console sign-in', await fetch(`${gh.issuer}/console`, { redirect: 'manual' })],
    ];
    for (const [what, res] of responses) expectHardened(res, what);
    expect(responses.map(([, r]) => r.status)).toEqual([200, 200, 401, 400, 400, 200, 200, 404, expect.any(Number)]);
  });

  it('with an https issuer, HSTS is sent too', async () => {
    const other = await createTestDatabase();
    const secure = await startTestServer({ ...other.env, ISSUER: 'https://auth.example.test' });
    try {
      const res = await fetch(`http://127.0.0.1:${secure.port}/healthz`);
      expect(res.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      expectHardened(res, 'https healthz');
      // And the plain-http test server does not claim it.
      expect((await fetch(`${gh.issuer}/healthz`)).headers.get('strict-transport-security')).toBeNull();
    } finally {
      await secure.close();
      await other.drop();
    }
  });
});

describe('body size limits', () => {
  it('a registration or a POST /authorize past the limit is refused with a 4xx, and no client appears', async () => {
    const before = Number(((await gh.services.handle.db('oidc_payloads').where({ model: 'Client' }).count('id as n').first()) as { n: number | string }).n);
    const huge = JSON.stringify({ client_name: 'x'.repeat(2 * 1024 * 1024), redirect_uris: ['http://127.0.0.1:45126/cb'] });
    const reg = await fetch(`${gh.issuer}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: huge });
    expect(reg.status).toBeGreaterThanOrEqual(400);
    expect(reg.status).toBeLessThan(500);
    const authz = await fetch(`${gh.issuer}/authorize`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `client_id=${'x'.repeat(2 * 1024 * 1024)}` });
    expect(authz.status).toBeGreaterThanOrEqual(400);
    expect(authz.status).toBeLessThan(500);
    const after = Number(((await gh.services.handle.db('oidc_payloads').where({ model: 'Client' }).count('id as n').first()) as { n: number | string }).n);
    expect(after).toBe(before);
  });
});
