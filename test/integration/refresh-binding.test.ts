// A refresh token stays what it was granted as: an expired one is refused, one cannot widen its
// scope or move to another resource, and a token request naming two resources gets no token at all (an access
// token's `aud` is exactly one resource). Each refusal is a 4xx in the OAuth error format and issues nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import { tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { consentedCode, redeemCode } from '../helpers/grants.js';
import { OTHER_RESOURCE, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const REDIRECT = 'http://127.0.0.1:45125/cb';
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

/** A person consents to tools:read on TEST_RESOURCE; returns the client and its first refresh token. */
async function granted() {
  const g = await consentedCode(gh, REDIRECT);
  return { clientId: g.clientId, refreshToken: (await redeemCode(gh, g)).refresh_token };
}

function expectNoToken(res: { status: number; body: Record<string, unknown> }, error: string | RegExp) {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(String(res.body.error)).toMatch(error);
  expect(res.body.access_token).toBeUndefined();
  expect(res.body.refresh_token).toBeUndefined();
}

describe('refresh tokens keep what was granted', () => {
  it('an expired refresh token gets invalid_grant', async () => {
    const g = await granted();
    // The token's lifetime ends (REFRESH_TOKEN_TTL passed): its row is still there, its expiry is behind us.
    const aged = await gh.services.handle.db('oidc_payloads').where({ model: 'RefreshToken' }).whereRaw(`payload::jsonb ->> 'clientId' = ?`, [g.clientId]).update({ expires_at: new Date(Date.now() - 1000) });
    expect(Number(aged)).toBeGreaterThanOrEqual(1);
    expectNoToken(await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: g.refreshToken, client_id: g.clientId }), 'invalid_grant');
  });

  it('cannot widen its scope', async () => {
    const g = await granted();
    expectNoToken(await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: g.refreshToken, client_id: g.clientId, scope: 'tools:read tools:write' }), /invalid_scope/);
    // The refusal spent nothing: the token still refreshes within its grant.
    const ok = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: g.refreshToken, client_id: g.clientId, scope: 'tools:read' });
    expect(ok.status).toBe(200);
    expect(decodeJwt(ok.body.access_token as string).scope).toBe('tools:read');
  });

  it('cannot move to another resource: invalid_target, and the token presented is spent (fail-closed)', async () => {
    const g = await granted();
    expectNoToken(await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: g.refreshToken, client_id: g.clientId, resource: OTHER_RESOURCE }), 'invalid_target');
    // oidc-provider checks the resource after rotating: the presented token is spent, and presenting it again is
    // reuse, which ends the grant. Nothing was issued for the other resource at any point.
    expectNoToken(await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: g.refreshToken, client_id: g.clientId }), 'invalid_grant');
  });

  it('a token request naming two resources is refused before anything is spent, and audited', async () => {
    const g = await granted();
    const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: g.refreshToken, client_id: g.clientId });
    body.append('resource', TEST_RESOURCE);
    body.append('resource', OTHER_RESOURCE);
    const res = await fetch(`${gh.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expectNoToken({ status: res.status, body: (await res.json()) as Record<string, unknown> }, 'invalid_target');
    const audited = (await gh.services.audit.recent({ type: 'token.refused', limit: 5 })).find((e) => e.client_id === g.clientId);
    expect(String(audited?.reason)).toMatch(/one resource/);
    // The refresh token was not touched: it still rotates, for its one resource.
    const ok = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: g.refreshToken, client_id: g.clientId, resource: TEST_RESOURCE });
    expect(ok.status).toBe(200);
    expect(decodeJwt(ok.body.access_token as string).aud).toBe(TEST_RESOURCE);
  });

  it('the same resource named twice is one resource', async () => {
    const g = await granted();
    const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: g.refreshToken, client_id: g.clientId });
    body.append('resource', TEST_RESOURCE);
    body.append('resource', TEST_RESOURCE);
    const res = await fetch(`${gh.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
    const json = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(decodeJwt(json.access_token as string).aud).toBe(TEST_RESOURCE);
  });
});
