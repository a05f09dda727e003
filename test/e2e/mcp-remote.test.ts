// Two real MCP client programs, run as their users run them, against Gatehouse and the demo notes server (protected by
// the resource-server kit), for docs/COMPATIBILITY.md (issue 23, item 7):
// - mcp-remote 0.15 (`mcp-remote`), the stdio ↔ Streamable HTTP proxy MCP hosts spawn. It does OAuth itself: 401 →
//   RFC 9728 → RFC 8414 → DCR → PKCE → it prints the authorization URL and waits on its own loopback callback port →
//   tokens stored under MCP_REMOTE_CONFIG_DIR. The person's part is played over real HTTP; the test speaks JSON-RPC
//   to its stdin and stdout. Also: step-up (a 403 insufficient_scope mid-session) and a refresh by a second process.
// - MCP Inspector's CLI v1 (`@modelcontextprotocol/inspector-cli`, what `inspector --cli` runs). It has no OAuth (its
//   source only passes `--header` through), so it is driven with a Gatehouse access token got through a real sign-in.
// What this file proves for docs/COMPATIBILITY.md (scripts/compatibility.ts reads these lines):
// compatibility: client=mcp-remote covers=dcr,step-up,refresh,bearer
// compatibility: client=inspector-cli covers=bearer
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeJwt } from 'jose';
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { personAuthorizes } from '../helpers/sdk-sign-in.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { NOTES_SCOPES, startNotesServer, type NotesServer } from '../../demo/notes-server.js';

const USER = { email: 'rita@example.com', password: 'a long enough password' };
const MCP_REMOTE = resolve('node_modules/mcp-remote/dist/proxy.js');
const INSPECTOR = resolve('node_modules/@modelcontextprotocol/inspector-cli/build');

let db: TestDatabase;
let gh: TestServer;
let notes: NotesServer;
let configDir: string;
const running: McpRemote[] = [];

interface JsonRpcReply {
  id?: number;
  result?: { content?: Array<{ text: string }>; tools?: Array<{ name: string }>; serverInfo?: { name: string }; isError?: boolean };
  error?: { message: string };
}

/** One mcp-remote process, as an MCP host spawns it: JSON-RPC lines on stdin and stdout, its log on stderr. */
class McpRemote {
  readonly child: ChildProcessWithoutNullStreams;
  stderr = '';
  private stdout = '';
  private wake: Array<() => void> = [];
  private nextId = 1;

  constructor(callbackPort: number) {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      // Its tokens and registration go here instead of ~/.mcp-auth.
      MCP_REMOTE_CONFIG_DIR: configDir,
      // It "opens the browser" with the `open` package's xdg-open, which runs $BROWSER on a generic desktop: `true`
      // opens nothing and succeeds; the test plays the person for the URL printed on stderr.
      BROWSER: 'true',
      XDG_CURRENT_DESKTOP: 'X-Generic',
    };
    for (const name of ['DISPLAY', 'WAYLAND_DISPLAY', 'NODE_OPTIONS']) delete env[name];
    this.child = spawn(process.execPath, [MCP_REMOTE, notes.url, String(callbackPort)], { env });
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => this.took(() => (this.stderr += chunk)));
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => this.took(() => (this.stdout += chunk)));
    this.child.on('exit', () => this.took(() => undefined));
    running.push(this);
  }

  private took(append: () => unknown) {
    append();
    for (const resolve of this.wake.splice(0)) resolve();
  }

  /** Waits (on output, never on a clock) until `check` gives a value; fails when the process ends first. */
  async until<T>(check: () => T | undefined): Promise<T> {
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (this.child.exitCode !== null) throw new Error(`mcp-remote exited with ${this.child.exitCode}:\n${this.stderr}`);
      await new Promise<void>((resolve) => this.wake.push(resolve));
    }
  }

  /** The n-th (1-based) authorization URL it printed ("Please authorize this client by visiting:"). */
  authorizationUrl(n: number): Promise<URL> {
    return this.until(() => {
      const printed = [...this.stderr.matchAll(/Please authorize this client by visiting:\n(\S+)/g)][n - 1]?.[1];
      return printed ? new URL(printed) : undefined;
    });
  }

  get authorizationsAsked(): number {
    return [...this.stderr.matchAll(/Please authorize this client by visiting:/g)].length;
  }

  send(message: object) {
    this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
  }

  /** Sends a request; `reply` waits for its answer. */
  request(method: string, params: object = {}): { reply: Promise<JsonRpcReply> } {
    const id = this.nextId++;
    this.send({ id, method, params });
    const replies = () => this.stdout.split('\n').slice(0, -1).map((line) => JSON.parse(line) as JsonRpcReply);
    return { reply: this.until(() => replies().find((m) => m.id === id)) };
  }

  async initialize() {
    const { reply } = this.request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'gatehouse-e2e', version: '1.0.0' } });
    const answer = await reply;
    this.send({ method: 'notifications/initialized' });
    return answer;
  }

  /** Closing stdin is how a host ends it: it shuts down and exits. */
  async close() {
    this.child.stdin.end();
    if (this.child.exitCode === null) await new Promise((resolve) => this.child.once('exit', resolve));
  }
}

