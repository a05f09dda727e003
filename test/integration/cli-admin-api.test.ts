// The CLI beside a running server (docs/ADMIN-API.md, "The CLI"): on the embedded database the server holds the data
// directory, so the CLI goes through the admin API with the credentials the server wrote there (no lock error); with
// GATEHOUSE_URL and an admin API client's credentials it goes through the API whatever the database (PostgreSQL
// included); without a server it works on the database. The same command answers the same JSON either way, and
// every change is audited with the caller it came through.
import { jest } from '@jest/globals';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { oneJson, runBin, runCli, spawnServe, type ServeProcess } from '../helpers/cli.js';

let db: TestDatabase;
let server: ServeProcess;
let admin: { client_id: string; client_secret: string };

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

async function until(what: string, check: () => boolean, ms = 60_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${server.output().slice(-2000)}`);
}

beforeAll(async () => {
  db = await createTestDatabase();
  // Before the server starts (direct on the database): the admin API client the automation below uses.
  const created = await runCli(['client', 'add', '--name', 'Automation', '--admin-api', 'write', '--json'], db.env);
  expect(created.code).toBe(0);
  admin = oneJson(created.stdout) as typeof admin;
  expect(admin).toMatchObject({ admin_api_scopes: 'admin:read admin:write', confidential: true });
  const port = await freePort();
  server = spawnServe(db.env, port);
  await until('the server', () => server.lines().some((l) => l.msg === 'gatehouse listening'));
}, 120_000);

afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
  await db?.drop();
});

const remote = () => ({ ...db.env, GATEHOUSE_URL: server.url, GATEHOUSE_CLIENT_ID: admin.client_id, GATEHOUSE_CLIENT_SECRET: admin.client_secret });

// Each CLI run is a process of its own: a few seconds each on a loaded machine.
jest.setTimeout(180_000);

describe('the CLI beside a running server', () => {
  it('--version prints the package version', async () => {
    // Through the launcher an operator runs (bin/gatehouse.js: tsx and the sources here); the other commands run
    // this run's compiled sources (test/helpers/cli.ts).
    const res = await runBin(['--version'], {});
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  });

  it('on the embedded database: no lock error, through the admin API with the server\'s credentials file (0600)', async () => {
    if (db.realPostgres) {
      // PostgreSQL is shared: the CLI works on it directly even while the server runs.
      const res = await runCli(['client', 'add', '--name', 'Beside', '--redirect-uri', 'http://127.0.0.1:9/cb', '--json'], db.env);
      expect(res.code).toBe(0);
      return;
    }
    const file = join(db.dataDir, 'admin-cli.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const res = await runCli(['client', 'add', '--name', 'Beside', '--redirect-uri', 'http://127.0.0.1:9/cb', '--json'], db.env);
    expect(res.stderr).not.toMatch(/in use by another process/);
    expect(res.code).toBe(0);
    const c = oneJson(res.stdout);
    expect(c).toMatchObject({ kind: 'static', status: 'active', name: 'Beside' });
    const listed = await runCli(['client', 'list', '--kind', 'static', '--json'], db.env);
    expect(oneJson(listed.stdout).items.map((x: { client_id: string }) => x.client_id)).toContain(c.client_id);
    // The caller is the CLI operator, as when the CLI opens the database itself.
    const audit = await runCli(['audit', 'list', '--type', 'client.created', '--client', c.client_id, '--json'], db.env);
    expect(oneJson(audit.stdout).items).toEqual([expect.objectContaining({ actor: 'cli', details: expect.objectContaining({ via: 'cli' }) })]);
    // The key is the server's alone: from another address, or altered, it opens nothing.
    const { key } = JSON.parse(readFileSync(file, 'utf8')) as { key: string };
    const forged = await fetch(`${server.url}/admin/api/v1/me`, { headers: { authorization: `Bearer ${key.slice(0, -2)}xx` } });
    expect(forged.status).toBe(401);
  });

  it('config plan, apply and export beside the running server (through it on the embedded database)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cfg-'));
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(file, 'mcp_servers:\n  - uri: https://beside.example.com/mcp\n    name: Beside\n    scopes:\n      beside:read: Read\n');
    const plan = await runCli(['config', 'plan', '--file', file, '--json'], db.env);
    expect(plan.stderr).not.toMatch(/in use by another process/);
    expect(oneJson(plan.stdout).changes).toEqual([expect.objectContaining({ action: 'add', kind: 'mcp_server', id: 'https://beside.example.com/mcp' })]);
    const applied = await runCli(['config', 'apply', '--file', file, '--json'], db.env);
    expect(oneJson(applied.stdout).applied).toHaveLength(1);
    expect(oneJson((await runCli(['config', 'apply', '--file', file, '--json'], db.env)).stdout).applied).toEqual([]);
    const exported = oneJson((await runCli(['config', 'export', '--json'], db.env)).stdout);
    expect(exported.mcp_servers).toEqual(expect.arrayContaining([expect.objectContaining({ uri: 'https://beside.example.com/mcp' })]));
    // Managed by the file now: the API refuses to change it, naming the file.
    const token = await (await fetch(`${server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${admin.client_id}:${admin.client_secret}`).toString('base64')}` }, body: 'grant_type=client_credentials' })).json() as { access_token: string };
    const refused = await fetch(`${server.url}/admin/api/v1/mcp-servers/${encodeURIComponent('https://beside.example.com/mcp')}`, { method: 'DELETE', headers: { authorization: `Bearer ${token.access_token}` } });
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain('gatehouse.yaml');
    // Plan and apply through the API are the server's own CLI's: another API client is refused.
    const other = await fetch(`${server.url}/admin/api/v1/config/plan`, { method: 'POST', headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' }, body: JSON.stringify({ path: file, content: 'policy: {}\n' }) });
    expect(other.status).toBe(403);
  });

  it('with GATEHOUSE_URL and an admin API client: every client command, the same JSON as the API', async () => {
    const added = await runCli(['client', 'add', '--name', 'Remote', '--confidential', '--json'], remote());
    expect(added.code).toBe(0);
    const c = oneJson(added.stdout);
    expect(typeof c.client_secret).toBe('string');
    const shown = oneJson((await runCli(['client', 'show', c.client_id, '--json'], remote())).stdout);
    const updated = await runCli(['client', 'update', c.client_id, '--name', 'Remote 2', '--if-version', shown.version, '--json'], remote());
    expect(oneJson(updated.stdout)).toMatchObject({ client_id: c.client_id, name: 'Remote 2' });
    const stale = await runCli(['client', 'update', c.client_id, '--name', 'Remote 3', '--if-version', shown.version, '--json'], remote());
    expect(stale.code).toBe(1);
    expect(JSON.parse(stale.stderr.trim().split('\n').pop()!)).toMatchObject({ error: 'conflict', field: 'version', status: 409 });
    const rotated = oneJson((await runCli(['client', 'rotate-secret', c.client_id, '--json'], remote())).stdout);
    expect(rotated.client_secret).not.toBe(c.client_secret);
    expect(oneJson((await runCli(['client', 'disable', c.client_id, '--json'], remote())).stdout).status).toBe('disabled');
    expect(oneJson((await runCli(['client', 'enable', c.client_id, '--json'], remote())).stdout).status).toBe('active');
    const deleted = oneJson((await runCli(['client', 'delete', c.client_id, '--json'], remote())).stdout);
    expect(deleted).toEqual({ client_id: c.client_id, grants_revoked: 0 });
    const gone = await runCli(['client', 'show', c.client_id, '--json'], remote());
    expect(gone.code).toBe(1);
    expect(JSON.parse(gone.stderr.trim().split('\n').pop()!)).toMatchObject({ error: 'not_found', status: 404 });
    // Audited once each, naming the admin API client.
    const exported = await runCli(['audit', 'export', '--type', 'client.*', '--json'], remote());
    expect(exported.code).toBe(0);
    const rows = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; client_id: string; actor: string; details: Record<string, unknown> });
    const mine = rows.filter((r) => r.client_id === c.client_id);
    expect(mine.map((r) => r.type).sort()).toEqual(['client.created', 'client.deleted', 'client.disabled', 'client.enabled', 'client.secret_rotated', 'client.updated', 'client.updated'].sort());
    expect(mine.every((r) => r.actor === admin.client_id && r.details.via === 'api_client')).toBe(true);
  });

  it('refusals: missing credentials name the variable; wrong ones are the token endpoint\'s refusal; bad values and unknown flags are refused', async () => {
    const noId = await runCli(['client', 'list'], { ...db.env, GATEHOUSE_URL: server.url });
    expect(noId.code).toBe(1);
    expect(noId.stderr).toMatch(/GATEHOUSE_CLIENT_ID/);
    const wrong = await runCli(['client', 'list', '--json'], { ...remote(), GATEHOUSE_CLIENT_SECRET: 'not-the-secret' });
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stderr.trim().split('\n').pop()!).error).toBe('invalid_client');
    const bogus = await runCli(['client', 'list', '--status', 'bogus', '--json'], remote());
    expect(bogus.code).toBe(1);
    expect(bogus.stdout).toBe('');
    expect(JSON.parse(bogus.stderr.trim().split('\n').pop()!)).toMatchObject({ error: 'invalid_request' });
    // A name from an unauthenticated registration cannot drive the admin's terminal: escapes are shown, not sent.
    await fetch(`${server.url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: '\u001b[31mEVIL\u001b]0;owned\u0007\r', redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' }) });
    const listed = await runCli(['client', 'list', '--kind', 'dcr'], remote());
    expect(listed.stdout).toContain('\\u001b[31mEVIL');
    expect(listed.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    const unknown = await runCli(['client', 'list', '--colour', 'red'], remote());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown option '--colour'/);
  });
});
