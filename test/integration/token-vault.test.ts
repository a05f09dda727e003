// The upstream token vault (docs/TOKEN-VAULT.md), on the real connectors (openid-client, real HTTP) against the stub
// IdP posing as Okta, Google, GitHub and Entra, over a real database: a stored token is handed out with no call, an
// expired one is refreshed once however many ask at once (with PostgreSQL, across two instances with their own
// connections), a refused refresh token makes the row needs_reauth, an outage is thrown and never revokes, each
// kind's refresh-token habits hold, and re-validation never redeems a refresh token the vault is redeeming.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { AuditLog, type AuditEvent } from '../../src/audit/writer.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { openDatabase, type DbHandle } from '../../src/db/connection.js';
import { migrateLatest } from '../../src/db/migrations.js';
import { createLogger } from '../../src/log.js';
import type { ConnectionSpec } from '../../src/upstream/connection.js';
import { Connections } from '../../src/upstream/connections.js';
import { Accounts } from '../../src/upstream/accounts.js';
import { RefreshRefused, type RedirectConnector, type UpstreamTokens } from '../../src/upstream/connector.js';
import { missingScopes, TokenVault, VaultUnavailable } from '../../src/upstream/token-vault.js';
import { connectionSpec, STUB_REDIRECT } from '../helpers/connection-spec.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { StubIdp, type StubAccount } from '../helpers/stub-idp.js';

const LOGIN = 'https://login.microsoftonline.com';
const GRAPH = 'https://graph.microsoft.com';
const TENANT = '3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b';
const SECRET = 'token-vault-test-secret-key-0123456789abcdef';
const HOUR = 3600_000;
const SEVEN_DAYS = 7 * 24 * HOUR;

let tdb: TestDatabase;
let handles: DbHandle[] = [];
let idp: StubIdp;
let n = 0;

/** One Gatehouse instance: its own database connection(s), connections cache, audit log and vault. */
interface Instance {
  vault: TokenVault;
  connections: Connections;
  events: AuditEvent[];
}
let instances: Instance[] = [];

function instance(handle: DbHandle): Instance {
  const box = new SecretBox(SECRET);
  // The stub of the running test, whichever it is: connectors keep the fetch they were built with.
  const connections = new Connections(handle.db, box, { redirectUri: STUB_REDIRECT, production: false, local: undefined as never, fetch: (i, init) => idp.fetch(i, init) });
  const audit = new AuditLog(handle.db, createLogger('silent'));
  const events: AuditEvent[] = [];
  audit.observe((e) => events.push(e));
  return { vault: new TokenVault({ db: handle.db, box, connections, audit, accounts: new Accounts(handle.db) }), connections, events };
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  const first = await openDatabase({ databaseUrl: tdb.env.DATABASE_URL, dataDir: tdb.dataDir });
  handles = [first];
  await migrateLatest(first.db);
  // A second instance needs a database of its own connections: PostgreSQL only (PGlite is one connection).
  if (tdb.realPostgres) handles.push(await openDatabase({ databaseUrl: tdb.env.DATABASE_URL, dataDir: tdb.dataDir }));
});

afterAll(async () => {
  for (const h of handles) await h.close();
  await tdb?.drop();
});

beforeEach(async () => {
  idp = await StubIdp.start();
  instances = handles.map(instance);
});

afterEach(async () => {
  await idp.close();
});

const A = () => instances[0]!;
const db = () => handles[0]!.db;

async function newAccount(): Promise<string> {
  const id = `acct-${++n}`;
  await db()('accounts').insert({ id, email: `${id}@example.com` });
  return id;
}

async function addConnection(kind: ConnectionSpec['kind'], over: Partial<ConnectionSpec> = {}): Promise<{ id: string; connector: RedirectConnector }> {
  const spec = connectionSpec(kind, { id: `${kind}-${++n}`, storeTokens: true, ...over });
  const saved = await A().connections.add(spec, 'test');
  return { id: spec.id, connector: A().connections.connector(saved) as RedirectConnector };
}

