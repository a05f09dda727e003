// Console sign-in: admins through the same login as everyone; sessions, CSRF, 403 for non-admins.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../../helpers/browser-flow.js';
import { ConsoleBrowser, consoleSignIn, csrfOf } from '../../helpers/console.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const PERSON = { email: 'person@example.com', password: 'another long passphrase 42' };

let gh: TestServer;
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  await gh.services.users.create(ADMIN);
  await gh.services.users.create(PERSON);
});
afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

describe('console sign-in', () => {
  it('sends a visitor without a session to the login, through /authorize with PKCE and prompt=login', async () => {
    const b = new Browser(new URL(gh.issuer).origin);
    const res = await b.get(`${gh.issuer}/console/clients`);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/console/login');
    const login = await b.get(`${gh.issuer}/console/login`);
    const to = new URL(login.headers.get('location')!);
    expect(to.pathname).toBe('/authorize');
    expect(to.searchParams.get('client_id')).toBe('gatehouse-console');
    expect(to.searchParams.get('code_challenge_method')).toBe('S256');
    expect(to.searchParams.get('prompt')).toBe('login');
    expect(to.searchParams.get('max_age')).toBe('0');
    expect(to.searchParams.get('resource')).toBeNull();
  });

  it('signs an admin in with a SameSite=Strict, HttpOnly console cookie and shows the overview', async () => {
    const signedIn = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
    const { status, html, res } = await signedIn.page();
    expect(status).toBe(200);
    expect(html).toContain('<h1>Overview</h1>');
    expect(html).toContain(ADMIN.email);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('sets the console cookie SameSite=Strict and HttpOnly, scoped to /console', async () => {
    const b = new ConsoleBrowser(gh.issuer);
    const page = await b.follow(await b.get(`${gh.issuer}/console/login`));
    const { login } = await import('../../helpers/browser-flow.js');
    let setCookie = '';
    const orig = b.request.bind(b);
    b.request = async (url, init) => {
      const r = await orig(url, init);
      for (const c of r.headers.getSetCookie()) if (c.startsWith('gatehouse.console=')) setCookie = c;
      return r;
    };
    await login(b, page as Response, ADMIN.email, ADMIN.password);
    expect(setCookie).toMatch(/samesite=strict/i);
    expect(setCookie).toMatch(/httponly/i);
    expect(setCookie).toMatch(/path=\/console/i);
  });

  it('gives a signed-in non-admin 403 on the console', async () => {
    const b = await consoleSignIn(gh.issuer, PERSON.email, PERSON.password);
    const { status, html } = await b.page();
    expect(status).toBe(403);
    expect(html).toContain('Administrators only');
  });

  it('refuses a callback without the browser binding (state cookie) and audits it', async () => {
    const b = new Browser(new URL(gh.issuer).origin);
    const res = await b.get(`${gh.issuer}/console/callback?code=abc&state=def&iss=${encodeURIComponent(gh.issuer)}`);
    expect(res.status).toBe(400);
    const events = await gh.services.audit.recent({ type: 'console.login' });
    expect(events[0]).toMatchObject({ outcome: 'failure', reason: 'state does not match this browser' });
  });

  it('refuses a sign-out without the CSRF token, then signs out with it', async () => {
    const b = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
    const bad = await b.postForm(`${gh.issuer}/console/logout`, { _csrf: 'forged' });
    expect(bad.status).toBe(403);
    expect((await b.page()).status).toBe(200);
    const { html } = await b.page();
    const ok = await b.postForm(`${gh.issuer}/console/logout`, { _csrf: csrfOf(html) });
    expect(ok.status).toBe(200);
    expect((await b.page()).status).toBe(303);
  });
});

/** The /authorize URL /console/login sends `b` to, with prompt=login and max_age removed (a browser may edit it). */
async function strippedLoginUrl(b: ConsoleBrowser): Promise<URL> {
  const to = new URL((await b.get(`${gh.issuer}/console/login`)).headers.get('location')!);
  to.searchParams.delete('prompt');
  to.searchParams.delete('max_age');
  return to;
}

/** auth_time counts whole seconds: let the next one begin, so "before the sign-in started" is measurable. */
const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1100 - (Date.now() % 1000)));

