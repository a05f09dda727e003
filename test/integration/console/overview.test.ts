// The console's overview, figure by figure: clients by kind and status, people, live grants, tokens and refusals
// in the last 24 hours, the waiting list, the latest refusals, and registration churn — each checked against a
// state built through real HTTP (and the services' own writers for CIMD records).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { authorizeThrough, Browser, login, pkcePair, registerPublicClient, tokenRequest, authorizeUrl } from '../../helpers/browser-flow.js';
import { consoleSignIn, type ConsoleBrowser } from '../../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../../helpers/server.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const PERSON = { email: 'person@example.com', password: 'another long passphrase 42' };
const REDIRECT = 'http://127.0.0.1:45125/cb';

let db: TestDatabase;
let gh: TestServer;
let admin: ConsoleBrowser;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, REGISTRATION: 'approval' });
  await gh.services.users.create(ADMIN);
  await gh.services.users.create(PERSON);
  admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

/** The number on the tile whose label starts with `label`. */
function tile(html: string, label: string): number {
  const m = new RegExp(`<span class="n">(\\d+)</span> ${label}`).exec(html);
  if (!m) throw new Error(`no tile "${label}"`);
  return Number(m[1]);
}

describe('the overview', () => {
  it('counts clients by kind and status, people, grants, tokens and refusals, and shows waiting clients and churn', async () => {
    // Two registrations of the same software (waiting, since REGISTRATION=approval), one of them approved and used.
    const used = await registerPublicClient(gh.issuer, [REDIRECT], { client_name: 'Loop Agent' });
    const waiting = await registerPublicClient(gh.issuer, [REDIRECT], { client_name: 'Loop Agent' });
    await gh.services.registry.setStatus(used.client_id, 'active', 'test');
    const { verifier, challenge } = pkcePair();
    const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
      client_id: used.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE,
    }, PERSON);
    const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: used.client_id, redirect_uri: REDIRECT });
    expect(tokens.status).toBe(200);
    // One refusal: a wrong password.
    const browser = new Browser(gh.issuer);
    const page = await browser.follow(await browser.get(authorizeUrl(gh.issuer, { client_id: used.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE })));
    await login(browser, page as Response, PERSON.email, 'not the password at all');
    // Two metadata-document clients, one of them blocked.
    await gh.services.cimdClients.seen('https://app.example.test/client.json', 'Hosted App');
    await gh.services.cimdClients.block('https://bad.example.test/client.json', 'test');

    const { status, html } = await admin.page();
    expect(status).toBe(200);
    expect(tile(html, 'active clients')).toBe(2); // the approved DCR client and the CIMD one
    expect(html).toContain('DCR 1 · CIMD 1 · static 0');
    expect(tile(html, 'waiting for approval')).toBe(1);
    expect(tile(html, 'disabled or blocked')).toBe(1);
    expect(tile(html, 'MCP servers')).toBe(2);
    expect(tile(html, 'people')).toBe(2); // the admin and the person have both signed in
    expect(tile(html, 'active grants')).toBe(1); // the console's own sign-in leaves no grant
    expect(tile(html, 'tokens issued')).toBe(1);
    expect(tile(html, 'refusals')).toBe(1); // the wrong password

    const waitingSection = html.slice(html.indexOf('id="waiting-h"'), html.indexOf('id="refusals-h"'));
    expect(waitingSection).toContain(encodeURIComponent(waiting.client_id));
    expect(waitingSection).not.toContain(encodeURIComponent(used.client_id));
    const refusals = html.slice(html.indexOf('id="refusals-h"'), html.indexOf('id="churn-h"'));
    expect(refusals).toContain('<code>login</code>');
    const churn = html.slice(html.indexOf('id="churn-h"'));
    expect(churn).toMatch(/aria-label="2 registrations"/);
    expect(churn).toMatch(/<td>Loop Agent<\/td><td>2<\/td><td>1<\/td>/);
  });
});
