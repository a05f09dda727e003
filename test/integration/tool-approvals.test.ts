// Per-call approval (docs/TOOL-APPROVALS.md) over real HTTP, without the kit: the MCP server's question at
// POST /mcp-server/tool-approvals, the person's approval page and account page, and the attacks the binding stops —
// a swapped argument, a replayed approval, concurrent retries, another person deciding, an expired request, a
// forged or foreign token — each audited, with the arguments never written to the audit log.
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { argumentsDigest } from '../../packages/resource-server/src/reporting/canonical-json.js';
import { authorizeThrough, Browser, login, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { csrfOf } from '../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { addStaticClient } from '../../src/oauth/static-clients.js';
import { webhookSignature } from '../../src/approvals/webhook.js';

const NOTES = 'https://notes.example.test/mcp';
const OTHER = 'https://other.example.test/mcp';
const REDIRECT = 'http://127.0.0.1:9/callback';
const WEBHOOK_SECRET = 'a webhook secret of at least thirty-two characters';
const SECRET_ARG = 'confidential-payload-7f3a';

let db: TestDatabase;
let gh: TestServer;
let reporter: { id: string; secret: string };
let hook: Server;
const hooks: Array<{ headers: Record<string, string | string[] | undefined>; body: string }> = [];
let people = 0;

const knex = () => gh.services.handle.db;
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const details = (row: Record<string, any>) => (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as Record<string, any>;
const auditOf = async (type: string) => (await knex()('audit_events').where({ type }).orderBy('id', 'asc')) as Array<Record<string, any>>;

interface Person {
  email: string;
  password: string;
  accountId: string;
  token: string;
  clientId: string;
}

/** A person who consented to `scope` on NOTES (or `resource`) for a new public client, with an access token. */
async function person(scope = 'notes:write notes:admin', resource = NOTES): Promise<Person> {
  const user = { email: `approver${++people}@example.com`, password: 'a passphrase long enough 123' };
  const accountId = (await gh.services.users.create(user)).id;
  const client = await registerPublicClient(gh.issuer, [REDIRECT], { client_name: 'Agent <b>Smith</b>' });
  const { verifier, challenge } = pkcePair();
  const callback = await authorizeThrough(new Browser(new URL(gh.issuer).origin), gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope, resource }, user);
  const res = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT });
  expect(res.status).toBe(200);
  return { ...user, accountId, token: res.body.access_token as string, clientId: client.client_id };
}

