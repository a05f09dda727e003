// Redeeming a code or a refresh token reads the token, its session, its grant and its account in one statement
// (src/oauth/read-ahead.ts); sign-in and consent save their result on the interaction they read
// (src/interaction/interaction-result.ts). These tests hold it to the two halves of that promise: fewer round trips, and the same
// answer as four separate reads — an account disabled, a grant deleted or a session ended just before the request
// still stops it, and rows kept for one request never serve another.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { authorizeThrough, authorizeUrl, Browser, formAction, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { consentedCode, redeemCode } from '../helpers/grants.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const REDIRECT = 'http://127.0.0.1:45124/cb';
let db: TestDatabase;
let gh: TestServer;
let n = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

const freshGrant = () => consentedCode(gh, REDIRECT);
const redeem = (g: { clientId: string; code: string; verifier: string }) => redeemCode(gh, { ...g, redirectUri: REDIRECT });

const refresh = (clientId: string, refreshToken: string) => tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });

interface Statement {
  sql: string;
  bindings: unknown[];
}

/** The SQL statements `work` runs, with their bindings (a knex query listener). */
async function statementsOf(work: () => Promise<unknown>): Promise<Statement[]> {
  const seen: Statement[] = [];
  const listener = (q: { sql: string; bindings?: unknown[] }) => seen.push({ sql: q.sql, bindings: q.bindings ?? [] });
  gh.services.handle.db.on('query', listener);
  try {
    await work();
  } finally {
    gh.services.handle.db.off('query', listener);
  }
  return seen;
}

// The per-instance caches with a short lifetime (policy settings, connections, MCP servers, the approval gate's client
// registry) refill whenever they expire, which on a loaded machine can fall inside a measured request: those reads are
// the caches', not the redemption's, so they are not counted here.
const CACHE_REFILL = /from "(policy_settings|upstream_connections|resources|client_registry)"/;
const reads = (seen: Statement[]) => seen.filter((s) => /^\s*select/i.test(s.sql) && !CACHE_REFILL.test(s.sql));

describe('token redemption reads its context in one statement', () => {
  it('a code exchange and a refresh each read token, session, grant and account with one SELECT', async () => {
    const g = await freshGrant();
    let tokens!: { refresh_token: string };
    const exchange = await statementsOf(async () => (tokens = await redeem(g)));
    expect(reads(exchange)).toHaveLength(1);
    const rotation = await statementsOf(async () => {
      const res = await refresh(g.clientId, tokens.refresh_token);
      expect(res.status).toBe(200);
    });
    // Besides the rate limiters' counters: one read, the consume with the rotated token's insert, the audit row.
    const own = rotation.filter((s) => !/\binto "?rate_limits"?/i.test(s.sql) && !CACHE_REFILL.test(s.sql)).map((s) => s.sql.trim().split(/\s+/).slice(0, 3).join(' '));
    expect(own).toEqual(['select t.payload, t.consumed_at,', 'with spent as', 'insert into "audit_events"']);
  });

  it('an account disabled just before the refresh is refused (its grant left in place)', async () => {
    const g = await freshGrant();
    const tokens = await redeem(g);
    expect(await gh.services.accounts.setDisabled(g.accountId, true)).toBe(true);
    const res = await refresh(g.clientId, tokens.refresh_token);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    await gh.services.accounts.setDisabled(g.accountId, false);
    // Re-enabled, the same token works: the refusal was the account, not a spent token.
    expect((await refresh(g.clientId, tokens.refresh_token)).status).toBe(200);
  });

  it('a grant row gone just before the refresh is refused', async () => {
    const g = await freshGrant();
    const tokens = await redeem(g);
    await gh.services.handle.db('oidc_payloads').where({ model: 'Grant' }).whereRaw(`payload::jsonb ->> 'clientId' = ?`, [g.clientId]).delete();
    expect(await gh.services.handle.db('oidc_payloads').where({ model: 'Grant' }).whereRaw(`payload::jsonb ->> 'clientId' = ?`, [g.clientId]).first()).toBeUndefined();
    const res = await refresh(g.clientId, tokens.refresh_token);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  it('a refresh token bound to a session that ended is refused; a code whose session ended too', async () => {
    const g = await freshGrant();
    const other = await freshGrant();
    const tokens = await redeem(g);
    // The people behind both grants sign out everywhere: their sessions are gone.
    await gh.services.handle.db('oidc_payloads').where({ model: 'Session' }).whereRaw(`payload::jsonb ->> 'accountId' in (?, ?)`, [g.accountId, other.accountId]).delete();
    const res = await refresh(g.clientId, tokens.refresh_token);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    const exchange = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: other.code, code_verifier: other.verifier, client_id: other.clientId, redirect_uri: REDIRECT });
    expect(exchange.status).toBe(400);
    expect(exchange.body.error).toBe('invalid_grant');
  });

  it('what one request read ahead never answers another: a grant deleted after a failed refresh stays deleted', async () => {
    const g = await freshGrant();
    const tokens = await redeem(g);
    // A refresh that fails after the read (wrong client) leaves its kept rows unused; they die with its request.
    const stranger = await registerPublicClient(gh.issuer, [REDIRECT]);
    expect((await refresh(stranger.client_id, tokens.refresh_token)).body.error).toBe('invalid_grant');
    await gh.services.handle.db('oidc_payloads').where({ model: 'Grant' }).whereRaw(`payload::jsonb ->> 'clientId' = ?`, [g.clientId]).delete();
    const res = await refresh(g.clientId, tokens.refresh_token);
    expect(res.body.error).toBe('invalid_grant');
  });
});

