// Admin rights follow the rule in force (issue 16, item 1; docs/SECURITY.md "Issue 16: console administration"):
// taking someone out of ADMIN_EMAILS or ADMIN_GROUPS and restarting on the same database ends their console access
// at their next request, live sessions included, however they were admitted when they signed in.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { consoleSignIn } from '../../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.js';
import { MultiOriginBrowser } from '../../helpers/multi-origin-browser.js';
import { freePort, startTestServer, type TestServer } from '../../helpers/server.js';
import { openAtGatehouse, startMockIdp, type MockIdp } from '../../helpers/upstream-idp.js';

/** The people list's row for this email. */
function rowOf(html: string, email: string): string {
  const row = [...html.matchAll(/<tr>[\s\S]*?<\/tr>/g)].map((m) => m[0]).find((r) => r.includes(`>${email}</a>`));
  if (!row) throw new Error(`no row for ${email}`);
  return row;
}

async function audited(gh: TestServer, type: string) {
  return gh.services.audit.recent({ type, limit: 20 });
}

describe('an administrator by ADMIN_EMAILS, removed from it', () => {
  const BOSS = { email: 'boss@example.com', password: 'boss passphrase long enough 1' };
  const ROOT = { email: 'root@example.com', password: 'root passphrase long enough 2', isAdmin: true };
  let db: TestDatabase;
  let gh: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    gh = await startTestServer({ ...db.env, ADMIN_EMAILS: BOSS.email });
    await gh.services.users.create(BOSS); // no local admin mark: an administrator only through ADMIN_EMAILS
    await gh.services.users.create(ROOT); // `user add --admin`
  });
  afterAll(async () => {
    await gh?.close();
    await db?.drop();
  });

  it('loses the console at the next request after a restart without them, their live session included, and cannot sign in again', async () => {
    const boss = await consoleSignIn(gh.issuer, BOSS.email, BOSS.password);
    const root = await consoleSignIn(gh.issuer, ROOT.email, ROOT.password);
    expect((await boss.page()).status).toBe(200);
    expect(rowOf((await root.page('/people')).html, BOSS.email)).toContain('<td>admin</td>');

    // The operator takes them out of ADMIN_EMAILS and restarts, same database, same address.
    await gh.close();
    gh = await startTestServer({ ...db.env, ADMIN_EMAILS: '' }, gh.port);

    const live = await boss.page();
    expect(live.status).toBe(403);
    expect(live.html).toContain('Administrators only');
    expect((await audited(gh, 'console.refused'))[0]).toMatchObject({ outcome: 'failure', actor: BOSS.email, reason: 'not an administrator' });
    const again = await consoleSignIn(gh.issuer, BOSS.email, BOSS.password);
    expect((await again.page()).status).toBe(403);
    expect((await audited(gh, 'console.login'))[0]).toMatchObject({ outcome: 'failure', actor: BOSS.email, reason: 'not an administrator' });

    // The local admin mark is the rule for ROOT, and still holds; the people page says who is an admin now.
    const people = await root.page('/people');
    expect(people.status).toBe(200);
    expect(rowOf(people.html, BOSS.email)).not.toContain('<td>admin</td>');
    expect(rowOf(people.html, ROOT.email)).toContain('<td>admin</td>');
    const bossId = (await gh.services.users.findByEmail(BOSS.email))!.id;
    expect((await root.page(`/people/${bossId}`)).html).toMatch(/<dt>Administrator<\/dt><dd>no<\/dd>/);
  });

  it('a local admin mark grants nothing once that user is disabled', async () => {
    const root = await consoleSignIn(gh.issuer, ROOT.email, ROOT.password);
    expect((await root.page()).status).toBe(200);
    const rootId = (await gh.services.users.findByEmail(ROOT.email))!.id;
    await gh.services.users.setDisabled(rootId, true);
    expect((await root.page()).status).toBe(403);
    await gh.services.users.setDisabled(rootId, false);
    expect((await root.page()).status).toBe(200);
  });
});

describe('an administrator by ADMIN_GROUPS at an upstream IdP', () => {
  const DANA = 'idp-sub-dana-4e1b';
  let db: TestDatabase;
  let gh: TestServer;
  let idp: MockIdp;
  let port: number;
  const env = (adminGroups: string) => ({
    ...db.env,
    UPSTREAM_PROVIDER: 'oidc',
    UPSTREAM_ISSUER: idp.issuer,
    UPSTREAM_CLIENT_ID: idp.clientId,
    UPSTREAM_CLIENT_SECRET: idp.clientSecret,
    ADMIN_GROUPS: adminGroups,
  });

  beforeAll(async () => {
    port = await freePort();
    idp = await startMockIdp({
      gatehouseIssuer: `http://127.0.0.1:${port}`,
      accounts: { [DANA]: { email: 'dana@example.com', email_verified: true, name: 'Dana', groups: ['gatehouse-admins', 'engineering'] } },
    });
    db = await createTestDatabase();
    gh = await startTestServer(env('gatehouse-admins'), port);
  });
  afterAll(async () => {
    await gh?.close();
    await idp?.close();
    await db?.drop();
  });

  /** The console sign-in through the IdP, as Dana; returns the browser and the console's status for it. */
  async function signIn(browser = new MultiOriginBrowser('dana')): Promise<{ browser: MultiOriginBrowser; status: number }> {
    const toIdp = await browser.open(`${gh.issuer}/console/login`, (next) => next.origin === idp.issuer);
    if (!(toIdp instanceof URL)) throw new Error(`expected the IdP, got ${toIdp.status} ${toIdp.url}`);
    const done = await openAtGatehouse(browser, gh.issuer, await idp.login(browser, toIdp, DANA));
    if (!(done instanceof Response) || !(await done.text()).includes('Continue to the console')) throw new Error('console sign-in did not complete');
    return { browser, status: (await browser.get(`${gh.issuer}/console`)).status };
  }

  it('loses the console when ADMIN_GROUPS no longer names their group (restart, same database), live session included', async () => {
    const { browser, status } = await signIn();
    expect(status).toBe(200);

    await gh.close();
    gh = await startTestServer(env('platform-admins'), port);
    expect((await browser.get(`${gh.issuer}/console`)).status).toBe(403);
    expect((await signIn()).status).toBe(403);

    await gh.close();
    gh = await startTestServer(env('gatehouse-admins'), port);
    expect((await browser.get(`${gh.issuer}/console`)).status).toBe(200);
  });

  it('loses the console when taken out of the group at the IdP and signing in again, the older session included', async () => {
    const first = await signIn();
    expect(first.status).toBe(200);
    idp.accounts[DANA] = { ...idp.accounts[DANA], groups: ['engineering'] };
    expect((await signIn()).status).toBe(403);
    expect((await first.browser.get(`${gh.issuer}/console`)).status).toBe(403);
  });
});
