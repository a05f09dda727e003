// The console session cookie is SameSite=Strict: in a real browser, a page on another site can neither post to
// the console with the admin's session nor open it signed in by a link. Checked in headless chromium, with the
// attacker's page on http://localhost:<port> (another site than http://127.0.0.1:<port>).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser as Chromium } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { launchChromium } from '../helpers/chromium.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };

let db: TestDatabase;
let gh: TestServer;
let chromium: Chromium;
let attacker: Server;
let attackerOrigin: string;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  await gh.services.users.create(ADMIN);
  attacker = createServer((req, res) => {
    res.setHeader('content-type', 'text/html');
    if (req.url === '/post') {
      // Submits itself: what a malicious page does the moment an admin opens it.
      res.end(`<form id="f" method="post" action="${gh.issuer}/console/logout"><input name="_csrf" value="guess"></form>
        <script>document.getElementById('f').submit()</script>`);
    } else {
      res.end(`<a id="go" href="${gh.issuer}/console/people">Open the console</a>`);
    }
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', () => resolve()));
  attackerOrigin = `http://localhost:${(attacker.address() as AddressInfo).port}`;
  chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
  await gh?.close();
  await db?.drop();
  await new Promise<void>((resolve) => (attacker ? attacker.close(() => resolve()) : resolve()));
});

describe('the console cookie in a real browser', () => {
  it('signs in through the login form and lands on the overview (the Strict cookie is sent after sign-in)', async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    await page.goto(`${gh.issuer}/console`);
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const cookie = (await context.cookies(`${gh.issuer}/console`)).find((c) => c.name === 'gatehouse.console')!;
    expect(cookie).toMatchObject({ sameSite: 'Strict', httpOnly: true, path: '/console' });

    // A cross-site form post arrives without the session: refused as signed out, the session untouched.
    await page.goto(`${attackerOrigin}/post`);
    await page.getByRole('heading', { name: 'Sign in first' }).waitFor();
    const refused = await gh.services.audit.recent({ type: 'console.refused' });
    expect(refused[0]).toMatchObject({ reason: 'no console session' });

    // A cross-site link opens the console without the session: the browser is sent to sign in again.
    await page.goto(attackerOrigin);
    await page.click('#go');
    await page.getByLabel('Password').waitFor();
    expect(new URL(page.url()).pathname).toMatch(/^\/interaction\//);

    // Typed in the address bar (same-site), the session is still there.
    await page.goto(`${gh.issuer}/console`);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await context.close();
  });
});
