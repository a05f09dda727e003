// The admin service layer for MCP servers and policy (docs/ARCHITECTURE.md, "The admin service layer"): the same
// action through the console and through the CLI gives the same result and the same audit event — only the actor and
// `details.via` differ (table-driven); a stale version is a conflict; an object the configuration file manages is
// refused to the console and the CLI naming the file, and allowed to the file's actor; an unknown one is not found.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CLI_ACTOR, CONFIG_ACTOR } from '../../src/admin/actor.js';
import { AdminError } from '../../src/admin/admin-error.js';
import { PolicyAdmin } from '../../src/admin/policy.js';
import { ResourceAdmin } from '../../src/admin/resources.js';
import { oneJson, runCli } from '../helpers/cli.js';
import { consoleSignIn, type ConsoleBrowser } from '../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const VIA_CONSOLE = 'https://console-made.example.test/mcp';
const VIA_CLI = 'https://cli-made.example.test/mcp';
const MANAGED = 'https://managed.example.test/mcp';
const FILE = 'gatehouse.yaml';

type Outcome = { ok: boolean; status?: number; error?: string };

/** One resource action, as the console does it and as the CLI does it. */
interface ResourceStep {
  name: string;
  console: (uri: string) => Promise<Response>;
  cli: (uri: string) => string[];
  ok: boolean;
  /** The audit event it writes (none for a refusal before anything is found). */
  event?: { type: string; outcome: string };
  error?: string;
}

let db: TestDatabase;
let gh: TestServer | undefined;
let admin: ConsoleBrowser;

const id = (uri: string) => encodeURIComponent(uri);
const server = () => gh!;
const services = () => ({ config: server().services.config, resources: server().services.resources, policy: server().services.policy, accounts: server().services.accounts, audit: server().services.audit });

const RESOURCE_STEPS: ResourceStep[] = [
  {
    name: 'create',
    console: (uri) => admin.submit('/resources', '/resources/new', { uri, name: 'Docs', scopes: 'docs:read | Read the docs | search', emailDomains: '', groups: '' }),
    cli: (uri) => ['resource', 'add', '--uri', uri, '--name', 'Docs', '--scope', 'docs:read=Read the docs', '--tool', 'docs:read=search', '--json'],
    ok: true,
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
    ok: true,
    event: { type: 'resource.updated', outcome: 'success' },
  },
  {
    name: 'invalid input',
    console: (uri) => admin.submit(`/resources/${id(uri)}`, `/resources/${id(uri)}`, { name: 'Docs 2', scopes: 'docs:read | Read | not a tool!', emailDomains: '', groups: '' }),
    cli: (uri) => ['resource', 'add', '--uri', uri, '--name', 'x'.repeat(201), '--json'],
    ok: false,
    event: { type: 'resource.updated', outcome: 'failure' },
  },
  {
    name: 'delete',
    console: (uri) => admin.submit(`/resources/${id(uri)}/delete`, `/resources/${id(uri)}/delete`, {}),
    cli: (uri) => ['resource', 'remove', uri, '--json'],
    ok: true,
    event: { type: 'resource.deleted', outcome: 'success' },
  },
  {
    name: 'delete what is gone',
    console: (uri) => admin.submit(`/resources/${id(uri)}/delete`, '/resources', {}),
    cli: (uri) => ['resource', 'remove', uri, '--json'],
    ok: false,
    error: 'no such MCP server',
  },
];