/** The files mcp-remote keeps for this server under MCP_REMOTE_CONFIG_DIR (`<hash>_tokens.json`, …). */
function stored(file: 'tokens.json' | 'client_info.json'): { path: string; json: Record<string, string> } {
  const dir = join(configDir, 'mcp-remote-v1');
  const name = readdirSync(dir).find((f) => f.endsWith(`_${file}`));
  if (!name) throw new Error(`mcp-remote stored no ${file} in ${dir}: ${readdirSync(dir).join(', ')}`);
  return { path: join(dir, name), json: JSON.parse(readFileSync(join(dir, name), 'utf8')) };
}

/** The person signs in, allows, and their browser lands on mcp-remote's callback port. */
async function personCompletes(proxy: McpRemote, url: URL): Promise<URL> {
  const back = await personAuthorizes(gh.issuer, url, USER);
  if (!(back instanceof URL)) throw new Error(`authorization ended on ${back.status}: ${(await back.text()).slice(0, 300)}\n${proxy.stderr}`);
  const landed = await fetch(back);
  expect(landed.status).toBe(200);
  expect(await landed.text()).toContain('Authorization successful');
  return back;
}

const text = (reply: JsonRpcReply) => reply.result!.content![0]!.text;

beforeAll(async () => {
  configDir = mkdtempSync(join(tmpdir(), 'gatehouse-mcp-remote-'));
  db = await createTestDatabase();
  const port = await freePort();
  notes = await startNotesServer({ issuer: `http://127.0.0.1:${port}` });
  gh = await startTestServer({ ...db.env, RESOURCES: JSON.stringify([{ uri: notes.url, name: 'Demo notes', scopes: NOTES_SCOPES, default: true }]) }, port);
  await gh.services.users.create(USER);
});

