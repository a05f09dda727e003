// Issue 16, item 6 (docs/SECURITY.md, "Issue 16: first-admin setup and token lifetimes"): the first-admin setup
// link is one link, only for a first administrator. Each start used to add another 24-hour link while the older
// ones stayed valid; two links posted at once made two admins; an admin who signed in through an IdP did not stop
// a restart from printing a link that creates a local admin; and the request log carried the token in its path.
// Real servers on one database and one port, restarted as an operator restarts them, their log lines captured.
// Issue 23: a dead link's page says what to run (the real command, no markdown), the done page links to the console,
// and BOOTSTRAP_ADMIN_EMAIL + BOOTSTRAP_ADMIN_PASSWORD_FILE create the first admin once, with no link printed.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Browser } from 'playwright-core';
import { loadConfiguration } from '../../src/configuration.js';
import { sha256 } from '../../src/crypto/digest.js';
import { startGatehouse, type RunningGatehouse } from '../../src/gatehouse.js';
import { createLogger } from '../../src/log.js';
import { verifyPassword } from '../../src/upstream/local/passwords.js';
import { readBootstrapAdmin } from '../../src/upstream/local/bootstrap-admin.js';
import { createBootstrapAdmin } from '../../src/upstream/local/first-admin.js';
import { launchChromium } from '../helpers/chromium.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/server.js';

let db: TestDatabase;
let port: number;
let chromium: Browser;
let running: { gh: RunningGatehouse; lines: Array<Record<string, unknown>> } | undefined;
/** Every log line of every start, for the check that no request line ever shows a token. */
const allLines: Array<Record<string, unknown>> = [];
const tokens: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  port = await freePort();
  chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
  await running?.gh.close();
  await db?.drop();
});

/**
 * Stops the running server (if any) and starts another on the same database; returns the link it printed. `env` adds
 * variables; BOOTSTRAP_ADMIN_* among them are read as main.ts reads them.
 */
async function restart(env: Record<string, string> = {}): Promise<string | undefined> {
  await running?.gh.close();
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) {
        const line = JSON.parse(l) as Record<string, unknown>;
        lines.push(line);
        allLines.push(line);
      }
      done();
    },
  });
  const config = loadConfiguration({ NODE_ENV: 'test', PORT: String(port), HOST: '127.0.0.1', ISSUER: `http://127.0.0.1:${port}`, LOG_LEVEL: 'info', ...db.env, ...env });
  running = { gh: await startGatehouse(config, { log: createLogger('info', sink), bootstrapAdmin: readBootstrapAdmin(config) }), lines };
  const link = lines.find((l) => typeof l.setupLink === 'string')?.setupLink as string | undefined;
  if (link) tokens.push(link.slice(link.lastIndexOf('/') + 1));
  return link;
}

const dbNow = () => running!.gh.services.handle.db;
const open = (link: string) => fetch(link, { redirect: 'manual' }).then((r) => r.status);
const submit = (link: string, email: string) =>
  fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ email, password: 'a long enough first password' }).toString() }).then((r) => r.status);
const admins = async () => (await dbNow()('users').where({ is_admin: true }).select('email')).map((r: { email: string }) => r.email);

describe('the first-admin setup link', () => {
  it('two restarts: only the latest link works', async () => {
    const first = await restart();
    const second = await restart();
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(await open(first!)).toBe(404);
    expect(await submit(first!, 'old-link@example.com')).toBe(404);
    expect(await open(second!)).toBe(200);
    expect(await admins()).toEqual([]);
  });

  it('two concurrent posts (two live links, as two racing issuers could leave) create exactly one admin', async () => {
    const latest = await restart();
    // A second live link written beside it, as by an instance that issued one at the same moment.
    const extra = `x${randomUUID().replace(/-/g, '')}`;
    tokens.push(extra);
    await dbNow()('setup_tokens').insert({ token_hash: sha256(extra), purpose: 'first-admin', expires_at: new Date(Date.now() + 3600_000) });
    const statuses = await Promise.all([
      submit(latest!, 'one@example.com'),
      submit(`http://127.0.0.1:${port}/setup/${extra}`, 'two@example.com'),
      submit(latest!, 'three@example.com'),
    ]);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 404)).toHaveLength(2);
    expect(await admins()).toHaveLength(1);
    // An administrator exists: the next start prints no link.
    expect(await restart()).toBeUndefined();
  });

  it('an admin who signed in through an IdP: the old link is refused and no link is printed', async () => {
    await dbNow()('users').delete();
    const link = await restart();
    expect(await open(link!)).toBe(200);
    // What accounts.link() stores for a person ADMIN_EMAILS or ADMIN_GROUPS made an admin at an IdP sign-in.
    await dbNow()('accounts').insert({ id: randomUUID(), email: 'idp-admin@example.com', email_verified: true, is_admin: true, last_login_at: new Date() });
    expect(await open(link!)).toBe(404);
    expect(await submit(link!, 'local-admin@example.com')).toBe(404);
    expect(await dbNow()('users').count<{ count: string | number }[]>('id as count').first().then((r) => Number(r!.count))).toBe(0);
    expect(await restart()).toBeUndefined();
    expect(running!.lines.some((l) => /setup/.test(String(l.msg)))).toBe(false);
    expect(await open(link!)).toBe(404);
  });

  it('the setup token never appears in a request log line (nor any log line but the announcement)', async () => {
    // A refused spelling of a live link still carries the token.
    await dbNow()('accounts').delete();
    const link = await restart();
    expect(await open(`${link!}/`)).toBe(404);
    expect(await open(link!.replace('/setup/', '/Setup/'))).toBe(404);
    expect(await open(link!)).toBe(200);
    expect(tokens.length).toBeGreaterThanOrEqual(5);
    const requests = allLines.filter((l) => l.msg === 'request');
    expect(requests.filter((l) => l.route === 'setup').length).toBeGreaterThanOrEqual(8);
    for (const line of requests.filter((l) => l.route === 'setup')) expect(line.path).toBe('/setup/:token');
    for (const line of allLines.filter((l) => typeof l.setupLink !== 'string')) {
      for (const token of tokens) expect(JSON.stringify(line)).not.toContain(token);
    }
  });
});

