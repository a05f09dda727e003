// The console as a new operator meets it in the first hour (issue 23, item 3), in headless chromium, without
// screenshots: every form's controls clear of their labels and each checkbox on its label's line, at desktop and
// phone width; tables usable on a phone; a 404 inside /console as a console page (and nothing told to a visitor who
// is not signed in); the audit log's type list, people by email, readable details and refresh-token reuse in words;
// the policy page's refusal where the admin is looking; grants showing their refresh token's expiry.
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { launchChromium, signInToConsole } from '../helpers/chromium.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { consentedCode, redeemCode, type Consented } from '../helpers/grants.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = { email: 'first-hour-admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const REDIRECT = 'http://127.0.0.1:45998/callback';
const DESKTOP = { width: 1280, height: 720 };
const PHONE = { width: 375, height: 740 };

let db: TestDatabase;
let gh: TestServer;
let chromium: Chromium;
let context: BrowserContext;
let admin: Page;
/** A person whose refresh token was redeemed twice (their grant is gone), and one whose grant is live. */
let reuser: Consented;
let holder: Consented;
let clientId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  await gh.services.users.create(ADMIN);

  reuser = await consentedCode(gh, REDIRECT);
  const first = (await redeemCode(gh, reuser)).refresh_token;
  expect((await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: first, client_id: reuser.clientId })).status).toBe(200);
  expect((await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: first, client_id: reuser.clientId })).body.error).toBe('invalid_grant');
  holder = await consentedCode(gh, REDIRECT);
  await redeemCode(gh, holder);
  clientId = (await registerPublicClient(gh.issuer, [REDIRECT], { client_name: 'Layout Check Client' })).client_id as string;

  chromium = await launchChromium();
  context = await chromium.newContext({ viewport: DESKTOP });
  admin = await context.newPage();
  await signInToConsole(admin, gh.issuer, ADMIN);
});

afterAll(async () => {
  await context?.close();
  await chromium?.close();
  await gh?.close();
  await db?.drop();
});

const emailOf = async (accountId: string) => (await gh.services.accounts.findById(accountId))!.email!;

/** Opens a console page (path under /console) and expects a 200. */
async function open(path: string): Promise<void> {
  const res = await admin.goto(`${gh.issuer}/console${path}`);
  expect({ path, status: res?.status() }).toEqual({ path, status: 200 });
}

/** Every console page with a form, detail pages found from their lists as an admin would. */
async function formPages(): Promise<string[]> {
  const detail = async (list: string, pattern: RegExp) => {
    await open(list);
    const hrefs = await admin.locator('main a').evaluateAll((as) => as.map((a) => (a as unknown as { pathname: string }).pathname));
    const found = hrefs.find((h) => pattern.test(h) && !h.endsWith('/new'));
    expect({ list, found }).toEqual({ list, found: expect.any(String) });
    return found!.slice(found!.indexOf('/console') + '/console'.length);
  };
  return [
    '',
    '/clients',
    '/clients/new',
    `/clients/${encodeURIComponent(clientId)}`,
    '/resources',
    '/resources/new',
    await detail('/resources', /\/console\/resources\/[^/]+$/),
    '/connections',
    '/connections/new',
    await detail('/connections', /\/console\/connections\/[^/]+$/),
    '/people',
    `/people/${encodeURIComponent(holder.accountId)}`,
    '/audit',
    '/keys',
    '/policy',
  ];
}

/**
 * Measured in the page: each visible form control against its label(s) — bounding boxes that intersect, and a
 * checkbox or radio not on its label's first line, left of the text. Returns what is wrong, in words.
 */
