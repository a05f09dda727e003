// Narrowing a policy ends access (issue 15, finding 7; oauth/policies/hooks/current-access.ts). ALLOWED_EMAIL_DOMAINS,
// ALLOWED_GROUPS and the resources' access rules used to be applied at login and consent only, so a person they
// now exclude kept a 14-day session (and could approve new clients with it) and 30-day refresh tokens. Each test
// narrows the policy the way an administrator does (the policy settings the console writes, a resource's rule) and
// checks that the next refresh, or the next authorization a remembered session would have skipped the login page
// for, is refused: invalid_grant or the sign-in page, the grant revoked, the session ended, the reason audited.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { authorizeUrl, Browser, login, pkcePair, registerPublicClient, tokenRequest, consent } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { consentedCode, redeemCode } from '../helpers/grants.js';
import { DEFAULT_RESOURCES, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const REDIRECT = 'http://127.0.0.1:45177/cb';
const PASSWORD = 'a passphrase long enough 123';
let db: TestDatabase;
let gh: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
});

afterEach(async () => {
  // Each test narrows something; the next one starts from the environment's policy and the seeded resources.
  await gh.services.policy.reset('ALLOWED_EMAIL_DOMAINS');
  await gh.services.policy.reset('ALLOWED_GROUPS');
  const seeded = (JSON.parse(DEFAULT_RESOURCES) as Array<{ uri: string }>).find((r) => r.uri === TEST_RESOURCE)!;
  await gh.services.resources.upsert(seeded as never);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

/** A person's consented grant on TEST_RESOURCE (tools:read) and its first refresh token. */
async function granted() {
  const g = await consentedCode(gh, REDIRECT);
  const tokens = await redeemCode(gh, g);
  const grantId = ((await gh.services.handle.db('consents').where({ account_id: g.accountId, client_id: g.clientId }).first('grant_id')) as { grant_id: string }).grant_id;
  return { ...g, grantId, refreshToken: tokens.refresh_token };
}

const refresh = (g: { clientId: string; refreshToken: string }) => tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: g.refreshToken, client_id: g.clientId });

async function expectGrantGone(grantId: string) {
  expect(await gh.services.handle.db('oidc_payloads').where({ grant_id: grantId })).toEqual([]);
  expect(await gh.services.handle.db('oidc_payloads').where({ model: 'Grant', id: grantId })).toEqual([]);
  expect(await gh.services.handle.db('consents').where({ grant_id: grantId })).toEqual([]);
}

async function latestAudit(type: string) {
  const [row] = await gh.services.audit.recent({ type, limit: 1 });
  return row as { outcome: string; reason: string; actor: string } | undefined;
}

async function expectRefusedRefresh(g: Awaited<ReturnType<typeof granted>>, reason: RegExp) {
  const res = await refresh(g);
  expect(res.status).toBe(400);
  expect(res.body.error).toBe('invalid_grant');
  expect(res.body.access_token).toBeUndefined();
  // The whole grant went with it: its refresh tokens, the grant and the remembered consent.
  await expectGrantGone(g.grantId);
  // Audited with the reason and the person (oidc-provider's own invalid_grant row follows it).
  const rows = await gh.services.handle.db('audit_events').where({ type: 'token.refused', client_id: g.clientId }).whereLike('reason', '%no longer admits%');
  expect(rows).toEqual([expect.objectContaining({ outcome: 'failure', reason: expect.stringMatching(reason), actor: expect.stringMatching(/@example\.com$/), resource: TEST_RESOURCE })]);
}

describe('policy narrowing ends a code in flight', () => {
  it('a code issued before ALLOWED_EMAIL_DOMAINS was narrowed is refused at /token (invalid_grant), its grant revoked, audited', async () => {
    const g = await consentedCode(gh, REDIRECT);
    await gh.services.policy.set('ALLOWED_EMAIL_DOMAINS', 'other.example', 'admin@example.com');
    const res = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: g.code, code_verifier: g.verifier, client_id: g.clientId, redirect_uri: g.redirectUri });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    expect(res.body.access_token).toBeUndefined();
    const rows = await gh.services.handle.db('audit_events').where({ type: 'token.refused', client_id: g.clientId }).whereLike('reason', '%no longer admits%');
    expect(rows).toEqual([expect.objectContaining({ outcome: 'failure', reason: expect.stringMatching(/email domain example\.com not allowed/) })]);
    expect(await gh.services.handle.db('consents').where({ account_id: g.accountId, client_id: g.clientId })).toEqual([]);
  });
});

