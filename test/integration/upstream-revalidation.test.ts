// Re-validation at refresh (docs/IDENTITY-LIFECYCLE.md), end to end over real HTTP with a real oidc-provider as
// the upstream IdP (test/helpers/upstream-idp.ts): what the IdP decides after a login reaches the next refresh of
// every MCP token — a narrowed group meets the resource's rule, a person removed upstream loses every grant and
// session at once, an IdP outage answers temporarily_unavailable and never revokes, and concurrent refreshes of one
// person ask the IdP once (with PostgreSQL, across two instances).
import { CLI_ACTOR } from '../../src/admin/actor.js';
import { ConnectionAdmin } from '../../src/admin/connections.js';
import { authorizeThrough, authorizeUrl, Browser, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { connectionSpec } from '../helpers/connection-spec.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { formAction, MultiOriginBrowser } from '../helpers/multi-origin-browser.js';
import { freePort, startTestServer, TEST_RESOURCE, OTHER_RESOURCE, type TestServer } from '../helpers/server.js';
import { answerConsent, openAtGatehouse, registerMcpClient, startMockIdp, type McpClientUnderTest, type MockIdp } from '../helpers/upstream-idp.js';

const RESOURCES = JSON.stringify([
  { uri: TEST_RESOURCE, name: 'Example MCP', scopes: { 'tools:read': 'Read' }, default: true },
  // Only engineering may use this one: the rule is met at login and must be met again at every refresh.
  { uri: OTHER_RESOURCE, name: 'Engineering tools', scopes: { 'files:read': 'Read files' }, access: { groups: ['engineering'] } },
]);

let nextPort = 43100;

interface Setup {
  db: TestDatabase;
  idp: MockIdp;
  servers: TestServer[];
}

async function setUp(accounts: MockIdp['accounts'], env: Record<string, string> = {}, instances = 1, idpOptions: { rotateRefreshTokens?: boolean } = {}): Promise<Setup> {
  const port = await freePort();
  const idp = await startMockIdp({ gatehouseIssuer: `http://127.0.0.1:${port}`, accounts, ...idpOptions });
  const db = await createTestDatabase();
  const base = {
    ...db.env,
    RESOURCES,
    UPSTREAM_PROVIDER: 'oidc',
    UPSTREAM_ISSUER: idp.issuer,
    UPSTREAM_CLIENT_ID: idp.clientId,
    UPSTREAM_CLIENT_SECRET: idp.clientSecret,
    UPSTREAM_STORE_TOKENS: 'true',
    ...env,
  };
  const servers = [await startTestServer(base, port)];
  // Further instances share the database (PostgreSQL only).
  for (let i = 1; i < instances; i++) servers.push(await startTestServer(base));
  return { db, idp, servers };
}

async function tearDown(s: Setup | undefined): Promise<void> {
  for (const server of s?.servers ?? []) await server.close();
  await s?.idp.close();
  await s?.db.drop();
}

/**
 * A whole authorization as `sub`: through the IdP when Gatehouse has no session in this browser, past Gatehouse's
 * consent page when it shows one; the tokens, the client and the browser.
 */
async function signIn(s: Setup, sub: string, resource = TEST_RESOURCE, scope = 'tools:read', browser = new MultiOriginBrowser(), client?: McpClientUnderTest) {
  const gh = s.servers[0]!;
  const mcp = client ?? (await registerMcpClient(gh.issuer, `http://127.0.0.1:${nextPort++}/callback`));
  const { verifier, challenge } = pkcePair();
  const url = authorizeUrl(gh.issuer, { client_id: mcp.clientId, redirect_uri: mcp.redirectUri, code_challenge: challenge, code_challenge_method: 'S256', scope, resource, state: 'st' });
  const idpOrigin = new URL(s.idp.issuer).origin;
  const clientOrigin = new URL(mcp.redirectUri).origin;
  let step: Response | URL = await browser.open(url, (next) => next.origin === idpOrigin || next.origin === clientOrigin);
  if (step instanceof URL && step.origin === idpOrigin) step = await openAtGatehouse(browser, gh.issuer, await s.idp.login(browser, step, sub));
  if (step instanceof Response) step = await answerConsent(browser, gh.issuer, step, 'allow');
  if (!(step instanceof URL)) throw new Error(`flow ended on ${step.status}: ${(await step.text()).slice(0, 300)}`);
  const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: step.searchParams.get('code')!, code_verifier: verifier, client_id: mcp.clientId, redirect_uri: mcp.redirectUri });
  expect(tokens.status).toBe(200);
  return { refreshToken: String(tokens.body.refresh_token), client: mcp, browser };
}

