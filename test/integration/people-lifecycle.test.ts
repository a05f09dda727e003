// People through their lifecycle (docs/PEOPLE.md; issue 20): a local person is added with an invitation link and a
// password is reset with a one-time link — never a password on screen, in an answer or in an audit row; a link works
// once (concurrent posts included), expires, dies when a newer one is made, and gets one page whatever made it
// unusable; a reset changes the password and nothing else; a person without a password account has nothing to reset
// (409); a person's sessions are listed and ended (a console session cookie stops working, grants stay); identities
// with their last re-validation and the deprovisioned mark are shown. Every action goes through the admin service
// layer from the console (with its CSRF token) and the admin API, and is audited, refusals included. Real HTTP, a
// real database (PGlite, or PostgreSQL with TEST_DATABASE_URL).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RouteResolver } from '../../src/http/route-resolution.js';
import { adminApiClient, adminApiToken, call, OpenApiCheck, type ApiAnswer } from '../helpers/admin-api.js';
import { authorizeThrough, authorizeUrl, Browser, login, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { consoleSignIn, type ConsoleBrowser } from '../helpers/console.js';
import { oneJson, runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const REDIRECT = 'http://127.0.0.1:45321/cb';
const XSS = '<script>alert(1)</script>';

let db: TestDatabase;
let gh: TestServer;
let api: string;
let writer: string;
let writerId: string;
let reader: string;
let openapi: OpenApiCheck;
let admin: ConsoleBrowser;

/** Every body an administrator or a program was shown: no password set through a link may appear in any of them. */
const seen: string[] = [];
/** Every password tried in this file, for the final search of answers, pages and audit rows. */
const passwords: string[] = [];
/** Every link token handed out, for the search of audit rows. */
const tokens: string[] = [];
/** A link already used (the first test's), for the one-page check. */
let usedUrl: string;

const knex = () => gh.services.handle.db;
const details = (row: Record<string, any>) => (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as Record<string, any>;
const events = async (type: string, accountId?: string) =>
  ((await knex()('audit_events').where({ type }).orderBy('id', 'asc')) as Array<Record<string, any>>).filter((r) => !accountId || details(r).accountId === accountId);

async function apiCall(operationId: string, path: string, init: { method?: string; token?: string; body?: unknown } = {}): Promise<ApiAnswer> {
  const res = await call(`${api}${path}`, { token: writer, ...init });
  openapi.check(operationId, res);
  seen.push(JSON.stringify(res.json));
  return res;
}

async function page(browser: ConsoleBrowser, path: string) {
  const p = await browser.page(path);
  seen.push(p.html);
  return p;
}

async function consoleForm(browser: ConsoleBrowser, formPath: string, pagePath: string, form: Record<string, string> = {}) {
  const res = await browser.submit(formPath, pagePath, form);
  const html = await res.clone().text();
  seen.push(html);
  return { res, status: res.status, html };
}

/** The one-time link a console page shows (the invitation or reset page). */
const linkOn = (html: string) => /<code id="one-time-link"[^>]*>([^<]+)<\/code>/.exec(html)?.[1];
const tokenOf = (url: string) => {
  const token = url.slice(url.lastIndexOf('/') + 1);
  tokens.push(token);
  return token;
};

const openLink = (url: string) => fetch(url, { redirect: 'manual' });
async function useLink(token: string, password: string, confirm = password, origin = new URL(gh.issuer).origin): Promise<{ status: number; html: string }> {
  passwords.push(password);
  const res = await fetch(`${gh.issuer}/welcome`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
    body: new URLSearchParams({ token, password, confirm }).toString(),
  });
  const html = await res.text();
  seen.push(html);
  return { status: res.status, html };
}

/** Whether this email and password sign in (the console's sign-in through /authorize and the login form). */
async function signsIn(email: string, password: string): Promise<ConsoleBrowser | undefined> {
  try {
    return await consoleSignIn(gh.issuer, email, password);
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  api = `${gh.issuer}/admin/api/v1`;
  const w = await adminApiClient(gh, 'admin:read admin:write', 'people automation');
  writerId = w.id;
  writer = await adminApiToken(gh, w);
  reader = await adminApiToken(gh, await adminApiClient(gh, 'admin:read', 'people reader'), 'admin:read');
  openapi = new OpenApiCheck((await call(`${api}/openapi.json`)).json);
  await gh.services.users.create(ADMIN);
  admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

describe('an invitation link', () => {
  it('adding a person answers a link, never a password; the link sets their password once, a second use changes nothing', async () => {
    const added = await apiCall('addPerson', '/people', { method: 'POST', body: { email: 'invited@example.com', name: 'Invited' } });
    expect(added.status).toBe(201);
    expect(added.json).not.toHaveProperty('password');
    const { url, kind, expires_at } = added.json.invitation;
    expect(kind).toBe('invitation');
    expect(url).toMatch(new RegExp(`^${gh.issuer}/welcome/[A-Za-z0-9_-]{43}$`));
    // 7 days, give or take the request.
    expect(Math.abs(Date.parse(expires_at) - Date.now() - 7 * 24 * 3600 * 1000)).toBeLessThan(60_000);
    const id = added.json.person.id as string;
    // Only the digest is stored.
    const stored = (await knex()('local_account_links').where({ user_id: id })) as Array<Record<string, unknown>>;
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(tokenOf(url));
    const [addedRow] = await events('person.added', id);
    expect(addedRow).toMatchObject({ outcome: 'success', actor: writerId });
    expect(details(addedRow!)).toMatchObject({ via: 'api_client', invited: true });
    expect(JSON.stringify(addedRow)).not.toContain(tokenOf(url));

    // No password yet: nobody signs in as them.
    expect(await signsIn('invited@example.com', '')).toBeUndefined();
    // Opening the link (a previewer does) shows the form and changes nothing.
    const opened = await openLink(url);
    expect(opened.status).toBe(200);
    expect(opened.headers.get('cache-control')).toBe('no-store');
    const form = await opened.text();
    expect(form).toContain('invited@example.com');
    expect(form).toContain('name="confirm"');
    expect(form).toContain(`action="/welcome"`);
    expect((await openLink(url)).status).toBe(200);

    // Two passwords that differ, a weak one and a cross-site post leave the link as it was.
    expect((await useLink(tokenOf(url), 'a first long password', 'a different long password')).status).toBe(400);
    expect((await useLink(tokenOf(url), 'short')).html).toContain('at least 12 characters');
    // Long enough, but one key held down or a short pattern repeated.
    expect((await useLink(tokenOf(url), 'aaaaaaaaaaaaaaaa')).html).toContain('at least 6 different characters');
    expect((await useLink(tokenOf(url), 'abcabcabcabcabc')).html).toContain('at least 6 different characters');
    expect((await useLink(tokenOf(url), 'a cross site password!', undefined, 'https://evil.example')).status).toBe(403);
    expect((await knex()('users').where({ id }).first()).password_hash).toBeNull();

    const done = await useLink(tokenOf(url), 'the invited person chose this');
    expect(done.status).toBe(200);
    expect(done.html).toContain('Password set');
    expect(done.html).toContain('sign in from your application or the console');
    expect(done.html).toContain('href="/console"');
    const second = await useLink(tokenOf(url), 'someone else tries again later');
    expect(second.status).toBe(404);
    expect(second.html).toContain('This link cannot be used');
    expect((await openLink(url)).status).toBe(404);
    usedUrl = url;

    expect(await signsIn('invited@example.com', 'someone else tries again later')).toBeUndefined();
    expect(await signsIn('invited@example.com', 'the invited person chose this')).toBeDefined();
    const set = await events('person.password_set', id);
    expect(set.filter((r) => r.outcome === 'success')).toHaveLength(1);
    expect(set.find((r) => r.outcome === 'success')).toMatchObject({ actor: 'invited@example.com', reason: 'invitation link' });
    expect(set.filter((r) => r.outcome === 'failure').map((r) => r.reason)).toEqual(['link already used', 'link already used']);
  });

  it('is used once even when posted twice at the same moment', async () => {
    const added = await apiCall('addPerson', '/people', { method: 'POST', body: { email: 'racer@example.com' } });
    const token = tokenOf(added.json.invitation.url);
    const results = await Promise.all(['racer password number one', 'racer password number two', 'racer password number three'].map((p) => useLink(token, p)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 404, 404]);
    const winner = ['racer password number one', 'racer password number two', 'racer password number three'][results.findIndex((r) => r.status === 200)]!;
    expect(await signsIn('racer@example.com', winner)).toBeDefined();
    expect((await events('person.password_set', added.json.person.id)).filter((r) => r.outcome === 'success')).toHaveLength(1);
  });

  it('expires after its lifetime; unknown, used and expired links get the same page, audited with the cause', async () => {
    const added = await apiCall('addPerson', '/people', { method: 'POST', body: { email: 'late@example.com' } });
    const url = added.json.invitation.url as string;
    await knex()('local_account_links').where({ user_id: added.json.person.id }).update({ expires_at: new Date(Date.now() - 1000) });
    const expired = await openLink(url);
    const unknown = await openLink(`${gh.issuer}/welcome/${'A'.repeat(43)}`);
    const used = await openLink(usedUrl);
    expect([expired.status, unknown.status, used.status]).toEqual([404, 404, 404]);
    const bodies = await Promise.all([expired.text(), unknown.text(), used.text()]);
    expect(new Set(bodies).size).toBe(1);
    expect((await useLink(tokenOf(url), 'too late for this one')).status).toBe(404);
    expect((await useLink('A'.repeat(43), 'an unknown link password')).html).toBe(bodies[0]);
    expect((await knex()('users').where({ id: added.json.person.id }).first()).password_hash).toBeNull();
    const reasons = (await events('person.password_set')).filter((r) => r.outcome === 'failure').map((r) => [r.reason, details(r).step]);
    expect(reasons).toEqual(expect.arrayContaining([['link expired', 'open'], ['link expired', 'use'], ['unknown or replaced link', 'open'], ['unknown or replaced link', 'use']]));
  });

  it('a newer link kills the older one (a new invitation for someone who never set a password)', async () => {
    const added = await apiCall('addPerson', '/people', { method: 'POST', body: { email: 'twice@example.com' } });
    const id = added.json.person.id as string;
    const again = await apiCall('resetPersonPassword', `/people/${id}/reset-password`, { method: 'POST' });
    expect(again.status).toBe(200);
    expect(again.json.link.kind).toBe('invitation');
    expect((await openLink(added.json.invitation.url)).status).toBe(404);
    expect((await useLink(tokenOf(added.json.invitation.url), 'the old link password')).status).toBe(404);
    expect((await useLink(tokenOf(again.json.link.url), 'the new link password')).status).toBe(200);
    expect(await signsIn('twice@example.com', 'the new link password')).toBeDefined();
    expect(await events('person.invited', id)).toEqual([expect.objectContaining({ outcome: 'success', actor: writerId })]);
  });
});

describe('a password reset link', () => {
  const PERSON = { email: 'resets@example.com', password: 'the password before the reset' };
  let id: string;

  beforeAll(async () => {
    id = (await gh.services.users.create(PERSON)).id;
    await gh.services.accounts.addLocal({ id, email: PERSON.email, name: null }, 'local');
  });

  it('from the console: shown once, sets a new password (the old one stops working) and ends nothing else', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { verifier, challenge } = pkcePair();
    const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE }, PERSON);
    const issued = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT });
    expect(issued.status).toBe(200);
    const sessionsBefore = (await apiCall('listPersonSessions', `/people/${id}/sessions`, { token: reader })).json.items;
    expect(sessionsBefore.map((s: { kind: string }) => s.kind)).toEqual(['sign_in']);

    const person = await page(admin, `/people/${id}`);
    expect(person.html).toContain('>Send password reset link</button>');
    const shown = await consoleForm(admin, `/people/${id}/reset-password`, `/people/${id}`);
    expect(shown.status).toBe(200);
    expect(shown.html).toContain('Password reset link');
    expect(shown.html).toContain('it will not be shown again');
    const url = linkOn(shown.html)!;
    expect(url).toMatch(new RegExp(`^${gh.issuer}/welcome/[A-Za-z0-9_-]{43}$`));
    // Shown once: the person's page never shows it again.
    expect((await page(admin, `/people/${id}`)).html).not.toContain(tokenOf(url));
    const [row] = await events('person.password_reset_link', id);
    expect(row).toMatchObject({ outcome: 'success', actor: ADMIN.email });
    expect(details(row!)).toMatchObject({ via: 'person', kind: 'password_reset' });
    expect(Math.abs(Date.parse(details(row!).linkExpiresAt) - Date.now() - 3600 * 1000)).toBeLessThan(60_000);
    expect(JSON.stringify(row)).not.toContain(tokenOf(url));

    // Until it is used, the current password still works.
    expect((await useLink(tokenOf(url), 'the password after the reset')).status).toBe(200);
    expect(await signsIn(PERSON.email, PERSON.password)).toBeUndefined();
    // Nothing else changed: the browser sign-in, the grant and its refresh token are still there.
    expect((await apiCall('listPersonSessions', `/people/${id}/sessions`, { token: reader })).json.items).toEqual(sessionsBefore);
    const refreshed = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token, client_id: client.client_id });
    expect(refreshed.status).toBe(200);
    expect(await signsIn(PERSON.email, 'the password after the reset')).toBeDefined();
  });

  it('refused with 409 for a person without a password account, audited, from the API and the console', async () => {
    const idpPerson = await gh.services.accounts.link({ connector: 'oidc', issuer: 'https://idp.example.test', subject: 'idp-only', email: 'idp-only@example.com', emailVerified: true, groups: [] }, false);
    const refused = await apiCall('resetPersonPassword', `/people/${idpPerson.id}/reset-password`, { method: 'POST' });
    expect(refused).toMatchObject({ status: 409, json: { error: 'conflict', error_description: expect.stringContaining('no password account') } });
    const viaConsole = await consoleForm(admin, `/people/${idpPerson.id}/reset-password`, `/people/${idpPerson.id}`);
    expect(viaConsole.status).toBe(409);
    expect(viaConsole.html).toContain('no password account');
    // No reset button for them, and no link was made.
    expect((await page(admin, `/people/${idpPerson.id}`)).html).not.toContain('Send password reset link');
    expect(await knex()('local_account_links').where({ user_id: idpPerson.id })).toEqual([]);
    expect((await events('person.password_reset_link', idpPerson.id)).map((r) => [r.outcome, details(r).via])).toEqual([['failure', 'api_client'], ['failure', 'person']]);
    expect((await apiCall('resetPersonPassword', '/people/nobody/reset-password', { method: 'POST' })).status).toBe(404);
    expect((await apiCall('resetPersonPassword', `/people/${idpPerson.id}/reset-password`, { method: 'POST', token: reader })).status).toBe(403);
  });
});