describe('policy narrowing ends the next refresh', () => {
  it('ALLOWED_EMAIL_DOMAINS narrowed in the policy settings: the next refresh is invalid_grant, the grant revoked, audited', async () => {
    const g = await granted();
    const before = await refresh(g); // admitted until now
    expect(before.status).toBe(200);
    const fresh = { ...g, refreshToken: before.body.refresh_token as string };
    await gh.services.policy.set('ALLOWED_EMAIL_DOMAINS', 'other.example', 'admin@example.com');
    await expectRefusedRefresh(fresh, /^the sign-in policy no longer admits this person: email domain example\.com not allowed/);
    // Widened again, the revoked grant stays revoked: its refresh token is gone, not merely paused.
    await gh.services.policy.reset('ALLOWED_EMAIL_DOMAINS');
    expect((await refresh(fresh)).status).toBe(400);
  });

  it('ALLOWED_GROUPS narrowed: a person outside the groups loses the grant, a person inside keeps refreshing', async () => {
    const outside = await granted();
    const inside = await granted();
    // Groups as the last login stored them (an IdP's groups claim).
    await gh.services.handle.db('accounts').where({ id: outside.accountId }).update({ groups: JSON.stringify(['sales']) });
    await gh.services.handle.db('accounts').where({ id: inside.accountId }).update({ groups: JSON.stringify(['engineering']) });
    await gh.services.policy.set('ALLOWED_GROUPS', 'engineering', 'admin@example.com');
    await expectRefusedRefresh(outside, /^the sign-in policy no longer admits this person: not in an allowed group/);
    const ok = await refresh(inside);
    expect(ok.status).toBe(200);
    expect(ok.body.refresh_token).toBeTruthy();
  });

  it('a resource access rule tightened after consent: the next refresh is invalid_grant, the grant revoked, audited', async () => {
    const g = await granted();
    await gh.services.resources.upsert({ uri: TEST_RESOURCE, name: 'Example MCP', default: true, access: { email_domains: ['other.example'], groups: [] }, scopes: { 'tools:read': 'List and call read-only tools', 'tools:write': 'Call tools that change data' } } as never);
    await expectRefusedRefresh(g, /^the access rule no longer admits this person: not allowed to use Example MCP/);
  });

  it('a scope\'s access rule tightened after consent: the refresh of a token holding that scope is refused', async () => {
    const g = await granted();
    await gh.services.resources.upsert({ uri: TEST_RESOURCE, name: 'Example MCP', default: true, scopes: { 'tools:read': { description: 'List and call read-only tools', access: { groups: ['readers'] } }, 'tools:write': 'Call tools that change data' } } as never);
    await expectRefusedRefresh(g, /^the access rule no longer admits this person: not allowed the scope tools:read on Example MCP/);
  });
});

/** A person signed in through the real pages in `browser`, with a consented client (the remembered grant). */
async function signedIn() {
  const user = { email: `silent-${Math.random().toString(36).slice(2, 10)}@example.com`, password: PASSWORD };
  const accountId = (await gh.services.users.create(user)).id;
  const browser = new Browser(gh.issuer);
  const first = await authorizeFor(browser, await registerPublicClient(gh.issuer, [REDIRECT]));
  let step = await login(browser, first as Response, user.email, user.password);
  step = await consent(browser, step as Response, 'allow');
  expect(step).toBeInstanceOf(URL);
  const grantId = ((await gh.services.handle.db('consents').where({ account_id: accountId }).first('grant_id')) as { grant_id: string }).grant_id;
  return { user, accountId, browser, grantId, clientId: (await gh.services.handle.db('consents').where({ account_id: accountId }).first('client_id')).client_id as string };
}