async function ask(p: Pick<Person, 'token'>, tool: string, args: Record<string, unknown>, options: { digest?: string; auth?: string; resource?: string } = {}) {
  const res = await fetch(`${gh.issuer}/mcp-server/tool-approvals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: options.auth ?? basic(reporter.id, reporter.secret) },
    body: JSON.stringify({ resource: options.resource ?? NOTES, access_token: p.token, tool, arguments: args, arguments_digest: options.digest ?? argumentsDigest(args) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

/** A browser signed in to the account pages as `p`, through Gatehouse's own login, landing on `path`. */
async function accountBrowser(p: Pick<Person, 'email' | 'password'>, path: string): Promise<{ browser: Browser; page: Response }> {
  const browser = new Browser(new URL(gh.issuer).origin);
  const first = await browser.follow(await browser.get(`${gh.issuer}${path}`));
  if (!(first instanceof Response)) throw new Error(`left the issuer: ${first.href}`);
  const page = await login(browser, first, p.email, p.password);
  if (!(page instanceof Response)) throw new Error(`left the issuer: ${page.href}`);
  return { browser, page };
}

async function decide(browser: Browser, url: string, decision: 'approve' | 'reject', extra: Record<string, string> = {}) {
  const html = await (await browser.get(url)).text();
  return browser.postForm(url, { _csrf: csrfOf(html), decision, ...extra });
}

beforeAll(async () => {
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  db = await createTestDatabase();
  gh = await startTestServer({
    ...db.env,
    APPROVAL_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
    APPROVAL_WEBHOOK_SECRET: WEBHOOK_SECRET,
    RESOURCES: JSON.stringify([
      {
        uri: NOTES,
        name: 'Notes',
        default: true,
        scopes: {
          'notes:write': { description: 'Change notes', tools: ['delete_note', 'edit_note', 'wipe'] },
          'notes:admin': { description: 'Administer notes', tools: ['purge', 'export'], approval: 'once-per-grant' },
        },
        tool_approval: { delete_note: 'each-call', export: 'each-call' },
        destructive_tools_approval: 'each-call',
      },
      { uri: OTHER, name: 'Other', scopes: { 'other:read': 'Read' } },
    ]),
  });
  const s = gh.services;
  const created = await addStaticClient({ db: s.handle.db, box: s.box, provider: gh.holder.provider, registry: s.registry }, { name: 'notes server', redirectUris: [], confidential: true, resource: NOTES });
  reporter = { id: created.client_id, secret: created.client_secret! };
  // The server reports `wipe` with MCP's default hints (possibly destructive) and `edit_note` as not destructive.
  const res = await fetch(`${gh.issuer}/mcp-server/inventory`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: basic(reporter.id, reporter.secret) },
    body: JSON.stringify({
      resource: NOTES,
      tools: [
        { name: 'delete_note', description: 'Deletes one note <em>forever</em>', scopes: [['notes:write']] },
        { name: 'edit_note', annotations: { destructiveHint: false }, scopes: [['notes:write']] },
        { name: 'wipe', scopes: [['notes:write']] },
      ],
    }),
  });
  expect(res.status).toBe(200);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
  await new Promise((r) => hook.close(r));
});

describe('which tools need approval', () => {
  it('the public catalogue publishes the strictest mode of each tool: its own, its scopes\', the reported hints\'', async () => {
    const res = await fetch(`${gh.issuer}/catalogue?resource=${encodeURIComponent(NOTES)}`);
    const body = (await res.json()) as { approvals: Record<string, string> };
    expect(body.approvals).toEqual({ delete_note: 'each-call', export: 'each-call', purge: 'once-per-grant', wipe: 'each-call' });
  });

  it('a tool that needs none is answered not_required, and nothing is stored', async () => {
    const p = await person();
    const { status, json } = await ask(p, 'edit_note', { id: '1' });
    expect([status, json]).toEqual([200, { decision: 'not_required' }]);
    expect(await knex()('tool_approvals').where({ account_id: p.accountId })).toHaveLength(0);
  });
});

describe('the cycle: requested, approved, used', () => {
  it('asks once, shows the call to its person, runs it once after Approve, and audits every step without the arguments', async () => {
    const p = await person();
    const args = { id: '7', note: `<script>alert("x")</script>${SECRET_ARG}`, padding: 'A'.repeat(5000) };
    const first = await ask(p, 'delete_note', args);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ decision: 'pending', url: `${gh.issuer}/account/approvals/${first.json.approval_id}` });
    expect(Date.parse(first.json.expires_at) - Date.now()).toBeGreaterThan(200_000);
    // Asking again before the person decided reuses the request.
    const again = await ask(p, 'delete_note', args);
    expect(again.json).toMatchObject({ decision: 'pending', approval_id: first.json.approval_id });
    expect(await knex()('tool_approvals').where({ account_id: p.accountId })).toHaveLength(1);

    // Not signed in: the page sends the browser to sign in, and back.
    const { browser, page } = await accountBrowser(p, new URL(first.json.url).pathname);
    expect(page.status).toBe(200);
    expect(new URL(page.url).pathname).toBe(`/account/approvals/${first.json.approval_id}`);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const html = await page.text();
    expect(html).toContain('Agent &lt;b&gt;Smith&lt;/b&gt;');
    expect(html).toContain('&lt;script&gt;alert(');
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('Deletes one note &lt;em&gt;forever&lt;/em&gt;');
    expect(html).toMatch(/<details><summary>… \d+ characters in all/);
    expect(html).toContain(SECRET_ARG);
    expect(html).toContain('Arguments (3)');
    expect(html).not.toContain('unusual characters in this name');

    // The account page lists it.
    const home = await (await browser.get(`${gh.issuer}/account`)).text();
    expect(home).toContain(`/account/approvals/${first.json.approval_id}`);

    const approved = await decide(browser, first.json.url, 'approve');
    expect(approved.status).toBe(200);
    expect(await approved.text()).toContain('Approved');

    // Changed arguments are another call: not approved.
    const swapped = await ask(p, 'delete_note', { ...args, id: '8' });
    expect(swapped.json.decision).toBe('pending');
    expect(swapped.json.approval_id).not.toBe(first.json.approval_id);
    // Another tool with the same arguments: not approved either.
    expect((await ask(p, 'export', args)).json.decision).toBe('pending');

    const used = await ask(p, 'delete_note', args);
    expect(used.json).toEqual({ decision: 'approved', approval_id: first.json.approval_id, mode: 'each-call' });
    // Single use: the same call again needs a new approval.
    const replay = await ask(p, 'delete_note', args);
    expect(replay.json.decision).toBe('pending');
    expect(replay.json.approval_id).not.toBe(first.json.approval_id);

    for (const type of ['tool.approval.requested', 'tool.approval.approved', 'tool.approval.used']) {
      const rows = (await auditOf(type)).filter((r) => details(r).approval_id === first.json.approval_id);
      expect(rows).toHaveLength(1);
      expect(details(rows[0]!)).toMatchObject({ tool: 'delete_note', mode: 'each-call', arguments_digest: argumentsDigest(args) });
      expect(rows[0]!.client_id).toBe(p.clientId);
      expect(rows[0]!.resource).toBe(NOTES);
    }
    const everything = JSON.stringify(await knex()('audit_events').select());
    expect(everything).not.toContain(SECRET_ARG);
    // The arguments are sealed at rest.
    const row = await knex()('tool_approvals').where({ id: first.json.approval_id }).first();
    expect(JSON.stringify(row)).not.toContain(SECRET_ARG);
  });

  it('marks a look-alike argument name (a Cyrillic і in "іd") beside the real one, and hides nothing behind a scroll', async () => {
    const p = await person();
    const args: Record<string, unknown> = { 'іd': 11 };
    for (let i = 0; i < 60; i++) args[`reason_${i}`] = 'routine cleanup of old drafts';
    args.id = 12;
    const first = await ask(p, 'delete_note', args);
    const { page } = await accountBrowser(p, new URL(first.json.url).pathname);
    const html = await page.text();
    expect(html).toContain('Arguments (62)');
    expect(html).toMatch(/1 argument name \(marked ⚠\) holds characters other than/);
    expect(html).toContain('<mark title="unusual characters in this name">⚠</mark>  &quot;іd&quot;: 11');
    expect(html).toContain('&quot;id&quot;: 12');
    const css = await (await fetch(`${gh.issuer}/static/style.css`)).text();
    expect(css).not.toMatch(/pre\.arguments[^}]*(max-height|overflow)/);
  });

  it('Reject: the next call is told it was rejected, once; the one after asks again', async () => {
    const p = await person();
    const first = await ask(p, 'delete_note', { id: '1' });
    const { browser } = await accountBrowser(p, new URL(first.json.url).pathname);
    const rejected = await decide(browser, first.json.url, 'reject');
    expect(await rejected.text()).toContain('Rejected');
    const told = await ask(p, 'delete_note', { id: '1' });
    expect(told.json).toMatchObject({ decision: 'rejected', approval_id: first.json.approval_id });
    expect(told.json.message).toContain('rejected');
    const next = await ask(p, 'delete_note', { id: '1' });
    expect(next.json.decision).toBe('pending');
    expect((await auditOf('tool.approval.rejected')).some((r) => details(r).approval_id === first.json.approval_id)).toBe(true);
    // A decided request cannot be decided again.
    const twice = await decide(browser, next.json.url, 'approve');
    expect(twice.status).toBe(200);
    const late = await browser.postForm(first.json.url, { _csrf: csrfOf(await (await browser.get(`${gh.issuer}/account`)).text()), decision: 'approve' });
    expect(late.status).toBe(409);
  });

  it('once-per-grant: one approval, then the tool runs for that grant whatever its arguments; another grant asks again', async () => {
    const p = await person();
    const first = await ask(p, 'purge', { older_than: '30d' });
    expect(first.json.decision).toBe('pending');
    const { browser } = await accountBrowser(p, new URL(first.json.url).pathname);
    await decide(browser, first.json.url, 'approve');
    expect((await ask(p, 'purge', { older_than: '1d' })).json).toMatchObject({ decision: 'approved', mode: 'once-per-grant' });
    expect((await ask(p, 'purge', {})).json.decision).toBe('approved');
    const q = await person();
    expect((await ask(q, 'purge', {})).json.decision).toBe('pending');
  });

  it('concurrent retries with one approval: exactly one is approved', async () => {
    const p = await person();
    const first = await ask(p, 'delete_note', { id: 'race' });
    const { browser } = await accountBrowser(p, new URL(first.json.url).pathname);
    await decide(browser, first.json.url, 'approve');
    const answers = await Promise.all(Array.from({ length: 8 }, () => ask(p, 'delete_note', { id: 'race' })));
    expect(answers.filter((a) => a.json.decision === 'approved')).toHaveLength(1);
    expect(answers.every((a) => a.status === 200)).toBe(true);
  });
});

describe('who may decide', () => {
  it('another person signed in gets 403 on the page and on the form, audited; nothing changes', async () => {
    const p = await person();
    const intruder = await person();
    const first = await ask(p, 'delete_note', { id: '3' });
    const { browser, page } = await accountBrowser(intruder, new URL(first.json.url).pathname);
    expect(page.status).toBe(403);
    expect(await page.text()).not.toContain('"id": "3"');
    const csrf = csrfOf(await (await browser.get(`${gh.issuer}/account`)).text());
    const post = await browser.postForm(first.json.url, { _csrf: csrf, decision: 'approve' });
    expect(post.status).toBe(403);
    expect((await knex()('tool_approvals').where({ id: first.json.approval_id }).first()).status).toBe('pending');
    expect((await auditOf('tool.approval.refused')).filter((r) => details(r).approval_id === first.json.approval_id).length).toBeGreaterThanOrEqual(2);
    expect((await ask(p, 'delete_note', { id: '3' })).json.decision).toBe('pending');

    // The page offers to sign in as someone else: the open session does not answer (prompt=login), the right person
    // signs in and lands on the page with the decision.
    const notYours = await (await browser.get(first.json.url)).text();
    const switchUrl = /href="([^"]*switch=1[^"]*)"/.exec(notYours)![1]!.replace(/&amp;/g, '&');
    const loginPage = await browser.follow(await browser.get(new URL(switchUrl, gh.issuer).href));
    expect(loginPage instanceof Response && (await loginPage.clone().text()).includes('name="password"')).toBe(true);
    const landed = await login(browser, loginPage as Response, p.email, p.password);
    expect(landed instanceof Response && landed.status).toBe(200);
    expect(new URL((landed as Response).url).pathname).toBe(new URL(first.json.url).pathname);
    expect(await (landed as Response).text()).toContain('name="decision"');
  });

  it('the decision needs the session\'s CSRF token and this origin', async () => {
    const p = await person();
    const first = await ask(p, 'delete_note', { id: '4' });
    const { browser } = await accountBrowser(p, new URL(first.json.url).pathname);
    expect((await browser.postForm(first.json.url, { decision: 'approve' })).status).toBe(403);
    expect((await browser.postForm(first.json.url, { _csrf: 'forged', decision: 'approve' })).status).toBe(403);
    const csrf = csrfOf(await (await browser.get(first.json.url)).text());
    const foreign = await browser.request(first.json.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' }, body: new URLSearchParams({ _csrf: csrf, decision: 'approve' }).toString() });
    expect(foreign.status).toBe(403);
    // No session at all: a POST is refused, a GET goes to sign-in.
    expect((await fetch(first.json.url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(gh.issuer).origin }, body: `_csrf=${csrf}&decision=approve` })).status).toBe(401);
    const anonymous = await fetch(first.json.url, { redirect: 'manual' });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toContain('/account/login?next=');
    expect((await knex()('tool_approvals').where({ id: first.json.approval_id }).first()).status).toBe('pending');
    expect((await auditOf('account.refused')).length).toBeGreaterThanOrEqual(3);
  });

  it('the sign-in returns only to an account page (no open redirect)', async () => {
    const res = await fetch(`${gh.issuer}/account/login?next=${encodeURIComponent('https://evil.example/')}`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('gatehouse.account.login='))!;
    expect(decodeURIComponent(cookie)).toContain('./account;');
  });
});

describe('expiry', () => {
  it('a request past its time cannot be decided, is swept as expired (audited), and the call asks again', async () => {
    const p = await person();
    const first = await ask(p, 'delete_note', { id: '5' });
    const { browser } = await accountBrowser(p, new URL(first.json.url).pathname);
    const csrf = csrfOf(await (await browser.get(first.json.url)).text());
    await knex()('tool_approvals').where({ id: first.json.approval_id }).update({ expires_at: new Date(Date.now() - 1000) });
    const page = await browser.get(first.json.url);
    expect(page.status).toBe(410);
    expect(await page.text()).not.toContain('name="decision"');
    expect((await browser.postForm(first.json.url, { _csrf: csrf, decision: 'approve' })).status).toBe(409);
    expect(await gh.approvals.sweep()).toBeGreaterThanOrEqual(1);
    const expired = (await auditOf('tool.approval.expired')).filter((r) => details(r).approval_id === first.json.approval_id);
    expect(expired).toHaveLength(1);
    expect(expired[0]!.reason).toBe('not decided in time');
    expect((await knex()('tool_approvals').where({ id: first.json.approval_id }).first()).status).toBe('expired');
    const next = await ask(p, 'delete_note', { id: '5' });
    expect(next.json.decision).toBe('pending');
    expect(next.json.approval_id).not.toBe(first.json.approval_id);
  });

  it('an approval not used in time expires too', async () => {
    const p = await person();
    const first = await ask(p, 'delete_note', { id: '6' });
    const { browser } = await accountBrowser(p, new URL(first.json.url).pathname);
    await decide(browser, first.json.url, 'approve');
    await knex()('tool_approvals').where({ id: first.json.approval_id }).update({ expires_at: new Date(Date.now() - 1000) });
    expect((await ask(p, 'delete_note', { id: '6' })).json.decision).toBe('pending');
  });
});

describe('refusals of the MCP server\'s question', () => {
  it('refuses a wrong secret (401), a forged or foreign token, a wrong digest (400), each audited', async () => {
    const p = await person();
    expect((await ask(p, 'delete_note', {}, { auth: basic(reporter.id, 'wrong') })).status).toBe(401);
    const forged = `${p.token.slice(0, -4)}AAAA`;
    const bad = await ask({ token: forged }, 'delete_note', {});
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('invalid_request');
    const other = await person('other:read', OTHER);
    const foreign = await ask(other, 'delete_note', {});
    expect(foreign.status).toBe(400);
    expect(foreign.json.error_description).toContain('access_token');
    const digest = await ask(p, 'delete_note', { id: '1' }, { digest: argumentsDigest({ id: '2' }) });
    expect(digest.status).toBe(400);
    expect(digest.json.error_description).toContain('arguments_digest');
    expect((await auditOf('tool.approval.refused')).length).toBeGreaterThanOrEqual(4);
    expect(await knex()('tool_approvals').where({ account_id: p.accountId })).toHaveLength(0);
  });

  it('caps what one client can leave waiting for one person (20 pending), audited', async () => {
    const p = await person();
    for (let i = 0; i < 20; i++) expect((await ask(p, 'delete_note', { id: `flood-${i}` })).json.decision).toBe('pending');
    const over = await ask(p, 'delete_note', { id: 'flood-20' });
    expect(over.status).toBe(400);
    expect(over.json.error_description).toContain('already wait');
    expect(await knex()('tool_approvals').where({ account_id: p.accountId })).toHaveLength(20);
    // Asking again for one already pending is not a new request.
    expect((await ask(p, 'delete_note', { id: 'flood-3' })).json.decision).toBe('pending');
  });

  it('refuses arguments a person could not be shown faithfully: Infinity (written as null), nesting past 30 levels', async () => {
    const p = await person();
    // 1e999 parses as Infinity, whose canonical JSON would be null: the page would show a call that is not the one run.
    const raw = (args: string, digest: string) =>
      fetch(`${gh.issuer}/mcp-server/tool-approvals`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basic(reporter.id, reporter.secret) },
        body: `{"resource":${JSON.stringify(NOTES)},"access_token":${JSON.stringify(p.token)},"tool":"delete_note","arguments":${args},"arguments_digest":"${digest}"}`,
      });
    const infinite = await raw('{"id":1e999}', argumentsDigest({ id: null }));
    expect(infinite.status).toBe(400);
    expect(((await infinite.json()) as { error_description: string }).error_description).toContain('cannot represent');
    let deep: unknown = 1;
    for (let i = 0; i < 30; i++) deep = [deep]; // within the body limit (32), past the approval limit (30)
    const nested = await ask(p, 'delete_note', { x: deep });
    expect(nested.status).toBe(400);
    expect(nested.json.error_description).toContain('nested deeper than 30');
    expect(await knex()('tool_approvals').where({ account_id: p.accountId })).toHaveLength(0);
  });

  it('refuses a token whose grant was revoked', async () => {
    const p = await person();
    const grantId = JSON.parse(Buffer.from(p.token.split('.')[1]!, 'base64url').toString()).grant_id as string;
    expect(typeof grantId).toBe('string');
    const grant = await gh.holder.provider.Grant.find(grantId);
    await grant!.destroy();
    const res = await ask(p, 'delete_note', {});
    expect(res.status).toBe(400);
    expect(res.json.error_description).toContain('revoked');
  });
});

describe('the webhook', () => {
  it('posts each new request, signed, without the arguments', async () => {
    const p = await person();
    const first = await ask(p, 'delete_note', { secret: SECRET_ARG });
    for (let i = 0; i < 50 && !hooks.some((h) => h.body.includes(first.json.approval_id)); i++) await new Promise((r) => setTimeout(r, 20));
    const sent = hooks.find((h) => h.body.includes(first.json.approval_id))!;
    expect(sent).toBeDefined();
    const ts = String(sent.headers['x-gatehouse-timestamp']);
    expect(sent.headers['x-gatehouse-signature']).toBe(webhookSignature(WEBHOOK_SECRET, ts, sent.body));
    expect(sent.headers['x-gatehouse-signature']).toBe(`v1=${createHmac('sha256', WEBHOOK_SECRET).update(`${ts}.${sent.body}`).digest('hex')}`);
    expect(JSON.parse(sent.body)).toMatchObject({ type: 'tool.approval.requested', url: first.json.url, tool: 'delete_note', resource: NOTES, client_id: p.clientId, email: p.email });
    expect(sent.body).not.toContain(SECRET_ARG);
  });
});
