// A refresh token stays what it was granted as: an expired one is refused, one cannot widen its
// scope or move to another resource, and a token request naming two resources gets no token at all (an access
// token's `aud` is exactly one resource). Each refusal is a 4xx in the OAuth error format and issues nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import { tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { consentedCode, redeemCode } from '../helpers/grants.js';
import { OTHER_RESOURCE, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { grantsOfAccount } from '../../src/oauth/adapter.js';

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

describe('refresh-token reuse and a grant\'s expiry', () => {
  const rowsOf = (clientId: string) => gh.services.handle.db('audit_events').where({ client_id: clientId }).orderBy('id') as Promise<Array<{ type: string; outcome: string; actor: string | null; reason: string | null; details: Record<string, unknown> | string | null }>>;
  const detailsOf = (r: { details: Record<string, unknown> | string | null }) => (typeof r.details === 'string' ? (JSON.parse(r.details) as Record<string, unknown>) : (r.details ?? {}));

  it('a refresh token redeemed twice: invalid_grant, the grant revoked, audited as token.refresh.reused (not a plain revocation)', async () => {
    const g = await consentedCode(gh, REDIRECT);
    const first = (await redeemCode(gh, g)).refresh_token;
    const rotated = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: first, client_id: g.clientId });
    expect(rotated.status).toBe(200);
    const [grant] = await grantsOfAccount(gh.services.handle.db, g.accountId);
    expect(grant).toBeDefined();

    expectNoToken(await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: first, client_id: g.clientId }), 'invalid_grant');
    // The grant is gone with every token under it: the rotated token no longer refreshes.
    expectNoToken(await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: rotated.body.refresh_token as string, client_id: g.clientId }), 'invalid_grant');
    expect(await grantsOfAccount(gh.services.handle.db, g.accountId)).toEqual([]);
    expect(await gh.services.handle.db('oidc_payloads').where({ model: 'Grant', id: grant!.grantId })).toEqual([]);

    const rows = await rowsOf(g.clientId);
    const reused = rows.filter((r) => r.type === 'token.refresh.reused');
    expect(reused).toHaveLength(1);
    expect(reused[0]).toMatchObject({ outcome: 'failure', actor: g.accountId, reason: 'invalid_grant: refresh token reused — grant revoked' });
    expect(detailsOf(reused[0]!)).toMatchObject({ grant_type: 'refresh_token', grant_id: grant!.grantId });
    // Not also a plain revocation, nor a second refusal row for the same request: the one after it is the rotated
    // token's refusal, whose grant was gone.
    expect(rows.filter((r) => r.type === 'grant.revoked')).toEqual([]);
    expect(rows.filter((r) => r.type === 'token.refused')).toHaveLength(1);
  });

  it('a grant\'s expiry is its live refresh token\'s, not the grant\'s one-year lifetime; each rotation moves it', async () => {
    const c = await consentedCode(gh, REDIRECT);
    const g = { clientId: c.clientId, refreshToken: (await redeemCode(gh, c)).refresh_token };
    const owner = c.accountId;
    const liveRefresh = async () =>
      (await gh.services.handle.db('oidc_payloads').where({ model: 'RefreshToken' }).whereNull('consumed_at').whereRaw(`payload::jsonb ->> 'clientId' = ?`, [g.clientId]).first()) as { expires_at: Date | string; grant_id: string };
    const grantRow = (await gh.services.handle.db('oidc_payloads').where({ model: 'Grant', id: (await liveRefresh()).grant_id }).first()) as { expires_at: Date | string };

    const [before] = await grantsOfAccount(gh.services.handle.db, owner);
    expect(before!.expiresAt?.getTime()).toBe(new Date((await liveRefresh()).expires_at).getTime());
    // REFRESH_TOKEN_TTL (30 days by default), well before the Grant row's year.
    expect(before!.expiresAt!.getTime()).toBeLessThan(new Date(grantRow.expires_at).getTime() - 300 * 86_400_000);

    // A token that ends sooner (as one whose chain nears REFRESH_TOKEN_ABSOLUTE_TTL does) is what the grant shows.
    const soon = new Date(Date.now() + 3_600_000);
    await gh.services.handle.db('oidc_payloads').where({ model: 'RefreshToken' }).whereRaw(`payload::jsonb ->> 'clientId' = ?`, [g.clientId]).update({ expires_at: soon });
    expect((await grantsOfAccount(gh.services.handle.db, owner))[0]!.expiresAt?.getTime()).toBe(soon.getTime());

    // Refreshing issues a new token with a new expiry; the spent one no longer counts.
    const ok = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: g.refreshToken, client_id: g.clientId });
    expect(ok.status).toBe(200);
    const [after] = await grantsOfAccount(gh.services.handle.db, owner);
    expect(after!.expiresAt?.getTime()).toBe(new Date((await liveRefresh()).expires_at).getTime());
    expect(after!.expiresAt!.getTime()).toBeGreaterThan(soon.getTime());
  });
});