afterAll(async () => {
  for (const proxy of running) if (proxy.child.exitCode === null) proxy.child.kill();
  await notes?.close();
  await gh?.close();
  await db?.drop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

// The three tests run in order and share mcp-remote's config directory, as one person's sessions do.
describe('mcp-remote 0.15 (spawned as an MCP host spawns it)', () => {
  let callbackPort: number;
  let proxy: McpRemote;

  it('signs in itself (401 → discovery → DCR → PKCE → sign-in and consent → its callback port) and proxies initialize, tools/list and tools/call', async () => {
    callbackPort = await freePort();
    proxy = new McpRemote(callbackPort);
    const url = await proxy.authorizationUrl(1);
    expect(`${url.origin}${url.pathname}`).toBe(`${gh.issuer}/authorize`);
    expect(url.searchParams.get('resource')).toBe(notes.url);
    expect(url.searchParams.get('redirect_uri')).toBe(`http://localhost:${callbackPort}/oauth/callback`);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    // The scope the 401's challenge named, and offline_access for a refresh token.
    expect(url.searchParams.get('scope')!.split(' ').sort()).toEqual(['notes:read', 'offline_access']);
    const back = await personCompletes(proxy, url);
    expect(back.searchParams.get('iss')).toBe(gh.issuer);

    expect((await proxy.initialize()).result!.serverInfo!.name).toBe('gatehouse-demo-notes');
    const tools = (await proxy.request('tools/list').reply).result!.tools!.map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(['list_notes', 'read_note', 'add_note', 'delete_note', 'whoami']));
    expect(JSON.parse(text(await proxy.request('tools/call', { name: 'list_notes', arguments: {} }).reply))).toEqual([]);

    // It registered at Gatehouse's /register and uses that client_id; the token is for the notes server only.
    const registered = stored('client_info.json').json;
    expect(registered).toMatchObject({ client_name: 'MCP CLI Proxy', token_endpoint_auth_method: 'none' });
    expect(registered.client_id).toMatch(/^dyn_/);
    expect(url.searchParams.get('client_id')).toBe(registered.client_id);
    const who = JSON.parse(text(await proxy.request('tools/call', { name: 'whoami', arguments: {} }).reply));
    expect(who).toMatchObject({ client_id: registered.client_id, scopes: ['notes:read'] });
    const tokens = stored('tokens.json').json;
    expect(decodeJwt(tokens.access_token!).aud).toBe(notes.url);
    expect(tokens.refresh_token).toBeTruthy();
  });

  it('steps up while holding a refresh token: delete_note → 403 insufficient_scope → a new authorization URL for the wider scope → the pending call succeeds', async () => {
    expect(stored('tokens.json').json.refresh_token).toBeTruthy();
    const { reply } = proxy.request('tools/call', { name: 'delete_note', arguments: { id: 999 } });
    // mcp-remote (SDK v2's client inside) re-authorizes for the union of the scopes rather than refreshing.
    const url = await proxy.authorizationUrl(2);
    expect(url.searchParams.get('scope')!.split(' ').sort()).toEqual(['notes:delete', 'notes:read', 'offline_access']);
    expect(url.searchParams.get('client_id')).toBe(stored('client_info.json').json.client_id);
    await personCompletes(proxy, url);
    // Authorized: the tool ran (there is no note 999), on the same connection, without the host retrying.
    expect(text(await reply)).toBe('no note 999');
    expect(String(decodeJwt(stored('tokens.json').json.access_token!).scope).split(' ').sort()).toEqual(['notes:delete', 'notes:read']);
    await proxy.close();
  });

  it('refreshes in a later session when the server refuses its stored access token (401 invalid_token), without asking the person', async () => {
    const before = stored('tokens.json');
    // What an expired token meets at the server (the kit's tests cover real expiry).
    writeFileSync(before.path, JSON.stringify({ ...before.json, access_token: `${before.json.access_token!.slice(0, -4)}AAAA` }));
    const later = new McpRemote(callbackPort);
    expect((await later.initialize()).result!.serverInfo!.name).toBe('gatehouse-demo-notes');
    const who = JSON.parse(text(await later.request('tools/call', { name: 'whoami', arguments: {} }).reply));
    expect(who.scopes.sort()).toEqual(['notes:delete', 'notes:read']);
    expect(later.authorizationsAsked).toBe(0);
    const after = stored('tokens.json').json;
    expect(after.refresh_token).not.toBe(before.json.refresh_token); // refresh_token rotated
    expect(after.access_token).not.toBe(before.json.access_token);
    await later.close();
  });
});

/** `mcp-inspector-cli --cli <url> …`; exit code and output. */
function inspector(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    // Run from its build/ directory: it loads its own package.json by a path it checks against the working directory.
    execFile(process.execPath, [join(INSPECTOR, 'cli.js'), '--cli', notes.url, '--transport', 'http', ...args], { cwd: INSPECTOR }, (err, stdout, stderr) =>
      done({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

describe("MCP Inspector's CLI v1 (@modelcontextprotocol/inspector-cli)", () => {
  let accessToken: string;

  beforeAll(async () => {
    // A notes:read token through the real pages (DCR, PKCE, sign-in, consent, code), as a person would paste it.
    const redirectUri = 'http://127.0.0.1:9/callback';
    const client = await registerPublicClient(gh.issuer, [redirectUri]);
    const { verifier, challenge } = pkcePair();
    const back = await authorizeThrough(new Browser(gh.issuer), gh.issuer, { client_id: client.client_id, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', resource: notes.url, scope: 'notes:read' }, USER);
    const token = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, code_verifier: verifier, redirect_uri: redirectUri, client_id: client.client_id, resource: notes.url });
    accessToken = token.body.access_token as string;
  });

  it('lists and calls tools with a Gatehouse access token passed as "Authorization: Bearer …"', async () => {
    const bearer = ['--header', `Authorization: Bearer ${accessToken}`];
    const [listed, called] = await Promise.all([inspector(['--method', 'tools/list', ...bearer]), inspector(['--method', 'tools/call', '--tool-name', 'whoami', ...bearer])]);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { tools: Array<{ name: string }> }).tools.map((t) => t.name)).toEqual(expect.arrayContaining(['list_notes', 'delete_note', 'whoami']));
    expect(called.code).toBe(0);
    expect(JSON.parse((JSON.parse(called.stdout) as { content: Array<{ text: string }> }).content[0]!.text)).toMatchObject({ scopes: ['notes:read'] });
  });

  it('has no OAuth of its own: without a token it reports the 401, and a 403 insufficient_scope ends the call (no step-up)', async () => {
    const [anonymous, narrow] = await Promise.all([
      inspector(['--method', 'tools/list']),
      inspector(['--method', 'tools/call', '--tool-name', 'delete_note', '--tool-arg', 'id=1', '--header', `Authorization: Bearer ${accessToken}`]),
    ]);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toContain('a bearer access token is required');
    expect(narrow.code).toBe(1);
    expect(narrow.stderr).toContain('"error":"insufficient_scope"');
    expect(narrow.stderr).toContain('notes:delete');
  });
});