/** A login at the stub through the connector, its tokens linked in the vault (as the login and connect page do). */
async function linkedLogin(kind: ConnectionSpec['kind'], over: Partial<ConnectionSpec> = {}, account?: StubAccount, adjust: (t: UpstreamTokens) => UpstreamTokens = (t) => t) {
  const { id, connector } = await addConnection(kind, over);
  const { url, checks } = await connector.start();
  const { identity, tokens } = await connector.finish(await idp.login(url, account), checks);
  const accountId = await newAccount();
  const kept = adjust(tokens!);
  await A().vault.link(accountId, id, { issuer: identity.issuer, subject: identity.subject }, kept);
  idp.tokenRequests.length = 0;
  return { accountId, connectionId: id, connector, tokens: kept };
}

const expired = (t: UpstreamTokens): UpstreamTokens => ({ ...t, expiresAt: new Date(Date.now() - 1000) });
const okta = () => ({ issuer: idp.origin });
const ada: StubAccount = { claims: { sub: '00u1ada', email: 'ada@acme.com', email_verified: true, name: 'Ada' } };

describe('the vault, on a generic OpenID Connect IdP (Okta here)', () => {
  it('nothing linked → not_linked; a stored token valid for more than a minute is handed out with no upstream call', async () => {
    const { accountId, connectionId, tokens } = await linkedLogin('okta', okta(), ada);
    expect(await A().vault.accessToken(await newAccount(), connectionId)).toEqual({ kind: 'not_linked' });
    expect(await A().vault.accessToken(accountId, 'no-such-connection')).toEqual({ kind: 'not_linked' });
    const answer = await A().vault.accessToken(accountId, connectionId);
    expect(answer).toEqual({ kind: 'token', accessToken: tokens.accessToken, expiresAt: tokens.expiresAt, scope: tokens.scope });
    expect(idp.refreshRequests()).toHaveLength(0);
    expect(await A().vault.linked(accountId, connectionId)).toEqual({ issuer: idp.origin, subject: '00u1ada', status: 'active', scope: tokens.scope });
  });

  it('a token expiring within a minute is refreshed; the rotated refresh token is stored, the old one forgotten', async () => {
    const { accountId, connectionId, tokens } = await linkedLogin('okta', okta(), ada, (t) => ({ ...t, expiresAt: new Date(Date.now() + 30_000) }));
    const answer = await A().vault.accessToken(accountId, connectionId);
    expect(answer.kind).toBe('token');
    const fresh = answer.kind === 'token' ? answer : undefined;
    expect(fresh?.accessToken).not.toBe(tokens.accessToken);
    expect(fresh!.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 3000_000);
    expect(idp.refreshRequests().map((f) => f.get('refresh_token'))).toEqual([tokens.refreshToken]);
    const row = await A().vault.store.read(accountId, connectionId);
    expect(row?.tokens).toMatchObject({ accessToken: fresh?.accessToken, refreshToken: expect.any(String) });
    expect(row?.tokens.refreshToken).not.toBe(tokens.refreshToken);
    expect(row?.refreshedAt).toBeInstanceOf(Date);
    expect(row?.leaseUntil).toBeNull();
    // The stored token is now used as it is.
    expect(await A().vault.accessToken(accountId, connectionId)).toMatchObject({ kind: 'token', accessToken: fresh?.accessToken });
    expect(idp.refreshRequests()).toHaveLength(1);
  });

  it('scopes the upstream grant lacks → insufficient_scope with the missing ones; granted ones → the token', async () => {
    const { accountId, connectionId } = await linkedLogin('okta', okta(), ada);
    expect(await A().vault.accessToken(accountId, connectionId, { scopes: ['email', 'calendar.read', 'mail.send'] })).toEqual({ kind: 'insufficient_scope', missing: ['calendar.read', 'mail.send'] });
    expect(await A().vault.accessToken(accountId, connectionId, { scopes: ['email', 'profile'] })).toMatchObject({ kind: 'token' });
    expect(idp.refreshRequests()).toHaveLength(0);
  });

  it('20 concurrent requests needing a refresh → one upstream call, every caller the same new token', async () => {
    const { accountId, connectionId, tokens } = await linkedLogin('okta', okta(), ada, expired);
    idp.refreshDelayMs = 200;
    const answers = await Promise.all(Array.from({ length: 20 }, () => A().vault.accessToken(accountId, connectionId)));
    expect(idp.refreshRequests()).toHaveLength(1);
    const issued = new Set(answers.map((a) => (a.kind === 'token' ? a.accessToken : a.kind)));
    expect(issued.size).toBe(1);
    expect([...issued][0]).not.toBe(tokens.accessToken);
    expect([...issued][0]).not.toBe('needs_reauth');
  });

  it('upstream invalid_grant → needs_reauth, recorded and audited; asked again, no further upstream call', async () => {
    const { accountId, connectionId, tokens } = await linkedLogin('okta', okta(), ada, expired);
    idp.refreshRefusal = 'invalid_grant';
    expect(await A().vault.accessToken(accountId, connectionId)).toEqual({ kind: 'needs_reauth', reason: expect.stringMatching(/invalid_grant/) });
    const row = await A().vault.store.read(accountId, connectionId);
    expect(row).toMatchObject({ status: 'needs_reauth', statusDetail: expect.stringMatching(/invalid_grant/), leaseUntil: null });
    expect(row?.tokens.refreshToken).toBe(tokens.refreshToken);
    expect(A().events).toContainEqual(expect.objectContaining({ type: 'vault.needs_reauth', outcome: 'failure', details: { accountId, connector: connectionId } }));
    expect((await A().vault.linked(accountId, connectionId))?.status).toBe('needs_reauth');
    expect(await A().vault.accessToken(accountId, connectionId)).toMatchObject({ kind: 'needs_reauth' });
    expect(idp.refreshRequests()).toHaveLength(1);
    // Signing in again (a new link) makes the row active again.
    idp.refreshRefusal = undefined;
    await A().vault.link(accountId, connectionId, { issuer: idp.origin, subject: '00u1ada' }, { ...tokens, expiresAt: new Date(Date.now() + HOUR) });
    expect(await A().vault.accessToken(accountId, connectionId)).toMatchObject({ kind: 'token', accessToken: tokens.accessToken });
  });

  it.each([
    ['the IdP down (503)', () => void (idp.down = true)],
    ['invalid_client (Gatehouse’s own registration)', () => ((idp.refreshRefusal = 'invalid_client'), (idp.refreshRefusalStatus = 401))],
    ['a rate limit (429 slow_down)', () => ((idp.refreshRefusal = 'slow_down'), (idp.refreshRefusalStatus = 429))],
  ])('%s → VaultUnavailable (a 503 for the caller), never a revocation: status and refresh token unchanged', async (_what, breakIt) => {
    const { accountId, connectionId, tokens } = await linkedLogin('okta', okta(), ada, expired);
    breakIt();
    await expect(A().vault.accessToken(accountId, connectionId)).rejects.toBeInstanceOf(VaultUnavailable);
    const row = await A().vault.store.read(accountId, connectionId);
    expect(row).toMatchObject({ status: 'active', leaseUntil: null });
    expect(row?.tokens.refreshToken).toBe(tokens.refreshToken);
    expect(A().events.map((e) => e.type)).not.toContain('vault.needs_reauth');
    // The IdP back: the same refresh token works.
    idp.down = false;
    idp.refreshRefusal = undefined;
    expect(await A().vault.accessToken(accountId, connectionId)).toMatchObject({ kind: 'token' });
    expect(idp.refreshRequests().at(-1)?.get('refresh_token')).toBe(tokens.refreshToken);
  });

  it('an expired token and no refresh token → needs_reauth, with no upstream call', async () => {
    const { accountId, connectionId } = await linkedLogin('okta', { ...okta(), storeTokens: false }, ada, expired);
    expect((await A().vault.store.read(accountId, connectionId))?.tokens.refreshToken).toBeUndefined();
    expect(await A().vault.accessToken(accountId, connectionId)).toEqual({ kind: 'needs_reauth', reason: expect.stringMatching(/no refresh token/) });
    expect((await A().vault.store.read(accountId, connectionId))?.status).toBe('needs_reauth');
    expect(idp.tokenRequests).toHaveLength(0);
  });

  it('a resource a kind cannot honour is the connection’s own token', async () => {
    const { accountId, connectionId, tokens } = await linkedLogin('okta', okta(), ada);
    expect(await A().vault.accessToken(accountId, connectionId, { resource: GRAPH })).toMatchObject({ kind: 'token', accessToken: tokens.accessToken });
    expect(idp.tokenRequests).toHaveLength(0);
  });

  it('disconnect: the tokens forgotten, the row revoked; the vault then answers needs_reauth', async () => {
    const { accountId, connectionId } = await linkedLogin('okta', okta(), ada);
    expect(await A().vault.disconnect(accountId, connectionId)).toBe(true);
    const row = await A().vault.store.read(accountId, connectionId);
    expect(row).toMatchObject({ status: 'revoked', tokens: { accessToken: undefined, refreshToken: undefined } });
    const raw = (await db()('upstream_tokens').where({ account_id: accountId, connection_id: connectionId }).first()) as Record<string, unknown>;
    expect(raw.access_token).toBeNull();
    expect(raw.refresh_token).toBeNull();
    expect(await A().vault.accessToken(accountId, connectionId)).toMatchObject({ kind: 'needs_reauth' });
    expect((await A().vault.linked(accountId, connectionId))?.status).toBe('revoked');
  });

  it('a link to another upstream account drops the refresh token of the previous one', async () => {
    const { accountId, connectionId } = await linkedLogin('okta', okta(), ada);
    await A().vault.link(accountId, connectionId, { issuer: idp.origin, subject: '00u9other' }, { accessToken: 'other-access', expiresAt: new Date(Date.now() + HOUR) });
    const row = await A().vault.store.read(accountId, connectionId);
    expect(row).toMatchObject({ subject: '00u9other', tokens: { accessToken: 'other-access', refreshToken: undefined } });
  });

  it('re-validation’s redemption runs under the same lease: a concurrent vault refresh waits and calls nobody', async () => {
    const { accountId, connectionId, connector, tokens } = await linkedLogin('okta', okta(), ada, expired);
    idp.refreshDelayMs = 300;
    let seenByRevalidation: UpstreamTokens | undefined;
    const revalidation = A().vault.exclusive(accountId, connectionId, async (stored) => {
      seenByRevalidation = stored;
      const next = await connector.refresh(stored!);
      return { result: 'revalidated', tokens: next };
    });
    await new Promise((r) => setTimeout(r, 50));
    const [done, answer] = await Promise.all([revalidation, A().vault.accessToken(accountId, connectionId)]);
    expect(done).toBe('revalidated');
    expect(seenByRevalidation?.refreshToken).toBe(tokens.refreshToken);
    expect(idp.refreshRequests()).toHaveLength(1);
    const row = await A().vault.store.read(accountId, connectionId);
    expect(answer).toEqual({ kind: 'token', accessToken: row?.tokens.accessToken, expiresAt: row?.tokens.expiresAt, scope: row?.tokens.scope });
  });

  it('exclusive: a refusal it reports makes the row needs_reauth; a throw releases the lease and changes nothing', async () => {
    const { accountId, connectionId, tokens } = await linkedLogin('okta', okta(), ada);
    await expect(A().vault.exclusive(accountId, connectionId, () => Promise.reject(new Error('IdP down')))).rejects.toThrow('IdP down');
    expect(await A().vault.store.read(accountId, connectionId)).toMatchObject({ status: 'active', leaseUntil: null, tokens: { refreshToken: tokens.refreshToken } });
    expect(await A().vault.exclusive(accountId, connectionId, async () => ({ result: 1, refused: 'the identity provider answered invalid_grant' }))).toBe(1);
    expect(await A().vault.store.read(accountId, connectionId)).toMatchObject({ status: 'needs_reauth', leaseUntil: null });
    // No row: `use` runs with nothing to redeem.
    expect(await A().vault.exclusive(await newAccount(), connectionId, async (stored) => ({ result: stored }))).toBeUndefined();
  });
});