/** A new person signed in through the login page of a new client's flow, stopped at its consent page. */
async function signedInAtConsent() {
  const user = { email: `reader${++n}@example.com`, password: 'a passphrase long enough 123' };
  const accountId = (await gh.services.users.create(user)).id;
  const client = await registerPublicClient(gh.issuer, [REDIRECT]);
  const { challenge } = pkcePair();
  const browser = new Browser(gh.issuer);
  const loginPage = (await browser.follow(await browser.get(authorizeUrl(gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE })))) as Response;
  const consentPage = (await browser.follow(await browser.postForm(new URL(formAction(await loginPage.text()), gh.issuer).href, user))) as Response;
  return { accountId, browser, consentHtml: await consentPage.text() };
}

describe('sign-in and consent end the interaction they already read', () => {
  /** Reads of one model (`select … where model = ?`) among the statements seen. */
  const readsOf = (seen: Statement[], model: string) => reads(seen).filter((q) => q.bindings[0] === model).length;

  it('the login POST and the Allow POST each read the interaction and its session once, and the flow completes', async () => {
    const user = { email: `reader${++n}@example.com`, password: 'a passphrase long enough 123' };
    await gh.services.users.create(user);
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { verifier, challenge } = pkcePair();
    const browser = new Browser(gh.issuer);
    const loginPage = await browser.follow(await browser.get(authorizeUrl(gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE })));
    const loginHtml = await (loginPage as Response).text();

    let afterLogin!: Response;
    const atLogin = await statementsOf(async () => (afterLogin = await browser.postForm(new URL(formAction(loginHtml), gh.issuer).href, { email: user.email, password: user.password })));
    expect(afterLogin.status).toBe(302);
    // Once: the approval gate of the sign-in under way reads the interaction's client (policy-table.ts), and the
    // login's interactionDetails gets the same row, kept for the request (db/request-reads.ts).
    expect(readsOf(atLogin, 'Interaction')).toBe(1);

    const consentPage = (await browser.follow(afterLogin)) as Response;
    const consentHtml = await consentPage.text();
    expect(consentHtml).toContain('name="decision"');
    let afterConsent!: Response;
    const atConsent = await statementsOf(async () => (afterConsent = await browser.postForm(new URL(formAction(consentHtml), gh.issuer).href, { decision: 'allow' })));
    expect(afterConsent.status).toBe(302);
    expect(readsOf(atConsent, 'Interaction')).toBe(1);
    expect(readsOf(atConsent, 'Session')).toBe(1);

    // The resume still checks the session, and the code is good.
    const callback = await browser.follow(afterConsent);
    expect(callback).toBeInstanceOf(URL);
    const code = (callback as URL).searchParams.get('code')!;
    expect((await redeem({ clientId: client.client_id, code, verifier })).refresh_token).toBeTruthy();
  });

  it('an Allow whose session ended meanwhile gets no code: the resume refuses it', async () => {
    const { accountId, browser, consentHtml } = await signedInAtConsent();
    await gh.services.handle.db('oidc_payloads').where({ model: 'Session' }).whereRaw(`payload::jsonb ->> 'accountId' = ?`, [accountId]).delete();
    const end = await browser.follow(await browser.postForm(new URL(formAction(consentHtml), gh.issuer).href, { decision: 'allow' }));
    // Either the Allow itself or the resume stops it; never a redirect carrying a code.
    if (end instanceof URL) expect(end.searchParams.get('code')).toBeNull();
    else expect(end.status).toBeGreaterThanOrEqual(400);
  });
});

