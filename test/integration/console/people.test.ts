// Console people page: people with their connections and grants; an admin revokes one grant or all of a person's
// (their refresh tokens get invalid_grant at once), disables an account (refresh and login refused, console
// sessions ended) and enables it again; never their own; every change audited naming the admin.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../../helpers/browser-flow.js';
import { consoleSignIn, type ConsoleBrowser } from '../../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../../helpers/server.js';

const XSS = '<script>alert(1)</script><img src=x onerror=alert(1)>';
const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const PERSON = { email: 'person@example.com', password: 'another long passphrase 42', name: `Pat ${XSS}` };
const OTHER = { email: 'other@example.com', password: 'yet another passphrase 7' };
const REDIRECT = 'http://127.0.0.1:45123/cb';

let db: TestDatabase;
let gh: TestServer;
let admin: ConsoleBrowser;
let adminId: string;
let personId: string;
let otherId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  adminId = (await gh.services.users.create(ADMIN)).id;
  personId = (await gh.services.users.create(PERSON)).id;
  otherId = (await gh.services.users.create(OTHER)).id;
  admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

/** A person logs in and consents through real HTTP; returns the client and its refresh token. */
async function grantFor(user: { email: string; password: string }, clientId: string) {
  const { verifier, challenge } = pkcePair();
  const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
    client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE,
  }, user);
  const code = callback.searchParams.get('code');
  expect(code).toBeTruthy();
  const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: code!, code_verifier: verifier, client_id: clientId, redirect_uri: REDIRECT });
  expect(tokens.status).toBe(200);
  expect(tokens.body.refresh_token).toBeTruthy();
  return tokens.body.refresh_token as string;
}