describe('two instances, each with its own database connections (PostgreSQL)', () => {
  const onPostgres = process.env.TEST_DATABASE_URL ? it : it.skip;

  onPostgres('20 concurrent requests spread over two instances → one upstream call; the losers re-read and call nobody', async () => {
    expect(instances).toHaveLength(2);
    const { accountId, connectionId } = await linkedLogin('okta', okta(), ada, expired);
    idp.refreshDelayMs = 300;
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => instances[i % 2]!.vault.accessToken(accountId, connectionId)));
    expect(idp.refreshRequests()).toHaveLength(1);
    const row = await A().vault.store.read(accountId, connectionId);
    for (const a of answers) expect(a).toMatchObject({ kind: 'token', accessToken: row?.tokens.accessToken });
  });

  onPostgres('an outage seen by the lease holder is the waiters’ answer too: one call, every caller VaultUnavailable', async () => {
    const { accountId, connectionId, tokens } = await linkedLogin('okta', okta(), ada, expired);
    idp.refreshDelayMs = 300;
    idp.refreshRefusal = 'temporarily_unavailable';
    idp.refreshRefusalStatus = 503;
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => instances[i % 2]!.vault.accessToken(accountId, connectionId)));
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof VaultUnavailable)).toBe(true);
    expect(idp.refreshRequests()).toHaveLength(1);
    expect(await A().vault.store.read(accountId, connectionId)).toMatchObject({ status: 'active', tokens: { refreshToken: tokens.refreshToken } });
  });
});

