// The identity provider pushes logout (issue 20; docs/UNIVERSAL-LOGOUT.md), end to end over real HTTP with a real
// upstream IdP (test/helpers/upstream-idp.ts, an oidc-provider instance whose signing key also signs the logout JWTs
// and Security Event Tokens here). People sign in through it, get an MCP client's tokens and a console session; then:
//   POST /global-token-revocation (draft-parecki-oauth-global-token-revocation, Okta Universal Logout): with the
//     connection's secret or a JWT the IdP signed → every grant and session of that person gone, nobody else's;
//     a wrong, missing, replayed or foreign credential → 401 and nothing revoked; bad bodies → 400, audited.
//   POST /ssf/events/<connection> (RFC 8935): RISC account-disabled → revoked and deprovisioned; CAEP
//     session-revoked → revoked; a replayed SET → 202 without acting; a bad signature → 400, nothing revoked.
// The credential and the JWTs never reach an audit row.
import { randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { grantsOfAccount } from '../../src/oauth/adapter.js';
import { adminApiClient, adminApiToken, call } from '../helpers/admin-api.js';
import { authorizeUrl, pkcePair, tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { MultiOriginBrowser } from '../helpers/multi-origin-browser.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { answerConsent, openAtGatehouse, registerMcpClient, startAtGatehouse, startMockIdp, type McpClientUnderTest, type MockIdp } from '../helpers/upstream-idp.js';

const ADA = 'idp-sub-ada-61c2';
const GRACE = 'idp-sub-grace-7d10';
const LIN = 'idp-sub-lin-0b9e';
const KEN = 'idp-sub-ken-33fa';
const UNVERIFIED = 'idp-sub-unverified-5e21';

let db: TestDatabase;
let gh: TestServer;
let idp: MockIdp;
let api: string;
let writer: string;
let secret: string;
let endpoint: string;
let receiver: string;

beforeAll(async () => {
  const port = await freePort();
  idp = await startMockIdp({
    gatehouseIssuer: `http://127.0.0.1:${port}`,
    accounts: {
      [ADA]: { email: 'ada@example.com', email_verified: true, name: 'Ada', groups: [] },
      [GRACE]: { email: 'grace@example.com', email_verified: true, name: 'Grace', groups: [] },
      [LIN]: { email: 'lin@example.com', email_verified: true, name: 'Lin', groups: [] },
      [KEN]: { email: 'ken@example.com', email_verified: true, name: 'Ken', groups: [] },
      [UNVERIFIED]: { email: 'mallory@example.com', email_verified: false, name: 'Unverified', groups: [] },
    },
  });
  db = await createTestDatabase();
  gh = await startTestServer(
    { ...db.env, UPSTREAM_PROVIDER: 'oidc', UPSTREAM_ISSUER: idp.issuer, UPSTREAM_CLIENT_ID: idp.clientId, UPSTREAM_CLIENT_SECRET: idp.clientSecret, ADMIN_EMAILS: 'ada@example.com' },
    port,
  );
  api = `${gh.issuer}/admin/api/v1`;
  writer = await adminApiToken(gh, await adminApiClient(gh, 'admin:read admin:write'));
  const made = await call(`${api}/connections/oidc/global-logout-secret`, { method: 'POST', token: writer });
  expect(made.status).toBe(200);
  secret = made.json.secret;
  endpoint = made.json.global_token_revocation_endpoint;
  receiver = made.json.security_events_endpoint;
});

afterAll(async () => {
  await gh?.close();
  await idp?.close();
  await db?.drop();
});

// --- People with grants and sessions ------------------------------------------------------------------------------

interface Person {
  sub: string;
  accountId: string;
  client: McpClientUnderTest;
  refresh: string;
  browser: MultiOriginBrowser;
}

let nextPort = 43100;

/** A person signs in through the IdP for a new MCP client, consents, and redeems the code. */
async function signIn(sub: string, browser = new MultiOriginBrowser(sub)): Promise<Person> {
  const client = await registerMcpClient(gh.issuer, `http://127.0.0.1:${nextPort++}/callback`);
  const started = await startAtGatehouse(browser, gh.issuer, idp, client);
  let step = await openAtGatehouse(browser, gh.issuer, await idp.login(browser, started.idpUrl, sub));
  if (step instanceof Response) step = await answerConsent(browser, gh.issuer, step, 'allow');
  if (!(step instanceof URL)) throw new Error(`sign-in ended on ${step.status} ${step.url}`);
  const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: step.searchParams.get('code')!, code_verifier: started.verifier, client_id: client.clientId, redirect_uri: client.redirectUri });
  expect(tokens.status).toBe(200);
  const row = (await knex()('identities').where({ connection_id: 'oidc', issuer: idp.issuer, subject: sub }).first('account_id')) as { account_id: string };
  return { sub, accountId: row.account_id, client, refresh: tokens.body.refresh_token as string, browser };
}

