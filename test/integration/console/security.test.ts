// The console's gate, route by route: every console route (walked from the routers themselves, so a page added
// later is covered without editing this file) refuses a visitor without a session, gives a signed-in non-admin a
// 403 page, and refuses every form post without the session's CSRF token or from another origin.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';import { McpServerInventories } from '../../../src/reporting/inventory.js';

import type Router from '@koa/router';
import { consoleRouters } from '../../../src/console/index.js';
import { ConsolePages } from '../../../src/console/render.js';
import { ConsoleSessions } from '../../../src/console/sessions.js';
import { Views } from '../../../src/views/views.js';
import { Browser } from '../../helpers/browser-flow.js';
import { consoleSignIn, csrfOf, type ConsoleBrowser } from '../../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const PERSON = { email: 'person@example.com', password: 'another long passphrase 42' };
const OPEN = new Set(['/console/login', '/console/callback']);

let db: TestDatabase;
let gh: TestServer;
let routes: Array<{ method: string; path: string }>;
let admin: ConsoleBrowser;
let person: ConsoleBrowser;

/** A concrete URL path for a route pattern: every parameter becomes a value no record has. */
const concrete = (pattern: string) => pattern.replace(/:(\w+)(\([^)]*\))?\??/g, 'no-such-thing');

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  await gh.services.users.create(ADMIN);
  await gh.services.users.create(PERSON);
  const s = gh.services;
  const views = new Views('');
  const routers: Router[] = consoleRouters({
    ...s,
    db: s.handle.db,
    holder: gh.holder,
    provider: () => gh.holder.provider,
    views,
    sessions: new ConsoleSessions(s.handle.db, s.secretKey, 60_000),
    pages: new ConsolePages(views, s.audit, '', false),
    inventories: new McpServerInventories(s.handle.db, s.audit),
  });
  routes = routers
    .flatMap((r) => r.stack.flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((method) => ({ method, path: String(layer.path) }))))
    .filter((r) => !OPEN.has(r.path));
  admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
  person = await consoleSignIn(gh.issuer, PERSON.email, PERSON.password);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

describe('the console gate', () => {
  it('walks every page of the console (overview, clients, MCP servers, connections, people, audit, keys, policy)', () => {
    const paths = routes.map((r) => r.path);
    for (const section of ['/console', '/console/clients', '/console/resources', '/console/connections', '/console/people', '/console/audit', '/console/keys', '/console/policy']) {
      expect(paths).toContain(section);
    }
    expect(routes.filter((r) => r.method === 'POST').length).toBeGreaterThanOrEqual(10);
  });

  it('sends a visitor without a session to sign in (GET) and refuses their posts (401)', async () => {
    const stranger = new Browser(new URL(gh.issuer).origin);
    for (const r of routes) {
      const url = `${gh.issuer}${concrete(r.path)}`;
      const res = r.method === 'GET' ? await stranger.get(url) : await stranger.postForm(url, { _csrf: 'x' });
      if (r.method === 'GET') {
        expect([r.path, res.status, res.headers.get('location')]).toEqual([r.path, 303, '/console/login']);
      } else {
        expect([r.method, r.path, res.status]).toEqual([r.method, r.path, 401]);
      }
    }
  });

  it('gives a signed-in non-admin a 403 page on every console route, even with a valid CSRF token', async () => {
    const csrf = csrfOf((await person.page()).html);
    for (const r of routes) {
      if (r.path === '/console/logout') continue; // anyone may end their own session
      const url = `${gh.issuer}${concrete(r.path)}`;
      const res = r.method === 'GET' ? await person.get(url) : await person.postForm(url, { _csrf: csrf });
      expect([r.method, r.path, res.status]).toEqual([r.method, r.path, 403]);
      expect(await res.text()).toContain('Administrators only');
    }
  });

  it('refuses every admin form post without the CSRF token, with a wrong one, or from another origin', async () => {
    const csrf = csrfOf((await admin.page()).html);
    const before = (await gh.services.audit.recent({ type: 'console.refused', limit: 1000 })).length;
    let posts = 0;
    for (const r of routes.filter((x) => x.method === 'POST')) {
      const url = `${gh.issuer}${concrete(r.path)}`;
      const missing = await admin.postForm(url, {});
      const wrong = await admin.postForm(url, { _csrf: `${csrf.slice(0, -2)}xx` });
      const foreign = await admin.request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
        body: new URLSearchParams({ _csrf: csrf }).toString(),
      });
      expect([r.path, missing.status, wrong.status, foreign.status]).toEqual([r.path, 403, 403, 403]);
      posts += 3;
    }
    const after = (await gh.services.audit.recent({ type: 'console.refused', limit: 1000 })).length;
    expect(after - before).toBe(posts);
    // The admin's session survived all of it.
    expect((await admin.page()).status).toBe(200);
  });

  it('marks every console page no-store and unframeable', async () => {
    const { res } = await admin.page();
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('content-security-policy')).not.toContain('unsafe-inline');
  });
});