describe('Google: no rotation, and the 7-day refresh tokens of apps in "Testing"', () => {
  const google = () => {
    idp.intercept('https://accounts.google.com', 'https://oauth2.googleapis.com', 'https://www.googleapis.com', 'https://openidconnect.googleapis.com');
    idp.issuer = 'https://accounts.google.com';
    idp.endpoints = {
      authorization_endpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
      token_endpoint: 'https://oauth2.googleapis.com/token',
      jwks_uri: 'https://www.googleapis.com/oauth2/v3/certs',
      userinfo_endpoint: 'https://openidconnect.googleapis.com/v1/userinfo',
    };
    idp.rotateRefreshTokens = false;
  };
  const grace: StubAccount = { claims: { sub: '1101694', email: 'grace@gmail.com', email_verified: true, name: 'Grace' } };

  it('a refresh answers no refresh token: the stored one is kept and keeps working', async () => {
    google();
    const { accountId, connectionId, tokens } = await linkedLogin('google', {}, grace, expired);
    expect(tokens.refreshToken).toEqual(expect.any(String));
    const first = await A().vault.accessToken(accountId, connectionId);
    expect(first.kind).toBe('token');
    expect((await A().vault.store.read(accountId, connectionId))?.tokens.refreshToken).toBe(tokens.refreshToken);
    await db()('upstream_tokens').where({ account_id: accountId, connection_id: connectionId }).update({ access_token_expires_at: new Date(Date.now() - 1000) });
    const second = await A().vault.accessToken(accountId, connectionId);
    expect(second.kind).toBe('token');
    expect(idp.refreshRequests().map((f) => f.get('refresh_token'))).toEqual([tokens.refreshToken, tokens.refreshToken]);
  });

  it('a Testing app’s refresh token expires after 7 days: Google answers invalid_grant → needs_reauth', async () => {
    google();
    idp.refreshTokenMaxAgeMs = SEVEN_DAYS;
    const { accountId, connectionId } = await linkedLogin('google', {}, grace, expired);
    idp.ageRefreshTokens(SEVEN_DAYS + 60_000);
    expect(await A().vault.accessToken(accountId, connectionId)).toEqual({ kind: 'needs_reauth', reason: expect.stringMatching(/invalid_grant: Token has been expired or revoked/) });
    expect((await A().vault.store.read(accountId, connectionId))?.status).toBe('needs_reauth');
  });
});