/** Refreshes the person's token: 200 (the new token kept) or the refusal. */
async function refresh(p: Person): Promise<{ status: number; error?: string }> {
  const res = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: p.refresh, client_id: p.client.clientId });
  if (res.status === 200) p.refresh = res.body.refresh_token as string;
  return { status: res.status, error: res.body.error as string | undefined };
}

const knex = () => gh.services.handle.db;
const grants = async (p: Person) => (await grantsOfAccount(knex(), p.accountId)).length;
const sessions = async (p: Person) => Number(((await knex()('oidc_payloads').where({ model: 'Session' }).whereRaw(`payload::jsonb ->> 'accountId' = ?`, [p.accountId]).count('* as n').first()) as { n: string | number }).n);

/** Whether the person's grants, sessions and refresh token all still stand. */
async function untouched(p: Person): Promise<void> {
  expect(await grants(p)).toBeGreaterThan(0);
  expect(await sessions(p)).toBeGreaterThan(0);
  expect(await refresh(p)).toEqual({ status: 200, error: undefined });
}

async function gone(p: Person): Promise<void> {
  expect(await grants(p)).toBe(0);
  expect(await sessions(p)).toBe(0);
  expect(await refresh(p)).toEqual({ status: 400, error: 'invalid_grant' });
}

// --- Calls ----------------------------------------------------------------------------------------------------------

async function revoke(body: unknown, authorization?: string, contentType = 'application/json') {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': contentType, ...(authorization ? { authorization } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, string>) : undefined, headers: res.headers };
}

const byEmail = (email: string) => ({ sub_id: { format: 'email', email } });
const byIssSub = (sub: string) => ({ sub_id: { format: 'iss_sub', iss: idp.issuer, sub } });
const bearer = (value: string) => `Bearer ${value}`;