describe('adding a person in the console', () => {
  it('shows the invitation link once; a taken email is refused and audited', async () => {
    const list = await page(admin, '/people');
    expect(list.html).toContain('Add a person');
    const added = await consoleForm(admin, '/people', '/people', { email: 'Console.Added@Example.com', name: XSS, admin: 'on' });
    expect(added.status).toBe(200);
    expect(added.html).toContain('Invitation link');
    expect(added.html).not.toContain(XSS);
    const url = linkOn(added.html)!;
    expect(url).toMatch(/\/welcome\/[A-Za-z0-9_-]{43}$/);
    const user = await gh.services.users.findByEmail('console.added@example.com');
    expect(user).toMatchObject({ isAdmin: true, passwordSet: false });
    const [row] = await events('person.added', user!.id);
    expect(row).toMatchObject({ outcome: 'success', actor: ADMIN.email });
    expect(details(row!)).toMatchObject({ via: 'person', invited: true, admin: true });

    const taken = await consoleForm(admin, '/people', '/people', { email: 'console.added@example.com' });
    expect(taken.status).toBe(409);
    expect(taken.html).toContain('already exists');
    expect(linkOn(taken.html)).toBeUndefined();
    expect((await events('person.added')).filter((r) => r.outcome === 'failure' && /console\.added/.test(JSON.stringify(r)))).toHaveLength(1);

    // Without the page's CSRF token nothing is added.
    const forged = await admin.postForm(`${gh.issuer}/console/people`, { _csrf: 'forged', email: 'forged@example.com' });
    expect(forged.status).toBe(403);
    expect(await gh.services.users.findByEmail('forged@example.com')).toBeUndefined();

    // The invited administrator sets their password and reaches the console.
    expect((await useLink(tokenOf(url), 'the console added admin password')).status).toBe(200);
    const invitedAdmin = await signsIn('console.added@example.com', 'the console added admin password');
    expect((await invitedAdmin!.page('/people')).status).toBe(200);
  });
});

