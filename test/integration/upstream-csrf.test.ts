// The two-layer consent CSRF (docs/ARCHITECTURE.md, "The upstream leg"), attacked for real. Gatehouse is a client of the upstream IdP while it is
// the authorization server of the MCP clients: two handshakes, each with its own state. If the upstream callback
// were accepted on the strength of "a valid-looking code and state", an attacker could finish their own IdP login,
// stop before Gatehouse's callback, and have a victim's browser open that callback: the victim's interaction would
// be logged in as the attacker (or the attacker's interaction completed with the victim's consent), and an MCP
// authorization code would go where it must not. Gatehouse binds the upstream leg to the browser's interaction
//: the fixed /upstream/callback only bounces into /interaction/<uid> named by a signed cookie;
// there the interaction cookie must be for that uid, and the server-side transaction (state, nonce, PKCE verifier)
// is taken once, by that uid, and must match. Every refusal ends on a page (never a redirect carrying a code) and
// is audited. Each describe below is one of those rules, and each test name states the attack it defeats.
import { tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { MultiOriginBrowser } from '../helpers/multi-origin-browser.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import {
  answerConsent,
  openAtGatehouse,
  registerMcpClient,
  startAtGatehouse,
  startMockIdp,
  type McpClientUnderTest,
  type MockIdp,
  type StartedAuthorization,
} from '../helpers/upstream-idp.js';

const VICTIM = 'idp-sub-victim-4d21';
const ATTACKER = 'idp-sub-attacker-9e07';
const UPSTREAM_COOKIE = 'gatehouse.upstream';

let db: TestDatabase;
let gh: TestServer;
let idp: MockIdp;
let victimClient: McpClientUnderTest;
let attackerClient: McpClientUnderTest;

beforeAll(async () => {
  const port = await freePort();
  idp = await startMockIdp({
    gatehouseIssuer: `http://127.0.0.1:${port}`,
    accounts: {
      [VICTIM]: { email: 'victim@example.com', email_verified: true, name: 'Victim', groups: [] },
      [ATTACKER]: { email: 'attacker@example.com', email_verified: true, name: 'Attacker', groups: [] },
    },
  });
  db = await createTestDatabase();
  gh = await startTestServer(
    { ...db.env, UPSTREAM_PROVIDER: 'oidc', UPSTREAM_ISSUER: idp.issuer, UPSTREAM_CLIENT_ID: idp.clientId, UPSTREAM_CLIENT_SECRET: idp.clientSecret },
    port,
  );
  // The victim's MCP client, and one the attacker registered with a redirect URI the attacker reads.
  victimClient = await registerMcpClient(gh.issuer, 'http://127.0.0.1:43101/victim/callback', 'Victim\'s Editor');
  attackerClient = await registerMcpClient(gh.issuer, 'http://127.0.0.1:43102/attacker/callback', 'Innocent Looking Tool');
});

afterAll(async () => {
  await gh?.close();
  await idp?.close();
  await db?.drop();
});

// --- what "refused, nothing issued, audited" means ---------------------------------------------------------------

const countCodes = async () =>
  Number(((await gh.services.handle.db('oidc_payloads').where({ model: 'AuthorizationCode' }).count('* as n')) as Array<{ n: number | string }>)[0]!.n);
const countLogins = async () =>
  Number(((await gh.services.handle.db('audit_events').where({ type: 'login', outcome: 'success' }).count('* as n')) as Array<{ n: number | string }>)[0]!.n);

async function callbackEvents() {
  const rows = await gh.services.audit.recent({ type: 'upstream.callback', limit: 500 });
  return rows.map((r) => ({
    outcome: r.outcome as string,
    reason: r.reason as string,
    details: (typeof r.details === 'string' ? JSON.parse(r.details) : (r.details ?? {})) as Record<string, unknown>,
  }));
}

/** Snapshot before an attack; `after` checks that nothing was issued and nobody was logged in since. */
async function nothingIssuedSince() {
  const codes = await countCodes();
  const logins = await countLogins();
  const events = (await callbackEvents()).length;
  return {
    async check(...browsers: MultiOriginBrowser[]) {
      expect(await countCodes()).toBe(codes);
      expect(await countLogins()).toBe(logins);
      for (const b of browsers) {
        for (const client of [victimClient, attackerClient]) {
          expect(b.history.filter((h) => h.url.startsWith(client.redirectUri))).toEqual([]);
        }
      }
      // The refusals audited since the snapshot (newest first).
      return (await callbackEvents()).slice(0, (await callbackEvents()).length - events);
    },
  };
}

