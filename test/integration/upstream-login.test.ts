// Logging in through an upstream OpenID Provider (issue 4), end to end over real HTTP: an MCP client's /authorize
// at Gatehouse → Gatehouse's bound handshake with the IdP (a real oidc-provider, test/helpers/upstream-idp.ts) →
// identity linking and the access policy → Gatehouse's own consent page → code → JWT access token. The IdP is only
// ever Gatehouse's identity source: the MCP client's token names Gatehouse's account, never the IdP's subject,
// tokens or issuer, and consent is Gatehouse's per MCP client, whatever the IdP remembered.
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { authorizeUrl, pkcePair, tokenRequest } from '../helpers/browser-flow.js';
import { connectionSpec } from '../helpers/connection-spec.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { formAction, MultiOriginBrowser } from '../helpers/multi-origin-browser.js';
import { freePort, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import {
  answerConsent,
  openAtGatehouse,
  registerMcpClient,
  startAtGatehouse,
  startMockIdp,
  type McpClientUnderTest,
  type MockIdp,
} from '../helpers/upstream-idp.js';

// IdP subjects are opaque ids, deliberately unlike anything Gatehouse would generate.
const ADA = 'idp-sub-ada-7f3a9c';
const ADA_TWIN = 'idp-sub-ada-twin-51e0'; // a second IdP account claiming Ada's (verified) email
const GRACE = 'idp-sub-grace-2b8d4e';
const LIN = 'idp-sub-lin-c41f07';
const KEN = 'idp-sub-ken-90aa13';
const ROOT_UNVERIFIED = 'idp-sub-root-unverified-3c2d';

let db: TestDatabase;
let gh: TestServer;
let idp: MockIdp;

beforeAll(async () => {
  const port = await freePort();
  idp = await startMockIdp({
    gatehouseIssuer: `http://127.0.0.1:${port}`,
    accounts: {
      [ADA]: { email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace', groups: ['engineering'] },
      [ADA_TWIN]: { email: 'ada@example.com', email_verified: true, name: 'Ada (other account)', groups: [] },
      [GRACE]: { email: 'grace@example.com', email_verified: true, name: 'Grace Hopper', groups: ['navy'] },
      [LIN]: { email: 'lin@example.com', email_verified: true, name: 'Lin', groups: ['engineering'] },
      [KEN]: { email: 'ken@example.com', email_verified: true, name: 'Ken', groups: [] },
      [ROOT_UNVERIFIED]: { email: 'root@example.com', email_verified: false, name: 'Not really root', groups: [] },
    },
  });
  db = await createTestDatabase();
  gh = await startTestServer(
    {
      ...db.env,
      UPSTREAM_PROVIDER: 'oidc',
      UPSTREAM_ISSUER: idp.issuer,
      UPSTREAM_CLIENT_ID: idp.clientId,
      UPSTREAM_CLIENT_SECRET: idp.clientSecret,
      // Keep the upstream tokens (asks the IdP for offline_access), so we can prove none of them leaks out.
      UPSTREAM_STORE_TOKENS: 'true',
      ADMIN_EMAILS: 'root@example.com',
    },
    port,
  );
});

afterAll(async () => {
  await gh?.close();
  await idp?.close();
  await db?.drop();
});

let nextPort = 42100;
const newClient = (name: string) => registerMcpClient(gh.issuer, `http://127.0.0.1:${nextPort++}/callback`, name);

async function audit(server: TestServer, type: string) {
  const rows = await server.services.audit.recent({ type, limit: 200 });
  return rows.map((r) => ({
    outcome: r.outcome as string,
    reason: r.reason as string | null,
    client_id: r.client_id as string | null,
    details: (typeof r.details === 'string' ? JSON.parse(r.details) : (r.details ?? {})) as Record<string, unknown>,
  }));
}

async function accountOf(server: TestServer, issuer: string, subject: string): Promise<string | undefined> {
  const row = (await server.services.handle.db('identities').where({ connection_id: 'oidc', issuer, subject }).first('account_id')) as { account_id: string } | undefined;
  return row?.account_id;
}

/** Follows a code to the token endpoint and verifies the access token against Gatehouse's /jwks. */
async function redeem(server: TestServer, client: McpClientUnderTest, callback: URL, verifier: string) {
  const code = callback.searchParams.get('code');
  expect(code).toBeTruthy();
  const tokens = await tokenRequest(server.issuer, {
    grant_type: 'authorization_code',
    code: code!,
    code_verifier: verifier,
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
  });
  expect(tokens.status).toBe(200);
  const { payload } = await jwtVerify(tokens.body.access_token as string, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), {
    issuer: server.issuer,
    audience: TEST_RESOURCE,
    typ: 'at+jwt',
  });
  return { tokens, payload };
}

/**
 * One whole authorization in `browser`: Gatehouse → IdP (logging in as `sub` if the IdP asks) → Gatehouse → its
 * consent page if it shows one (answered Allow) → the client's redirect URI → tokens.
 */
async function signInThrough(server: TestServer, provider: MockIdp, browser: MultiOriginBrowser, client: McpClientUnderTest, sub?: string) {
  const started = await startAtGatehouse(browser, server.issuer, provider, client);
  const callback = await provider.login(browser, started.idpUrl, sub);
  let step = await openAtGatehouse(browser, server.issuer, callback);
  const consentShown = step instanceof Response && step.status === 200;
  if (step instanceof Response) step = await answerConsent(browser, server.issuer, step, 'allow');
  if (!(step instanceof URL)) throw new Error(`flow ended on ${step.status} ${step.url}: ${(await step.text()).slice(0, 400)}`);
  expect(`${step.origin}${step.pathname}`).toBe(client.redirectUri);
  expect(step.searchParams.get('state')).toBe(started.state);
  return { ...started, consentShown, ...(await redeem(server, client, step, started.verifier)) };
}

describe('the whole MCP flow through the upstream IdP', () => {
  it('authorize → IdP login → Gatehouse consent → code → a JWT for the resource whose subject is the linked account', async () => {
    const client = await newClient('Flow Client');
    const browser = new MultiOriginBrowser('ada');
    const started = await startAtGatehouse(browser, gh.issuer, idp, client);

    // Gatehouse's own request to the IdP: its static client, PKCE S256, its own state and nonce, none of the MCP
    // client's parameters (the IdP never sees the MCP resource, client id or state).
    const upstream = started.idpUrl.searchParams;
    expect(`${started.idpUrl.origin}${started.idpUrl.pathname}`).toBe(`${idp.issuer}/auth`);
    expect(upstream.get('client_id')).toBe(idp.clientId);
    expect(upstream.get('redirect_uri')).toBe(`${gh.issuer}/upstream/callback`);
    expect(upstream.get('code_challenge_method')).toBe('S256');
    expect(upstream.get('code_challenge')).toBeTruthy();
    expect(upstream.get('nonce')).toBeTruthy();
    expect(upstream.get('state')).toBeTruthy();
    expect(upstream.get('state')).not.toBe(started.state);
    expect(upstream.get('scope')!.split(' ')).toEqual(expect.arrayContaining(['openid', 'email', 'profile', 'offline_access']));
    expect(upstream.has('resource')).toBe(false);
    expect([...upstream.values()]).not.toContain(client.clientId);
    expect([...upstream.values()]).not.toContain(started.state);

    const callback = await idp.login(browser, started.idpUrl, ADA);
    expect(`${callback.origin}${callback.pathname}`).toBe(`${gh.issuer}/upstream/callback`);
    expect(callback.searchParams.get('iss')).toBe(idp.issuer);

    // Back at Gatehouse: its consent page for this client, naming the person the IdP vouched for.
    const page = await openAtGatehouse(browser, gh.issuer, callback);
    expect(page).toBeInstanceOf(Response);
    const consentPage = page as Response;
    expect(consentPage.status).toBe(200);
    const html = await consentPage.clone().text();
    expect(html).toContain('Flow Client');
    expect(html).toContain('ada@example.com');
    expect(html).toMatch(/<button[^>]*>Allow<\/button>/);

    const redirect = await answerConsent(browser, gh.issuer, consentPage, 'allow');
    expect(redirect).toBeInstanceOf(URL);
    const toClient = redirect as URL;
    expect(`${toClient.origin}${toClient.pathname}`).toBe(client.redirectUri);
    expect(toClient.searchParams.get('iss')).toBe(gh.issuer);
    expect(toClient.searchParams.get('state')).toBe(started.state);

    const { tokens, payload } = await redeem(gh, client, toClient, started.verifier);
    const accountId = await accountOf(gh, idp.issuer, ADA);
    expect(accountId).toBeTruthy();
    expect(payload.sub).toBe(accountId);
    expect(payload.sub).not.toBe(ADA);
    expect(payload.aud).toBe(TEST_RESOURCE);
    expect(payload.iss).toBe(gh.issuer);
    expect(payload.client_id).toBe(client.clientId);
    expect(await gh.services.accounts.identities(accountId!)).toEqual([{ connectionId: 'oidc', issuer: idp.issuer, subject: ADA }]);

    // The upstream tokens stayed in Gatehouse (sealed); nothing of the IdP reaches the MCP client.
    const kept = await gh.services.upstreamTokens.find(accountId!, 'oidc');
    expect(kept?.accessToken).toBeTruthy();
    expect(kept?.refreshToken).toBeTruthy(); // offline_access was asked, and the IdP issued one
    const everything = JSON.stringify({ body: tokens.body, payload, header: decodeProtectedHeader(tokens.body.access_token as string) });
    for (const upstreamValue of [kept!.accessToken!, kept!.refreshToken!, idp.issuer, ADA, idp.clientId]) {
      expect(everything).not.toContain(upstreamValue);
    }
    expect(tokens.body.id_token).toBeUndefined();

    const logins = await audit(gh, 'login');
    expect(logins.find((e) => e.outcome === 'success' && e.details.accountId === accountId)).toMatchObject({ outcome: 'success', client_id: client.clientId });
  });
});

describe('identity linking: by (connection, issuer, subject), never by email', () => {
  it('links the same person to the same account on every login', async () => {
    const client = await newClient('Linking Client');
    const first = await signInThrough(gh, idp, new MultiOriginBrowser('grace-1'), client, GRACE);
    // A different browser: a fresh IdP login and a fresh Gatehouse session.
    const second = await signInThrough(gh, idp, new MultiOriginBrowser('grace-2'), client, GRACE);
    expect(second.payload.sub).toBe(first.payload.sub);
    expect(await accountOf(gh, idp.issuer, GRACE)).toBe(first.payload.sub);
    const rows = (await gh.services.handle.db('identities').where({ subject: GRACE })) as unknown[];
    expect(rows).toHaveLength(1);
  });

  it('gives a second IdP account with the same verified email its own, different account', async () => {
    const client = await newClient('Twin Client');
    const ada = await signInThrough(gh, idp, new MultiOriginBrowser('ada-again'), client, ADA);
    const twin = await signInThrough(gh, idp, new MultiOriginBrowser('ada-twin'), client, ADA_TWIN);
    expect(twin.payload.sub).not.toBe(ada.payload.sub);
    const a = await gh.services.accounts.findById(ada.payload.sub!);
    const t = await gh.services.accounts.findById(twin.payload.sub!);
    expect(a?.email).toBe('ada@example.com');
    expect(t?.email).toBe('ada@example.com');
    expect(t?.name).toBe('Ada (other account)');
    expect(await gh.services.accounts.identities(twin.payload.sub!)).toEqual([{ connectionId: 'oidc', issuer: idp.issuer, subject: ADA_TWIN }]);
  });

  it('refreshes the name and groups from the IdP at the next login', async () => {
    const client = await newClient('Profile Client');
    const browser = new MultiOriginBrowser('lin');
    const first = await signInThrough(gh, idp, browser, client, LIN);
    const before = await gh.services.accounts.findById(first.payload.sub!);
    expect(before).toMatchObject({ name: 'Lin', groups: ['engineering'] });

    idp.accounts[LIN] = { ...idp.accounts[LIN], name: 'Lin Chen', groups: ['engineering', 'platform'] };
    // Gatehouse's session ends; the IdP's does not (the second login there is silent, the ID token fresh).
    browser.forgetOrigin(gh.issuer);
    const second = await signInThrough(gh, idp, browser, client);
    expect(second.payload.sub).toBe(first.payload.sub);
    const after = await gh.services.accounts.findById(first.payload.sub!);
    expect(after).toMatchObject({ name: 'Lin Chen', groups: ['engineering', 'platform'] });
    expect(after!.lastLoginAt!.getTime()).toBeGreaterThanOrEqual(before!.lastLoginAt!.getTime());
    const identity = (await gh.services.handle.db('identities').where({ subject: LIN }).first()) as { name: string };
    expect(identity.name).toBe('Lin Chen');
  });
});

describe('consent is Gatehouse\'s, per MCP client, never inferred from the IdP', () => {
  it('shows its consent page to a new client B although the IdP re-authenticated the person silently', async () => {
    const clientA = await newClient('Client A');
    const clientB = await newClient('Client B');
    const browser = new MultiOriginBrowser('ken');
    const a = await signInThrough(gh, idp, browser, clientA, KEN);
    expect(a.consentShown).toBe(true);

    // Gatehouse's session is gone (expired, or its cookies cleared); the IdP's session and grant remain.
    browser.forgetOrigin(gh.issuer);
    const pagesBefore = idp.loginPagesShown.length;
    const started = await startAtGatehouse(browser, gh.issuer, idp, clientB);
    const callback = await idp.login(browser, started.idpUrl); // no account given: the IdP must not ask
    expect(idp.loginPagesShown.length).toBe(pagesBefore);

    const page = await openAtGatehouse(browser, gh.issuer, callback);
    expect(page).toBeInstanceOf(Response);
    const consentPage = page as Response;
    expect(consentPage.status).toBe(200);
    const html = await consentPage.clone().text();
    expect(html).toContain('Client B');
    expect(html).toMatch(/<button[^>]*>Allow<\/button>/);
    expect(html).toMatch(/<button[^>]*>Deny<\/button>/);

    // Denying it sends client B access_denied, and no code.
    const denied = await answerConsent(browser, gh.issuer, consentPage, 'deny');
    expect(denied).toBeInstanceOf(URL);
    expect((denied as URL).searchParams.get('error')).toBe('access_denied');
    expect((denied as URL).searchParams.get('state')).toBe(started.state);
    expect((denied as URL).searchParams.has('code')).toBe(false);
  });
});

describe('the IdP refuses the person', () => {
  it('sends the MCP client access_denied (with its own state) when the IdP answers error=access_denied', async () => {
    const client = await newClient('Cancel Client');
    const browser = new MultiOriginBrowser('cancels');
    const started = await startAtGatehouse(browser, gh.issuer, idp, client, { state: 'client-state-cancel' });
    const callback = await idp.cancel(browser, started.idpUrl);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe(started.idpUrl.searchParams.get('state'));

    const result = await openAtGatehouse(browser, gh.issuer, callback);
    expect(result).toBeInstanceOf(URL);
    const toClient = result as URL;
    expect(`${toClient.origin}${toClient.pathname}`).toBe(client.redirectUri);
    expect(toClient.searchParams.get('error')).toBe('access_denied');
    expect(toClient.searchParams.get('state')).toBe('client-state-cancel');
    expect(toClient.searchParams.get('iss')).toBe(gh.issuer);
    expect(toClient.searchParams.has('code')).toBe(false);
    const failures = await audit(gh, 'login');
    expect(failures.find((e) => e.outcome === 'failure' && e.client_id === client.clientId)?.reason).toBe('identity provider returned access_denied');
  });

  it('checks the upstream state first: a forged error=access_denied with another state ends on an error page, not at the client', async () => {
    const client = await newClient('Forged Cancel Client');
    const browser = new MultiOriginBrowser('forged-cancel');
    const started = await startAtGatehouse(browser, gh.issuer, idp, client, { state: 'client-state-forged' });
    const forged = new URL(`${gh.issuer}/upstream/callback`);
    forged.search = new URLSearchParams({ error: 'access_denied', state: 'not-the-state-gatehouse-sent', iss: idp.issuer }).toString();

    const result = await openAtGatehouse(browser, gh.issuer, forged);
    expect(result).toBeInstanceOf(Response);
    expect((result as Response).status).toBe(400);
    expect(browser.history.some((h) => h.url.startsWith(client.redirectUri))).toBe(false);
    const events = await audit(gh, 'upstream.callback');
    expect(events.find((e) => e.details.interaction === started.uid)).toMatchObject({ outcome: 'failure', reason: expect.stringMatching(/^state mismatch/) });
  });
});

describe('a connection an administrator disables while the person is at the IdP', () => {
  it('ends the sign-in on a 403 page naming it: audited, nobody signed in or linked, nothing sent to the client', async () => {
    // A second connection (the environment's cannot be disabled) to the same IdP; the sign-in page then offers both.
    const second = connectionSpec('oidc', { id: 'second', name: 'Second IdP', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, allowPrivateNetwork: true });
    await gh.services.connections.add(second, 'test');
    const DORA = 'idp-sub-dora-5a1e';
    idp.accounts[DORA] = { email: 'dora@example.com', email_verified: true, name: 'Dora', groups: [] };
    try {
      const client = await newClient('Disabled Connection Client');
      const browser = new MultiOriginBrowser('dora');
      const { challenge } = pkcePair();
      const url = authorizeUrl(gh.issuer, { client_id: client.clientId, redirect_uri: client.redirectUri, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', state: 'client-state-dora' });
      const signIn = await openAtGatehouse(browser, gh.issuer, url);
      if (!(signIn instanceof Response)) throw new Error(`expected the sign-in page, was sent to ${signIn.href}`);
      const toIdp = await browser.follow(await browser.postForm(formAction(await signIn.text(), signIn.url, 'Continue with Second IdP'), {}), (next) => next.origin !== new URL(gh.issuer).origin);
      if (!(toIdp instanceof URL)) throw new Error(`expected the IdP, got ${toIdp.status} ${toIdp.url}`);
      const callback = await idp.login(browser, toIdp, DORA);

      await gh.services.connections.update(second, { keepSecret: true, enabled: false });
      const result = await openAtGatehouse(browser, gh.issuer, callback);
      expect(result).toBeInstanceOf(Response);
      const page = result as Response;
      expect(page.status).toBe(403);
      expect(await page.text()).toContain('Sign-in with Second IdP is turned off');
      expect(browser.history.some((h) => h.url.startsWith(client.redirectUri))).toBe(false);
      const uid = new URL(page.url).pathname.split('/')[2];
      const events = await audit(gh, 'upstream.callback');
      expect(events.find((e) => e.details.interaction === uid)).toMatchObject({ outcome: 'failure', reason: 'connection disabled during sign-in', client_id: client.clientId, details: { connector: 'second' } });
      expect(await gh.services.handle.db('identities').where({ subject: DORA }).first()).toBeUndefined();
      expect((await audit(gh, 'login')).some((e) => e.client_id === client.clientId)).toBe(false);
    } finally {
      await gh.services.connections.remove('second');
    }
  });
});

describe('access policy on upstream identities', () => {
  const OUTSIDER = 'idp-sub-outsider-11';
  const UNVERIFIED = 'idp-sub-unverified-12';
  const NO_GROUP = 'idp-sub-nogroup-13';
  const ADMIN_BY_EMAIL = 'idp-sub-admin-email-14';
  const ADMIN_BY_GROUP = 'idp-sub-admin-group-15';
  const MEMBER = 'idp-sub-member-16';

  let pdb: TestDatabase;
  let pgh: TestServer;
  let pidp: MockIdp;

  beforeAll(async () => {
    const port = await freePort();
    pidp = await startMockIdp({
      gatehouseIssuer: `http://127.0.0.1:${port}`,
      clientId: 'gatehouse-policy',
      accounts: {
        [OUTSIDER]: { email: 'mallory@elsewhere.test', email_verified: true, name: 'Mallory', groups: ['engineering'] },
        [UNVERIFIED]: { email: 'eve@example.com', email_verified: false, name: 'Eve', groups: ['engineering'] },
        [NO_GROUP]: { email: 'carol@example.com', email_verified: true, name: 'Carol', groups: ['sales'] },
        [ADMIN_BY_EMAIL]: { email: 'root@example.com', email_verified: true, name: 'Root', groups: ['engineering'] },
        [ADMIN_BY_GROUP]: { email: 'dana@example.com', email_verified: true, name: 'Dana', groups: ['ops'] },
        [MEMBER]: { email: 'erin@example.com', email_verified: true, name: 'Erin', groups: ['engineering'] },
      },
    });
    pdb = await createTestDatabase();
    pgh = await startTestServer(
      {
        ...pdb.env,
        UPSTREAM_PROVIDER: 'oidc',
        UPSTREAM_ISSUER: pidp.issuer,
        UPSTREAM_CLIENT_ID: pidp.clientId,
        UPSTREAM_CLIENT_SECRET: pidp.clientSecret,
        ALLOWED_EMAIL_DOMAINS: 'example.com',
        ALLOWED_GROUPS: 'engineering,ops',
        ADMIN_EMAILS: 'root@example.com',
        ADMIN_GROUPS: 'ops',
      },
      port,
    );
  });

  afterAll(async () => {
    await pgh?.close();
    await pidp?.close();
    await pdb?.drop();
  });

  let policyPort = 42500;
  const policyClient = () => registerMcpClient(pgh.issuer, `http://127.0.0.1:${policyPort++}/callback`, 'Policy Client');

  /** Logs `sub` in at the IdP and returns what Gatehouse answers the callback with. */
  async function attempt(sub: string) {
    const client = await policyClient();
    const browser = new MultiOriginBrowser(sub);
    const started = await startAtGatehouse(browser, pgh.issuer, pidp, client);
    const callback = await pidp.login(browser, started.idpUrl, sub);
    return { client, browser, result: await openAtGatehouse(browser, pgh.issuer, callback) };
  }

  async function expectRefused(sub: string, reason: string, pageSays: RegExp) {
    const { client, browser, result } = await attempt(sub);
    expect(result).toBeInstanceOf(Response);
    const page = result as Response;
    expect(page.status).toBe(403);
    expect(await page.text()).toMatch(pageSays);
    expect(browser.history.some((h) => h.url.startsWith(client.redirectUri))).toBe(false);
    const events = await audit(pgh, 'login');
    expect(events.find((e) => e.client_id === client.clientId)).toMatchObject({ outcome: 'failure', reason });
    // Refused before linking: no account exists for them.
    expect(await accountOf(pgh, pidp.issuer, sub)).toBeUndefined();
  }

  it('refuses a verified email outside ALLOWED_EMAIL_DOMAINS, and says why', async () => {
    await expectRefused(OUTSIDER, 'email domain elsewhere.test not allowed', /Email addresses at elsewhere\.test are not allowed/);
  });

  it('refuses an email in an allowed domain that the IdP did not verify', async () => {
    await expectRefused(UNVERIFIED, 'email not verified by the identity provider', /verified email address/);
  });

  it('refuses a person in none of ALLOWED_GROUPS', async () => {
    await expectRefused(NO_GROUP, 'not in an allowed group', /not a member of a group/);
  });

  it('admits an allowed member who is not an admin', async () => {
    const { payload } = await signInThrough(pgh, pidp, new MultiOriginBrowser('erin'), await policyClient(), MEMBER);
    const row = (await pgh.services.handle.db('accounts').where({ id: payload.sub }).first()) as { is_admin: boolean; email: string };
    expect(row).toMatchObject({ is_admin: false, email: 'erin@example.com' });
  });

  it('recognises an admin by ADMIN_EMAILS (verified email)', async () => {
    const { payload } = await signInThrough(pgh, pidp, new MultiOriginBrowser('root'), await policyClient(), ADMIN_BY_EMAIL);
    const row = (await pgh.services.handle.db('accounts').where({ id: payload.sub }).first()) as { is_admin: boolean };
    expect(row.is_admin).toBe(true);
  });

  it('recognises an admin by ADMIN_GROUPS, and drops the mark when the IdP drops the group', async () => {
    const client = await policyClient();
    const browser = new MultiOriginBrowser('dana');
    const { payload } = await signInThrough(pgh, pidp, browser, client, ADMIN_BY_GROUP);
    expect(((await pgh.services.handle.db('accounts').where({ id: payload.sub }).first()) as { is_admin: boolean }).is_admin).toBe(true);

    pidp.accounts[ADMIN_BY_GROUP] = { ...pidp.accounts[ADMIN_BY_GROUP], groups: ['engineering'] };
    browser.forgetOrigin(pgh.issuer);
    const again = await signInThrough(pgh, pidp, browser, client);
    expect(again.payload.sub).toBe(payload.sub);
    expect((await pgh.services.accounts.findById(payload.sub!))?.adminAtLastSignIn).toBe(false);
  });

  it('never makes an admin of an unverified email listed in ADMIN_EMAILS', async () => {
    // On the main server (no domain gate): root@example.com, unverified, logs in but is not an admin.
    const { payload } = await signInThrough(gh, idp, new MultiOriginBrowser('fake-root'), await newClient('Root Client'), ROOT_UNVERIFIED);
    expect(await gh.services.accounts.findById(payload.sub!)).toMatchObject({ email: 'root@example.com', emailVerified: false, adminAtLastSignIn: false });
  });
});