describe("a person's sessions", () => {
  const TARGET = { email: 'sessions@example.com', password: 'the sessions person password', isAdmin: true };
  let id: string;

  beforeAll(async () => {
    id = (await gh.services.users.create(TARGET)).id;
  });

  it('are listed (console and browser sign-in, no id or cookie) and ended from the console: their console cookie stops working, their grants stay', async () => {
    const theirs = await consoleSignIn(gh.issuer, TARGET.email, TARGET.password);
    expect((await theirs.page('/people')).status).toBe(200);
    // Their own pages, in another browser.
    const accountPages = new Browser(new URL(gh.issuer).origin);
    const first = await accountPages.follow(await accountPages.get(`${gh.issuer}/account`));
    const home = await login(accountPages, first as Response, TARGET.email, TARGET.password);
    expect(home).toMatchObject({ status: 200 });
    expect((await accountPages.get(`${gh.issuer}/account`)).status).toBe(200);
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { verifier, challenge } = pkcePair();
    const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE }, TARGET);
    const issued = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT });
    expect(issued.status).toBe(200);

    const listed = await apiCall('listPersonSessions', `/people/${id}/sessions`, { token: reader });
    expect(listed.status).toBe(200);
    expect(listed.json.items.map((s: { kind: string }) => s.kind).sort()).toEqual(['account', 'console', 'sign_in', 'sign_in', 'sign_in']);
    for (const s of listed.json.items) expect(Object.keys(s).sort()).toEqual(['created_at', 'expires_at', 'kind', 'last_seen_at']);
    const shown = await page(admin, `/people/${id}`);
    expect(shown.html).toContain('Browser sign-in');
    expect(shown.html).toContain('>End sessions</button>');

    const ended = await consoleForm(admin, `/people/${id}/end-sessions`, `/people/${id}`);
    expect(ended.status).toBe(303);
    expect((await theirs.page('/people')).res.status).toBe(303); // to the sign-in: the session is gone
    expect((await accountPages.get(`${gh.issuer}/account`)).status).toBe(303);
    expect((await apiCall('listPersonSessions', `/people/${id}/sessions`, { token: reader })).json.items).toEqual([]);
    const [row] = await events('person.sessions_ended', id);
    expect(row).toMatchObject({ outcome: 'success', actor: ADMIN.email });
    expect(details(row!)).toMatchObject({ via: 'person', ended: { console: 1, account: 1, sign_in: 3 } });
    // The grant stays (no consent is asked again), but oidc-provider binds a refresh token issued without
    // offline_access to the browser sign-in it came from: that one stops with it (docs/PEOPLE.md, "Sessions").
    const grants = await apiCall('listPersonGrants', `/people/${id}/grants`, { token: reader });
    expect(grants.json.items.map((g: { client_id: string }) => g.client_id)).toContain(client.client_id);
    const refresh = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token, client_id: client.client_id });
    expect(refresh).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // Their browser sign-in ended too: /authorize in that browser asks for the password again.
    const again = await theirs.follow(await theirs.get(authorizeUrl(gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE })));
    expect(again).toBeInstanceOf(Response);
    expect(await (again as Response).text()).toContain('name="password"');
  });

  it('are ended from the admin API, audited naming the client; an unknown person is 404; admin:read cannot', async () => {
    await consoleSignIn(gh.issuer, TARGET.email, TARGET.password);
    const ended = await apiCall('endPersonSessions', `/people/${id}/end-sessions`, { method: 'POST' });
    expect(ended).toMatchObject({ status: 200, json: { person: { id }, sessions_ended: { console: expect.any(Number), account: 0, sign_in: expect.any(Number) } } });
    expect(ended.json.sessions_ended.console).toBeGreaterThanOrEqual(1);
    expect((await events('person.sessions_ended', id)).at(-1)).toMatchObject({ outcome: 'success', actor: writerId });
    expect((await apiCall('endPersonSessions', '/people/nobody/end-sessions', { method: 'POST' })).status).toBe(404);
    expect((await apiCall('listPersonSessions', '/people/nobody/sessions', { token: reader })).status).toBe(404);
    expect((await apiCall('endPersonSessions', `/people/${id}/end-sessions`, { method: 'POST', token: reader })).status).toBe(403);
  });
});