describe('a fresh sign-in, enforced at the callback (issue 16, item 2)', () => {
  it('after sign-out, a login URL without prompt=login asks for the password again (no silent sign-in from the Gatehouse session)', async () => {
    const b = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
    const { html } = await b.page();
    expect((await b.postForm(`${gh.issuer}/console/logout`, { _csrf: csrfOf(html) })).status).toBe(200);

    const step = await b.follow(await b.get((await strippedLoginUrl(b)).href));
    expect(step).toBeInstanceOf(Response);
    const page = await (step as Response).text();
    expect(page).toContain('name="password"');
    expect(page).not.toContain('Continue to the console');
    expect((await b.page()).status).toBe(303);
    const logouts = await gh.services.audit.recent({ type: 'console.logout' });
    expect(logouts[0]).toMatchObject({ outcome: 'success', details: expect.objectContaining({ gatehouseSessionEnded: true }) });
  });

  it('refuses a sign-in that reuses the open Gatehouse session (prompt=login and max_age stripped), audited, no console session', async () => {
    const b = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
    const { html } = await b.page();
    // Drop the console session only, keeping the Gatehouse sign-in session: as if signed out before item 2.
    const adminId = (await gh.services.users.findByEmail(ADMIN.email))!.id;
    await gh.services.handle.db('console_sessions').where({ account_id: adminId }).delete();
    expect((await b.page()).status).toBe(303);
    expect(html).toContain('Overview');
    await nextSecond();

    const step = await b.follow(await b.get((await strippedLoginUrl(b)).href));
    expect(step).toBeInstanceOf(Response);
    const res = step as Response;
    expect(new URL(res.url).pathname).toBe('/console/callback');
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain('Continue to the console');
    const events = await gh.services.audit.recent({ type: 'console.login' });
    expect(events[0]).toMatchObject({ outcome: 'failure', reason: 'not a fresh authentication (auth_time before the sign-in started)' });
    expect((await b.page()).status).toBe(303);
  });
});

describe('a planted console login cookie is not a fresh console sign-in (issue 16 review)', () => {
  it('refuses a code from a sign-in the person made for an MCP client after the console login cookie was set', async () => {
    const b = new ConsoleBrowser(gh.issuer);
    // The attacker opens /console/login at a shared browser and keeps the URL, stripped of prompt and max_age.
    const saved = await strippedLoginUrl(b);
    await nextSecond();
    // An administrator then signs in at that browser for an MCP client (login only).
    const client = await registerPublicClient(gh.issuer, ['http://127.0.0.1:7009/cb']);
    const { challenge } = pkcePair();
    const q = new URLSearchParams({ response_type: 'code', client_id: client.client_id, redirect_uri: 'http://127.0.0.1:7009/cb', code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', state: 'mcp' });
    const { login } = await import('../../helpers/browser-flow.js');
    const loginPage = (await b.follow(await b.get(`${gh.issuer}/authorize?${q}`))) as Response;
    const afterLogin = await login(b, loginPage, ADMIN.email, ADMIN.password);
    expect(afterLogin).toBeInstanceOf(Response); // the MCP client's consent page
    // The saved console URL now meets an open session whose login is newer than the console cookie.
    const step = await b.follow(await b.get(saved.href));
    expect(step).toBeInstanceOf(Response);
    const res = step as Response;
    expect(new URL(res.url).pathname).toBe('/console/callback');
    expect(res.status).toBe(401);
    expect((await b.page()).status).toBe(303);
  });
});

describe('/console/callback and other clients\' codes (issue 16, 11a)', () => {
  it('refuses a code issued to another client without consuming it: that client still redeems it', async () => {
    const redirectUri = 'http://127.0.0.1:4999/callback';
    const { client_id } = await registerPublicClient(gh.issuer, [redirectUri]);
    const { verifier, challenge } = pkcePair();
    const back = await authorizeThrough(new Browser(new URL(gh.issuer).origin), gh.issuer, { client_id, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read' }, PERSON);
    const code = back.searchParams.get('code')!;
    expect(code).toBeTruthy();

    // A browser with a genuine console sign-in under way (state cookie and state) presents the foreign code.
    const b = new ConsoleBrowser(gh.issuer);
    const state = new URL((await b.get(`${gh.issuer}/console/login`)).headers.get('location')!).searchParams.get('state')!;
    const res = await b.get(`${gh.issuer}/console/callback?${new URLSearchParams({ code, state, iss: gh.issuer })}`);
    expect(res.status).toBe(400);
    expect(await res.text()).not.toContain('Continue to the console');
    const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id, redirect_uri: redirectUri });
    expect(tokens.status).toBe(200);
    expect(tokens.body.access_token).toBeTruthy();
    const events = await gh.services.audit.recent({ type: 'console.login' });
    expect(events[0]).toMatchObject({ outcome: 'failure', reason: 'authorization code of another client' });
  });
});