/** One policy action on REGISTRATION, the same way. */
const POLICY_STEPS = [
  { name: 'set', form: ['/policy/REGISTRATION', { value: 'approval' }], cli: ['policy', 'set', 'REGISTRATION', 'approval', '--json'], ok: true, effective: 'approval', type: 'policy.updated', outcome: 'success' },
  { name: 'set a bad value', form: ['/policy/REGISTRATION', { value: 'wide-open' }], cli: ['policy', 'set', 'REGISTRATION', 'wide-open', '--json'], ok: false, type: 'policy.updated', outcome: 'failure' },
  { name: 'reset', form: ['/policy/REGISTRATION/reset', {}], cli: ['policy', 'reset', 'REGISTRATION', '--json'], ok: true, effective: 'open', type: 'policy.reset', outcome: 'success' },
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

/** A resource as administration shows it, without the URI (which differs between the two runs). */
async function state(uri: string) {
  const r = await server().services.resources.find(uri);
  if (!r) return null;
  const { uri: _uri, ...view } = new ResourceAdmin(services()).view(r);
  return view;
}

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  await gh.services.users.create(ADMIN);
  admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

describe('MCP servers and policy through the console and the CLI', () => {
  it('give the same results, refusals and audit events; managed objects are refused naming the file', async () => {
    // ---- the console, on a running server ----
    const fromConsole: Array<Outcome & { state: unknown }> = [];
    for (const step of RESOURCE_STEPS) {
      const res = await step.console(VIA_CONSOLE);
      const html = await res.text();
      fromConsole.push({ ok: res.status === 303, status: res.status, ...(res.status === 303 ? {} : { error: html }), state: await state(VIA_CONSOLE) });
    }
    const policyFromConsole: Outcome[] = [];
    const policyStates: unknown[] = [];
    for (const step of POLICY_STEPS) {
      const res = await admin.submit(step.form[0], '/policy', step.form[1]);
      policyFromConsole.push({ ok: res.status === 303, status: res.status });
      policyStates.push(await server().services.policy.get('REGISTRATION'));
    }

    // A server and a setting the configuration file manages: created by its actor, then marked.
    const resources = new ResourceAdmin(services());
    const policy = new PolicyAdmin(services());
    await resources.create(CONFIG_ACTOR, { uri: MANAGED, name: 'Managed', scopes: { 'm:read': 'Read' } });
    expect(await resources.markManaged(MANAGED, FILE)).toBe(true);
    await policy.set(CONFIG_ACTOR, 'CIMD_BLOCKED_DOMAINS', 'blocked.example');
    expect(await policy.markManaged('CIMD_BLOCKED_DOMAINS', FILE)).toBe(true);
    const managedBefore = await state(MANAGED);

    const page = await admin.page(`/resources/${id(MANAGED)}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain(`Managed by <code>${FILE}</code>`);
    expect(page.html).not.toContain('<h2 id="h-edit">Edit</h2>');
    expect(page.html).not.toMatch(/<button type="submit" class="danger">Delete<\/button>/);
    expect((await admin.page(`/resources/${id(MANAGED)}/delete`)).html).not.toMatch(/<button type="submit" class="danger">Delete<\/button>/);
    expect((await admin.page('/resources')).html).toContain(`(managed by ${FILE})`);
    const edit = await admin.submit(`/resources/${id(MANAGED)}`, '/resources', { name: 'Hijack', scopes: 'x', emailDomains: '', groups: '' });
    expect(edit.status).toBe(409);
    expect(await edit.text()).toContain(`managed by the configuration file ${FILE}`);
    const del = await admin.submit(`/resources/${id(MANAGED)}/delete`, '/resources', {});
    expect(del.status).toBe(409);
    expect(await del.text()).toContain(FILE);
    const policyPage = await admin.page('/policy');
    const blocked = policyPage.html.slice(policyPage.html.indexOf('id="h-CIMD_BLOCKED_DOMAINS"'), policyPage.html.indexOf('id="h-ALLOWED_EMAIL_DOMAINS"'));
    expect(blocked).toContain(`Managed by <code>${FILE}</code>`);
    expect(blocked).not.toContain('>Save</button>');
    const policyEdit = await admin.submit('/policy/CIMD_BLOCKED_DOMAINS', '/policy', { value: '' });
    expect(policyEdit.status).toBe(409);
    expect(await policyEdit.text()).toContain(`managed by the configuration file ${FILE}`);

    // ---- the CLI: the embedded database belongs to one process, so it runs while no server holds it ----
    await gh!.close();
    gh = undefined;
    const fromCli: Outcome[] = [];
    for (const step of RESOURCE_STEPS) {
      const run = await runCli(step.cli(VIA_CLI), db.env);
      fromCli.push(run.code === 0 ? { ok: true } : { ok: false, error: run.stderr });
      if (step.ok) expect(oneJson(run.stdout)).toBeDefined();
      else expect(run.stdout).toBe('');
    }
    const policyFromCli: Array<Outcome & { effective?: unknown }> = [];
    for (const step of POLICY_STEPS) {
      const run = await runCli([...step.cli], db.env);
      policyFromCli.push(run.code === 0 ? { ok: true, effective: oneJson(run.stdout).effective } : { ok: false, error: run.stderr });
    }
    const cliManaged = await runCli(['resource', 'add', '--uri', MANAGED, '--name', 'Hijack', '--json'], db.env);
    expect(cliManaged.code).toBe(1);
    expect(cliManaged.stderr).toContain(`managed by the configuration file ${FILE}`);
    const cliManagedRemove = await runCli(['resource', 'remove', MANAGED], db.env);
    expect(cliManagedRemove.code).toBe(1);
    expect(cliManagedRemove.stderr).toContain(FILE);
    const cliManagedPolicy = await runCli(['policy', 'reset', 'CIMD_BLOCKED_DOMAINS', '--json'], db.env);
    expect(cliManagedPolicy.code).toBe(1);
    expect(cliManagedPolicy.stderr).toContain(`managed by the configuration file ${FILE}`);
    const shown = oneJson((await runCli(['policy', 'show', '--json'], db.env)).stdout).settings as Array<Record<string, unknown>>;
    expect(shown.find((e) => e.name === 'CIMD_BLOCKED_DOMAINS')).toMatchObject({ managed_by: FILE, effective: ['blocked.example'] });
    gh = await startTestServer(db.env);

    // ---- the same results ----
    RESOURCE_STEPS.forEach((step, i) => {
      expect({ step: step.name, ok: fromConsole[i]!.ok }).toEqual({ step: step.name, ok: step.ok });
      expect({ step: step.name, ok: fromCli[i]!.ok }).toEqual({ step: step.name, ok: step.ok });
      if (step.error) {
        expect(fromConsole[i]!.error).toContain(step.error);
        expect(fromCli[i]!.error).toContain(step.error);
      }
    });
    expect(fromConsole[2]!.status).toBe(400);
    expect(fromConsole[4]!.status).toBe(404);
    expect(await state(VIA_CLI)).toBeNull();
    expect(await state(VIA_CONSOLE)).toBeNull();
    // What the console's update made (the CLI's wrote the same audit details, below).
    const updated = fromConsole[1]!.state as Record<string, unknown>;
    expect(updated).toMatchObject({
      name: 'Docs 2',
      scopes: { 'docs:read': { description: 'Read the docs', tools: ['search'] }, 'docs:write': { description: 'Write docs', tools: ['edit'], approval: 'once-per-grant' } },
      access: { email_domains: ['example.com'], groups: [] },
      tool_approval: { purge: 'each-call' },
      destructive_tools_approval: 'each-call',
      managed_by: null,
    });
    POLICY_STEPS.forEach((step, i) => {
      expect(policyFromConsole[i]!.ok).toBe(step.ok);
      expect(policyFromCli[i]!.ok).toBe(step.ok);
      if ('effective' in step) {
        expect(policyStates[i]).toBe(step.effective);
        expect(policyFromCli[i]!.effective).toBe(step.effective);
      } else {
        expect(policyFromConsole[i]!.status).toBe(400);
        expect(policyFromCli[i]!.error).toContain('REGISTRATION');
      }
    });

    // ---- the same audit events: type, outcome and details; the actor and via name the adapter ----
    const consoleEvents = await auditRows({ type: 'resource.%', resource: VIA_CONSOLE });
    const cliEvents = await auditRows({ type: 'resource.%', resource: VIA_CLI });
    const expected = RESOURCE_STEPS.flatMap((s) => (s.event ? [s.event] : []));
    expect(consoleEvents.map((e) => ({ type: e.row.type, outcome: e.row.outcome }))).toEqual(expected);
    expect(cliEvents.map((e) => ({ type: e.row.type, outcome: e.row.outcome }))).toEqual(expected);
    // Successes carry the same details; refused input names its problems in each adapter's own words.
    const successes = (events: typeof consoleEvents) => events.filter((e) => e.row.outcome === 'success').map((e) => e.row);
    expect(successes(consoleEvents)).toEqual(successes(cliEvents));
    expect(successes(consoleEvents)[0]!.details).toEqual({ name: 'Docs', scopes: ['docs:read'], default: false });
    expect(consoleEvents.every((e) => e.via === 'person' && e.actor === ADMIN.email)).toBe(true);
    expect(cliEvents.every((e) => e.via === 'cli' && e.actor === 'cli' && e.actorId === 'cli')).toBe(true);
    expect(consoleEvents.filter((e) => e.row.outcome === 'failure').every((e) => e.reason === 'invalid input')).toBe(true);
    expect(cliEvents.filter((e) => e.row.outcome === 'failure').every((e) => e.reason === 'invalid input')).toBe(true);

    const registration = (await auditRows({ type: 'policy.%' })).filter((e) => e.row.details.setting === 'REGISTRATION');
    const consolePolicy = registration.filter((e) => e.via === 'person');
    const cliPolicy = registration.filter((e) => e.via === 'cli');
    expect(consolePolicy.map((e) => e.row)).toEqual(cliPolicy.map((e) => e.row));
    expect(consolePolicy.map((e) => [e.row.type, e.row.outcome])).toEqual(POLICY_STEPS.map((s) => [s.type, s.outcome]));
    expect(consolePolicy.every((e) => e.actor === ADMIN.email)).toBe(true);
    expect(cliPolicy.every((e) => e.actor === 'cli')).toBe(true);

    // ---- refusals of managed objects were audited as failures, and nothing changed ----
    const managedEvents = await auditRows({ type: 'resource.%', resource: MANAGED });
    expect(managedEvents.map((e) => [e.row.type, e.row.outcome, e.via])).toEqual([
      ['resource.created', 'success', 'config'],
      ['resource.updated', 'failure', 'person'],
      ['resource.deleted', 'failure', 'person'],
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
  }, 240_000);
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