async function audit(type: string) {
  const rows = (await knex()('audit_events').where({ type }).orderBy('id', 'asc')) as Array<Record<string, any>>;
  return rows.map((r) => ({ ...r, details: (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as Record<string, any> }) as Record<string, any>);
}
const lastAudit = async (type: string) => (await audit(type)).at(-1)!;

const now = () => Math.floor(Date.now() / 1000);
/** A logout JWT as Okta Universal Logout sends it (docs/UNIVERSAL-LOGOUT.md, "Signed JWT"). */
const logoutJwt = (claims: JWTPayload = {}, header: Record<string, unknown> = {}) =>
  idp.signJwt({ iss: idp.issuer, sub: idp.clientId, aud: endpoint, iat: now(), nbf: now() - 300, exp: now() + 300, jti: randomUUID(), ...claims }, { typ: 'global-token-revocation+jwt', ...header });

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('global token revocation with the connection\'s secret', () => {
  it('by email: every grant and session of that person is gone (refresh tokens, the Gatehouse sign-in, the console), another person\'s untouched', async () => {
    const ada = await signIn(ADA);
    const adaSecondApp = await signIn(ADA); // another browser: a second Gatehouse sign-in session
    const grace = await signIn(GRACE);
    // Ada's console session (she is an administrator).
    const consoleBrowser = new MultiOriginBrowser('ada-console');
    const toIdp = await consoleBrowser.open(`${gh.issuer}/console/login`, (next) => next.origin === idp.issuer);
    if (!(toIdp instanceof URL)) throw new Error('expected the IdP');
    await openAtGatehouse(consoleBrowser, gh.issuer, await idp.login(consoleBrowser, toIdp, ADA));
    expect((await consoleBrowser.get(`${gh.issuer}/console`)).status).toBe(200);
    expect(await grants(ada)).toBe(2);
    // Her Gatehouse sign-in stands: a new authorization for her first app goes straight back to it, no IdP.
    const again = () => {
      const { challenge } = pkcePair();
      const url = authorizeUrl(gh.issuer, { client_id: ada.client.clientId, redirect_uri: ada.client.redirectUri, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', state: 's' });
      return ada.browser.open(url, (next) => next.origin !== new URL(gh.issuer).origin);
    };
    expect(((await again()) as URL).origin).toBe(new URL(ada.client.redirectUri).origin);

    const res = await revoke(byEmail('ADA@Example.com'), bearer(secret));
    expect(res.status).toBe(204);
    expect(res.json).toBeUndefined();

    await gone(ada);
    expect(await refresh(adaSecondApp)).toEqual({ status: 400, error: 'invalid_grant' });
    const consoleNow = await consoleBrowser.get(`${gh.issuer}/console`);
    expect([consoleNow.status, consoleNow.headers.get('location')]).toEqual([303, '/console/login']);
    expect(Number(((await knex()('console_sessions').where({ account_id: ada.accountId }).count('* as n').first()) as { n: string }).n)).toBe(0);
    // No silent authorization rides the old sign-in: the browser is sent to the IdP again.
    expect(((await again()) as URL).origin).toBe(new URL(idp.issuer).origin);
    await untouched(grace);

    const row = await lastAudit('person.global_logout');
    expect(row).toMatchObject({ outcome: 'success', actor: 'connection:oidc' });
    expect(row.details).toMatchObject({ connection: 'oidc', via: 'secret', accounts: [ada.accountId], grants: 2, subject: { format: 'email', email: 'ADA@Example.com' } });
    expect(JSON.stringify(await audit('person.global_logout'))).not.toContain(secret);
  });

  it('is idempotent: the same call again is a 204 that revokes nothing', async () => {
    const res = await revoke(byEmail('ada@example.com'), bearer(secret));
    expect(res.status).toBe(204);
    expect((await lastAudit('person.global_logout')).details).toMatchObject({ grants: 0, sessions: 0 });
  });

  it('by iss_sub: the identity the IdP names', async () => {
    const ken = await signIn(KEN);
    const lin = await signIn(LIN);
    expect((await revoke(byIssSub(KEN), bearer(secret))).status).toBe(204);
    await gone(ken);
    await untouched(lin);
  });

  describe('a wrong credential is a 401 and revokes nothing', () => {
    let lin: Person;
    beforeAll(async () => {
      lin = await signIn(LIN);
    });
    afterAll(async () => {
      await untouched(lin);
    });

    it.each([
      ['no credential', undefined, 'Bearer realm="gatehouse"'],
      ['an unknown secret', bearer(`ghgl_${'A'.repeat(43)}`), 'Bearer realm="gatehouse", error="invalid_token"'],
      ['the secret with one character changed', 'secret-changed', 'Bearer realm="gatehouse", error="invalid_token"'],
      ['HTTP Basic', `Basic ${Buffer.from(`oidc:x`).toString('base64')}`, 'Bearer realm="gatehouse", error="invalid_token"'],
      ['a bearer that is neither a secret nor a JWT', bearer('opaque-token-123'), 'Bearer realm="gatehouse", error="invalid_token"'],
    ])('%s', async (_what, authorization, challenge) => {
      const header = authorization === 'secret-changed' ? bearer(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`) : authorization;
      const res = await revoke(byEmail('lin@example.com'), header);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(challenge);
      expect(res.json).toMatchObject({ error: 'invalid_token' });
      expect(await grants(lin)).toBeGreaterThan(0);
      const row = await lastAudit('person.global_logout');
      expect(row).toMatchObject({ outcome: 'failure', actor: null });
      expect(row.details).toMatchObject({ status: 401, error: 'invalid_token' });
    });

    it('a secret removed by the administrator no longer works', async () => {
      const before = await call(`${api}/connections/oidc/global-logout-secret`, { method: 'POST', token: writer });
      const old = before.json.secret as string;
      expect((await call(`${api}/connections/oidc/global-logout-secret`, { method: 'DELETE', token: writer })).json).toMatchObject({ id: 'oidc', has_global_logout_secret: false });
      expect((await revoke(byEmail('lin@example.com'), bearer(old))).status).toBe(401);
      // A rotation replaces it at once: the previous one stops too.
      const first = (await call(`${api}/connections/oidc/global-logout-secret`, { method: 'POST', token: writer })).json.secret as string;
      secret = (await call(`${api}/connections/oidc/global-logout-secret`, { method: 'POST', token: writer })).json.secret as string;
      expect((await revoke(byEmail('nobody@example.com'), bearer(first))).status).toBe(401);
      expect((await revoke(byEmail('nobody@example.com'), bearer(secret))).status).toBe(404);
      expect(JSON.stringify(await knex()('audit_events').select('details', 'reason'))).not.toContain(old);
    });
  });

  describe('bad bodies are a 400 in the OAuth error format, audited, and revoke nothing', () => {
    let lin: Person;
    beforeAll(async () => {
      lin = await signIn(LIN);
    });
    afterAll(async () => {
      await untouched(lin);
    });

    it.each([
      ['not JSON', 'sub_id=lin@example.com', 'application/x-www-form-urlencoded', /application\/json/],
      ['malformed JSON', '{"sub_id": ', 'application/json', /not valid JSON/],
      ['an array', '[]', 'application/json', /JSON object/],
      ['no sub_id', '{}', 'application/json', /sub_id is required/],
      ['an unknown member', JSON.stringify({ ...byEmail('lin@example.com'), scope: 'all' }), 'application/json', /scope is not a member/],
      ['an unsupported format', JSON.stringify({ sub_id: { format: 'phone_number', phone_number: '+12065550100' } }), 'application/json', /phone_number is not supported/],
      ['an opaque id', JSON.stringify({ sub_id: { format: 'opaque', id: 'x' } }), 'application/json', /not supported/],
      ['an email without its member', JSON.stringify({ sub_id: { format: 'email' } }), 'application/json', /sub_id\.email/],
      ['not an email', JSON.stringify({ sub_id: { format: 'email', email: 'lin' } }), 'application/json', /email address/],
      ['an extra member in the subject', JSON.stringify({ sub_id: { format: 'email', email: 'lin@example.com', iss: 'x' } }), 'application/json', /sub_id\.iss/],
      ['iss_sub without sub', JSON.stringify({ sub_id: { format: 'iss_sub', iss: 'x' } }), 'application/json', /sub_id\.sub/],
      ['a NUL in the email', '{"sub_id":{"format":"email","email":"lin@example.com\\u0000"}}', 'application/json', /NUL|control/],
      ['sub_id and subject both', JSON.stringify({ ...byEmail('lin@example.com'), subject: { format: 'email', email: 'lin@example.com' } }), 'application/json', /send one/],
    ])('%s', async (_what, body, contentType, description) => {
      const res = await revoke(body, bearer(secret), contentType);
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(description) });
      const row = await lastAudit('person.global_logout');
      expect(row).toMatchObject({ outcome: 'failure', actor: 'connection:oidc', reason: res.json!.error_description });
      expect(row.details).toMatchObject({ status: 400, error: 'invalid_request', connection: 'oidc' });
      expect(await grants(lin)).toBeGreaterThan(0);
    });

    it('a body over 16 KiB is a 413', async () => {
      const res = await revoke({ sub_id: { format: 'email', email: `${'a'.repeat(17 * 1024)}@example.com` } }, bearer(secret));
      expect(res.status).toBe(413);
      expect(res.json).toMatchObject({ error: 'invalid_request' });
    });

    it('Okta\'s earlier member name, subject, is read as sub_id', async () => {
      const res = await revoke({ subject: { format: 'email', email: 'nobody-here@example.com' } }, bearer(secret));
      expect(res.status).toBe(404);
    });
  });

  it('an unknown person is the draft\'s 404, and so is an email the IdP did not verify', async () => {
    await signIn(UNVERIFIED);
    for (const body of [byEmail('nobody@example.com'), byEmail('mallory@example.com'), byIssSub('idp-sub-nobody')]) {
      const res = await revoke(body, bearer(secret));
      expect(res.status).toBe(404);
      expect(res.json).toMatchObject({ error: 'not_found' });
    }
    expect((await lastAudit('person.global_logout')).details).toMatchObject({ status: 404, connection: 'oidc' });
  });

  it('is advertised in the authorization server metadata', async () => {
    const doc = (await (await fetch(`${gh.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(doc.global_token_revocation_endpoint).toBe(`${gh.issuer}/global-token-revocation`);
    expect(endpoint).toBe(`${gh.issuer}/global-token-revocation`);
  });
});

describe('global token revocation with a JWT the IdP signed (Okta Universal Logout)', () => {
  it('a valid JWT logs the person out; aud may be the endpoint or Gatehouse\'s issuer', async () => {
    const ada = await signIn(ADA);
    const grace = await signIn(GRACE);
    const res = await revoke(byEmail('ada@example.com'), bearer(await logoutJwt()));
    expect(res.status).toBe(204);
    await gone(ada);
    await untouched(grace);
    const row = await lastAudit('person.global_logout');
    expect(row.details).toMatchObject({ connection: 'oidc', via: 'jwt', accounts: [ada.accountId] });
    expect(await revoke(byIssSub(GRACE), bearer(await logoutJwt({ aud: gh.issuer }, { typ: 'JWT' })))).toMatchObject({ status: 204 });
    await gone(grace);
  });

  describe('is refused with 401, revoking nothing', () => {
    let lin: Person;
    beforeAll(async () => {
      lin = await signIn(LIN);
    });
    afterAll(async () => {
      await untouched(lin);
    });

    const cases: Array<[string, () => Promise<string>, RegExp]> = [
      ['a wrong issuer', () => logoutJwt({ iss: 'https://evil.example' }), /no connection has issuer/],
      ['a wrong audience', () => logoutJwt({ aud: 'https://other-app.example/logout' }), /audience/],
      ['another client id as sub (another app of the same IdP)', () => logoutJwt({ sub: 'some-other-app' }), /client id/],
      ['an expired JWT', () => logoutJwt({ iat: now() - 900, nbf: now() - 900, exp: now() - 600 }), /expired/],
      ['a JWT living longer than 15 minutes', () => logoutJwt({ exp: now() + 3600 }), /lives longer/],
      ['a JWT without jti', () => logoutJwt({ jti: undefined }), /jti/],
      ['a Security Event Token', () => logoutJwt({}, { typ: 'secevent+jwt' }), /type secevent\+jwt/],
      ['an access token type', () => logoutJwt({}, { typ: 'at+jwt' }), /type at\+jwt/],
      ['alg none', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: idp.issuer, sub: idp.clientId, aud: endpoint, iat: now(), exp: now() + 300, jti: randomUUID() })}.`, /algorithm none/],
      ['HS256 keyed with the client secret', () => new SignJWT({ iss: idp.issuer, sub: idp.clientId, aud: endpoint, jti: randomUUID() }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(idp.clientSecret)), /algorithm HS256/],
      [
        'a signature by another key under the IdP\'s kid',
        async () => {
          const { privateKey } = await generateKeyPair('RS256');
          return new SignJWT({ iss: idp.issuer, sub: idp.clientId, aud: endpoint, jti: randomUUID() }).setProtectedHeader({ alg: 'RS256', kid: 'mock-idp-rs256' }).setIssuedAt().setExpirationTime('5m').sign(privateKey);
        },
        /signature verification failed/,
      ],
      ['a kid the IdP does not publish', () => logoutJwt({}, { kid: 'unknown-kid' }), /no single key/],
    ];

    it.each(cases)('%s', async (_what, make, reason) => {
      const res = await revoke(byEmail('lin@example.com'), bearer(await make()));
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="gatehouse", error="invalid_token"');
      expect(res.json).toEqual({ error: 'invalid_token', error_description: 'the credential is not valid here' });
      expect((await lastAudit('person.global_logout')).reason).toMatch(reason);
      expect(await grants(lin)).toBeGreaterThan(0);
    });

    it('a replayed jti: the first call acts, the same JWT again is refused', async () => {
      const ken = await signIn(KEN);
      const jwt = await logoutJwt();
      expect((await revoke(byEmail('ken@example.com'), bearer(jwt))).status).toBe(204);
      await gone(ken);
      const replay = await revoke(byEmail('lin@example.com'), bearer(jwt));
      expect(replay.status).toBe(401);
      expect((await lastAudit('person.global_logout')).reason).toMatch(/already used/);
      expect(await grants(lin)).toBeGreaterThan(0);
    });

    it('no JWT ever reaches the audit log', async () => {
      expect(JSON.stringify(await knex()('audit_events').select('details', 'reason'))).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
    });
  });
});

describe('Shared Signals: Security Event Tokens pushed to /ssf/events/<connection> (RFC 8935)', () => {
  const RISC_DISABLED = 'https://schemas.openid.net/secevent/risc/event-type/account-disabled';
  const CAEP_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
  const VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification';

  const securityEvent = (events: Record<string, unknown>, claims: JWTPayload = {}, header: Record<string, unknown> = {}) =>
    idp.signJwt({ iss: idp.issuer, aud: receiver, iat: now(), jti: randomUUID(), events, ...claims }, { typ: 'secevent+jwt', ...header });

  async function push(token: string, to = receiver, contentType = 'application/secevent+jwt') {
    const res = await fetch(to, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/json' }, body: token });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Record<string, string>) : undefined, headers: res.headers };
  }

  const deprovisioned = async (p: Person) => ((await knex()('accounts').where({ id: p.accountId }).first('deprovisioned_at', 'deprovisioned_reason')) as { deprovisioned_at: Date | null; deprovisioned_reason: string | null });

  it('the receiver URL is the connection\'s', () => {
    expect(receiver).toBe(`${gh.issuer}/ssf/events/oidc`);
  });

  it('RISC account-disabled: the person\'s grants and sessions end and the account is deprovisioned; audited', async () => {
    const ada = await signIn(ADA);
    const grace = await signIn(GRACE);
    const set = await securityEvent({ [RISC_DISABLED]: { reason: 'hijacking' } }, { sub_id: { format: 'email', email: 'ada@example.com' } });
    const res = await push(set);
    expect(res.status).toBe(202);
    expect(res.json).toBeUndefined();
    await gone(ada);
    expect(await deprovisioned(ada)).toMatchObject({ deprovisioned_at: expect.anything(), deprovisioned_reason: expect.stringMatching(/RISC account-disabled from connection oidc \(hijacking\)/) });
    await untouched(grace);
    const row = await lastAudit('security_event.received');
    expect(row).toMatchObject({ outcome: 'success', actor: 'connection:oidc' });
    expect(row.details).toMatchObject({ connection: 'oidc', event: 'risc.account-disabled', action: 'deprovisioned', accounts: [ada.accountId] });
    expect(JSON.stringify(await knex()('audit_events').select('details', 'reason'))).not.toContain(set);

    // A replay is acknowledged and does nothing: Ada signed in again since (which ends the deprovisioning).
    const back = await signIn(ADA);
    expect((await deprovisioned(back)).deprovisioned_at).toBeNull();
    expect((await push(set)).status).toBe(202);
    await untouched(back);
    expect((await deprovisioned(back)).deprovisioned_at).toBeNull();
    expect((await lastAudit('security_event.received')).details).toMatchObject({ action: 'replayed' });
  });

  it('CAEP session-revoked (subject in the event, as the CAEP drafts put it): revoked, not deprovisioned', async () => {
    const grace = await signIn(GRACE);
    const lin = await signIn(LIN);
    const res = await push(await securityEvent({ [CAEP_REVOKED]: { subject: { format: 'iss_sub', iss: idp.issuer, sub: GRACE }, event_timestamp: now() } }));
    expect(res.status).toBe(202);
    await gone(grace);
    expect((await deprovisioned(grace)).deprovisioned_at).toBeNull();
    await untouched(lin);
    expect((await lastAudit('security_event.received')).details).toMatchObject({ event: 'caep.session-revoked', action: 'revoked' });
  });

  it('an SSF complex subject names the person by its user member', async () => {
    const ken = await signIn(KEN);
    const subject = { format: 'complex', user: { format: 'email', email: 'ken@example.com' }, session: { format: 'opaque', id: 'idp-session-1' } };
    expect((await push(await securityEvent({ [CAEP_REVOKED]: { event_timestamp: now() } }, { sub_id: subject }))).status).toBe(202);
    await gone(ken);
  });

  it('an unknown person, a verification event and an event Gatehouse does not act on are acknowledged', async () => {
    expect((await push(await securityEvent({ [CAEP_REVOKED]: {} }, { sub_id: { format: 'email', email: 'nobody@example.com' } }))).status).toBe(202);
    expect((await lastAudit('security_event.received')).details).toMatchObject({ action: 'no_match', accounts: [] });
    expect((await push(await securityEvent({ [VERIFICATION]: { state: 'abc' } }))).status).toBe(202);
    expect((await lastAudit('security_event.received')).details).toMatchObject({ event: 'ssf.verification', action: 'verified' });
    expect((await push(await securityEvent({ 'https://schemas.openid.net/secevent/caep/event-type/credential-change': { credential_type: 'password' } }, { sub_id: { format: 'email', email: 'lin@example.com' } }))).status).toBe(202);
    expect((await lastAudit('security_event.received')).details).toMatchObject({ action: 'ignored' });
  });

  describe('refused with RFC 8935\'s 400, audited, nothing revoked', () => {
    let lin: Person;
    beforeAll(async () => {
      lin = await signIn(LIN);
    });
    afterAll(async () => {
      await untouched(lin);
    });
    const linSubject = { sub_id: { format: 'email', email: 'lin@example.com' } };

    const cases: Array<[string, () => Promise<{ token: string; contentType?: string }>, string, RegExp]> = [
      [
        'a signature by another key',
        async () => {
          const { privateKey } = await generateKeyPair('RS256');
          const token = await new SignJWT({ iss: idp.issuer, aud: receiver, jti: randomUUID(), events: { [RISC_DISABLED]: {} }, ...linSubject }).setProtectedHeader({ alg: 'RS256', kid: 'mock-idp-rs256', typ: 'secevent+jwt' }).setIssuedAt().sign(privateKey);
          return { token };
        },
        'authentication_failed',
        /signature verification failed/,
      ],
      ['alg none', async () => ({ token: `${b64({ alg: 'none', typ: 'secevent+jwt' })}.${b64({ iss: idp.issuer, aud: receiver, iat: now(), jti: randomUUID(), events: { [RISC_DISABLED]: {} }, ...linSubject })}.` }), 'authentication_failed', /algorithm none/],
      ['a wrong issuer', async () => ({ token: await securityEvent({ [RISC_DISABLED]: {} }, { iss: 'https://evil.example', ...linSubject }) }), 'invalid_issuer', /issuer/],
      ['another connection\'s receiver as audience', async () => ({ token: await securityEvent({ [RISC_DISABLED]: {} }, { aud: `${gh.issuer}/ssf/events/other`, ...linSubject }) }), 'invalid_audience', /audience/],
      ['a JWT that is not typed as a SET', async () => ({ token: await securityEvent({ [RISC_DISABLED]: {} }, linSubject, { typ: 'JWT' }) }), 'authentication_failed', /type JWT/],
      ['a SET older than seven days', async () => ({ token: await securityEvent({ [RISC_DISABLED]: {} }, { iat: now() - 8 * 24 * 3600, ...linSubject }) }), 'authentication_failed', /iat|too old|maxTokenAge/],
      ['the wrong media type', async () => ({ token: await securityEvent({ [RISC_DISABLED]: {} }, linSubject), contentType: 'application/json' }), 'invalid_request', /secevent\+jwt/],
      ['a body that is not a JWT', async () => ({ token: 'hello' }), 'invalid_request', /not a signed JWT/],
      ['two events in one SET', async () => ({ token: await securityEvent({ [RISC_DISABLED]: {}, [CAEP_REVOKED]: {} }, linSubject) }), 'invalid_request', /exactly one event/],
      ['no subject', async () => ({ token: await securityEvent({ [RISC_DISABLED]: {} }) }), 'invalid_request', /no subject/],
      ['an unsupported subject format', async () => ({ token: await securityEvent({ [RISC_DISABLED]: {} }, { sub_id: { format: 'phone_number', phone_number: '+12065550100' } }) }), 'invalid_request', /not supported/],
      ['events that are not an object', async () => ({ token: await securityEvent([] as never, linSubject) }), 'invalid_request', /events/],
    ];

    it.each(cases)('%s', async (_what, make, err, reason) => {
      const { token, contentType } = await make();
      const res = await push(token, receiver, contentType);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-language')).toBe('en');
      expect(res.json).toMatchObject({ err, description: expect.any(String) });
      const row = await lastAudit('security_event.received');
      expect(row).toMatchObject({ outcome: 'failure', reason: expect.stringMatching(reason) });
      expect(row.details).toMatchObject({ status: 400, error: err, connection: 'oidc' });
      expect(await grants(lin)).toBeGreaterThan(0);
      expect((await deprovisioned(lin)).deprovisioned_at).toBeNull();
    });

    it('an unknown connection is a 404', async () => {
      const res = await push(await securityEvent({ [RISC_DISABLED]: {} }, linSubject), `${gh.issuer}/ssf/events/nope`);
      expect(res.status).toBe(404);
      expect(res.json).toMatchObject({ err: 'invalid_request' });
    });
  });
});

describe('one connection\'s credential never reaches another connection\'s people', () => {
  let lin: Person;
  let otherSecret: string;
  beforeAll(async () => {
    lin = await signIn(LIN);
    // A second IdP whose identity for "Lin" is a different account (linking is never by email).
    expect((await call(`${api}/connections`, { method: 'POST', token: writer, body: { id: 'other', kind: 'oidc', issuer: 'https://other-idp.example', client_id: 'gatehouse' } })).status).toBe(201);
    otherSecret = (await call(`${api}/connections/other/global-logout-secret`, { method: 'POST', token: writer })).json.secret as string;
    await knex()('accounts').insert({ id: 'acct-lin-elsewhere', email: 'lin@example.com', email_verified: true, name: 'Lin elsewhere', groups: JSON.stringify([]), is_admin: false });
    await knex()('identities').insert({ connection_id: 'other', issuer: 'https://other-idp.example', subject: 'lin-elsewhere', account_id: 'acct-lin-elsewhere', email: 'lin@example.com', email_verified: true, groups: JSON.stringify([]) });
  });
  afterAll(async () => {
    await untouched(lin);
    await call(`${api}/connections/other`, { method: 'DELETE', token: writer });
  });

  it('the other connection\'s secret with this connection\'s iss_sub finds nobody (404), revokes nothing', async () => {
    const res = await revoke(byIssSub(LIN), bearer(otherSecret));
    expect(res.status).toBe(404);
    expect((await lastAudit('person.global_logout')).details).toMatchObject({ connection: 'other', via: 'secret' });
    expect(await grants(lin)).toBeGreaterThan(0);
  });

  it('the other connection\'s secret with Lin\'s email ends only the account that IdP vouches for', async () => {
    const res = await revoke(byEmail('lin@example.com'), bearer(otherSecret));
    expect(res.status).toBe(204);
    expect((await lastAudit('person.global_logout')).details).toMatchObject({ connection: 'other', accounts: ['acct-lin-elsewhere'] });
    expect(await grants(lin)).toBeGreaterThan(0);
  });

  it('a disabled connection\'s global token revocation still acts (a revocation is always honoured)', async () => {
    expect((await call(`${api}/connections/other/disable`, { method: 'POST', token: writer })).status).toBe(200);
    try {
      const res = await revoke(byEmail('lin@example.com'), bearer(otherSecret));
      expect(res.status).toBe(204);
      expect(await lastAudit('person.global_logout')).toMatchObject({ outcome: 'success', actor: 'connection:other', details: { connection: 'other', via: 'secret', accounts: ['acct-lin-elsewhere'] } });
      expect(await grants(lin)).toBeGreaterThan(0);
    } finally {
      expect((await call(`${api}/connections/other/enable?anyway=true`, { method: 'POST', token: writer })).status).toBe(200);
    }
  });

  it('a SET signed by this IdP sent to the other connection\'s receiver is refused', async () => {
    const token = await idp.signJwt({ iss: idp.issuer, aud: `${gh.issuer}/ssf/events/other`, iat: now(), jti: randomUUID(), sub_id: { format: 'email', email: 'lin@example.com' }, events: { 'https://schemas.openid.net/secevent/risc/event-type/account-disabled': {} } }, { typ: 'secevent+jwt' });
    const res = await fetch(`${gh.issuer}/ssf/events/other`, { method: 'POST', headers: { 'content-type': 'application/secevent+jwt' }, body: token });
    // The other connection's IdP is not reachable here: its keys cannot even be fetched. Nothing is acted on either way.
    expect([400, 503]).toContain(res.status);
    expect(await grants(lin)).toBeGreaterThan(0);
    expect(Number(((await knex()('accounts').where({ id: 'acct-lin-elsewhere' }).whereNotNull('deprovisioned_at').count('* as n').first()) as { n: string }).n)).toBe(0);
  });
});