const refresh = (clientId: string, refreshToken: string) => tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });
const grantIdsOn = (html: string) => [...html.matchAll(/\/grants\/([^/"]+)\/revoke"/g)].map((m) => decodeURIComponent(m[1]!));
const lastEvent = async (type: string) => (await gh.services.audit.recent({ type, limit: 1 }))[0];

describe('the people list', () => {
  it('lists people with connections, admin mark, status and active grants; searches by email or name; escapes names', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    await grantFor(PERSON, client.client_id);
    const page = await admin.page('/people');
    expect(page.status).toBe(200);
    expect(page.html).toMatch(/aria-current="page">People</);
    expect(page.html).toContain('<h1>People</h1>');
    const row = page.html.slice(page.html.indexOf(`/people/${personId}"`));
    const cells = row.slice(0, row.indexOf('</tr>'));
    expect(cells).toContain('person@example.com');
    expect(cells).toContain('local');
    expect(cells).toMatch(/<td>1<\/td>\s*$/);
    expect(page.html).not.toContain(XSS);
    expect(page.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(page.html).toMatch(/admin@example\.com[\s\S]*?<td>admin<\/td>/);

    const byName = await admin.page('/people?q=PAT');
    expect(byName.html).toContain('person@example.com');
    expect(byName.html).not.toContain('admin@example.com</a>');
    const none = await admin.page(`/people?q=${encodeURIComponent('%_nobody')}`);
    expect(none.html).toContain('No one matches.');
    // Hostile paging is clamped, not an error.
    expect((await admin.page('/people?page=-4&q[]=x')).status).toBe(200);
    expect((await admin.page('/people?page=99999999999')).status).toBe(200);
  });

  it('answers 404 for an unknown person', async () => {
    expect((await admin.page('/people/no-such-person')).status).toBe(404);
    expect((await admin.submit('/people/no-such-person/revoke-all', '/people', {})).status).toBe(404);
    expect((await admin.submit('/people/no-such-person/disable', '/people', {})).status).toBe(404);
  });
});

describe("a person's grants", () => {
  it('shows each grant with its client, resource and scopes; Revoke stops its refresh token at once', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT], { client_name: XSS });
    const refreshToken = await grantFor(PERSON, client.client_id);
    const page = await admin.page(`/people/${personId}`);
    expect(page.status).toBe(200);
    expect(page.html).not.toContain(XSS);
    expect(page.html).toContain(`href="/console/clients/${encodeURIComponent(client.client_id)}"`);
    expect(page.html).toContain(`${TEST_RESOURCE}: <code>tools:read</code>`);
    expect(page.html).toContain(`aria-label="Revoke &lt;script&gt;`);
    expect(page.html).toContain('>Revoke all</button>');
    const grant = (await gh.services.handle.db('consents').where({ account_id: personId, client_id: client.client_id }).first()) as { grant_id: string };
    expect(grantIdsOn(page.html)).toContain(grant.grant_id);

    const res = await admin.submit(`/people/${personId}/grants/${encodeURIComponent(grant.grant_id)}/revoke`, `/people/${personId}`, {});
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/console/people/${personId}`);
    const refused = await refresh(client.client_id, refreshToken);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    const after = await admin.page(`/people/${personId}`);
    expect(after.html).toContain('Revoked the grant of');
    expect(grantIdsOn(after.html)).not.toContain(grant.grant_id);
    expect(await lastEvent('grant.revoked')).toMatchObject({
      outcome: 'success', actor: ADMIN.email, client_id: client.client_id, details: expect.objectContaining({ accountId: personId, grantId: grant.grant_id, via: 'person', actorId: adminId }),
    });
  });

  it("refuses to revoke another person's grant through this person's page (404) and leaves it working", async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const otherToken = await grantFor(OTHER, client.client_id);
    const [otherGrant] = grantIdsOn((await admin.page(`/people/${otherId}`)).html);
    expect(otherGrant).toBeTruthy();
    const res = await admin.submit(`/people/${personId}/grants/${encodeURIComponent(otherGrant!)}/revoke`, `/people/${personId}`, {});
    expect(res.status).toBe(404);
    expect((await admin.submit(`/people/${personId}/grants/no-such-grant/revoke`, `/people/${personId}`, {})).status).toBe(404);
    const still = await refresh(client.client_id, otherToken);
    expect(still.status).toBe(200);
  });

  it('Revoke all revokes the grants of every client of the person, and no one else’s', async () => {
    const a = await registerPublicClient(gh.issuer, [REDIRECT], { client_name: 'Client A' });
    const b = await registerPublicClient(gh.issuer, [REDIRECT], { client_name: 'Client B' });
    const tokenA = await grantFor(PERSON, a.client_id);
    const tokenB = await grantFor(PERSON, b.client_id);
    const otherToken = await grantFor(OTHER, a.client_id);
    const before = grantIdsOn((await admin.page(`/people/${personId}`)).html);
    expect(before.length).toBeGreaterThanOrEqual(2);

    const res = await admin.submit(`/people/${personId}/revoke-all`, `/people/${personId}`, {});
    expect(res.status).toBe(303);
    expect((await refresh(a.client_id, tokenA)).body.error).toBe('invalid_grant');
    expect((await refresh(b.client_id, tokenB)).body.error).toBe('invalid_grant');
    expect((await refresh(a.client_id, otherToken)).status).toBe(200);
    const after = await admin.page(`/people/${personId}`);
    expect(grantIdsOn(after.html)).toEqual([]);
    expect(after.html).toContain('No active grant.');
    const event = await lastEvent('grants.revoked_all');
    expect(event).toMatchObject({ outcome: 'success', actor: ADMIN.email, details: expect.objectContaining({ accountId: personId, count: before.length }) });
    expect(((event!.details as { grantIds: string[] }).grantIds).sort()).toEqual([...before].sort());
  });
});

describe('disabling and enabling', () => {
  it('Disable refuses refresh and login, revokes grants and ends console sessions; Enable lets them sign in again', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const refreshToken = await grantFor(PERSON, client.client_id);
    await consoleSignIn(gh.issuer, PERSON.email, PERSON.password); // a console session (non-admin) to be ended
    expect((await gh.services.handle.db('console_sessions').where({ account_id: personId })).length).toBeGreaterThan(0);
    const page = await admin.page(`/people/${personId}`);
    expect(page.html).toContain('>Disable</button>');

    const res = await admin.submit(`/people/${personId}/disable`, `/people/${personId}`, {});
    expect(res.status).toBe(303);
    expect((await gh.services.accounts.findById(personId))?.disabled).toBe(true);
    expect((await gh.services.users.findById(personId))?.disabled).toBe(true);
    expect((await refresh(client.client_id, refreshToken)).body.error).toBe('invalid_grant');
    await expect(grantFor(PERSON, client.client_id)).rejects.toThrow(/flow ended/);
    expect(await gh.services.handle.db('console_sessions').where({ account_id: personId })).toEqual([]);
    const disabledPage = await admin.page(`/people/${personId}`);
    expect(disabledPage.html).toMatch(/class="status-disabled">disabled/);
    expect(disabledPage.html).toContain('>Enable</button>');
    expect(await lastEvent('person.disabled')).toMatchObject({ outcome: 'success', actor: ADMIN.email, details: expect.objectContaining({ accountId: personId }) });
    const listed = await admin.page('/people?q=person%40example.com');
    expect(listed.html).toMatch(/class="status-disabled">disabled/);

    expect((await admin.submit(`/people/${personId}/enable`, `/people/${personId}`, {})).status).toBe(303);
    expect((await gh.services.accounts.findById(personId))?.disabled).toBe(false);
    expect((await gh.services.users.findById(personId))?.disabled).toBe(false);
    const fresh = await grantFor(PERSON, client.client_id);
    expect((await refresh(client.client_id, fresh)).status).toBe(200);
    expect(await lastEvent('person.enabled')).toMatchObject({ outcome: 'success', actor: ADMIN.email, details: expect.objectContaining({ accountId: personId }) });
  });

  it('refuses to let an admin disable their own account (409), storing nothing', async () => {
    const page = await admin.page(`/people/${adminId}`);
    expect(page.html).not.toContain('>Disable</button>');
    const res = await admin.submit(`/people/${adminId}/disable`, `/people/${adminId}`, {});
    expect(res.status).toBe(409);
    expect(await res.text()).toContain('You cannot disable your own account');
    expect((await gh.services.accounts.findById(adminId))?.disabled).toBe(false);
    expect((await admin.page('/people')).status).toBe(200); // still signed in
    expect(await lastEvent('person.disabled')).toMatchObject({ outcome: 'failure', actor: ADMIN.email, reason: expect.stringContaining('You cannot disable your own account') });
  });
});