describe('GitHub: OAuth App tokens never expire; GitHub App refresh tokens are single use', () => {
  const octocat = () => {
    idp.github = { user: { id: 583231, login: 'octocat', name: 'The Octocat' }, emails: [{ email: 'octocat@acme.example', primary: true, verified: true }], memberships: {} };
  };

  it('an OAuth App token (no expiry, no refresh token) is handed out as it is; its comma-separated scopes are checked', async () => {
    octocat();
    const { accountId, connectionId, tokens } = await linkedLogin('github', { issuer: idp.origin, storeTokens: false });
    expect(tokens).toMatchObject({ expiresAt: undefined, refreshToken: undefined, scope: 'read:user,user:email' });
    expect(await A().vault.accessToken(accountId, connectionId, { scopes: ['user:email'] })).toMatchObject({ kind: 'token', accessToken: tokens.accessToken });
    expect(await A().vault.accessToken(accountId, connectionId, { scopes: ['repo', 'user:email'] })).toEqual({ kind: 'insufficient_scope', missing: ['repo'] });
    expect(idp.tokenRequests).toHaveLength(0);
  });

  it('a GitHub App token: refreshed at the token endpoint, the next refresh token kept; the spent one is never presented again', async () => {
    octocat();
    idp.githubApp = true;
    const { accountId, connectionId, connector, tokens } = await linkedLogin('github', { issuer: idp.origin }, undefined, expired);
    expect(tokens.refreshToken).toEqual(expect.any(String));
    // GitHub App user tokens carry no scopes: requested ones cannot be judged and are not refused.
    const first = await A().vault.accessToken(accountId, connectionId, { scopes: ['repo'] });
    expect(first).toMatchObject({ kind: 'token', expiresAt: expect.any(Date) });
    const stored = (await A().vault.store.read(accountId, connectionId))!.tokens;
    expect(stored.refreshToken).not.toBe(tokens.refreshToken);
    // The spent refresh token is dead at GitHub (HTTP 200 with bad_refresh_token): the vault must never present it.
    await expect(connector.refresh(tokens)).rejects.toBeInstanceOf(RefreshRefused);
    await db()('upstream_tokens').where({ account_id: accountId, connection_id: connectionId }).update({ access_token_expires_at: new Date(Date.now() - 1000) });
    idp.tokenRequests.length = 0;
    expect(await A().vault.accessToken(accountId, connectionId)).toMatchObject({ kind: 'token' });
    expect(idp.refreshRequests().map((f) => f.get('refresh_token'))).toEqual([stored.refreshToken]);
  });

  it('20 concurrent requests: the single-use refresh token is redeemed exactly once', async () => {
    octocat();
    idp.githubApp = true;
    const { accountId, connectionId, tokens } = await linkedLogin('github', { issuer: idp.origin }, undefined, expired);
    idp.refreshDelayMs = 200;
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => instances[i % instances.length]!.vault.accessToken(accountId, connectionId)));
    expect(idp.refreshRequests().map((f) => f.get('refresh_token'))).toEqual([tokens.refreshToken]);
    expect(answers.every((a) => a.kind === 'token')).toBe(true);
    expect((await A().vault.store.read(accountId, connectionId))?.status).toBe('active');
  });

  it('a refresh token GitHub no longer accepts (bad_refresh_token) → needs_reauth', async () => {
    octocat();
    idp.githubApp = true;
    const { accountId, connectionId, connector, tokens } = await linkedLogin('github', { issuer: idp.origin }, undefined, expired);
    await connector.refresh(tokens); // spent elsewhere (an older copy of Gatehouse's data, say)
    expect(await A().vault.accessToken(accountId, connectionId)).toEqual({ kind: 'needs_reauth', reason: expect.stringMatching(/bad_refresh_token/) });
  });
});