describe('the CLI', () => {
  // The CLI reads the server's configuration (on PostgreSQL it runs the operation itself: the link names its ISSUER).
  const env = () => ({ ...db.env, ISSUER: gh.issuer });

  it('user add prints an invitation link, never a password; reset-password, sessions and end-sessions answer as the API does, audited as the CLI', async () => {
    const added = await runCli(['user', 'add', '--email', 'cli.person@example.com'], env());
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(new RegExp(`invitation link \\(works once, until [^)]+\\):\\n${gh.issuer}/welcome/[A-Za-z0-9_-]{43}\\n$`));
    expect(added.stdout).not.toMatch(/password \(shown once\)/);
    const token = tokenOf(added.stdout.trim().split('\n').pop()!);
    expect((await useLink(token, 'the cli person password')).status).toBe(200);

    const reset = await runCli(['user', 'reset-password', 'cli.person@example.com', '--json'], env());
    expect(reset.code).toBe(0);
    const answer = oneJson(reset.stdout);
    seen.push(reset.stdout);
    expect(answer.link).toMatchObject({ kind: 'password_reset', url: expect.stringMatching(/\/welcome\/[A-Za-z0-9_-]{43}$/) });
    tokenOf(answer.link.url);
    const id = answer.person.id as string;
    expect((await events('person.password_reset_link', id)).map((r) => [r.outcome, r.actor, details(r).via])).toEqual([['success', 'cli', 'cli']]);

    await consoleSignIn(gh.issuer, 'cli.person@example.com', 'the cli person password');
    const sessions = await runCli(['user', 'sessions', id, '--json'], env());
    expect(oneJson(sessions.stdout)).toEqual((await call(`${api}/people/${id}/sessions`, { token: reader })).json);
    const ended = await runCli(['user', 'end-sessions', 'cli.person@example.com'], env());
    expect(ended.stdout).toMatch(/sessions ended \(console 1, account pages 0, browser sign-ins 1\)/);
    expect((await call(`${api}/people/${id}/sessions`, { token: reader })).json.items).toEqual([]);
    expect((await events('person.sessions_ended', id)).map((r) => [r.outcome, r.actor])).toEqual([['success', 'cli']]);

    const refused = await runCli(['user', 'reset-password', 'nobody-here', '--json'], env());
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stderr.trim().split('\n').pop()!)).toMatchObject({ error: 'not_found', status: 404 });
  }, 120_000);
});

