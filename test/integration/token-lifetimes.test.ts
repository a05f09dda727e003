// Issue 16, items 7, 11b and 11c (docs/SECURITY.md, "Issue 16: first-admin setup and token lifetimes"):
//   - a resource-server link (`gatehouse_resource`) is honoured only on a client an administrator created: a
//     metadata document claiming it, or a dynamically registered client stored with it, learns nothing about
//     another client's token;
//   - RFC 7592 registration access tokens expire (REGISTRATION_ACCESS_TOKEN_TTL); each update starts a new one;
//   - a refresh token chain ends REFRESH_TOKEN_ABSOLUTE_TTL after its sign-in, however often it was rotated.
// Time is not waited for: where a lifetime must have passed, the stored token is moved back in time by that much.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { ResolvedAddress } from '../../src/net/guarded-fetch.js';
import { PostgresAdapter } from '../../src/oauth/adapter.js';
import { addStaticClient } from '../../src/oauth/static-clients.js';
import { tokenRequest } from '../helpers/browser-flow.js';
import { DocumentHost, makeTestPki } from '../helpers/cimd-fixture.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { consentedCode, redeemCode } from '../helpers/grants.js';
import { manage, postRegistration } from '../helpers/registration.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const REDIRECT = 'http://127.0.0.1:45126/cb';
const ABSOLUTE = 3600;
const SLIDING = 86_400;
const RAT_TTL = 7200;
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

let host: DocumentHost;
let db: TestDatabase;
let gh: TestServer;

async function resolve(hostname: string): Promise<ResolvedAddress[]> {
  if (hostname.endsWith('.cimd.test')) return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
}
function beforeConnect(address: string): void {
  if (!/^127\./.test(address)) throw new Error(`test attempted a connection to ${address}`);
}

beforeAll(async () => {
  const pki = makeTestPki();
  host = new DocumentHost(pki);
  await host.start();
  db = await createTestDatabase();
  gh = await startTestServer({
    ...db.env, CIMD_ALLOW_PRIVATE_ADDRESSES: 'true',
    REFRESH_TOKEN_TTL: String(SLIDING), REFRESH_TOKEN_ABSOLUTE_TTL: String(ABSOLUTE), REGISTRATION_ACCESS_TOKEN_TTL: String(RAT_TTL),
  }, undefined, { cimdFetch: { ca: pki.ca, resolve, beforeConnect } });
});

afterAll(async () => {
  await gh?.close();
  await host?.close();
  await db?.drop();
});

