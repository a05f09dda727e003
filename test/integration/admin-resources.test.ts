// The admin service layer for MCP servers and policy (docs/ARCHITECTURE.md, "The admin service layer"): the same
// action through the console, the CLI and the admin API gives the same result and the same audit event — only the
// actor and `details.via` differ (table-driven); a stale version is a conflict, audited as the change's failure; an
// object the configuration file manages is refused to all three naming the file, and allowed to the file's actor; an
// unknown one is not found.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CLI_ACTOR, CONFIG_ACTOR } from '../../src/admin/actor.js';
import { AdminError } from '../../src/admin/admin-error.js';
import { PolicyAdmin } from '../../src/admin/policy.js';
import { PolicySettings } from '../../src/policy/settings.js';
import { ResourceAdmin } from '../../src/admin/resources.js';
import { adminApiClient, adminApiToken, call } from '../helpers/admin-api.js';
import { oneJson, runCli } from '../helpers/cli.js';
import { consoleSignIn, type ConsoleBrowser } from '../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const VIA_CONSOLE = 'https://console-made.example.test/mcp';
const VIA_CLI = 'https://cli-made.example.test/mcp';
const VIA_API = 'https://api-made.example.test/mcp';
const MANAGED = 'https://managed.example.test/mcp';
const FILE = 'gatehouse.yaml';
const STALE = 'stale-version';

/** What a door answered: success, the status (the console's 303 counts as success) and the refusal's text. */
type Outcome = { ok: boolean; status: number; error?: string };
/** An admin API request: the operation, its method, path (below /admin/api/v1), body and headers. */
type ApiRequest = { method: string; path: string; body?: unknown; headers?: Record<string, string> };

/** One resource action, as the console, the CLI and the admin API do it. */
interface ResourceStep {
  name: string;
  console: (uri: string) => Promise<Response>;
  cli: (uri: string) => string[];
  api: (uri: string) => ApiRequest;
  /** The API's status (the console's for a refusal; its success is a 303). */
  status: number;
  /** The audit event it writes (none for a refusal before anything is found). */
  event?: { type: string; outcome: string };
  error?: string;
}

let db: TestDatabase;
let gh: TestServer;
let admin: ConsoleBrowser;
let api: string;
let writer: string;
let writerId: string;

const id = (uri: string) => encodeURIComponent(uri);
const server = () => gh;
const services = () => ({ config: server().services.config, resources: server().services.resources, policy: server().services.policy, accounts: server().services.accounts, users: server().services.users, audit: server().services.audit });
const DOCS_READ = { description: 'Read the docs', tools: ['search'] };