describe('identities, re-validation and deprovisioning', () => {
  it('the person view carries each identity with its last re-validation, and the deprovisioned mark with a badge', async () => {
    const gone = await gh.services.accounts.link({ connector: 'oidc', issuer: 'https://idp.example.test', subject: 'gone-person', email: 'gone@example.com', emailVerified: true, groups: [] }, false);
    const checkedAt = new Date(Date.now() - 60_000);
    await knex()('identities').where({ account_id: gone.id }).update({ revalidation_checked_at: checkedAt, revalidation_outcome: 'gone', revalidation_detail: `the IdP says the user is deactivated ${XSS}` });
    await gh.services.accounts.markDeprovisioned(gone.id, `deactivated at the IdP ${XSS}`);

    const res = await apiCall('getPerson', `/people/${gone.id}`, { token: reader });
    expect(res.status).toBe(200);
    expect(res.json.deprovisioned).toEqual({ at: expect.any(String), reason: `deactivated at the IdP ${XSS}` });
    expect(res.json.identities).toEqual([
      {
        connection_id: 'oidc', connection_name: null, issuer: 'https://idp.example.test', subject: 'gone-person', email: 'gone@example.com', last_login_at: expect.any(String),
        revalidated_at: expect.any(String), revalidation_checked_at: checkedAt.toISOString(), revalidation_outcome: 'gone', revalidation_detail: `the IdP says the user is deactivated ${XSS}`,
      },
    ]);
    const listed = await apiCall('listPeople', '/people?q=gone%40', { token: reader });
    expect(listed.json.items[0]).toMatchObject({ id: gone.id, deprovisioned: { reason: expect.any(String) }, identities: [expect.objectContaining({ revalidation_outcome: 'gone' })] });
    const local = await apiCall('getPerson', `/people/${(await gh.services.users.findByEmail(ADMIN.email))!.id}`, { token: reader });
    expect(local.json).toMatchObject({ deprovisioned: null, identities: [expect.objectContaining({ connection_id: 'local', connection_name: expect.any(String), revalidation_outcome: 'login' })] });

    const shown = await page(admin, `/people/${gone.id}`);
    expect(shown.html).toContain('<span class="flag flag-deprovisioned">deprovisioned</span>');
    expect(shown.html).toContain('Last re-validation');
    expect(shown.html).toContain('<span class="outcome-gone">gone</span>');
    expect(shown.html).toContain('connection removed');
    expect(shown.html).not.toContain(XSS);
    expect(shown.html).toContain('deactivated at the IdP &lt;script&gt;');

    // Signing in through the IdP again clears the mark.
    await gh.services.accounts.link({ connector: 'oidc', issuer: 'https://idp.example.test', subject: 'gone-person', email: 'gone@example.com', emailVerified: true, groups: [] }, false);
    expect((await apiCall('getPerson', `/people/${gone.id}`, { token: reader })).json.deprovisioned).toBeNull();
  });
});