const nowS = () => Math.floor(Date.now() / 1000);
const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` });

async function introspect(form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${gh.issuer}/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form).toString() });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** The live (unspent) stored row of `model` for `clientId`, payload parsed. */
async function liveRow(model: string, clientId: string) {
  const row = (await gh.services.handle.db('oidc_payloads').where({ model }).whereNull('consumed_at').whereRaw(`payload::jsonb ->> 'clientId' = ?`, [clientId]).first()) as { id: string; payload: string; expires_at: Date | null };
  return { ...row, data: JSON.parse(row.payload) as Record<string, number> };
}

/** Moves a stored token `seconds` into the past: as if that much time had gone by since it was issued. */
async function age(model: string, clientId: string, seconds: number, fields: string[]) {
  const row = await liveRow(model, clientId);
  const data: Record<string, unknown> = { ...row.data };
  for (const f of fields) data[f] = row.data[f]! - seconds;
  await gh.services.handle.db('oidc_payloads').where({ model, id: row.id }).update({
    payload: JSON.stringify(data),
    ...(fields.includes('exp') ? { expires_at: new Date(row.expires_at!.getTime() - seconds * 1000) } : {}),
  });
}

const refresh = (clientId: string, refreshToken: string) => tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });

describe('a refresh token chain ends REFRESH_TOKEN_ABSOLUTE_TTL after its sign-in', () => {
  it('a rotated token never outlives the absolute lifetime, although REFRESH_TOKEN_TTL is longer', async () => {
    const g = await consentedCode(gh, REDIRECT);
    let token = (await redeemCode(gh, g)).refresh_token;
    const first = await liveRow('RefreshToken', g.clientId);
    expect(first.data.iiat).toBeGreaterThan(nowS() - 60);
    for (let i = 0; i < 2; i++) {
      const r = await refresh(g.clientId, token);
      expect(r.status).toBe(200);
      token = r.body.refresh_token as string;
    }
    const current = await liveRow('RefreshToken', g.clientId);
    expect(current.data.iiat).toBe(first.data.iiat);
    expect(current.data.exp).toBeLessThanOrEqual(first.data.iiat! + ABSOLUTE);
    expect(current.expires_at!.getTime()).toBeLessThanOrEqual((first.data.iiat! + ABSOLUTE + 1) * 1000);
  });

  it('a refresh after the absolute lifetime answers invalid_grant, though every rotation was within REFRESH_TOKEN_TTL', async () => {
    const g = await consentedCode(gh, REDIRECT);
    const r1 = await refresh(g.clientId, (await redeemCode(gh, g)).refresh_token);
    expect(r1.status).toBe(200);
    // The chain began longer ago than the absolute lifetime; the token presented was rotated a moment ago and has
    // most of its own lifetime left (as a token issued before REFRESH_TOKEN_ABSOLUTE_TTL existed would).
    await age('RefreshToken', g.clientId, ABSOLUTE + 5, ['iiat']);
    const late = await refresh(g.clientId, r1.body.refresh_token as string);
    expect(late.status).toBe(400);
    expect(late.body.error).toBe('invalid_grant');
    expect(late.body.access_token).toBeUndefined();
    expect(late.body.refresh_token).toBeUndefined();
  });
});

describe('registration access tokens (RFC 7592) expire', () => {
  async function registered() {
    const reg = await postRegistration(gh.issuer, { client_name: 'Managed', redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'client_secret_basic' });
    expect(reg.status).toBe(201);
    return reg.body as { client_id: string; registration_client_uri: string; registration_access_token: string };
  }

  it('an expired registration access token is refused', async () => {
    const reg = await registered();
    const row = await liveRow('RegistrationAccessToken', reg.client_id);
    expect(row.expires_at).not.toBeNull();
    expect(Math.abs(row.expires_at!.getTime() / 1000 - (nowS() + RAT_TTL))).toBeLessThan(60);
    // REGISTRATION_ACCESS_TOKEN_TTL goes by without the token being used.
    await age('RegistrationAccessToken', reg.client_id, RAT_TTL + 1, ['iat', 'exp']);
    const res = await manage('GET', reg.registration_client_uri, reg.registration_access_token);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
  });

  it('an update (RFC 7592 PUT) replaces it with a token of a fresh lifetime', async () => {
    const reg = await registered();
    await age('RegistrationAccessToken', reg.client_id, RAT_TTL - 60, ['iat', 'exp']);
    const { registration_client_uri: uri, registration_access_token: token, client_secret_expires_at: _e, client_id_issued_at: _i, ...metadata } = reg as Record<string, string>;
    const updated = await manage('PUT', uri!, token, { ...metadata, client_name: 'Managed, renamed' });
    expect(updated.status).toBe(200);
    const next = updated.body.registration_access_token as string;
    expect(next).not.toBe(token);
    expect((await manage('GET', uri!, token)).status).toBe(401);
    const row = await liveRow('RegistrationAccessToken', reg.client_id);
    expect(Math.abs(row.expires_at!.getTime() / 1000 - (nowS() + RAT_TTL))).toBeLessThan(60);
    expect((await manage('GET', uri!, next)).status).toBe(200);
  });
});

describe('gatehouse_resource is honoured only on an administrator-created client', () => {
  async function someoneElsesToken() {
    const g = await consentedCode(gh, REDIRECT);
    return { clientId: g.clientId, tokens: await redeemCode(gh, g) };
  }

  it('a metadata document claiming gatehouse_resource learns nothing about another client\'s token', async () => {
    const { tokens } = await someoneElsesToken();
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    host.json('/rs/jwks.json', { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] });
    const clientId = `https://rs.cimd.test:${host.port}/rs/client.json`;
    host.json('/rs/client.json', {
      client_id: clientId, client_name: 'Self-declared resource server', redirect_uris: ['http://localhost/callback'],
      token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `https://rs.cimd.test:${host.port}/rs/jwks.json`, gatehouse_resource: TEST_RESOURCE,
    });
    const assertion = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(clientId).setSubject(clientId)
      .setAudience(gh.issuer).setJti(randomBytes(16).toString('hex')).setIssuedAt().setExpirationTime('2m').sign(privateKey);
    const res = await introspect({ token: tokens.refresh_token, client_id: clientId, client_assertion_type: ASSERTION_TYPE, client_assertion: assertion });
    // The document is refused (the client-metadata policy), or, were it let through, the token is inactive to it.
    expect(res.body.active).not.toBe(true);
    expect(res.body.client_id).toBeUndefined();
    expect(res.body.sub).toBeUndefined();
  });

  it('a dynamically registered client stored with gatehouse_resource (from before the metadata rule) gets active: false', async () => {
    const { tokens } = await someoneElsesToken();
    const reg = await postRegistration(gh.issuer, { client_name: 'Old squatter', redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'client_secret_basic' });
    expect(reg.status).toBe(201);
    // Its stored metadata carries the link, as a registration accepted before the admin-properties rule would.
    const clients = new PostgresAdapter('Client', { db: gh.services.handle.db, box: gh.services.box });
    const stored = await clients.find(reg.body.client_id);
    await clients.upsert(reg.body.client_id, { ...stored!, gatehouse_resource: TEST_RESOURCE } as never, 0);
    const res = await introspect({ token: tokens.refresh_token }, basic(reg.body.client_id, reg.body.client_secret));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false });
  });

  it('an administrator-created resource-server client still introspects its resource\'s tokens', async () => {
    const { clientId, tokens } = await someoneElsesToken();
    const rs = await addStaticClient({ db: gh.services.handle.db, box: gh.services.box, provider: gh.holder.provider, registry: gh.services.registry }, {
      name: 'Resource server', redirectUris: [], confidential: true, resource: TEST_RESOURCE,
    });
    const res = await introspect({ token: tokens.refresh_token }, basic(rs.client_id, rs.client_secret!));
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(true);
    expect(res.body.client_id).toBe(clientId);
  });
});