describe('a sign-in step reads each interaction, session and account once (src/db/request-reads.ts)', () => {
  /** Every request of a browser flow from `first` on, following redirects within the issuer, with its statements. */
  async function requestsFrom(browser: Browser, first: () => Promise<Response>) {
    const requests: Array<{ url: string; statements: Statement[] }> = [];
    let res!: Response;
    requests.push({ url: 'first', statements: await statementsOf(async () => (res = await first())) });
    while (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location')!, gh.issuer);
      if (next.origin !== new URL(gh.issuer).origin) return { requests, end: next as URL | Response };
      requests.push({ url: next.pathname, statements: await statementsOf(async () => (res = await browser.get(next.href))) });
    }
    return { requests, end: res as URL | Response };
  }
  const rowReads = (seen: Statement[]) => reads(seen).filter((q) => /from "(oidc_payloads|accounts)"/.test(q.sql)).map((q) => `${q.sql} ${JSON.stringify(q.bindings)}`);

  it('no request of a signed-in authorize + consent reads the same row twice, and the flow ends with a good code', async () => {
    const user = { email: `reader${++n}@example.com`, password: 'a passphrase long enough 123' };
    await gh.services.users.create(user);
    const browser = new Browser(gh.issuer);
    // Signed in once (the first flow), so the second flow skips the login page: the SSO path of the benchmark.
    const first = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { challenge: c1 } = pkcePair();
    await authorizeThrough(browser, gh.issuer, { client_id: first.client_id, redirect_uri: REDIRECT, code_challenge: c1, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE, state: 's' }, user);

    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { verifier, challenge } = pkcePair();
    const toConsent = await requestsFrom(browser, () => browser.get(authorizeUrl(gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE })));
    const consentHtml = await (toConsent.end as Response).text();
    expect(consentHtml).toContain('name="decision"');
    const toCallback = await requestsFrom(browser, () => browser.postForm(new URL(formAction(consentHtml), gh.issuer).href, { decision: 'allow' }));
    expect(toCallback.end).toBeInstanceOf(URL);

    const steps = [...toConsent.requests, ...toCallback.requests];
    expect(steps.length).toBeGreaterThanOrEqual(4); // /authorize, /interaction, the Allow POST, the resume
    for (const step of steps) {
      const seen = rowReads(step.statements);
      expect({ step: step.url, repeated: seen.filter((r, i) => seen.indexOf(r) !== i) }).toEqual({ step: step.url, repeated: [] });
    }
    const code = (toCallback.end as URL).searchParams.get('code')!;
    expect((await redeem({ clientId: client.client_id, code, verifier })).refresh_token).toBeTruthy();
  });

  it("a new client's first /authorize reads neither its client nor its registry row: the registration left both on this instance", async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { challenge } = pkcePair();
    const browser = new Browser(gh.issuer);
    let page!: Response;
    const seen = await statementsOf(async () => (page = await browser.get(authorizeUrl(gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE }))));
    expect(page.status).toBe(303);
    expect(seen.filter((q) => /^\s*select/i.test(q.sql) && (/from "client_registry"/.test(q.sql) || q.bindings[0] === 'Client'))).toEqual([]);
  });

  it('a row kept by one request never answers the next: an account disabled between two steps stops the flow', async () => {
    const { accountId, browser, consentHtml } = await signedInAtConsent();
    expect(consentHtml).toContain('name="decision"');
    await gh.services.handle.db('accounts').where({ id: accountId }).update({ disabled_at: new Date() });
    const end = await browser.follow(await browser.postForm(new URL(formAction(consentHtml), gh.issuer).href, { decision: 'allow' }));
    if (end instanceof URL) expect(end.searchParams.get('code')).toBeNull();
    else expect(end.status).toBeGreaterThanOrEqual(400);
  });
});