describe('the pages of the setup link (issue 23)', () => {
  it('a dead link says why and gives the real command, with --email, as plain text', async () => {
    const dead = `http://127.0.0.1:${port}/setup/${tokens[0]}`;
    for (const res of [await fetch(dead), await fetch(dead, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'email=a%40example.com&password=long+enough+password' })]) {
      expect(res.status).toBe(404);
      const html = await res.text();
      expect(html).toContain('<code>npx gatehouse user add --email you@example.com --admin</code>');
      expect(html).toContain('replaced by a newer one');
      expect(html).not.toContain('`');
      expect(html).not.toMatch(/start again from your application/i);
    }
  });

  it('in a browser: the administrator-created page links to the console, where the new admin signs in', async () => {
    await dbNow()('users').delete();
    await dbNow()('accounts').delete();
    const link = await restart();
    const page = await chromium.newPage();
    try {
      await page.goto(link!);
      await page.getByLabel('Email').fill('first-admin@example.com');
      await page.getByLabel('Password').fill('the first admin passphrase');
      await page.getByRole('button', { name: 'Create administrator' }).click();
      await page.getByText('was created').waitFor();
      await page.getByRole('link', { name: 'Open the admin console' }).click();
      await page.getByLabel('Email').fill('first-admin@example.com');
      await page.getByLabel('Password').fill('the first admin passphrase');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      expect(new URL(page.url()).pathname).toMatch(/^\/console/);
    } finally {
      await page.close();
    }
  });
});

describe('BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_PASSWORD_FILE (issue 23)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bootstrap-'));
  const file = join(dir, 'admin-password');
  const env = { BOOTSTRAP_ADMIN_EMAIL: 'Boot@Example.com', BOOTSTRAP_ADMIN_PASSWORD_FILE: file };
  const passwordIs = async (email: string, password: string) => verifyPassword((await dbNow()('users').where({ email }).first('password_hash')).password_hash, password);
  const created = async () => Number((await dbNow()('audit_events').where({ type: 'admin.created', reason: 'BOOTSTRAP_ADMIN_EMAIL at start' }).count<{ n: string }[]>('* as n'))[0]!.n);

  it('creates the administrator once, across restarts, with no setup link; its password signs in', async () => {
    await dbNow()('users').delete();
    await dbNow()('accounts').delete();
    writeFileSync(file, 'bootstrap admin passphrase\n', { mode: 0o600 });
    expect(await restart(env)).toBeUndefined();
    expect(await admins()).toEqual(['boot@example.com']);
    expect(running!.lines.some((l) => /no administrator exists/.test(String(l.msg)))).toBe(false);
    // The file's final newline is not part of the password.
    expect(await passwordIs('boot@example.com', 'bootstrap admin passphrase')).toBe(true);
    // A restart with another password in the file changes nothing: the password only creates the first admin.
    writeFileSync(file, 'a different passphrase\n');
    expect(await restart(env)).toBeUndefined();
    expect(await admins()).toEqual(['boot@example.com']);
    expect(await passwordIs('boot@example.com', 'bootstrap admin passphrase')).toBe(true);
    expect(await created()).toBe(1);
  });

  it('two instances bootstrapping at once create one administrator', async () => {
    await dbNow()('users').delete();
    const services = running!.gh.services;
    const admin = { email: 'race@example.com', password: 'a racing admin passphrase' };
    const results = await Promise.all([0, 1, 2].map(() => createBootstrapAdmin(services.handle.db, services.users, admin)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await admins()).toEqual(['race@example.com']);
  });
});
