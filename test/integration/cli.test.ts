// The `gatehouse` command as an operator uses it: creating commands print exactly one JSON object with --json,
// it reads the same configuration as the server, and it never touches an embedded database a server holds.
import { oneJson, runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer } from '../helpers/server.js';

let db: TestDatabase;

beforeAll(async () => {
  // From nothing, as `npx gatehouse migrate` meets a new machine: initdb included, no template copy.
  db = await createTestDatabase({ fresh: true });
});

afterAll(async () => {
  await db?.drop();
});


describe('gatehouse CLI', () => {
  it('migrate, resource add, user add, client add: each prints one JSON object with --json', async () => {
    const migrated = await runCli(['migrate', '--json'], db.env);
    expect(migrated.code).toBe(0);
    expect(oneJson(migrated.stdout)).toHaveProperty('applied');

    const resource = await runCli(['resource', 'add', '--uri', 'https://MCP.example.com/', '--name', 'Docs', '--scope', 'docs:read=Read the docs', '--default', '--json'], db.env);
    expect(resource.code).toBe(0);
    // The admin API's answer (docs/ADMIN-API.md, "MCP servers"): the RESOURCES shape with its version.
    expect(oneJson(resource.stdout)).toMatchObject({ uri: 'https://mcp.example.com', name: 'Docs', scopes: { 'docs:read': { description: 'Read the docs', tools: [] } }, access: null, default: true, version: expect.any(String) });

    // Approval marks (docs/TOOL-APPROVALS.md): per tool, per scope, for reported destructive tools; a bad mode names the flag.
    const marked = await runCli(['resource', 'add', '--uri', 'https://notes.example.com/mcp', '--scope', 'notes:write=Change notes', '--tool', 'notes:write=edit_note', '--scope-approval', 'notes:write=once-per-grant', '--tool-approval', 'delete_note=each-call', '--destructive-approval', 'each-call', '--json'], db.env);
    expect(marked.code).toBe(0);
    expect(oneJson(marked.stdout)).toMatchObject({ scopes: { 'notes:write': { tools: ['edit_note'], approval: 'once-per-grant' } }, tool_approval: { delete_note: 'each-call' }, destructive_tools_approval: 'each-call' });
    const badMode = await runCli(['resource', 'add', '--uri', 'https://notes.example.com/mcp', '--tool-approval', 'delete_note=always'], db.env);
    expect(badMode.code).toBe(1);
    expect(badMode.stderr).toMatch(/--tool-approval <tool=mode>' argument 'delete_note=always' is invalid\. the mode must be each-call or once-per-grant/);
    const badDestructive = await runCli(['resource', 'add', '--uri', 'https://notes.example.com/mcp', '--destructive-approval', 'always', '--json'], db.env);
    expect(badDestructive.code).toBe(1);
    expect(JSON.parse(badDestructive.stderr.trim().split('\n').pop()!)).toMatchObject({ error: 'invalid_request' });

    const withStdin = await runCli(['user', 'add', '--email', 'Ops@Example.com', '--admin', '--password-stdin', '--json'], db.env, 'a very long password indeed\n');
    expect(withStdin.code).toBe(0);
    const u = oneJson(withStdin.stdout);
    // The admin API's answer (docs/ADMIN-API.md, "People"): a given password is never answered.
    expect(u.person).toMatchObject({ email: 'ops@example.com', admin: true, local_admin: true, version: expect.any(String) });
    expect(u).not.toHaveProperty('password');

    // Without a password: an invitation link where they choose one (docs/PEOPLE.md); never a password on screen.
    const invited = await runCli(['user', 'add', '--email', 'dev@example.com', '--json'], db.env);
    expect(invited.code).toBe(0);
    const inv = oneJson(invited.stdout);
    expect(inv).not.toHaveProperty('password');
    expect(inv.invitation).toMatchObject({ kind: 'invitation', url: expect.stringMatching(/\/welcome\/[A-Za-z0-9_-]{43}$/), expires_at: expect.any(String) });

    const dup = await runCli(['user', 'add', '--email', 'dev@example.com', '--json'], db.env);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/already exists/);

    const weak = await runCli(['user', 'add', '--email', 'x@example.com', '--password-stdin'], db.env, 'short');
    expect(weak.code).toBe(1);
    expect(weak.stderr).toMatch(/at least 12/);

    const pub = await runCli(['client', 'add', '--name', 'Desk', '--redirect-uri', 'http://127.0.0.1/callback', '--json'], db.env);
    expect(pub.code).toBe(0);
    const p = oneJson(pub.stdout);
    expect(p.client_id).toMatch(/^gh_/);
    expect(p).not.toHaveProperty('client_secret');

    const conf = await runCli(['client', 'add', '--name', 'Agent', '--confidential', '--json'], db.env);
    expect(conf.code).toBe(0);
    const c = oneJson(conf.stdout);
    expect(typeof c.client_secret).toBe('string');
    expect(c.grant_types).toEqual(['client_credentials']);

    const bad = await runCli(['client', 'add', '--name', 'Bad', '--redirect-uri', 'javascript:alert(1)', '--json'], db.env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');

    // Governance commands: list, disable, enable, registration tokens.
    // --json is the admin API's answer (docs/ADMIN-API.md, "The CLI").
    const listed = oneJson((await runCli(['client', 'list', '--json'], db.env)).stdout) as { items: Array<{ client_id: string; kind: string; status: string }>; next: string | null };
    expect(listed.items.map((x) => x.client_id)).toEqual(expect.arrayContaining([p.client_id, c.client_id]));
    expect(listed.items.every((x) => x.kind === 'static' && x.status === 'active')).toBe(true);
    expect(listed.next).toBeNull();
    const disabled = await runCli(['client', 'disable', p.client_id, '--json'], db.env);
    expect(oneJson(disabled.stdout)).toMatchObject({ client_id: p.client_id, status: 'disabled' });
    const enabled = await runCli(['client', 'enable', p.client_id, '--json'], db.env);
    expect(oneJson(enabled.stdout)).toMatchObject({ client_id: p.client_id, status: 'active' });
    const unknown = await runCli(['client', 'approve', 'dyn_nope', '--json'], db.env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/There is no such client/);
    // The service layer's rules, as in the console: approving a client that is not pending is refused (and audited).
    const notPending = await runCli(['client', 'approve', p.client_id, '--json'], db.env);
    expect(notPending.code).toBe(1);
    expect(notPending.stderr).toMatch(/not waiting for approval/);
    const iat = oneJson((await runCli(['registration-token', 'create', '--expires-in', '600', '--json'], db.env)).stdout);
    expect(typeof iat.initial_access_token).toBe('string');
    expect(Date.parse(iat.expires_at)).toBeGreaterThan(Date.now());
  }, 300_000);

  it('policy show/set/reset: overrides stored in the database, parsed like the environment, audited', async () => {
    const set = await runCli(['policy', 'set', 'CIMD_BLOCKED_DOMAINS', 'Evil.example, *.bad.example', '--json'], db.env);
    expect(set.code).toBe(0);
    expect(oneJson(set.stdout)).toMatchObject({ name: 'CIMD_BLOCKED_DOMAINS', effective: ['evil.example', '*.bad.example'], overridden: true, version: expect.any(String) });

    const shown = await runCli(['policy', 'show', '--json'], db.env);
    expect(shown.code).toBe(0);
    const settings = oneJson(shown.stdout).items as Array<Record<string, unknown>>;
    expect(settings.map((e) => e.name)).toEqual(['REGISTRATION', 'CIMD_ALLOWED_DOMAINS', 'CIMD_BLOCKED_DOMAINS', 'ALLOWED_EMAIL_DOMAINS', 'ALLOWED_GROUPS']);
    expect(settings.find((e) => e.name === 'CIMD_BLOCKED_DOMAINS')).toMatchObject({ effective: ['evil.example', '*.bad.example'], environment: [], overridden: true, updated_by: 'cli' });

    const bad = await runCli(['policy', 'set', 'REGISTRATION', 'wide-open'], db.env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/REGISTRATION/);
    const unknown = await runCli(['policy', 'set', 'ADMIN_EMAILS', 'eve@evil.test'], db.env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/'ADMIN_EMAILS' is invalid for argument 'name'\. Allowed choices are REGISTRATION/);

    const reset = await runCli(['policy', 'reset', 'CIMD_BLOCKED_DOMAINS', '--json'], db.env);
    expect(reset.code).toBe(0);
    expect(oneJson(reset.stdout)).toMatchObject({ name: 'CIMD_BLOCKED_DOMAINS', effective: [], overridden: false });
    const after = oneJson((await runCli(['policy', 'show', '--json'], db.env)).stdout).items as Array<Record<string, unknown>>;
    expect(after.every((e) => e.overridden === false)).toBe(true);
  }, 300_000);

  it('beside a running server: user add goes through its admin API; a command that opens the database itself is refused on the embedded one', async () => {
    const server = await startTestServer(db.env);
    try {
      // On the embedded database through the server's own key (docs/ADMIN-API.md, "The CLI"); PostgreSQL is shared.
      const res = await runCli(['user', 'add', '--email', 'late@example.com', '--json'], db.env);
      expect({ code: res.code, stderr: res.stderr }).toMatchObject({ code: 0 });
      expect(await server.services.users.findByEmail('late@example.com')).toBeDefined();
      const migrate = await runCli(['migrate', '--json'], db.env);
      if (db.realPostgres) {
        expect(migrate.code).toBe(0);
      } else {
        expect(migrate.code).toBe(1);
        expect(migrate.stderr).toMatch(/in use by another process/);
        expect(migrate.stdout).toBe('');
      }
    } finally {
      await server.close();
    }
    const after = await runCli(['user', 'add', '--email', 'later@example.com', '--json'], db.env);
    expect(after.code).toBe(0);
  }, 300_000);
});
