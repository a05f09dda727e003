// The declarative configuration file (docs/CONFIG-FILE.md) on a real database: plan shows adds, updates (with the
// fields) and removes; apply goes through the admin service layer as "config", once per change, and applying twice
// changes nothing the second time; objects the file manages are refused to everyone else, naming the file; secrets
// never appear in plan, apply or export output nor in the audit log; a bad file stops the start naming file, line and
// field; the server applies the file at start; `gatehouse config plan|apply|export` as an operator runs them.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { oneJson, runCli } from '../helpers/cli.js';
import { consoleSignIn } from '../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { CLI_ACTOR, personActor } from '../../src/admin/actor.js';
import { AdminError } from '../../src/admin/admin-error.js';
import { applyConfigFile, ApplyError } from '../../src/admin/config-file/apply.js';
import { exportConfig, exportYaml } from '../../src/admin/config-file/export.js';
import { ConfigFile, loadConfigFile } from '../../src/admin/config-file/load.js';
import { describeChange, planConfigFile, type Change, type ConfigContext } from '../../src/admin/config-file/plan.js';
import { loadConfiguration } from '../../src/configuration.js';
import { configContext, openServices, type Services } from '../../src/gatehouse.js';
import { clientMetadata } from '../../src/oauth/static-clients.js';

const CLIENT_SECRET_1 = `ci-one-${randomBytes(24).toString('hex')}`;
const CLIENT_SECRET_2 = `ci-two-${randomBytes(24).toString('hex')}`;
const CONNECTION_SECRET = `okta-${randomBytes(24).toString('hex')}`;
const SECRETS = [CLIENT_SECRET_1, CLIENT_SECRET_2, CONNECTION_SECRET];

const DOCS = 'https://docs.example.test/mcp';
const TICKETS = 'https://tickets.example.test/mcp';
const UNMANAGED = 'https://unmanaged.example.test/mcp';

const root = mkdtempSync(join(tmpdir(), 'gatehouse-config-file-'));
/** Writes a version of gatehouse.yaml in a folder of its own: every version is the same file name, as in git. */
function version(name: string, text: string): string {
  mkdirSync(join(root, name), { recursive: true });
  writeFileSync(join(root, name, 'okta.secret'), `${CONNECTION_SECRET}\n`);
  const path = join(root, name, 'gatehouse.yaml');
  writeFileSync(path, text);
  return path;
}

const V1 = version(
  'v1',
  `mcp_servers:
  - uri: ${DOCS}
    name: Docs
    scopes:
      docs:read: Read the docs
  - uri: ${TICKETS}
    name: Tickets from the file
    scopes:
      tickets:read: Read tickets
clients:
  - client_id: desk-app
    name: Desk
    redirect_uris: [http://127.0.0.1:8765/callback]
  - client_id: ci-agent
    name: CI agent
    confidential: true
    resource: ${DOCS}
    secret: {env: CI_AGENT_SECRET}
connections:
  - id: okta
    kind: okta
    issuer: https://example.okta.com
    client_id: 0oa1
    client_secret: {file: okta.secret}
    groups_claim: groups
policy:
  REGISTRATION: approval
  CIMD_ALLOWED_DOMAINS: [example.com, "*.example.org"]
`,
);

// v2: Docs renamed and a scope added, Tickets dropped, Desk's redirect URIs and CI's secret changed, Okta's groups
// claim changed, REGISTRATION dropped.
const V2 = version(
  'v2',
  `mcp_servers:
  - uri: ${DOCS}
    name: Documentation
    scopes:
      docs:read: Read the docs
      docs:write:
        description: Change the docs
        tools: [edit_page]
        approval: each-call
    delegation:
      connections:
        okta: [openid, openid]
      resources:
        HTTPS://Files.Example.test/mcp: [files:read]
clients:
  - client_id: desk-app
    name: Desk
    redirect_uris: [http://127.0.0.1:8765/callback, http://127.0.0.1:8766/callback]
  - client_id: ci-agent
    name: CI agent
    confidential: true
    resource: ${DOCS}
    secret: {env: CI_AGENT_SECRET}
connections:
  - id: okta
    kind: okta
    issuer: https://example.okta.com
    client_id: 0oa1
    client_secret: {file: okta.secret}
    groups_claim: roles
policy:
  CIMD_ALLOWED_DOMAINS: [example.com, "*.example.org"]
`,
);