const RESOURCE_STEPS: ResourceStep[] = [
  {
    name: 'create',
    console: (uri) => admin.submit('/resources', '/resources/new', { uri, name: 'Docs', scopes: 'docs:read | Read the docs | search', emailDomains: '', groups: '' }),
    cli: (uri) => ['resource', 'add', '--uri', uri, '--name', 'Docs', '--scope', 'docs:read=Read the docs', '--tool', 'docs:read=search', '--json'],
    api: (uri) => ({ method: 'POST', path: '/mcp-servers', body: { uri, name: 'Docs', scopes: { 'docs:read': DOCS_READ } } }),
    status: 201,
    event: { type: 'resource.created', outcome: 'success' },
  },
  {
    name: 'update the catalogue, access rule and approval marks',
    console: (uri) =>
      admin.submit(`/resources/${id(uri)}`, `/resources/${id(uri)}`, {
        name: 'Docs 2', scopes: 'docs:read | Read the docs | search\ndocs:write | Write docs | edit | | | once-per-grant', emailDomains: 'example.com', groups: '', toolApprovals: 'purge | each-call', destructiveApproval: 'each-call',
      }),
    cli: (uri) => [
      'resource', 'add', '--uri', uri, '--name', 'Docs 2', '--scope', 'docs:read=Read the docs', '--tool', 'docs:read=search', '--scope', 'docs:write=Write docs', '--tool', 'docs:write=edit',
      '--scope-approval', 'docs:write=once-per-grant', '--allow-email-domain', 'example.com', '--tool-approval', 'purge=each-call', '--destructive-approval', 'each-call', '--json',
    ],
    api: (uri) => ({
      method: 'PUT', path: `/mcp-servers/${id(uri)}`,
      body: {
        name: 'Docs 2', scopes: { 'docs:read': DOCS_READ, 'docs:write': { description: 'Write docs', tools: ['edit'], approval: 'once-per-grant' } },
        access: { email_domains: ['example.com'], groups: [] }, tool_approval: { purge: 'each-call' }, destructive_tools_approval: 'each-call',
      },
    }),
    status: 200,
    event: { type: 'resource.updated', outcome: 'success' },
  },
  {
    name: 'invalid input: a scope name RFC 6749 does not allow',
    console: (uri) => admin.submit(`/resources/${id(uri)}`, `/resources/${id(uri)}`, { name: 'Docs 2', scopes: 'bad scope | Bad', emailDomains: '', groups: '' }),
    cli: (uri) => ['resource', 'set-scope', uri, 'bad scope', '--description', 'Bad', '--json'],
    api: (uri) => ({ method: 'PUT', path: `/mcp-servers/${id(uri)}/scopes/${id('bad scope')}`, body: { description: 'Bad' } }),
    status: 400,
    event: { type: 'resource.updated', outcome: 'failure' },
  },
  {
    name: 'a change based on a stale version',
    console: (uri) => admin.submit(`/resources/${id(uri)}`, `/resources/${id(uri)}`, { version: STALE, name: 'Docs 3', scopes: 'docs:read | Read the docs | search', emailDomains: '', groups: '' }),
    cli: (uri) => ['resource', 'update', uri, '--name', 'Docs 3', '--if-version', STALE, '--json'],
    api: (uri) => ({ method: 'PATCH', path: `/mcp-servers/${id(uri)}`, body: { name: 'Docs 3' }, headers: { 'if-match': `"${STALE}"` } }),
    status: 409,
    event: { type: 'resource.updated', outcome: 'failure' },
    error: 'changed since you read it',
  },
  {
    name: 'delete',
    console: (uri) => admin.submit(`/resources/${id(uri)}/delete`, `/resources/${id(uri)}/delete`, {}),
    cli: (uri) => ['resource', 'remove', uri, '--json'],
    api: (uri) => ({ method: 'DELETE', path: `/mcp-servers/${id(uri)}` }),
    status: 200,
    event: { type: 'resource.deleted', outcome: 'success' },
  },
  {
    name: 'delete what is gone',
    console: (uri) => admin.submit(`/resources/${id(uri)}/delete`, '/resources', {}),
    cli: (uri) => ['resource', 'remove', uri, '--json'],
    api: (uri) => ({ method: 'DELETE', path: `/mcp-servers/${id(uri)}` }),
    status: 404,
    error: 'no such MCP server',
  },
];

/** One policy action on REGISTRATION, the same three ways. */
const POLICY_STEPS = [
  { name: 'set', form: { value: 'approval' }, cli: ['policy', 'set', 'REGISTRATION', 'approval', '--json'], api: { method: 'PUT', body: { value: 'approval' } }, status: 200, effective: 'approval', type: 'policy.updated', outcome: 'success' },
  { name: 'set a bad value', form: { value: 'wide-open' }, cli: ['policy', 'set', 'REGISTRATION', 'wide-open', '--json'], api: { method: 'PUT', body: { value: 'wide-open' } }, status: 400, effective: 'approval', type: 'policy.updated', outcome: 'failure' },
  {
    name: 'set on a stale version', form: { value: 'closed', version: STALE }, cli: ['policy', 'set', 'REGISTRATION', 'closed', '--if-version', STALE, '--json'],
    api: { method: 'PUT', body: { value: 'closed' }, headers: { 'if-match': `"${STALE}"` } }, status: 409, effective: 'approval', type: 'policy.updated', outcome: 'failure',
  },
  { name: 'reset', form: null, cli: ['policy', 'reset', 'REGISTRATION', '--json'], api: { method: 'DELETE' }, status: 200, effective: 'open', type: 'policy.reset', outcome: 'success' },
] as const;

type Row = { type: string; outcome: string; actor: string; resource: string | null; reason: string | null; details: Record<string, unknown> | string };
const parsed = (r: Row) => (typeof r.details === 'string' ? (JSON.parse(r.details) as Record<string, unknown>) : r.details);