describe('Entra: one refresh token for every resource', () => {
  const entra = () => {
    idp.intercept(LOGIN, GRAPH);
    idp.issuer = `${LOGIN}/{tenantid}/v2.0`;
    idp.endpoints = {
      authorization_endpoint: `${LOGIN}/organizations/oauth2/v2.0/authorize`,
      token_endpoint: `${LOGIN}/organizations/oauth2/v2.0/token`,
      jwks_uri: `${LOGIN}/organizations/discovery/v2.0/keys`,
      userinfo_endpoint: `${GRAPH}/oidc/userinfo`,
    };
  };
  const person: StubAccount = { claims: { sub: 'pairwise-1', oid: '9b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e', tid: TENANT, name: 'Ada', email: 'ada@contoso.com' } };

  it('a resource is refreshed with {resource}/.default; the rotated refresh token kept, the row’s own access token untouched', async () => {
    entra();
    const { accountId, connectionId, tokens } = await linkedLogin('entra', { tenant: 'organizations', allowedTenants: [TENANT] }, person);
    const answer = await A().vault.accessToken(accountId, connectionId, { resource: `${GRAPH}/` });
    expect(answer.kind).toBe('token');
    const graphToken = answer.kind === 'token' ? answer.accessToken : '';
    expect(idp.refreshRequests()).toHaveLength(1);
    expect(idp.refreshRequests()[0]!.get('scope')).toBe(`${GRAPH}/.default offline_access`);
    expect(idp.scopeOf(graphToken)).toBe(`${GRAPH}/.default offline_access`);
    const row = await A().vault.store.read(accountId, connectionId);
    expect(row?.tokens.accessToken).toBe(tokens.accessToken);
    expect(row?.tokens.refreshToken).not.toBe(tokens.refreshToken);
    // Asked again: the resource's token from this instance's cache; the connection's own from the row. No call.
    expect(await A().vault.accessToken(accountId, connectionId, { resource: GRAPH })).toMatchObject({ kind: 'token', accessToken: graphToken });
    expect(await A().vault.accessToken(accountId, connectionId)).toMatchObject({ kind: 'token', accessToken: tokens.accessToken });
    expect(idp.refreshRequests()).toHaveLength(1);
  });

  it('the connection’s own token, refreshed without a resource: no scope parameter, stored in the row', async () => {
    entra();
    const { accountId, connectionId, tokens } = await linkedLogin('entra', { tenant: 'organizations', allowedTenants: [TENANT] }, person, expired);
    const answer = await A().vault.accessToken(accountId, connectionId);
    expect(idp.refreshRequests()[0]!.has('scope')).toBe(false);
    const row = await A().vault.store.read(accountId, connectionId);
    expect(answer).toMatchObject({ kind: 'token', accessToken: row?.tokens.accessToken });
    expect(row?.tokens.accessToken).not.toBe(tokens.accessToken);
  });
});

describe('missingScopes', () => {
  it('space- or comma-separated grants; an empty grant cannot be judged; a resource’s full and short forms match', () => {
    expect(missingScopes(['a', 'b'], 'a c')).toEqual(['b']);
    expect(missingScopes(['repo'], 'read:user,user:email')).toEqual(['repo']);
    expect(missingScopes(['repo'], '')).toEqual([]);
    expect(missingScopes(['repo'], undefined)).toEqual([]);
    expect(missingScopes(['Mail.Read', `${GRAPH}/User.Read`], `${GRAPH}/Mail.Read User.Read`, GRAPH)).toEqual([]);
    expect(missingScopes(['Mail.Send'], `${GRAPH}/Mail.Read`, GRAPH)).toEqual(['Mail.Send']);
  });
});