async function authorizeFor(browser: Browser, client: { client_id: string }) {
  const { challenge } = pkcePair();
  const url = authorizeUrl(gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE });
  return browser.follow(await browser.get(url));
}

const sessionCookie = (browser: Browser) => browser.jar.header(`${gh.issuer}/authorize`).split('; ').find((c) => c.startsWith('_session='));

describe('policy narrowing ends the next silent authorization', () => {
  it('a signed-in session is not silently taken to consent for a new client: the person is back at sign-in, which refuses them; audited', async () => {
    const person = await signedIn();
    // Before the change the session skips the login page: a new client goes straight to the consent page.
    const before = await authorizeFor(person.browser, await registerPublicClient(gh.issuer, [REDIRECT]));
    expect(await (before as Response).text()).toContain('name="decision"');
    const oldSession = sessionCookie(person.browser);

    await gh.services.policy.set('ALLOWED_EMAIL_DOMAINS', 'other.example', 'admin@example.com');
    const after = await authorizeFor(person.browser, await registerPublicClient(gh.issuer, [REDIRECT]));
    expect(after).toBeInstanceOf(Response);
    const html = await (after as Response).clone().text();
    expect(html).not.toContain('name="decision"');
    expect(html).toContain('name="password"'); // the sign-in page: the session's login is over
    expect(sessionCookie(person.browser)).not.toBe(oldSession); // a new session id; the old one is gone
    expect(await latestAudit('authorization.refused')).toMatchObject({
      outcome: 'failure',
      reason: expect.stringMatching(/^the sign-in policy no longer admits this person: email domain example\.com not allowed; session ended/),
      actor: person.user.email,
    });

    // Signing in again meets the same policy: the refusal page, audited as a failed login.
    const refused = await login(person.browser, after as Response, person.user.email, person.user.password);
    expect(refused).toBeInstanceOf(Response);
    expect((refused as Response).status).toBe(403);
    expect(await latestAudit('login')).toMatchObject({ outcome: 'failure', reason: 'email domain example.com not allowed' });
  });

  it('a remembered client: not silently authorized, its remembered grant revoked, the session ended', async () => {
    const person = await signedIn();
    await gh.services.handle.db('accounts').where({ id: person.accountId }).update({ groups: JSON.stringify(['sales']) });
    await gh.services.policy.set('ALLOWED_GROUPS', 'engineering', 'admin@example.com');

    const after = await authorizeFor(person.browser, { client_id: person.clientId });
    expect(after).toBeInstanceOf(Response); // no redirect to the client with a code
    expect(await (after as Response).text()).toContain('name="password"');
    await expectGrantGone(person.grantId);
    expect(await latestAudit('authorization.refused')).toMatchObject({
      reason: expect.stringMatching(/^the sign-in policy no longer admits this person: not in an allowed group; session ended, grant revoked/),
      actor: person.user.email,
    });
    // The ended session cannot be brought back: the next authorization asks for a sign-in again.
    const again = await authorizeFor(person.browser, { client_id: person.clientId });
    expect(await (again as Response).text()).toContain('name="password"');
  });

  it('a remembered grant whose resource rule was tightened is revoked at the next authorization, which is refused', async () => {
    const person = await signedIn();
    await gh.services.resources.upsert({ uri: TEST_RESOURCE, name: 'Example MCP', default: true, access: { email_domains: ['other.example'], groups: [] }, scopes: { 'tools:read': 'List and call read-only tools', 'tools:write': 'Call tools that change data' } } as never);
    const after = await authorizeFor(person.browser, { client_id: person.clientId });
    expect(after).toBeInstanceOf(Response);
    expect((after as Response).status).toBe(403); // the consent page's denial (resource-access.ts)
    await expectGrantGone(person.grantId);
    const rows = await gh.services.handle.db('audit_events').where({ type: 'authorization.refused', client_id: person.clientId }).whereLike('reason', '%remembered grant revoked%');
    expect(rows).toHaveLength(1);
  });
});