const refresh = (server: TestServer, client: McpClientUnderTest, refreshToken: string) =>
  tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.clientId });

async function accountIdOf(s: Setup, sub: string): Promise<string> {
  const row = (await s.servers[0]!.services.handle.db('identities').where({ connection_id: 'oidc', subject: sub }).first('account_id')) as { account_id: string };
  return row.account_id;
}

/** The interval has passed: the last re-validation is set back in time (no test waits five minutes). */
async function intervalPassed(s: Setup, sub: string): Promise<void> {
  await s.servers[0]!.services.handle.db('identities').where({ connection_id: 'oidc', subject: sub }).update({ revalidation_checked_at: new Date(Date.now() - 3600_000) });
}

async function auditOf(s: Setup, type: string) {
  const rows = await s.servers[0]!.services.audit.recent({ type, limit: 100 });
  return rows.map((r) => ({ outcome: r.outcome as string, reason: r.reason as string | null, details: (typeof r.details === 'string' ? JSON.parse(r.details) : (r.details ?? {})) as Record<string, unknown> }));
}

describe('re-validation at refresh, with the default interval', () => {
  let s: Setup;
  const ADA = 'idp-ada-5c1e';
  const BOB = 'idp-bob-77d0';
  beforeAll(async () => {
    s = await setUp({
      [ADA]: { email: 'ada@example.com', email_verified: true, name: 'Ada', groups: ['engineering'] },
      [BOB]: { email: 'bob@example.com', email_verified: true, name: 'Bob', groups: ['engineering'] },
    });
  });
  afterAll(() => tearDown(s));

  it('asks the IdP only once the interval has passed; a removed group then meets the resource rule and the grant ends', async () => {
    const { refreshToken, client } = await signIn(s, ADA, OTHER_RESOURCE, 'files:read');
    s.idp.accounts[ADA]!.groups = [];
    // Within the interval the login still counts: no upstream call, the refresh goes on.
    const before = s.idp.tokenRequests();
    const within = await refresh(s.servers[0]!, client, refreshToken);
    expect(within.status).toBe(200);
    expect(s.idp.tokenRequests()).toBe(before);

    await intervalPassed(s, ADA);
    const after = await refresh(s.servers[0]!, client, String(within.body.refresh_token));
    expect(s.idp.tokenRequests()).toBe(before + 1);
    expect(after.status).toBe(400);
    expect(after.body.error).toBe('invalid_grant');
    // The account carries the IdP's groups of today, and the change is audited.
    const account = await s.servers[0]!.services.accounts.findById(await accountIdOf(s, ADA));
    expect(account?.groups).toEqual([]);
    expect((await auditOf(s, 'identity.revalidated')).find((e) => e.details.accountId === account?.id)?.details.changed).toEqual(['groups']);
    expect((await auditOf(s, 'token.refused')).some((e) => e.details.accountId === account?.id && /access rule/.test(e.reason ?? ''))).toBe(true);
  });

  it('when the IdP says the person is gone: invalid_grant, every grant and session of the account ended, deprovisioned, audited', async () => {
    const first = await signIn(s, BOB);
    const second = await signIn(s, BOB, TEST_RESOURCE, 'tools:read', first.browser);
    const gh = s.servers[0]!;
    const accountId = await accountIdOf(s, BOB);
    const sessionsBefore = await gh.services.handle.db('oidc_payloads').where({ model: 'Session' }).whereRaw(`payload::jsonb ->> 'accountId' = ?`, [accountId]).count('id as n').first();
    expect(Number((sessionsBefore as { n: string | number }).n)).toBeGreaterThan(0);

    delete s.idp.accounts[BOB]; // deactivated at the IdP: its refresh tokens are refused with invalid_grant
    await intervalPassed(s, BOB);
    const refused = await refresh(gh, first.client, first.refreshToken);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    // The other client's grant went with it, without asking the IdP again.
    const calls = s.idp.tokenRequests();
    expect((await refresh(gh, second.client, second.refreshToken)).body.error).toBe('invalid_grant');
    expect(s.idp.tokenRequests()).toBe(calls);
    const grants = (await gh.services.handle.db('oidc_payloads').where({ model: 'Grant' }).whereRaw(`payload::jsonb ->> 'accountId' = ?`, [accountId]).count('id as n').first()) as { n: string | number };
    expect(Number(grants.n)).toBe(0);
    const sessions = (await gh.services.handle.db('oidc_payloads').where({ model: 'Session' }).whereRaw(`payload::jsonb ->> 'accountId' = ?`, [accountId]).count('id as n').first()) as { n: string | number };
    expect(Number(sessions.n)).toBe(0);
    const account = await gh.services.accounts.findById(accountId);
    expect(account?.deprovisionedAt).toBeInstanceOf(Date);
    const deprovisioned = (await auditOf(s, 'account.deprovisioned')).filter((e) => e.details.accountId === accountId);
    expect(deprovisioned).toHaveLength(1);
    expect(deprovisioned[0]!.details).toMatchObject({ grantsRevoked: 2, connector: 'oidc' });
    expect(deprovisioned[0]!.reason).toMatch(/invalid_grant/);

    // Back at the IdP, the person signs in again: the deprovisioning ends with the IdP's new word.
    s.idp.accounts[BOB] = { email: 'bob@example.com', email_verified: true, name: 'Bob', groups: [] };
    const again = await signIn(s, BOB);
    expect((await gh.services.accounts.findById(accountId))?.deprovisionedAt).toBeNull();
    expect((await refresh(gh, again.client, again.refreshToken)).status).toBe(200);
  });

  it('a disabled connection is not asked: its people\'s refreshes need a new sign-in; enabled again, the IdP is asked again', async () => {
    const gh = s.servers[0]!;
    const CAT = 'idp-cat-2b7f';
    s.idp.accounts[CAT] = { email: 'cat@example.com', email_verified: true, name: 'Cat', groups: [] };
    // A second connection to the same IdP (the environment's cannot be disabled), keeping tokens so it can be asked.
    await gh.services.connections.add(connectionSpec('oidc', { id: 'second', name: 'Second IdP', issuer: s.idp.issuer, clientId: s.idp.clientId, clientSecret: s.idp.clientSecret, allowPrivateNetwork: true, storeTokens: true }), 'test');
    const admin = new ConnectionAdmin({ connections: gh.services.connections, audit: gh.services.audit, log: gh.services.log });
    const signInThroughSecond = async () => {
      const browser = new MultiOriginBrowser();
      const mcp = await registerMcpClient(gh.issuer, `http://127.0.0.1:${nextPort++}/callback`);
      const { verifier, challenge } = pkcePair();
      const page = await openAtGatehouse(browser, gh.issuer, authorizeUrl(gh.issuer, { client_id: mcp.clientId, redirect_uri: mcp.redirectUri, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE, state: 'st' }));
      if (!(page instanceof Response)) throw new Error(`expected the sign-in page, was sent to ${page.href}`);
      const toIdp = await browser.follow(await browser.postForm(formAction(await page.text(), page.url, 'Continue with Second IdP'), {}), (next) => next.origin !== new URL(gh.issuer).origin);
      if (!(toIdp instanceof URL)) throw new Error(`expected the IdP, got ${toIdp.status} ${toIdp.url}`);
      let step = await openAtGatehouse(browser, gh.issuer, await s.idp.login(browser, toIdp, CAT));
      if (step instanceof Response) step = await answerConsent(browser, gh.issuer, step, 'allow');
      if (!(step instanceof URL)) throw new Error(`flow ended on ${step.status}`);
      const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: step.searchParams.get('code')!, code_verifier: verifier, client_id: mcp.clientId, redirect_uri: mcp.redirectUri });
      expect(tokens.status).toBe(200);
      return { client: mcp, refreshToken: String(tokens.body.refresh_token) };
    };
    const passed = () => gh.services.handle.db('identities').where({ connection_id: 'second', subject: CAT }).update({ revalidation_checked_at: new Date(Date.now() - 3600_000) });
    try {
      const first = await signInThroughSecond();
      await admin.setEnabled(CLI_ACTOR, 'second', false);
      await passed();
      const before = s.idp.tokenRequests();
      const refused = await refresh(gh, first.client, first.refreshToken);
      expect(refused.status).toBe(400);
      expect(refused.body.error).toBe('invalid_grant');
      expect(s.idp.tokenRequests()).toBe(before);
      const identity = await gh.services.handle.db('identities').where({ connection_id: 'second', subject: CAT }).first();
      expect(identity).toMatchObject({ revalidation_outcome: 'login_required', revalidation_detail: 'the connection is disabled by an administrator' });
      expect((await auditOf(s, 'token.refused')).some((e) => e.details.connector === 'second' && e.reason === 'the person must sign in again: the connection is disabled by an administrator')).toBe(true);

      // Enabled again: the person signs in through it, and the next re-validation asks the IdP.
      await admin.setEnabled(CLI_ACTOR, 'second', true);
      const again = await signInThroughSecond();
      await passed();
      const asked = s.idp.tokenRequests();
      expect((await refresh(gh, again.client, again.refreshToken)).status).toBe(200);
      expect(s.idp.tokenRequests()).toBe(asked + 1);
    } finally {
      await gh.services.connections.remove('second');
    }
  });
});