async function expectRefusalPage(result: Response | URL, status = 400): Promise<string> {
  if (result instanceof URL) throw new Error(`expected an error page, the browser was sent to ${result.href}`);
  expect(result.status).toBe(status);
  expect(result.headers.get('content-type')).toMatch(/text\/html/);
  expect(result.headers.get('location')).toBeNull();
  const html = await result.text();
  expect(html).not.toMatch(/name="decision"/); // not a consent page
  return html;
}

/** The attacker's own browser: a full IdP login for their own MCP authorization, stopped before Gatehouse's callback. */
async function attackerHoldsCallback(): Promise<{ browser: MultiOriginBrowser; started: StartedAuthorization; callback: URL }> {
  const browser = new MultiOriginBrowser('attacker');
  const started = await startAtGatehouse(browser, gh.issuer, idp, attackerClient);
  const callback = await idp.login(browser, started.idpUrl, ATTACKER);
  expect(callback.searchParams.get('code')).toBeTruthy();
  expect(browser.visited(`${gh.issuer}/upstream/callback`)).toBe(false);
  return { browser, started, callback };
}

/** The victim's browser: an MCP authorization that has been sent to the IdP and has not come back. */
async function victimMidFlight(label = 'victim'): Promise<{ browser: MultiOriginBrowser; started: StartedAuthorization }> {
  const browser = new MultiOriginBrowser(label);
  const started = await startAtGatehouse(browser, gh.issuer, idp, victimClient);
  expect(browser.jar(gh.issuer).get(UPSTREAM_COOKIE, '/upstream/callback')).toBe(started.uid);
  return { browser, started };
}

/** The victim's browser, back from the IdP with its own genuine callback URL, not opened yet. */
async function victimWithOwnCallback(label = 'victim'): Promise<{ browser: MultiOriginBrowser; started: StartedAuthorization; callback: URL }> {
  const { browser, started } = await victimMidFlight(label);
  const callback = await idp.login(browser, started.idpUrl, VICTIM);
  return { browser, started, callback };
}

const transactionRow = (uid: string) => gh.services.handle.db('upstream_transactions').where({ interaction_id: uid }).first() as Promise<{ expires_at: Date | string } | undefined>;

/** Finishes a genuine flow and redeems the code: proves the victim's interaction was (or was not) left intact. */
async function finishAndRedeem(browser: MultiOriginBrowser, started: StartedAuthorization, callback: URL, client: McpClientUnderTest) {
  let step = await openAtGatehouse(browser, gh.issuer, callback);
  if (step instanceof Response && step.status === 200) step = await answerConsent(browser, gh.issuer, step, 'allow');
  if (!(step instanceof URL)) throw new Error(`flow ended on ${step.status}: ${(await step.text()).slice(0, 300)}`);
  const tokens = await tokenRequest(gh.issuer, {
    grant_type: 'authorization_code',
    code: step.searchParams.get('code') ?? '',
    code_verifier: started.verifier,
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
  });
  return { redirect: step, tokens };
}

// --- the rules -----------------------------------------------------------------------------------------------------