describe('the password is never shown', () => {
  it('in no API answer, console page or audit row; the link is in no audit row', async () => {
    const set = passwords.filter((p) => p.length >= 12);
    expect(set.length).toBeGreaterThan(10);
    const rows = JSON.stringify(await knex()('audit_events').select('*'));
    const everything = [...seen, rows].join('\n');
    for (const p of set) expect(everything).not.toContain(p);
    expect(tokens.length).toBeGreaterThan(5);
    for (const token of tokens) expect(rows).not.toContain(token);
    // Nor the stored digests, whole.
    for (const { token_hash } of (await knex()('local_account_links').select('token_hash')) as Array<{ token_hash: string }>) expect(rows).not.toContain(token_hash);
  });

  it('the request log shows the welcome route without its token', () => {
    const resolved = new RouteResolver().resolve('GET', '/welcome/secret-token-value');
    expect(resolved).toMatchObject({ kind: 'route', route: { id: 'welcome', loggedPath: '/welcome/:token' } });
    expect(new RouteResolver().resolve('POST', '/welcome')).toMatchObject({ kind: 'route', route: { id: 'welcome', loggedPath: '/welcome' } });
    expect(new RouteResolver().resolve('POST', '/welcome/x')).toMatchObject({ kind: 'method' });
  });
});

describe('the link page is rate limited like sign-in', () => {
  let limitedDb: TestDatabase;
  let limited: TestServer;

  beforeAll(async () => {
    limitedDb = await createTestDatabase();
    limited = await startTestServer({ ...limitedDb.env, LOGIN_RATE_LIMIT_IP: '3' });
  });

  afterAll(async () => {
    await limited?.close();
    await limitedDb?.drop();
  });

  it('posts beyond LOGIN_RATE_LIMIT_IP are 429 before any link is looked up, audited once', async () => {
    const post = () =>
      fetch(`${limited.issuer}/welcome`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: 'A'.repeat(43), password: 'a guessing password', confirm: 'a guessing password' }).toString() });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await post()).status);
    expect(statuses).toEqual([404, 404, 404, 429, 429]);
    const rows = (await limited.services.handle.db('audit_events').where({ type: 'rate_limit.exceeded' })) as Array<Record<string, any>>;
    expect(rows).toHaveLength(1);
    expect(details(rows[0]!)).toMatchObject({ limit: 'login_ip' });
    expect(await limited.services.handle.db('audit_events').where({ type: 'person.password_set' })).toHaveLength(3);
  });
});