function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    type Box = { left: number; right: number; top: number; bottom: number; width: number; height: number };
    const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<unknown> } }).document;
    const boxOf = (el: unknown): Box => (el as { getBoundingClientRect(): Box }).getBoundingClientRect();
    const overlap = (a: Box, b: Box) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
    for (const el of Array.from(doc.querySelectorAll('input:not([type=hidden]), select, textarea')) as Array<{ id: string; type: string; labels: ArrayLike<unknown> | null; name: string }>) {
      const box = boxOf(el);
      if (box.width === 0 && box.height === 0) continue;
      const name = `${el.type} ${el.id || el.name}`;
      const labels = Array.from(el.labels ?? []);
      if (!labels.length) continue;
      for (const label of labels) {
        const l = boxOf(label);
        if (overlap(box, l)) problems.push(`${name}: its box overlaps its label's`);
        if (el.type === 'checkbox' || el.type === 'radio') {
          const line = (label as { getClientRects(): ArrayLike<Box> }).getClientRects()[0]!;
          const middle = (box.top + box.bottom) / 2;
          if (middle < line.top || middle > line.bottom) problems.push(`${name}: not on its label's line (box ${Math.round(box.top)}–${Math.round(box.bottom)}, label line ${Math.round(line.top)}–${Math.round(line.bottom)})`);
          if (box.right > line.left + 0.5) problems.push(`${name}: not left of its label`);
        }
      }
    }
    return problems;
  });
}

/** On a narrow window: the page no wider than the window, and every table cell inside it or in a scroller that is. */
function narrowProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const w = globalThis as unknown as { innerWidth: number; getComputedStyle(el: unknown): { overflowX: string }; document: { documentElement: { scrollWidth: number }; querySelectorAll(s: string): ArrayLike<unknown> } };
    type El = { getBoundingClientRect(): { left: number; right: number }; parentElement: El | null; textContent: string | null; scrollWidth: number; clientWidth: number };
    const problems: string[] = [];
    if (w.document.documentElement.scrollWidth > w.innerWidth) problems.push(`the page is ${w.document.documentElement.scrollWidth}px wide in a ${w.innerWidth}px window`);
    for (const cell of Array.from(w.document.querySelectorAll('td, th')) as El[]) {
      const r = cell.getBoundingClientRect();
      if (r.left >= -0.5 && r.right <= w.innerWidth + 0.5) continue;
      let scroller: El | null = cell.parentElement;
      while (scroller && !(['auto', 'scroll'].includes(w.getComputedStyle(scroller).overflowX) && scroller.scrollWidth > scroller.clientWidth)) scroller = scroller.parentElement;
      const s = scroller?.getBoundingClientRect();
      if (!s || s.left < -0.5 || s.right > w.innerWidth + 0.5) problems.push(`cell "${(cell.textContent ?? '').trim().slice(0, 40)}" is cut off, in no scroller inside the window`);
    }
    return problems;
  });
}

describe('console forms and tables', () => {
  it('no control overlaps its label and every checkbox sits left of its label, on every page with a form, at desktop and phone width', async () => {
    const pages = await formPages();
    let checkboxes = 0;
    for (const size of [DESKTOP, PHONE]) {
      await admin.setViewportSize(size);
      for (const path of pages) {
        await open(path);
        checkboxes += await admin.locator('input[type=checkbox]').count();
        expect({ path, width: size.width, problems: await layoutProblems(admin) }).toEqual({ path, width: size.width, problems: [] });
      }
    }
    expect(checkboxes).toBeGreaterThanOrEqual(4); // new client, MCP server form, connection form, add a person
    await admin.setViewportSize(DESKTOP);
  });

  it('at 375 px wide no page is wider than the window and every table cell can be reached', async () => {
    await admin.setViewportSize(PHONE);
    try {
      for (const path of ['', '/clients', `/clients/${encodeURIComponent(clientId)}`, '/resources', '/connections', '/people', `/people/${encodeURIComponent(holder.accountId)}`, '/audit', '/keys', '/policy']) {
        await open(path);
        expect({ path, problems: await narrowProblems(admin) }).toEqual({ path, problems: [] });
      }
    } finally {
      await admin.setViewportSize(DESKTOP);
    }
  });
});

