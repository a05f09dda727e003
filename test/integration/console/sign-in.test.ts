// Console sign-in: admins through the same login as everyone; sessions, CSRF, 403 for non-admins.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Browser } from '../../helpers/browser-flow.js';
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