/** The audit rows of a kind, as comparable between adapters: without the actor's own fields, which are returned apart. */
async function auditRows(where: { type: string; resource?: string; via?: string }) {
  const rows = (await server().services.handle.db('audit_events').where('type', 'like', where.type).modify((q) => {
    if (where.resource) q.where({ resource: where.resource });
  }).orderBy('id', 'asc')) as Row[];
  return rows
    .map((r) => {
      const { via, actorId, ...details } = parsed(r);
      return { row: { type: r.type, outcome: r.outcome, details }, reason: r.reason, via, actorId, actor: r.actor };
    })
    .filter((r) => !where.via || r.via === where.via);
}

/** A resource as administration shows it, without the URI (which differs between the runs). */
async function state(uri: string) {
  // The registry caches MCP servers for 2 s; the CLI on PostgreSQL writes beside the server, so read afresh.
  server().services.resources.invalidate();
  const r = await server().services.resources.find(uri);
  if (!r) return null;
  const { uri: _uri, ...view } = new ResourceAdmin(services()).view(r);
  return view;
}

async function viaApi(request: ApiRequest): Promise<Outcome> {
  const res = await call(`${api}${request.path}`, { method: request.method, token: writer, body: request.body, headers: request.headers });
  return res.status < 300 ? { ok: true, status: res.status } : { ok: false, status: res.status, error: res.json.error_description };
}

/** The CLI beside the running server: on the embedded database over the admin API with the server's local key, on PostgreSQL on the database itself — the actor is `cli` either way. */
async function viaCli(args: string[]): Promise<Outcome & { json?: Record<string, any> }> {
  const run = await runCli(args, db.env);
  if (run.code === 0) return { ok: true, status: 0, json: oneJson(run.stdout) };
  expect(run.stdout).toBe('');
  const error = JSON.parse(run.stderr.trim().split('\n').pop()!) as { status: number; error_description: string };
  return { ok: false, status: error.status, error: error.error_description };
}

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  api = `${gh.issuer}/admin/api/v1`;
  const w = await adminApiClient(gh, 'admin:read admin:write', 'automation');
  writerId = w.id;
  writer = await adminApiToken(gh, w);
  await gh.services.users.create(ADMIN);
  admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