// v3: v2 without the connection (the console test signs in with a password, on a login page with no other choice).
const V3 = version('v3', `mcp_servers:
  - uri: ${DOCS}
    name: Documentation
clients:
  - client_id: ci-agent
    name: CI agent
    confidential: true
    secret: {env: CI_AGENT_SECRET}
policy:
  CIMD_ALLOWED_DOMAINS: [example.com, "*.example.org"]
`);

const BAD = version(
  'bad',
  `mcp_servers:
  - uri: ${DOCS}
    scopes:
      docs:read:
        description: Read
        tols: [search]
`,
);

let db: TestDatabase;
let services: Services | undefined;
let server: TestServer | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await services?.handle.close();
  await server?.close();
  await db?.drop();
});

function load(path: string, secret: string): ConfigFile {
  return loadConfigFile(path, { env: { CI_AGENT_SECRET: secret } });
}

async function open(): Promise<ConfigContext> {
  const config = loadConfiguration({ ...db.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', ISSUER: 'http://127.0.0.1:9' });
  services = await openServices(config);
  return configContext(services);
}

async function close(): Promise<void> {
  await services?.handle.close();
  services = undefined;
}

type AuditRow = { type: string; outcome: string; actor: string; resource: string | null; client_id: string | null; details: unknown };
const auditRows = async (): Promise<AuditRow[]> => (await services!.handle.db('audit_events').orderBy('id', 'asc')) as AuditRow[];
const shown = (changes: Change[]) => changes.map(describeChange);

describe('the configuration file, through the admin service layer', () => {
  let ctx: ConfigContext;

  beforeAll(async () => {
    ctx = await open();
  });

  afterAll(close);

  it('plans and applies adds, adopts an unmanaged object, and changes nothing the second time', async () => {
    // Made earlier in the console or CLI: Tickets (adopted by the file), another server (never touched).
    await ctx.services.resources.create(CLI_ACTOR, { uri: TICKETS, name: 'Tickets', scopes: { 'tickets:read': 'Read tickets' } });
    await ctx.services.resources.create(CLI_ACTOR, { uri: UNMANAGED, name: 'Unmanaged' });
    const before = (await auditRows()).length;

    const file = load(V1, CLIENT_SECRET_1);
    const planned = await planConfigFile(file, ctx);
    expect(shown(planned)).toEqual([
      `+ mcp_server ${DOCS}`,
      `~ mcp_server ${TICKETS} (name, managed_by)`,
      '+ connection okta',
      '+ client desk-app',
      '+ client ci-agent',
      '+ policy REGISTRATION',
      '+ policy CIMD_ALLOWED_DOMAINS',
    ]);
    expect(await applyConfigFile(file, ctx)).toEqual(planned);

    // Each change audited once, by "config".
    const rows = (await auditRows()).slice(before);
    expect(rows.map((r) => [r.type, r.outcome, r.actor])).toEqual([
      ['resource.created', 'success', 'config'],
      ['resource.updated', 'success', 'config'],
      ['connection.added', 'success', 'config'],
      ['client.created', 'success', 'config'],
      ['client.created', 'success', 'config'],
      ['policy.updated', 'success', 'config'],
      ['policy.updated', 'success', 'config'],
    ]);

    expect(await planConfigFile(file, ctx)).toEqual([]);
    expect(await applyConfigFile(file, ctx)).toEqual([]);
    expect((await auditRows()).length).toBe(before + rows.length);

    expect((await ctx.resources.find(DOCS))?.managedBy).toBe('gatehouse.yaml');
    expect((await ctx.resources.find(TICKETS))?.managedBy).toBe('gatehouse.yaml');
    expect((await ctx.resources.find(UNMANAGED))?.managedBy).toBeNull();
    expect((await ctx.registry.find('ci-agent'))?.managedBy).toBe('gatehouse.yaml');
    expect((await ctx.connections.find('okta'))?.managedBy).toBe('gatehouse.yaml');
    expect((await ctx.policy.entries()).filter((e) => e.managedBy === 'gatehouse.yaml').map((e) => e.name)).toEqual(['REGISTRATION', 'CIMD_ALLOWED_DOMAINS']);
    // The given secrets are the ones in force.
    expect((await clientMetadata(ctx.db, ctx.box, 'ci-agent'))?.client_secret).toBe(CLIENT_SECRET_1);
    expect((await ctx.connections.find('okta'))?.clientSecret).toBe(CONNECTION_SECRET);
  });

  it('plans updates with their fields and removes what it manages and no longer lists; then nothing', async () => {
    const file = load(V2, CLIENT_SECRET_2);
    const planned = await planConfigFile(file, ctx);
    expect(shown(planned)).toEqual([
      `~ mcp_server ${DOCS} (name, scopes, delegation)`,
      '~ connection okta (groups_claim)',
      '~ client desk-app (redirect_uris)',
      '~ client ci-agent (secret)',
      `- mcp_server ${TICKETS}`,
      '- policy REGISTRATION',
    ]);
    expect(await applyConfigFile(file, ctx)).toEqual(planned);
    expect(await planConfigFile(file, ctx)).toEqual([]);
    expect(await ctx.resources.find(TICKETS)).toBeUndefined();
    // The delegation policy as stored: the downstream URI canonical, scopes once (docs/DELEGATION.md).
    expect((await ctx.resources.find(DOCS))!.delegation).toEqual({ connections: { okta: ['openid'] }, resources: { 'https://files.example.test/mcp': ['files:read'] } });
    expect(await ctx.resources.find(UNMANAGED)).toBeDefined();
    expect((await ctx.policy.entries()).find((e) => e.name === 'REGISTRATION')?.overridden).toBe(false);
    expect((await clientMetadata(ctx.db, ctx.box, 'ci-agent'))?.client_secret).toBe(CLIENT_SECRET_2);
  });

  it('refuses every other actor a change to a managed object, naming the file', async () => {
    const admin = personActor({ id: 'acc_1', email: 'admin@example.com' });
    const attempts: Array<[string, () => Promise<unknown>]> = [
      ['resource update (CLI)', () => ctx.services.resources.update(CLI_ACTOR, DOCS, { name: 'Renamed' })],
      ['resource delete (console)', () => ctx.services.resources.remove(admin, DOCS)],
      ['client update (console)', () => ctx.services.clients.update(admin, 'desk-app', { name: 'Renamed' })],
      ['client disable (CLI)', () => ctx.services.clients.disable(CLI_ACTOR, 'ci-agent')],
      ['connection remove (console)', () => ctx.services.connections.remove(admin, 'okta')],
      ['policy set (console)', () => ctx.services.policy.set(admin, 'CIMD_ALLOWED_DOMAINS', 'example.net')],
    ];
    for (const [what, attempt] of attempts) {
      const err = await attempt().then(() => undefined, (e: unknown) => e);
      expect({ what, error: err instanceof AdminError ? { code: err.code, message: err.message } : err }).toEqual({
        what,
        error: { code: 'conflict', message: expect.stringContaining('managed by the configuration file gatehouse.yaml') },
      });
    }
    expect((await ctx.resources.find(DOCS))?.name).toBe('Documentation');
  });

  it('refuses an object another file manages, and stops at the first failing change', async () => {
    await ctx.services.resources.markManaged(UNMANAGED, 'other.yaml');
    const other = version('other', `mcp_servers:\n  - uri: ${UNMANAGED}\n`);
    await expect(planConfigFile(load(other, CLIENT_SECRET_2), ctx)).rejects.toThrow(`${other} line 2: the MCP server ${UNMANAGED} is managed by the configuration file other.yaml, not gatehouse.yaml`);
    await ctx.services.resources.markManaged(UNMANAGED, null);

    // The client names a server nobody registered: the server before it is added, the client refused, the rest not tried.
    const broken = version(
      'broken',
      `mcp_servers:\n  - uri: https://new.example.test\nclients:\n  - client_id: lost-agent\n    name: Lost\n    confidential: true\n    resource: https://nowhere.example.test\n    secret: {env: CI_AGENT_SECRET}\npolicy:\n  REGISTRATION: closed\n`,
    );
    const err = await applyConfigFile(load(broken, CLIENT_SECRET_2), ctx).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    expect((err as ApplyError).message).toMatch(/^\+ client lost-agent: Choose one of the registered MCP servers, or none\. \(1 of \d+ changes were applied before it/);
    expect(await ctx.resources.find('https://new.example.test')).toBeDefined();
    expect((await ctx.policy.entries()).find((e) => e.name === 'REGISTRATION')?.overridden).toBe(false);
    // Back to v2 (which removes what the broken file added, as this file name manages it).
    await applyConfigFile(load(V2, CLIENT_SECRET_2), ctx);
    expect(await planConfigFile(load(V2, CLIENT_SECRET_2), ctx)).toEqual([]);
  });

  it('exports the state without secrets; the export applied back only adopts', async () => {
    const content = await exportConfig(ctx);
    const yaml = exportYaml(content);
    for (const s of SECRETS) expect(yaml).not.toContain(s);
    expect(yaml).toContain('secret:\n      env: CHANGE_ME_CLIENT_CI_AGENT_SECRET');
    expect(yaml).toContain('env: CHANGE_ME_CONNECTION_OKTA_SECRET');
    const path = version('export', yaml);
    const exported = loadConfigFile(path, { env: { CHANGE_ME_CLIENT_CI_AGENT_SECRET: CLIENT_SECRET_2, CHANGE_ME_CONNECTION_OKTA_SECRET: CONNECTION_SECRET } });
    const planned = await planConfigFile(exported, ctx);
    // What v2 manages matches exactly; the unmanaged server would be adopted.
    expect(shown(planned)).toEqual([`~ mcp_server ${UNMANAGED} (managed_by)`]);
  });

  it('never writes a secret into the audit log', async () => {
    const text = JSON.stringify(await auditRows());
    for (const s of SECRETS) expect(text).not.toContain(s);
  });
});

describe('the configuration file, as an operator uses it', () => {
  const env = () => ({ ...db.env, CI_AGENT_SECRET: CLIENT_SECRET_2 });

  it('gatehouse config plan, apply and export', async () => {
    const outputs: string[] = [];
    const run = async (args: string[], extra: Record<string, string> = {}) => {
      const r = await runCli(args, { ...env(), ...extra });
      outputs.push(r.stdout, r.stderr);
      return r;
    };
    const none = await run(['config', 'plan', '--json'], { GATEHOUSE_CONFIG: V2 });
    expect(none.code).toBe(0);
    expect(oneJson(none.stdout)).toEqual({ file: V2, changes: [] });

    const plan = await run(['config', 'plan', '--file', V1], { CI_AGENT_SECRET: CLIENT_SECRET_1 });
    expect(plan.code).toBe(0);
    expect(plan.stdout.trim().split('\n')).toEqual([
      `~ mcp_server ${DOCS} (name, scopes, delegation)`,
      `+ mcp_server ${TICKETS}`,
      '~ connection okta (groups_claim)',
      '~ client desk-app (redirect_uris)',
      '~ client ci-agent (secret)',
      '+ policy REGISTRATION',
    ]);
    const applied = await run(['config', 'apply', '--file', V1, '--json'], { CI_AGENT_SECRET: CLIENT_SECRET_1 });
    expect(applied.code).toBe(0);
    expect((oneJson(applied.stdout).applied as Change[]).length).toBe(6);
    const again = await run(['config', 'apply', '--file', V1], { CI_AGENT_SECRET: CLIENT_SECRET_1 });
    expect(again.stdout.trim()).toBe(`no changes: the database matches ${V1}`);

    const yaml = await run(['config', 'export']);
    expect(yaml.code).toBe(0);
    expect(yaml.stdout).toContain('client_id: ci-agent');
    expect(yaml.stdout).toContain('env: CHANGE_ME_CLIENT_CI_AGENT_SECRET');
    const json = await run(['config', 'export', '--json']);
    expect(oneJson(json.stdout)).toMatchObject({ clients: expect.arrayContaining([expect.objectContaining({ client_id: 'ci-agent', secret: { env: 'CHANGE_ME_CLIENT_CI_AGENT_SECRET' } })]) });

    const bad = await run(['config', 'plan', '--file', BAD]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`--file: ${BAD} line 6: mcp_servers[0].scopes.docs:read.tols: unknown field`);
    const badJson = await run(['config', 'plan', '--file', BAD, '--json']);
    expect(badJson.code).toBe(1);
    expect(JSON.parse(badJson.stderr.trim().split('\n').pop()!)).toMatchObject({ error: 'configuration_error', problems: [`--file: ${BAD} line 6: mcp_servers[0].scopes.docs:read.tols: unknown field`] });
    const missing = await run(['config', 'plan']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/give --file <path> or set GATEHOUSE_CONFIG/);

    for (const s of SECRETS) expect(outputs.join('\n')).not.toContain(s);
  }, 240_000);

  it('a bad file stops the start, naming the file, the line and the field', async () => {
    const res = await runCli(['serve'], { ...env(), GATEHOUSE_CONFIG: BAD, PORT: '0' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`gatehouse: configuration error: GATEHOUSE_CONFIG: ${BAD} line 6: mcp_servers[0].scopes.docs:read.tols: unknown field`);
    expect(res.stderr).not.toMatch(/listening/);
  });
});

describe('the configuration file at start', () => {
  it('is applied once after seeding; the next start changes nothing; the console shows it and refuses edits', async () => {
    const startEnv = { ...db.env, CI_AGENT_SECRET: CLIENT_SECRET_2, GATEHOUSE_CONFIG: V3 };
    server = await startTestServer(startEnv);
    const ctx = await configContext(server.services);
    expect(await planConfigFile(load(V3, CLIENT_SECRET_2), ctx)).toEqual([]);
    expect(await ctx.resources.find(TICKETS)).toBeUndefined();
    expect(await ctx.connections.find('okta')).toBeUndefined();
    expect(await ctx.registry.find('desk-app')).toBeUndefined();
    const count = async () => Number(((await server!.services.handle.db('audit_events').where({ actor: 'config' }).count({ n: '*' })) as Array<{ n: string | number }>)[0]!.n);
    const afterFirst = await count();
    await server.close();
    server = await startTestServer(startEnv);
    expect(await count()).toBe(afterFirst);

    // The console: the setting is marked as the file's, and an edit is refused with the file named.
    await server.services.users.create({ email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true });
    const admin = await consoleSignIn(server.issuer, 'admin@example.com', 'correct horse battery staple');
    const page = await admin.page('/policy');
    expect(page.html).toContain('data-managed-by="gatehouse.yaml"');
    const refused = await admin.submit('/policy/CIMD_ALLOWED_DOMAINS', '/policy', { value: 'example.net' });
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain('managed by the configuration file gatehouse.yaml');
    expect((await server.services.policy.get('CIMD_ALLOWED_DOMAINS'))).toEqual(['example.com', '*.example.org']);
  }, 120_000);
});

describe('the example file', () => {
  it('examples/gatehouse.yaml applies to a new database, and then plans nothing', async () => {
    const fresh = await createTestDatabase();
    const config = loadConfiguration({ ...fresh.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', GATEHOUSE_CONFIG: 'examples/gatehouse.yaml', GATEHOUSE_CI_AGENT_SECRET: CLIENT_SECRET_1, GATEHOUSE_OKTA_CLIENT_SECRET: CONNECTION_SECRET });
    const own = await openServices(config);
    try {
      const ctx = await configContext(own);
      const file = config.configFile as ConfigFile;
      expect((await applyConfigFile(file, ctx)).length).toBe(file.servers.length + file.clients.length + file.connections.length + file.policy.length);
      expect(await planConfigFile(file, ctx)).toEqual([]);
      expect(await applyConfigFile(file, ctx)).toEqual([]);
      expect((await ctx.resources.find('https://mcp.example.com/mcp'))?.toolApproval).toEqual({ delete_page: 'each-call' });
    } finally {
      await own.handle.close();
      await fresh.drop();
    }
  });
});