describe('an IdP outage', () => {
  it('a refresh token refused after an unanswered refresh (it may have been spent then): sign in again, nothing revoked or marked', async () => {
    const FAY = 'idp-fay-9c2d';
    let s: Setup | undefined;
    try {
      s = await setUp({ [FAY]: { email: 'fay@example.com', email_verified: true, groups: [] } }, {}, 1, { rotateRefreshTokens: true });
      const gh = s.servers[0]!;
      const first = await signIn(s, FAY);
      const second = await signIn(s, FAY, TEST_RESOURCE, 'tools:read', first.browser);
      const accountId = await accountIdOf(s, FAY);
      // The last attempt was an outage, and the IdP rotated the upstream refresh token in an answer that never came back.
      const stored = await gh.services.upstreamTokens.find(accountId, 'oidc');
      const spent = await fetch(`${s.idp.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stored!.refreshToken!, client_id: s.idp.clientId, client_secret: s.idp.clientSecret }),
      });
      expect(spent.status).toBe(200);
      await gh.services.handle.db('identities').where({ connection_id: 'oidc', subject: FAY }).update({ revalidation_outcome: 'unavailable', revalidation_checked_at: new Date(Date.now() - 3600_000) });

      const refused = await refresh(gh, first.client, first.refreshToken);
      expect(refused.body.error).toBe('invalid_grant');
      const calls = s.idp.tokenRequests();
      expect((await refresh(gh, second.client, second.refreshToken)).body.error).toBe('invalid_grant');
      expect(s.idp.tokenRequests()).toBe(calls);
      // Not deprovisioned, nothing revoked: the person signs in again and the IdP decides.
      expect((await gh.services.accounts.findById(accountId))?.deprovisionedAt).toBeNull();
      const grants = (await gh.services.handle.db('oidc_payloads').where({ model: 'Grant' }).whereRaw(`payload::jsonb ->> 'accountId' = ?`, [accountId]).count('id as n').first()) as { n: string | number };
      expect(Number(grants.n)).toBe(2);
      expect((await auditOf(s, 'account.deprovisioned')).length).toBe(0);
      expect((await auditOf(s, 'identity.revalidation_failed')).some((e) => e.details.loginRequired === true)).toBe(true);
      const again = await signIn(s, FAY, TEST_RESOURCE, 'tools:read', new MultiOriginBrowser());
      expect((await refresh(gh, again.client, again.refreshToken)).status).toBe(200);
    } finally {
      await tearDown(s);
    }
  });


  const CY = 'idp-cy-0a9b';
  const DEE = 'idp-dee-4e21';

  it('fail-closed (the default): temporarily_unavailable with Retry-After, nothing revoked; the same refresh token works once the IdP is back', async () => {
    let s: Setup | undefined;
    try {
      s = await setUp({ [CY]: { email: 'cy@example.com', email_verified: true, groups: [] } });
      const gh = s.servers[0]!;
      const { refreshToken, client } = await signIn(s, CY);
      s.idp.down = true;
      await intervalPassed(s, CY);
      const during = await refresh(gh, client, refreshToken);
      expect(during.status).toBe(503);
      expect(during.body.error).toBe('temporarily_unavailable');
      expect(Number(during.headers.get('retry-after'))).toBeGreaterThan(0);
      const accountId = await accountIdOf(s, CY);
      expect((await gh.services.accounts.findById(accountId))?.deprovisionedAt).toBeNull();
      expect((await auditOf(s, 'identity.revalidation_failed')).some((e) => e.details.accountId === accountId)).toBe(true);
      expect((await auditOf(s, 'account.deprovisioned')).length).toBe(0);

      s.idp.down = false;
      await intervalPassed(s, CY);
      expect((await refresh(gh, client, refreshToken)).status).toBe(200);
    } finally {
      await tearDown(s);
    }
  });

  it('fail-open: refreshes go on within UPSTREAM_REVALIDATE_GRACE of the last time the IdP vouched, then temporarily_unavailable', async () => {
    let s: Setup | undefined;
    try {
      s = await setUp({ [DEE]: { email: 'dee@example.com', email_verified: true, groups: [] } }, { UPSTREAM_REVALIDATE_FAIL_OPEN: 'true', UPSTREAM_REVALIDATE_GRACE: '3600' });
      const gh = s.servers[0]!;
      const { refreshToken, client } = await signIn(s, DEE);
      s.idp.down = true;
      await intervalPassed(s, DEE);
      const within = await refresh(gh, client, refreshToken);
      expect(within.status).toBe(200);

      // The IdP last vouched two hours ago: past the grace, the outage refuses (and still revokes nothing).
      await gh.services.handle.db('identities').where({ connection_id: 'oidc', subject: DEE }).update({ revalidated_at: new Date(Date.now() - 2 * 3600_000), revalidation_checked_at: new Date(Date.now() - 3600_000) });
      const past = await refresh(gh, client, String(within.body.refresh_token));
      expect(past.status).toBe(503);
      expect(past.body.error).toBe('temporarily_unavailable');
      s.idp.down = false;
      await intervalPassed(s, DEE);
      expect((await refresh(gh, client, String(within.body.refresh_token))).status).toBe(200);
    } finally {
      await tearDown(s);
    }
  });
});

describe('single flight', () => {
  it('20 concurrent refreshes of one person ask the IdP once (two instances on PostgreSQL, one on the embedded database)', async () => {
    const EVE = 'idp-eve-31f8';
    const instances = process.env.TEST_DATABASE_URL ? 2 : 1;
    let s: Setup | undefined;
    try {
      s = await setUp({ [EVE]: { email: 'eve@example.com', email_verified: true, groups: ['engineering'] } }, {}, instances);
      // Twenty refresh tokens of the same person: twenty authorizations of one client in one browser.
      const browser = new MultiOriginBrowser();
      const first = await signIn(s, EVE, TEST_RESOURCE, 'tools:read', browser);
      const tokens = [first.refreshToken];
      while (tokens.length < 20) tokens.push((await signIn(s, EVE, TEST_RESOURCE, 'tools:read', browser, first.client)).refreshToken);
      s.idp.accounts[EVE]!.groups = ['engineering', 'platform'];
      await intervalPassed(s, EVE);
      const before = s.idp.tokenRequests();
      const answers = await Promise.all(tokens.map((t, i) => refresh(s!.servers[i % instances]!, first.client, t)));
      expect(answers.map((a) => a.status)).toEqual(tokens.map(() => 200));
      expect(s.idp.tokenRequests() - before).toBe(1);
      const account = await s.servers[0]!.services.accounts.findById(await accountIdOf(s, EVE));
      expect(account?.groups).toEqual(['engineering', 'platform']);
    } finally {
      await tearDown(s);
    }
  });
});

describe('local accounts', () => {
  it('are read again at refresh: a local account disabled in the user store is gone at the next refresh', async () => {
    const db = await createTestDatabase();
    const gh = await startTestServer({ ...db.env, UPSTREAM_REVALIDATE_INTERVAL: '0' });
    try {
      const user = { email: 'lou@example.com', password: 'a long enough password' };
      const created = await gh.services.users.create(user);
      const client = await registerPublicClient(gh.issuer, ['http://127.0.0.1:43999/cb']);
      const { verifier, challenge } = pkcePair();
      const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, { client_id: client.client_id, redirect_uri: 'http://127.0.0.1:43999/cb', code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE }, user);
      const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: client.client_id, redirect_uri: 'http://127.0.0.1:43999/cb' });
      const ok = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: String(tokens.body.refresh_token), client_id: client.client_id });
      expect(ok.status).toBe(200);
      await gh.services.users.setDisabled(created.id, true);
      const refused = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: String(ok.body.refresh_token), client_id: client.client_id });
      expect(refused.body.error).toBe('invalid_grant');
      expect((await gh.services.accounts.findById(created.id))?.deprovisionedAt).toBeInstanceOf(Date);
      const rows = await gh.services.audit.recent({ type: 'account.deprovisioned', limit: 10 });
      expect(rows.map((r) => r.reason)).toEqual(['the local account is disabled']);
    } finally {
      await gh.close();
      await db.drop();
    }
  });
});