describe('MCP servers and policy through the console, the CLI and the admin API', () => {
  it('give the same results, refusals and audit events; managed objects are refused naming the file', async () => {
    const fromConsole: Array<Outcome & { state: unknown }> = [];
    for (const step of RESOURCE_STEPS) {
      const res = await step.console(VIA_CONSOLE);
      const html = await res.text();
      fromConsole.push({ ok: res.status === 303, status: res.status, ...(res.status === 303 ? {} : { error: html }), state: await state(VIA_CONSOLE) });
    }
    const fromApi: Array<Outcome & { state: unknown }> = [];
    for (const step of RESOURCE_STEPS) fromApi.push({ ...(await viaApi(step.api(VIA_API))), state: await state(VIA_API) });
    const fromCli: Array<Outcome & { state: unknown }> = [];
    for (const step of RESOURCE_STEPS) fromCli.push({ ...(await viaCli(step.cli(VIA_CLI))), state: await state(VIA_CLI) });

    const policy = { console: [] as Outcome[], api: [] as Outcome[], cli: [] as Outcome[] };
    const policyStates = { console: [] as unknown[], api: [] as unknown[], cli: [] as unknown[] };
    for (const step of POLICY_STEPS) {
      const res = step.form ? await admin.submit('/policy/REGISTRATION', '/policy', step.form) : await admin.submit('/policy/REGISTRATION/reset', '/policy', {});
      policy.console.push({ ok: res.status === 303, status: res.status });
      policyStates.console.push(await server().services.policy.get('REGISTRATION'));
    }
    for (const step of POLICY_STEPS) {
      policy.api.push(await viaApi({ path: '/policy/REGISTRATION', ...step.api }));
      policyStates.api.push(await server().services.policy.get('REGISTRATION'));
    }
    for (const step of POLICY_STEPS) {
      policy.cli.push(await viaCli([...step.cli]));
      // The server caches policy for 2 s; the CLI on PostgreSQL writes beside it: read what the database holds.
      policyStates.cli.push(await new PolicySettings(server().services.handle.db, server().services.config).get('REGISTRATION'));
    }

    // ---- the same results ----
    RESOURCE_STEPS.forEach((step, i) => {
      const ok = step.status < 300;
      expect({ step: step.name, console: fromConsole[i]!.ok, api: fromApi[i]!.ok, cli: fromCli[i]!.ok }).toEqual({ step: step.name, console: ok, api: ok, cli: ok });
      expect({ step: step.name, api: fromApi[i]!.status }).toEqual({ step: step.name, api: step.status });
      if (!ok) expect({ step: step.name, console: fromConsole[i]!.status, cli: fromCli[i]!.status }).toEqual({ step: step.name, console: step.status, cli: step.status });
      // The console writes it as a sentence ("No such MCP server: …"), the API and CLI as a message.
      if (step.error) for (const outcome of [fromConsole[i]!, fromApi[i]!, fromCli[i]!]) expect(outcome.error?.toLowerCase()).toContain(step.error.toLowerCase());
      // The same state after each step, whichever door.
      expect({ step: step.name, api: fromApi[i]!.state, cli: fromCli[i]!.state }).toEqual({ step: step.name, api: fromConsole[i]!.state, cli: fromConsole[i]!.state });
    });
    expect(await state(VIA_CLI)).toBeNull();
    // What the update made (the same through each door, above).
    expect(fromConsole[1]!.state).toMatchObject({
      name: 'Docs 2',
      scopes: { 'docs:read': { description: 'Read the docs', tools: ['search'] }, 'docs:write': { description: 'Write docs', tools: ['edit'], approval: 'once-per-grant' } },
      access: { email_domains: ['example.com'], groups: [] },
      tool_approval: { purge: 'each-call' },
      destructive_tools_approval: 'each-call',
      managed_by: null,
    });
    POLICY_STEPS.forEach((step, i) => {
      const ok = step.status < 300;
      expect({ step: step.name, console: policy.console[i]!.ok, api: policy.api[i]!.ok, cli: policy.cli[i]!.ok }).toEqual({ step: step.name, console: ok, api: ok, cli: ok });
      expect({ step: step.name, api: policy.api[i]!.status }).toEqual({ step: step.name, api: step.status });
      if (!ok) expect({ step: step.name, console: policy.console[i]!.status, cli: policy.cli[i]!.status }).toEqual({ step: step.name, console: step.status, cli: step.status });
      for (const door of ['console', 'api', 'cli'] as const) expect({ step: step.name, door, effective: policyStates[door][i] }).toEqual({ step: step.name, door, effective: step.effective });
    });
    expect(policy.cli[1]!.error).toContain('REGISTRATION');

    // ---- the same audit events: type, outcome, reason and details; the actor and via name the door ----
    const doors = [
      { uri: VIA_CONSOLE, via: 'person', actor: ADMIN.email },
      { uri: VIA_API, via: 'api_client', actor: writerId },
      { uri: VIA_CLI, via: 'cli', actor: 'cli' },
    ];
    const expected = RESOURCE_STEPS.flatMap((s) => (s.event ? [s.event] : []));
    const byDoor = await Promise.all(doors.map((d) => auditRows({ type: 'resource.%', resource: d.uri })));
    byDoor.forEach((events, i) => {
      expect(events.map((e) => ({ type: e.row.type, outcome: e.row.outcome }))).toEqual(expected);
      expect(events.every((e) => e.via === doors[i]!.via && e.actor === doors[i]!.actor)).toBe(true);
    });
    // Successes carry the same details; refusals the same reasons (refused input names its problems in each door's own words).
    const successes = (events: (typeof byDoor)[number]) => events.filter((e) => e.row.outcome === 'success').map((e) => e.row);
    const reasons = (events: (typeof byDoor)[number]) => events.filter((e) => e.row.outcome === 'failure').map((e) => e.reason);
    expect(successes(byDoor[1]!)).toEqual(successes(byDoor[0]!));
    expect(successes(byDoor[2]!)).toEqual(successes(byDoor[0]!));
    expect(successes(byDoor[0]!)[0]!.details).toEqual({ name: 'Docs', scopes: ['docs:read'], default: false });
    expect(reasons(byDoor[0]!)).toEqual(['invalid input', expect.stringContaining('changed since you read it')]);
    expect(reasons(byDoor[1]!)).toEqual(reasons(byDoor[0]!));
    expect(reasons(byDoor[2]!)).toEqual(reasons(byDoor[0]!));

    const registration = (await auditRows({ type: 'policy.%' })).filter((e) => e.row.details.setting === 'REGISTRATION');
    const [consolePolicy, apiPolicy, cliPolicy] = doors.map((d) => registration.filter((e) => e.via === d.via));
    expect(consolePolicy!.map((e) => [e.row.type, e.row.outcome])).toEqual(POLICY_STEPS.map((s) => [s.type, s.outcome]));
    expect(apiPolicy!.map((e) => e.row)).toEqual(consolePolicy!.map((e) => e.row));
    expect(cliPolicy!.map((e) => e.row)).toEqual(consolePolicy!.map((e) => e.row));
    expect(consolePolicy!.every((e) => e.actor === ADMIN.email)).toBe(true);
    expect(apiPolicy!.every((e) => e.actor === writerId)).toBe(true);
    expect(cliPolicy!.every((e) => e.actor === 'cli')).toBe(true);

    // ---- a server and a setting the configuration file manages: created by its actor, then marked ----
    const resources = new ResourceAdmin(services());
    const policyAdmin = new PolicyAdmin(services());
    await resources.create(CONFIG_ACTOR, { uri: MANAGED, name: 'Managed', scopes: { 'm:read': 'Read' } });
    expect(await resources.markManaged(MANAGED, FILE)).toBe(true);
    await policyAdmin.set(CONFIG_ACTOR, 'CIMD_BLOCKED_DOMAINS', 'blocked.example');
    expect(await policyAdmin.markManaged('CIMD_BLOCKED_DOMAINS', FILE)).toBe(true);
    const managedBefore = await state(MANAGED);

    const page = await admin.page(`/resources/${id(MANAGED)}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain(`Managed by <code>${FILE}</code>`);
    expect(page.html).not.toContain('<h2 id="h-edit">Edit</h2>');
    expect(page.html).not.toMatch(/<button type="submit" class="danger">Delete<\/button>/);
    expect((await admin.page(`/resources/${id(MANAGED)}/delete`)).html).not.toMatch(/<button type="submit" class="danger">Delete<\/button>/);
    expect((await admin.page('/resources')).html).toContain(`(managed by ${FILE})`);
    const policyPage = await admin.page('/policy');
    const blocked = policyPage.html.slice(policyPage.html.indexOf('id="h-CIMD_BLOCKED_DOMAINS"'), policyPage.html.indexOf('id="h-ALLOWED_EMAIL_DOMAINS"'));
    expect(blocked).toContain(`Managed by <code>${FILE}</code>`);
    expect(blocked).not.toContain('>Save</button>');

    // Each door refuses the same three changes with a conflict naming the file.
    const managedRefusals: Array<{ door: string; status: number; text: string }> = [];
    const consoleEdit = await admin.submit(`/resources/${id(MANAGED)}`, '/resources', { name: 'Hijack', scopes: 'x', emailDomains: '', groups: '' });
    managedRefusals.push({ door: 'console', status: consoleEdit.status, text: await consoleEdit.text() });
    const consoleDelete = await admin.submit(`/resources/${id(MANAGED)}/delete`, '/resources', {});
    managedRefusals.push({ door: 'console', status: consoleDelete.status, text: await consoleDelete.text() });
    const consolePolicyEdit = await admin.submit('/policy/CIMD_BLOCKED_DOMAINS', '/policy', { value: '' });
    managedRefusals.push({ door: 'console', status: consolePolicyEdit.status, text: await consolePolicyEdit.text() });
    for (const request of [
      { method: 'PUT', path: `/mcp-servers/${id(MANAGED)}`, body: { name: 'Hijack' } },
      { method: 'DELETE', path: `/mcp-servers/${id(MANAGED)}` },
      { method: 'DELETE', path: '/policy/CIMD_BLOCKED_DOMAINS' },
    ]) {
      const refused = await viaApi(request);
      managedRefusals.push({ door: 'api', status: refused.status, text: refused.error ?? '' });
    }
    for (const args of [['resource', 'add', '--uri', MANAGED, '--name', 'Hijack', '--json'], ['resource', 'remove', MANAGED, '--json'], ['policy', 'reset', 'CIMD_BLOCKED_DOMAINS', '--json']]) {
      const refused = await viaCli(args);
      managedRefusals.push({ door: 'cli', status: refused.status, text: refused.error ?? '' });
    }
    for (const r of managedRefusals) {
      expect({ door: r.door, status: r.status }).toEqual({ door: r.door, status: 409 });
      expect(r.text).toContain(`managed by the configuration file ${FILE}`);
    }
    const shown = (await viaCli(['policy', 'show', 'CIMD_BLOCKED_DOMAINS', '--json'])).json!;
    expect(shown).toMatchObject({ managed_by: FILE, effective: ['blocked.example'] });

    // ---- refusals of managed objects were audited as failures, and nothing changed ----
    const managedEvents = await auditRows({ type: 'resource.%', resource: MANAGED });
    expect(managedEvents.map((e) => [e.row.type, e.row.outcome, e.via])).toEqual([
      ['resource.created', 'success', 'config'],
      ['resource.updated', 'failure', 'person'],
      ['resource.deleted', 'failure', 'person'],
      ['resource.updated', 'failure', 'api_client'],
      ['resource.deleted', 'failure', 'api_client'],
      ['resource.updated', 'failure', 'cli'],
      ['resource.deleted', 'failure', 'cli'],
    ]);
    expect(managedEvents.slice(1).every((e) => e.reason?.includes(FILE))).toBe(true);
    expect(await state(MANAGED)).toEqual(managedBefore);

    // The configuration file's own actor may change and release what it manages.
    const again = new ResourceAdmin(services());
    const changed = await again.update(CONFIG_ACTOR, MANAGED, { name: 'Managed 2', scopes: { 'm:read': 'Read' } });
    expect(changed).toMatchObject({ name: 'Managed 2', managedBy: FILE });
    const [event] = await server().services.audit.recent({ type: 'resource.updated', limit: 1 });
    expect(event).toMatchObject({ outcome: 'success', actor: 'config', resource: MANAGED, details: expect.objectContaining({ via: 'config', actorId: 'config' }) });
    const again2 = new PolicyAdmin(services());
    expect((await again2.set(CONFIG_ACTOR, 'CIMD_BLOCKED_DOMAINS', 'other.example')).effective).toEqual(['other.example']);
    expect((await again2.entry('CIMD_BLOCKED_DOMAINS')).managedBy).toBe(FILE);
    await again.markManaged(MANAGED, null);
    await again.remove(CLI_ACTOR, MANAGED);
    await again2.reset(CONFIG_ACTOR, 'CIMD_BLOCKED_DOMAINS');
    expect((await again2.entry('CIMD_BLOCKED_DOMAINS')).managedBy).toBeNull();
  }, 300_000);
});

describe('the services directly', () => {
  const uri = 'https://versions.example.test/mcp';

  it('refuse a stale version with a conflict (console: the edit form carries the version it was read at)', async () => {
    admin = await consoleSignIn(server().issuer, ADMIN.email, ADMIN.password);
    const resources = new ResourceAdmin(services());
    const created = await resources.create(CLI_ACTOR, { uri, name: 'Versions', scopes: { 'v:read': 'Read' } });
    const version = resources.version(created);
    expect(resources.version((await resources.find(uri))!)).toBe(version); // stable while nothing changes

    const form = await admin.page(`/resources/${id(uri)}`);
    const read = /name="version" value="([^"]+)"/.exec(form.html)![1]!;
    expect(read).toBe(version);
    await resources.patch(CLI_ACTOR, uri, { description: 'Changed meanwhile' }, version);
    await expect(resources.patch(CLI_ACTOR, uri, { description: 'Lost update' }, version)).rejects.toMatchObject({ code: 'conflict', field: 'version', status: 409 });
    const stale = await admin.submit(`/resources/${id(uri)}`, `/resources/${id(uri)}`, { version: read, name: 'Versions', scopes: 'v:read | Read', emailDomains: '', groups: '' });
    expect(stale.status).toBe(409);
    expect(await stale.text()).toContain('changed since you read it');
    expect((await resources.find(uri))!.description).toBe('Changed meanwhile');
    await expect(resources.remove(CLI_ACTOR, uri, version)).rejects.toMatchObject({ code: 'conflict' });

    const policy = new PolicyAdmin(services());
    const before = policy.version(await policy.entry('ALLOWED_GROUPS'));
    await policy.set(CLI_ACTOR, 'ALLOWED_GROUPS', '', before);
    await expect(policy.set(CLI_ACTOR, 'ALLOWED_GROUPS', 'x', before)).rejects.toMatchObject({ code: 'conflict' });
    const policyPage = await admin.page('/policy');
    const section = policyPage.html.slice(policyPage.html.indexOf('id="h-ALLOWED_GROUPS"'));
    const pageVersion = /name="version" value="([^"]+)"/.exec(section)![1]!;
    await policy.reset(CLI_ACTOR, 'ALLOWED_GROUPS');
    const stalePolicy = await admin.submit('/policy/ALLOWED_GROUPS', '/policy', { version: pageVersion, value: '' });
    expect(stalePolicy.status).toBe(409);
    expect(await server().services.policy.entries()).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'ALLOWED_GROUPS', overridden: false })]));
  });

  it('not found, conflict on an existing URI, invalid input naming the field; partial changes keep the rest', async () => {
    const resources = new ResourceAdmin(services());
    await expect(resources.update(CLI_ACTOR, 'https://nowhere.example.test/mcp', { name: 'x' })).rejects.toMatchObject({ code: 'not_found', status: 404 });
    await expect(resources.remove(CLI_ACTOR, 'not a uri')).rejects.toBeInstanceOf(AdminError);
    await expect(resources.create(CLI_ACTOR, { uri: 'https://Versions.example.test:443/mcp' })).rejects.toMatchObject({ code: 'conflict', field: 'uri' });
    await expect(resources.create(CLI_ACTOR, { uri: 'https://new.example.test/mcp', scopes: { 'bad scope': 'x' } })).rejects.toMatchObject({ code: 'invalid_request', field: 'scopes.bad scope' });
    await expect(resources.create(CLI_ACTOR, { uri: 'https://new.example.test/mcp#frag' })).rejects.toMatchObject({ code: 'invalid_request', field: 'uri' });
    expect(await resources.find('https://new.example.test/mcp')).toBeUndefined();

    await resources.setScope(CLI_ACTOR, uri, 'v:write', { description: 'Write', tools: ['put'], access: { email_domains: [], groups: ['writers'] }, approval: 'each-call' });
    await resources.patch(CLI_ACTOR, uri, { tool_approval: { drop: 'once-per-grant' }, access: { email_domains: ['example.com'], groups: [] } });
    let r = (await resources.find(uri))!;
    expect(r.catalogue['v:write']).toEqual({ description: 'Write', tools: ['put'], access: { emailDomains: [], groups: ['writers'] }, approval: 'each-call' });
    expect(r).toMatchObject({ description: 'Changed meanwhile', toolApproval: { drop: 'once-per-grant' }, access: { emailDomains: ['example.com'], groups: [] } });
    await resources.patch(CLI_ACTOR, uri, { access: null, tool_approval: null, description: null });
    await resources.setScope(CLI_ACTOR, uri, 'v:write', null);
    await expect(resources.setScope(CLI_ACTOR, uri, 'v:write', null)).rejects.toMatchObject({ code: 'not_found' });
    r = (await resources.find(uri))!;
    expect(r).toMatchObject({ description: null, toolApproval: {}, access: undefined, scopes: { 'v:read': 'Read' } });

    // A server RESOURCES defines: changed until the next start, which the service tells.
    expect(resources.fromEnvironment(TEST_RESOURCE)).toBe(true);
    expect(resources.fromEnvironment(uri)).toBe(false);

    const page1 = await resources.list({ limit: 1 });
    expect(page1.items).toHaveLength(1);
    const rest = await resources.list({ limit: 200, cursor: page1.next! });
    expect([...page1.items, ...rest.items].map((x) => x.uri)).toEqual((await server().services.resources.list()).map((x) => x.uri).sort());
    expect((await resources.list({ q: 'VERSIONS' })).items.map((x) => x.uri)).toEqual([uri]);

    const policy = new PolicyAdmin(services());
    await expect(policy.set(CLI_ACTOR, 'ADMIN_EMAILS', 'eve@evil.test')).rejects.toMatchObject({ code: 'not_found' });
    await expect(policy.set(CLI_ACTOR, 'REGISTRATION', 'wide-open')).rejects.toMatchObject({ code: 'invalid_request', field: 'value' });
    // The CLI is the break-glass path: no self-lockout check for it (a person is checked: console tests).
    expect((await policy.set(CLI_ACTOR, 'ALLOWED_GROUPS', 'nobody-has-this')).effective).toEqual(['nobody-has-this']);
    await policy.reset(CLI_ACTOR, 'ALLOWED_GROUPS');
  });
});