describe('a 404 inside /console', () => {
  it('is a console page with the layout and navigation, in words, 404, for a signed-in administrator', async () => {
    // A path no route answers says so; a page's own 404 names what is missing, without the generic sentence.
    const said: Array<[string, RegExp]> = [
      ['/nope', /There is no such page in the console: the link may be mistyped/],
      ['/clients/does-not-exist', /^There is no such client: the link may be mistyped, or it was removed\.$/m],
      [`/people/${encodeURIComponent('no-such-person')}`, /^No such person: the link may be mistyped, or it was removed\.$/m],
    ];
    for (const [path, words] of said) {
      const res = await admin.goto(`${gh.issuer}/console${path}`);
      expect({ path, status: res?.status() }).toEqual({ path, status: 404 });
      await admin.getByRole('heading', { name: 'Not found' }).waitFor();
      expect(await admin.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Audit log' }).count()).toBe(1);
      expect(await admin.locator('main').innerText()).toMatch(words);
      if (path !== '/nope') expect(await admin.locator('main').innerText()).not.toMatch(/no such page/);
      expect(await admin.locator('main').innerText()).toContain(`Request id: ${res?.headers()['x-request-id']}`);
      expect(await admin.getByRole('button', { name: 'Sign out' }).count()).toBe(1);
    }
  });

  it('tells a visitor who is not signed in nothing: an unknown path is sent to sign in exactly like a real one', async () => {
    for (const path of ['/nope', '/clients/does-not-exist', '/clients', '/audit']) {
      const read = await fetch(`${gh.issuer}/console${path}`, { redirect: 'manual' });
      expect({ path, status: read.status, location: read.headers.get('location') }).toEqual({ path, status: 303, location: '/console/login' });
      const post = await fetch(`${gh.issuer}/console${path}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x=1' });
      expect({ path, status: post.status }).toEqual({ path, status: 401 });
      expect(await post.text()).not.toMatch(/not found/i);
    }
  });
});

describe('the audit log', () => {
  it('offers the event types as a list, shows people by email, reuse in words, and details that wrap between words', async () => {
    await open('/audit');
    const type = admin.getByLabel('Type');
    expect(await type.getAttribute('list')).toBe('audit-types');
    const offered = await admin.locator('datalist#audit-types option').evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value));
    expect(offered).toEqual(expect.arrayContaining(['token.refresh.reused', 'token.issued', 'token.refreshed', 'token.*']));
    expect(offered).toEqual([...offered].sort((a, b) => a.localeCompare(b)));

    await type.fill('token.refresh.reused');
    await admin.getByRole('button', { name: 'Filter' }).click();
    await admin.waitForURL(/type=token\.refresh\.reused/);
    const row = admin.locator('table.audit tbody tr');
    expect(await row.count()).toBe(1);
    expect(await row.locator('td.type').innerText()).toContain('refresh token reused — grant revoked');
    expect(await row.locator('td.person').innerText()).toBe(await emailOf(reuser.accountId));
    expect(await row.innerText()).not.toContain(reuser.accountId);

    // The person filter finds a person's token events by their email, though the log names them by account id.
    await open(`/audit?type=token.issued&actor=${encodeURIComponent(await emailOf(holder.accountId))}`);
    expect(await admin.locator('table.audit tbody tr').count()).toBe(1);

    // Details: indented JSON, wrapped, no word of it split across two lines.
    await open('/audit');
    for (const size of [DESKTOP, PHONE]) {
      await admin.setViewportSize(size);
      const split = await admin.locator('table.audit td.details pre').evaluateAll((pres) => {
        const broken: string[] = [];
        const doc = (globalThis as unknown as { document: { createRange(): { setStart(n: unknown, o: number): void; setEnd(n: unknown, o: number): void; getClientRects(): ArrayLike<unknown> } } }).document;
        for (const pre of pres as Array<{ firstChild: { textContent: string } | null }>) {
          const text = pre.firstChild;
          if (!text) continue;
          for (const m of text.textContent.matchAll(/\S+/g)) {
            if (m[0].length > 30) continue; // a long value (a URL) may break where it must
            const range = doc.createRange();
            range.setStart(text, m.index);
            range.setEnd(text, m.index + m[0].length);
            if (range.getClientRects().length > 1) broken.push(m[0]);
          }
        }
        return broken;
      });
      expect({ width: size.width, split }).toEqual({ width: size.width, split: [] });
      expect(await admin.locator('table.audit td.details pre').first().evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { whiteSpace: string } }).getComputedStyle(el).whiteSpace)).toBe('pre-wrap');
    }
    await admin.setViewportSize(DESKTOP);
  });
});

describe('the policy page', () => {
  /** Whether the element is inside the window now. */
  const inView = (selector: string) =>
    admin.locator(selector).evaluate((el) => {
      const r = (el as { getBoundingClientRect(): { top: number; bottom: number } }).getBoundingClientRect();
      return r.top >= 0 && r.bottom <= (globalThis as unknown as { innerHeight: number }).innerHeight;
    });

  it('shows a refused change\'s problem beside its field, in the window; a saved one\'s notice there too', async () => {
    await admin.setViewportSize(DESKTOP);
    await open('/policy');
    // The last setting on the page; a group the admin is not in would lock them out, so it is refused.
    await admin.locator('#value-ALLOWED_GROUPS').fill('no-such-group');
    await admin.locator('section[aria-labelledby=h-ALLOWED_GROUPS]').getByRole('button', { name: 'Save' }).click();
    await admin.locator('#problem-ALLOWED_GROUPS').waitFor();
    expect(await inView('#problem-ALLOWED_GROUPS')).toBe(true);
    expect(await inView('#value-ALLOWED_GROUPS')).toBe(true);
    expect(await admin.locator('#value-ALLOWED_GROUPS').inputValue()).toBe('no-such-group');

    await admin.locator('#value-CIMD_BLOCKED_DOMAINS').fill('blocked.example.com');
    await admin.locator('section[aria-labelledby=h-CIMD_BLOCKED_DOMAINS]').getByRole('button', { name: 'Save' }).click();
    const notice = admin.locator('section[aria-labelledby=h-CIMD_BLOCKED_DOMAINS] [role=status]');
    await notice.waitFor();
    expect(await notice.innerText()).toMatch(/CIMD_BLOCKED_DOMAINS is now blocked\.example\.com/);
    expect(await inView('section[aria-labelledby=h-CIMD_BLOCKED_DOMAINS] [role=status]')).toBe(true);
    expect(await admin.locator('main > [role=status]').count()).toBe(0); // not also at the top
  });
});

describe('grants', () => {
  it('show their refresh token\'s expiry on the person\'s page, not the grant\'s one-year lifetime', async () => {
    const refresh = (await gh.services.handle.db('oidc_payloads').where({ model: 'RefreshToken' }).whereNull('consumed_at').whereRaw(`payload::jsonb ->> 'clientId' = ?`, [holder.clientId]).first()) as { expires_at: Date | string; grant_id: string };
    const grant = (await gh.services.handle.db('oidc_payloads').where({ model: 'Grant', id: refresh.grant_id }).first()) as { expires_at: Date | string };
    const minute = (d: Date | string) => new Date(d).toISOString().slice(0, 16).replace('T', ' ');
    await open(`/people/${encodeURIComponent(holder.accountId)}`);
    const table = admin.locator('section[aria-labelledby=grants-h] table');
    expect(await table.locator('th').allInnerTexts()).toContain('Refresh token expires (UTC)');
    const row = await table.locator('tbody tr').first().innerText();
    expect(row).toContain(minute(refresh.expires_at));
    expect(row).not.toContain(minute(grant.expires_at));
  });
});
