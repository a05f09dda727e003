// The kit as an MCP server's author gets it (issue 17, items 1 and 5): `npm pack -w @gatehouse/resource-server`
// builds the tarball (prepack → tsc), a production install of that tarball into an empty project pulls jose and
// nothing else, and the README's snippet ("For MCP server authors"), taken from README.md itself and run there under
// plain `node` as an ES module, protects a real MCP server (the official SDK) against a live Gatehouse: 401 with
// resource_metadata, the official SDK client's sign-in, tools/list, tools/call, its inventory in Gatehouse, its calls
// in the audit log (flushed on SIGTERM), and an unmapped tool refused.
//
// The MCP SDK is not installed in the scratch project (its tree must stay jose + the kit): a symlink in the scratch
// directory's parent node_modules lends it this repository's copy, which Node's resolution finds by walking up.
// One pack and one `npm install` (jose comes from the registry, or npm's cache) for the whole file.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { addStaticClient } from '../../src/oauth/static-clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { TestOAuthProvider } from '../helpers/sdk-oauth-provider.js';
import { sdkConnect, sdkSignIn } from '../helpers/sdk-sign-in.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const PERSON = { email: 'author@example.com', password: 'a long enough password' };
const MARKER = 'argument-value-that-must-never-be-logged';