describe('an upstream response belongs to the browser that started it: another person\'s callback is refused', () => {
  it('refuses the attacker\'s callback (their code, their state) opened in the victim\'s browser mid-flight; no code for anyone', async () => {
    const attacker = await attackerHoldsCallback();
    const victim = await victimMidFlight();
    const before = await nothingIssuedSince();

    // The victim clicks the attacker's link (a top-level cross-site GET from the attacker's page).
    const result = await openAtGatehouse(victim.browser, gh.issuer, attacker.callback, 'https://attacker.example');
    const html = await expectRefusalPage(result);
    expect(html).toContain('not yours');

    // It went through the fixed callback into the VICTIM's interaction (the signed cookie), where the state failed.
    expect(victim.browser.visited(`${gh.issuer}/interaction/${victim.started.uid}/upstream/callback`)).toBe(true);
    const refusals = await before.check(victim.browser, attacker.browser);
    expect(refusals).toEqual([
      expect.objectContaining({ outcome: 'failure', reason: expect.stringMatching(/^state mismatch/), details: expect.objectContaining({ interaction: victim.started.uid }) }),
    ]);

    // Nobody was linked to the attacker's IdP identity in the victim's browser, and the attacker's upstream code
    // was never redeemed by Gatehouse (it stopped at the state check).
    expect(await gh.services.handle.db('identities').where({ subject: ATTACKER })).toEqual([]);
    // The victim's upstream transaction was not touched by the refused attempt (issue 15, finding 6): their own
    // callback, when it arrives, still signs them in.
    expect(await transactionRow(victim.started.uid)).toBeDefined();
    const own = await idp.login(victim.browser, victim.started.idpUrl, VICTIM);
    const { tokens } = await finishAndRedeem(victim.browser, victim.started, own, victimClient);
    expect(tokens.status).toBe(200);
  });

  it('refuses it too when the attacker sends the victim straight to /interaction/<victim uid>/upstream/callback with the attacker\'s code and state', async () => {
    const attacker = await attackerHoldsCallback();
    const victim = await victimMidFlight();
    const before = await nothingIssuedSince();

    const direct = new URL(`${gh.issuer}/interaction/${victim.started.uid}/upstream/callback`);
    direct.search = attacker.callback.search;
    const result = await openAtGatehouse(victim.browser, gh.issuer, direct, 'https://attacker.example');
    await expectRefusalPage(result);

    const refusals = await before.check(victim.browser, attacker.browser);
    expect(refusals).toEqual([
      expect.objectContaining({ reason: expect.stringMatching(/^state mismatch/), details: expect.objectContaining({ interaction: victim.started.uid }) }),
    ]);
  });

  it('refuses the attacker replaying their callback against the victim\'s uid from their own browser (no interaction cookie), without burning the victim\'s sign-in', async () => {
    const attacker = await attackerHoldsCallback();
    const victim = await victimWithOwnCallback();
    const before = await nothingIssuedSince();

    const direct = new URL(`${gh.issuer}/interaction/${victim.started.uid}/upstream/callback`);
    direct.search = attacker.callback.search;
    await expectRefusalPage(await openAtGatehouse(attacker.browser, gh.issuer, direct));
    // Even holding the victim's own callback (code and state) does not help without the victim's browser.
    const stolen = new URL(`${gh.issuer}/interaction/${victim.started.uid}/upstream/callback`);
    stolen.search = victim.callback.search;
    await expectRefusalPage(await openAtGatehouse(attacker.browser, gh.issuer, stolen));

    const refusals = await before.check(attacker.browser, victim.browser);
    expect(refusals).toHaveLength(2);
    for (const r of refusals) {
      expect(r).toMatchObject({ outcome: 'failure', reason: expect.stringMatching(/interaction's cookie/), details: expect.objectContaining({ interaction: victim.started.uid }) });
    }
    // The transaction is untouched: it is only ever taken for the browser whose interaction it is.
    expect(await transactionRow(victim.started.uid)).toBeDefined();
    const { redirect, tokens } = await finishAndRedeem(victim.browser, victim.started, victim.callback, victimClient);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(victimClient.redirectUri);
    expect(tokens.status).toBe(200);
  });

  it('refuses an attacker\'s own signed upstream cookie planted in the victim\'s browser: the victim holds no interaction cookie for that uid', async () => {
    const attacker = await attackerHoldsCallback();
    const victim = await victimMidFlight();
    // Cookie tossing: the attacker copies their valid signed `gatehouse.upstream` (naming THEIR interaction) into the victim's browser.
    const attackerJar = attacker.browser.jar(gh.issuer);
    const victimJar = victim.browser.jar(gh.issuer);
    victimJar.set(UPSTREAM_COOKIE, attackerJar.get(UPSTREAM_COOKIE)!, '/upstream/callback');
    victimJar.set(`${UPSTREAM_COOKIE}.sig`, attackerJar.get(`${UPSTREAM_COOKIE}.sig`)!, '/upstream/callback');
    const before = await nothingIssuedSince();

    await expectRefusalPage(await openAtGatehouse(victim.browser, gh.issuer, attacker.callback, 'https://attacker.example'));
    const refusals = await before.check(victim.browser, attacker.browser);
    expect(refusals).toEqual([
      expect.objectContaining({ reason: expect.stringMatching(/interaction's cookie/), details: expect.objectContaining({ interaction: attacker.started.uid }) }),
    ]);
  });
});

describe('an upstream transaction is taken only with its own state (issue 15, finding 6)', () => {
  it('an unsolicited callback leaves the victim\'s sign-in intact', async () => {
    const victim = await victimWithOwnCallback();
    const before = await nothingIssuedSince();

    // A page on another site makes the victim's browser open Gatehouse's callback with made-up values. The browser
    // sends the victim's own cookies (the upstream cookie is SameSite=Lax, and this is a top-level GET).
    const unsolicited = new URL(`${gh.issuer}/upstream/callback?state=x&code=y`);
    const html = await expectRefusalPage(await openAtGatehouse(victim.browser, gh.issuer, unsolicited, 'https://attacker.example'));
    expect(html).toContain('not yours');
    expect(victim.browser.visited(`${gh.issuer}/interaction/${victim.started.uid}/upstream/callback`)).toBe(true);
    expect(await before.check(victim.browser)).toEqual([
      expect.objectContaining({ outcome: 'failure', reason: expect.stringMatching(/^state mismatch/), details: expect.objectContaining({ interaction: victim.started.uid }) }),
    ]);
    expect(await transactionRow(victim.started.uid)).toBeDefined();

    // The IdP's genuine callback, arriving afterwards, still completes the sign-in.
    const { redirect, tokens } = await finishAndRedeem(victim.browser, victim.started, victim.callback, victimClient);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(victimClient.redirectUri);
    expect(tokens.status).toBe(200);
    // And the spent transaction cannot be taken again: a replay finds nothing.
    expect(await transactionRow(victim.started.uid)).toBeUndefined();
  });
});

describe('an upstream transaction is used once: a replayed callback is refused', () => {
  it('refuses the victim\'s own callback opened a second time before the interaction moved on', async () => {
    const victim = await victimWithOwnCallback();
    const bounce = await victim.browser.get(victim.callback);
    expect(bounce.status).toBe(303);
    const intoInteraction = new URL(bounce.headers.get('location')!, gh.issuer);
    expect(intoInteraction.pathname).toBe(`/interaction/${victim.started.uid}/upstream/callback`);

    const first = await victim.browser.get(intoInteraction);
    expect(first.status).toBeGreaterThanOrEqual(300);
    expect(first.status).toBeLessThan(400); // logged in: on to the authorization endpoint
    const codes = await countCodes();
    const logins = await countLogins();

    const replay = await openAtGatehouse(victim.browser, gh.issuer, victim.callback);
    await expectRefusalPage(replay);
    expect(await countCodes()).toBe(codes);
    expect(await countLogins()).toBe(logins);
    const latest = (await callbackEvents())[0];
    expect(latest).toMatchObject({ outcome: 'failure', reason: 'no upstream transaction (expired, replayed or never started)', details: expect.objectContaining({ interaction: victim.started.uid }) });
  });

  it('refuses the callback replayed after the flow completed, and issues no second code', async () => {
    const victim = await victimWithOwnCallback();
    const { redirect, tokens } = await finishAndRedeem(victim.browser, victim.started, victim.callback, victimClient);
    expect(redirect.searchParams.get('code')).toBeTruthy();
    expect(tokens.status).toBe(200);
    const codes = await countCodes();
    const refusalsBefore = (await callbackEvents()).length;
    const sentToClient = victim.browser.history.filter((h) => h.url.startsWith(victimClient.redirectUri)).length;

    const replay = await openAtGatehouse(victim.browser, gh.issuer, victim.callback);
    await expectRefusalPage(replay);
    expect(await countCodes()).toBe(codes);
    expect(victim.browser.history.filter((h) => h.url.startsWith(victimClient.redirectUri)).length).toBe(sentToClient);
    const events = await callbackEvents();
    expect(events.length).toBe(refusalsBefore + 1);
    // The interaction itself is over (its cookie is gone), so the replay never reaches a transaction.
    expect(events[0]).toMatchObject({ outcome: 'failure', reason: expect.stringMatching(/interaction's cookie/), details: expect.objectContaining({ interaction: victim.started.uid }) });
  });

  it('refuses a callback whose state Gatehouse never issued without spending the transaction; the genuine one, once used, is spent', async () => {
    const victim = await victimWithOwnCallback();
    const forged = new URL(victim.callback);
    forged.searchParams.set('state', 'guessed-state');
    const before = await nothingIssuedSince();
    await expectRefusalPage(await openAtGatehouse(victim.browser, gh.issuer, forged));
    expect(await before.check(victim.browser)).toEqual([expect.objectContaining({ reason: expect.stringMatching(/^state mismatch/) })]);
    // Guessing again changes nothing either; the genuine response then signs the victim in, exactly once.
    const noState = new URL(victim.callback);
    noState.searchParams.delete('state');
    await expectRefusalPage(await openAtGatehouse(victim.browser, gh.issuer, noState));
    expect((await callbackEvents())[0]).toMatchObject({ reason: expect.stringMatching(/^state mismatch/) });
    const { tokens } = await finishAndRedeem(victim.browser, victim.started, victim.callback, victimClient);
    expect(tokens.status).toBe(200);
    expect(await transactionRow(victim.started.uid)).toBeUndefined();
  });
});

describe('an upstream transaction lives at most ten minutes: an expired one is refused', () => {
  it('stores the transaction for ≤ 10 minutes and refuses the callback once it has expired', async () => {
    const victim = await victimWithOwnCallback();
    const row = await transactionRow(victim.started.uid);
    expect(row).toBeDefined();
    const ttl = new Date(row!.expires_at).getTime() - Date.now();
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(10 * 60_000);

    // Ten minutes pass (the row says so).
    await gh.services.handle.db('upstream_transactions').where({ interaction_id: victim.started.uid }).update({ expires_at: new Date(Date.now() - 1000) });
    const before = await nothingIssuedSince();
    await expectRefusalPage(await openAtGatehouse(victim.browser, gh.issuer, victim.callback));
    expect(await before.check(victim.browser)).toEqual([
      expect.objectContaining({ outcome: 'failure', reason: 'no upstream transaction (expired, replayed or never started)', details: expect.objectContaining({ interaction: victim.started.uid }) }),
    ]);
    expect(await transactionRow(victim.started.uid)).toBeUndefined();
  });
});

describe('the callback needs the upstream cookie of the browser that started the leg', () => {
  it('refuses a callback opened in a browser that never started a sign-in (a stolen or leaked callback URL)', async () => {
    const victim = await victimWithOwnCallback();
    const elsewhere = new MultiOriginBrowser('elsewhere');
    const before = await nothingIssuedSince();
    await expectRefusalPage(await openAtGatehouse(elsewhere, gh.issuer, victim.callback));
    // The fixed callback refused it: it did not even bounce into an interaction.
    expect(elsewhere.history.map((h) => new URL(h.url).pathname)).toEqual(['/upstream/callback']);
    expect(await before.check(elsewhere, victim.browser)).toEqual([expect.objectContaining({ outcome: 'failure', reason: expect.stringMatching(/^missing upstream cookie/) })]);
    // The victim's own sign-in is unharmed.
    expect(await transactionRow(victim.started.uid)).toBeDefined();
  });

  it('refuses the callback in the victim\'s own browser once its upstream cookie is gone', async () => {
    const victim = await victimWithOwnCallback();
    expect(victim.browser.jar(gh.issuer).delete(UPSTREAM_COOKIE)).toBe(1);
    const before = await nothingIssuedSince();
    await expectRefusalPage(await openAtGatehouse(victim.browser, gh.issuer, victim.callback));
    expect(await before.check(victim.browser)).toEqual([expect.objectContaining({ reason: expect.stringMatching(/^missing upstream cookie/) })]);
  });

  it('refuses an upstream cookie forged without Gatehouse\'s signature (naming the victim\'s interaction)', async () => {
    const victim = await victimMidFlight();
    const attacker = await attackerHoldsCallback();
    // The attacker writes a cookie naming the victim's uid into their own browser; they cannot sign it.
    const jar = attacker.browser.jar(gh.issuer);
    jar.delete(UPSTREAM_COOKIE);
    jar.delete(`${UPSTREAM_COOKIE}.sig`);
    jar.set(UPSTREAM_COOKIE, victim.started.uid, '/upstream/callback');
    jar.set(`${UPSTREAM_COOKIE}.sig`, 'AAAAAAAAAAAAAAAAAAAAAAAAAAA', '/upstream/callback');
    const before = await nothingIssuedSince();
    const mark = attacker.browser.history.length;
    await expectRefusalPage(await openAtGatehouse(attacker.browser, gh.issuer, attacker.callback));
    expect(attacker.browser.history.slice(mark).map((h) => new URL(h.url).pathname)).toEqual(['/upstream/callback']);
    expect(await before.check(attacker.browser)).toEqual([expect.objectContaining({ reason: expect.stringMatching(/^missing upstream cookie/) })]);
    expect(await transactionRow(victim.started.uid)).toBeDefined();
  });
});
