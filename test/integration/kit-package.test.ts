// The kit as an MCP server's author gets it (issue 17 item 1): `npm pack -w @gatehouse/resource-server` builds the
// tarball (prepack → tsc), a production install of that tarball into an empty project pulls jose and nothing else,
// and the README's node-http snippet, run there under plain `node` as an ES module importing
// '@gatehouse/resource-server', protects its endpoint against a live Gatehouse: 401 with resource_metadata, the
// RFC 9728 document naming the issuer, a valid access token reaching the handler, an unmapped tool refused.
// One pack and one `npm install` (jose comes from the registry, or npm's cache) for the whole file.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { consentedCode, redeemCode } from '../helpers/grants.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

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
let base: string;
let output = '';

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

  db = await createTestDatabase();
  gh = await startTestServer(db.env);

  // The README's node-http snippet ("For MCP server authors"); where the README hands the request to the MCP SDK's
  // transport (not installed here: the point is what the kit alone pulls in), this handler answers with what the kit
  // handed over.
  writeFileSync(join(app, 'server.mjs'), `
import http from 'node:http';
import { protectedResource } from '@gatehouse/resource-server';

const guard = protectedResource({ issuer: process.env.ISSUER, resource: process.env.RESOURCE });

const server = http.createServer(async (req, res) => {
  const auth = await guard.authenticate(req, res); // answered already: metadata, CORS preflight, 401, 403
  if (!auth) return;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ sub: auth.identity.sub, clientId: auth.identity.clientId, scopes: auth.identity.scopes, body: auth.body, reqAuth: req.auth?.clientId }));
}).listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
`);
  const proc = spawn(process.execPath, ['server.mjs'], { cwd: app, env: { ...cleanEnv(), ISSUER: gh.issuer, RESOURCE: TEST_RESOURCE }, stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
  proc.stderr.on('data', (d) => (output += d));
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      output += d;
      const m = /listening (\d+)/.exec(output);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (code) => reject(new Error(`server.mjs exited with ${code}: ${output}`)));
  });
  base = `http://127.0.0.1:${port}`;
}, 180_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.on('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await gh?.close();
  await db?.drop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const post = (token: string | undefined, body: unknown) =>
  fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });

describe('the @gatehouse/resource-server package', () => {
  it('packs its build, its README and package.json — no sources', () => {
    const paths = tarball.files.map((f) => f.path).sort();
    expect(tarball.filename).toBe('gatehouse-resource-server-0.1.0.tgz');
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/adapters/node.js']));
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
    expect(challenge).toContain('resource_metadata="https://mcp.example.test/.well-known/oauth-protected-resource/mcp"');
  });

  it('serves the RFC 9728 document naming the issuer', async () => {
    const res = await fetch(`${base}/.well-known/oauth-protected-resource/mcp`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { resource: string; authorization_servers: string[]; scopes_supported: string[] };
    expect(doc.resource).toBe(TEST_RESOURCE);
    expect(doc.authorization_servers).toEqual([gh.issuer]);
    expect(doc.scopes_supported).toEqual(expect.arrayContaining(['tools:read']));
  });

  it('lets a valid access token for its resource through to the handler, and refuses an unmapped tool', async () => {
    const grant = await consentedCode(gh, 'http://127.0.0.1:33421/callback');
    const { access_token } = await redeemCode(gh, grant);
    const list = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };
    const res = await post(access_token, list);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sub: expect.any(String), clientId: grant.clientId, scopes: ['tools:read'], body: list, reqAuth: grant.clientId });
    // Deny by default, from the installed package too: a tool in no scope of Gatehouse's catalogue.
    const refused = await post(access_token, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'no_such_tool', arguments: {} } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    // A forged-looking token is refused, not passed on.
    expect((await post(`${access_token}x`, list)).status).toBe(401);
  });
});