/**
 * The environment for npm and node in the scratch project: this process's, without what jest and an enclosing
 * `npm test` put there (NODE_OPTIONS for jest's ESM, npm_package_* / npm_lifecycle_* / workspace settings), but
 * keeping where npm's cache, registry and proxy are.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const keep = /^npm_config_(cache|registry|userconfig|globalconfig|https?_proxy|proxy|noproxy|strict_ssl|cafile|ca)$/i;
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && (!/^npm_/i.test(k) || keep.test(k))));
}

let db: TestDatabase;
let gh: TestServer;
let scratch: string;
let tarball: { filename: string; files: { path: string }[] };
let child: ChildProcess | undefined;
let exited: Promise<number | null>;
let mcpUrl: string;
let output = '';
let callbackServer: Server;
let callbackUrl: string;
let reporterId: string;

/** The README's node-http snippet, as README.md has it, pointed at this Gatehouse and this port. */
function readmeSnippet(issuer: string, resource: string): string {
  const readme = readFileSync(resolve('README.md'), 'utf8');
  const from = readme.indexOf('With the official MCP SDK on plain Node http');
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(from))![1]!;
  const replaced = block
    .replace("'https://auth.example.com'", JSON.stringify(issuer))
    .replace("'https://mcp.example.com/mcp'", JSON.stringify(resource))
    .replace('.listen(3000);', ".listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));");
  for (const original of ['auth.example.com', 'mcp.example.com', 'listen(3000)']) {
    if (replaced.includes(original)) throw new Error(`the README snippet changed shape: ${original} is still there`);
  }
  return replaced;
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'gatehouse-kit-package-'));
  const env = cleanEnv();
  // The tarball, built the way it is published.
  const packed = await run(npm, ['pack', '-w', '@gatehouse/resource-server', '--pack-destination', scratch, '--json'], { cwd: process.cwd(), env, maxBuffer: 16 << 20 });
  tarball = (JSON.parse(packed.stdout) as (typeof tarball)[])[0]!;
  // An empty project that installs it for production.
  const app = join(scratch, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch-mcp-server', version: '1.0.0', private: true, type: 'module' }, null, 2));
  await run(npm, ['install', '--omit=dev', '--no-audit', '--no-fund', join(scratch, tarball.filename)], { cwd: app, env, maxBuffer: 16 << 20 });
  mkdirSync(join(scratch, 'node_modules', '@modelcontextprotocol'), { recursive: true });
  symlinkSync(resolve('node_modules/@modelcontextprotocol/sdk'), join(scratch, 'node_modules', '@modelcontextprotocol', 'sdk'), 'dir');

  callbackServer = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => callbackServer.listen(0, '127.0.0.1', () => r()));
  callbackUrl = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/callback`;

  // The MCP server's URL is its resource: known before Gatehouse starts, so RESOURCES can name it.
  const port = await freePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  db = await createTestDatabase();
  gh = await startTestServer({
    ...db.env,
    RESOURCES: JSON.stringify([{ uri: mcpUrl, name: 'Scratch notes', scopes: { 'tools:read': { description: 'Read notes', tools: ['list_notes'] } }, default: true }]),
  });
  await gh.services.users.create(PERSON);
  // `gatehouse client add --confidential --resource <uri>`, in process (the embedded database has one owner).
  const s = gh.services;
  const reporter = await addStaticClient(
    { db: s.handle.db, box: s.box, provider: gh.holder.provider, registry: s.registry },
    { name: 'scratch MCP server', redirectUris: [], confidential: true, resource: mcpUrl, redirectUriSchemes: s.config.REDIRECT_URI_SCHEMES },
  );
  reporterId = reporter.client_id;

  writeFileSync(join(app, 'server.mjs'), readmeSnippet(gh.issuer, mcpUrl));
  const proc = spawn(process.execPath, ['server.mjs'], {
    cwd: app,
    env: { ...cleanEnv(), PORT: String(port), GATEHOUSE_CLIENT_ID: reporter.client_id, GATEHOUSE_CLIENT_SECRET: reporter.client_secret! },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  exited = new Promise((r) => proc.on('exit', (code) => r(code)));
  proc.stderr.on('data', (d) => (output += d));
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      output += d;
      if (output.includes('listening')) resolve();
    });
    proc.on('exit', (code) => reject(new Error(`server.mjs exited with ${code}: ${output}`)));
  });
}, 180_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
  await gh?.close();
  await db?.drop();
  await new Promise<void>((r) => (callbackServer ? callbackServer.close(() => r()) : r()));
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const post = (token: string | undefined, body: unknown) =>
  fetch(mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });

/** Waits (at most 15 s) for audit rows of `type` that `match` accepts. */
async function auditRows(type: string, match: (row: Record<string, any>) => boolean, count = 1): Promise<Record<string, any>[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rows = (await gh.services.audit.recent({ type, limit: 1000 })).filter(match);
    if (rows.length >= count || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const details = (row: Record<string, any>) => (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as Record<string, any>;

describe('the @gatehouse/resource-server package', () => {
  it('packs its build, its README and package.json — no sources', () => {
    const paths = tarball.files.map((f) => f.path).sort();
    expect(tarball.filename).toMatch(/^gatehouse-resource-server-\d+\.\d+\.\d+\.tgz$/);
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/adapters/node.js', 'dist/reporting/tool-call-queue.js']));
    expect(paths.filter((p) => !p.startsWith('dist/') && p !== 'package.json' && p !== 'README.md')).toEqual([]);
    expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);
  });

  it('installs for production as itself and jose, nothing else', async () => {
    const app = join(scratch, 'app');
    const { stdout } = await run(npm, ['ls', '--all', '--json'], { cwd: app, env: cleanEnv() });
    type Tree = { version?: string; dependencies?: Record<string, Tree> };
    const names: string[] = [];
    const walk = (tree: Tree) => {
      for (const [name, sub] of Object.entries(tree.dependencies ?? {})) {
        names.push(name);
        walk(sub);
      }
    };
    walk(JSON.parse(stdout) as Tree);
    expect(names.sort()).toEqual(['@gatehouse/resource-server', 'jose']);
    // And on disk: node_modules holds exactly those two packages.
    const modules = join(app, 'node_modules');
    expect(readdirSync(modules).filter((n) => !n.startsWith('.')).sort()).toEqual(['@gatehouse', 'jose']);
    expect(readdirSync(join(modules, '@gatehouse'))).toEqual(['resource-server']);
    expect(existsSync(join(modules, '@gatehouse', 'resource-server', 'dist', 'index.d.ts'))).toBe(true);
  });

  it('answers a request without a token with 401 and resource_metadata', async () => {
    const res = await post(undefined, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer /);
    expect(challenge).toContain(`resource_metadata="http://127.0.0.1:${new URL(mcpUrl).port}/.well-known/oauth-protected-resource/mcp"`);
  });

  it('reports its tool inventory at start, with the scope the catalogue gives each tool', async () => {
    const [changed] = await auditRows('mcp_server.inventory.changed', (r) => r.resource === mcpUrl);
    expect(changed).toBeDefined();
    expect(changed!.actor).toBe(reporterId);
    expect(details(changed!).added).toEqual(['list_notes']);
  });

  it('signs the official SDK client in, lists and calls the tool, and audits each call without its arguments', async () => {
    const provider = new TestOAuthProvider(() => callbackUrl, { clientName: 'SDK against the scratch server' });
    await sdkSignIn(gh.issuer, mcpUrl, provider, PERSON);
    const client = await sdkConnect(mcpUrl, provider);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['list_notes']);
    const result = (await client.callTool({ name: 'list_notes', arguments: { note: MARKER } })) as { content: Array<{ text: string }> };
    const person = await gh.services.users.findByEmail(PERSON.email);
    expect(result.content[0]!.text).toBe(`notes of ${person!.id}`);
    // Deny by default, from the installed package too: a tool in no scope of Gatehouse's catalogue.
    await expect(client.callTool({ name: 'no_such_tool', arguments: { note: MARKER } })).rejects.toThrow();
    await client.close();
    const clientId = (provider.info as { client_id: string }).client_id;

    const [called] = await auditRows('tool.called', (r) => r.resource === mcpUrl);
    expect(called).toMatchObject({ actor: person!.id, client_id: clientId, outcome: 'success' });
    expect(details(called!)).toMatchObject({ tool: 'list_notes', result: 'allowed', scopes: ['tools:read'], reporter: reporterId });
    expect(details(called!).arguments_sha256).toMatch(/^[0-9a-f]{64}$/);
    const [refused] = await auditRows('tool.refused', (r) => r.resource === mcpUrl);
    expect(refused).toMatchObject({ actor: person!.id, client_id: clientId, reason: 'unmapped_tool' });
    expect(details(refused!).tool).toBe('no_such_tool');
    const everything = JSON.stringify(await gh.services.audit.recent({ limit: 1000 }));
    expect(everything).not.toContain(MARKER);
    expect(output).not.toContain(MARKER);
  });

  it('sends the calls still queued when it is stopped (SIGTERM → guard.close())', async () => {
    const provider = new TestOAuthProvider(() => callbackUrl, { clientName: 'SDK, last call' });
    await sdkSignIn(gh.issuer, mcpUrl, provider, PERSON);
    const client = await sdkConnect(mcpUrl, provider);
    const before = (await gh.services.audit.recent({ type: 'tool.called', limit: 1000 })).length;
    await client.callTool({ name: 'list_notes', arguments: {} });
    await client.close();
    child!.kill('SIGTERM'); // within the kit's 1 s batching window: the event is still in the queue
    expect(await exited).toBe(0);
    const after = await gh.services.audit.recent({ type: 'tool.called', limit: 1000 });
    expect(after.length).toBe(before + 1);
  });
});
