// WORKERS > 1 (src/cluster/): one `gatehouse serve` runs several server processes on one host, each an ordinary
// instance on the shared PostgreSQL. What an operator relies on: requests are spread over the workers and all of
// them serve the same issuer, /metrics counts the whole host whichever worker answers the scrape, a crashed worker
// is replaced, SIGTERM stops them all cleanly, a worker that cannot start stops the server instead of looping, and
// the embedded database refuses a second process at configuration time.
import { get } from 'node:http';
import { createServer } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import pg from 'pg';
import { oneJson, runCli, spawnServe, type ServeProcess } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/server.js';

const RESOURCE = 'https://mcp.example.test/mcp';
const METRICS_TOKEN = 'workers-metrics-token-0123456789';
const realPostgres = !!process.env.TEST_DATABASE_URL;

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

const serve = (env: Record<string, string>, port: number): ServeProcess =>
  spawnServe({
    METRICS_TOKEN, RESOURCES: JSON.stringify([{ uri: RESOURCE, name: 'Workers MCP', scopes: { 'tools:read': 'Read' }, default: true }]),
    TOKEN_RATE_LIMIT: '0', TOKEN_RATE_LIMIT_IP: '0', ...db.env, ...env,
  }, port);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 60_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const listening = (s: ServeProcess) => s.lines().filter((l) => l.msg === 'gatehouse listening');
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A GET on a connection of its own: a kept-alive socket to a killed worker would fail for reasons of its own. */
const statusOnNewConnection = (url: string) =>
  new Promise<number>((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  return res.text();
}

const counted = (text: string, route: string) =>
  text.split('\n').filter((l) => l.startsWith(`http_requests_total{route="${route}"`)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);

describe('WORKERS configuration', () => {
  it('refuses several workers on the embedded database, naming WORKERS, before anything listens', async () => {
    const res = await runCli(['serve'], { DATA_DIR: db.dataDir, WORKERS: '2', PORT: String(await freePort()) });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/configuration error: WORKERS: 2 workers need DATABASE_URL/);
  });

  it.each([['0'], ['65'], ['two']])('refuses WORKERS=%s with a message naming it', async (value) => {
    const res = await runCli(['serve'], { ...db.env, WORKERS: value, PORT: String(await freePort()) });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/configuration error: WORKERS: must be/);
  });
});

// Several processes on one database: defined only on PostgreSQL (the embedded database is refused above).
if (realPostgres) describe('WORKERS=2 on PostgreSQL', () => {
  let server: ServeProcess;
  let client: { client_id: string; client_secret: string };

  beforeAll(async () => {
    // The client exists before the server starts: the CLI prepares the same database the workers share.
    client = oneJson((await runCli(['client', 'add', '--name', 'Workers agent', '--confidential', '--json'], { ...db.env, RESOURCES: JSON.stringify([{ uri: RESOURCE, name: 'Workers MCP', scopes: { 'tools:read': 'Read' }, default: true }]) })).stdout) as typeof client;
    server = serve({ WORKERS: '2' }, await freePort());
    await until('two workers listening', () => listening(server).length === 2);
  }, 90_000);

  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  });

  it('spreads requests over both workers, which issue tokens for one issuer', async () => {
    const basic = `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`;
    const tokens: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=tools%3Aread',
      });
      expect(res.status).toBe(200);
      tokens.push(((await res.json()) as { access_token: string }).access_token);
    }
    const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
    for (const t of tokens) await expect(jwtVerify(t, jwks, { issuer: server.url, audience: RESOURCE })).resolves.toBeDefined();
    // Each worker logged some of them.
    const answeredBy = new Set(server.lines().filter((l) => l.msg === 'request' && l.path === '/token').map((l) => l.worker));
    expect([...answeredBy].sort()).toEqual([1, 2]);
    // All of them audited, once each, whichever worker issued them.
    const c = new pg.Client({ connectionString: db.env.DATABASE_URL });
    await c.connect();
    const { rows } = await c.query(`select count(*)::int as n from audit_events where type = 'token.issued' and client_id = $1`, [client.client_id]);
    await c.end();
    expect(rows[0].n).toBe(20);
  });

  it('announces the first-administrator link once, not once per worker', () => {
    expect(server.lines().filter((l) => typeof l.setupLink === 'string')).toHaveLength(1);
  });

  it('counts the whole host in /metrics, whichever worker answers the scrape', async () => {
    const before = counted(await scrape(server.url), 'jwks');
    for (let i = 0; i < 12; i++) expect((await fetch(`${server.url}/jwks`)).status).toBe(200);
    // Scrapes land on either worker (round robin); each must report all twelve.
    for (let i = 0; i < 4; i++) expect(counted(await scrape(server.url), 'jwks') - before).toBe(12);
  });

  it('replaces a worker that dies, and keeps serving meanwhile', async () => {
    const victim = listening(server)[0]!;
    const pid = victim.pid as number;
    process.kill(pid, 'SIGKILL');
    await until('the primary to notice', () => server.lines().some((l) => l.msg === 'a worker exited; starting another in its place' && l.worker === victim.worker));
    // The other worker serves every new connection while the replacement starts. (Connections the killed worker
    // held are lost with it: that is what SIGKILL means.)
    for (let i = 0; i < 5; i++) expect(await statusOnNewConnection(`${server.url}/healthz`)).toBe(200);
    await until('a replacement worker', () => listening(server).some((l) => l.worker === victim.worker && l.pid !== pid));
    // Both slots serve again, and /metrics hears from both (a collection that waited on the dead one would time out).
    await until('requests on both workers again', async () => {
      const since = server.lines().length;
      for (let i = 0; i < 6; i++) await statusOnNewConnection(`${server.url}/healthz`);
      return new Set(server.lines().slice(since).filter((l) => l.msg === 'request').map((l) => l.worker)).size === 2;
    });
    const before = counted(await scrape(server.url), 'health');
    for (let i = 0; i < 6; i++) expect(await statusOnNewConnection(`${server.url}/healthz`)).toBe(200);
    for (let i = 0; i < 2; i++) expect(counted(await scrape(server.url), 'health') - before).toBe(6);
  }, 60_000);

  it('stops every worker and exits 0 on SIGTERM', async () => {
    const pids = listening(server).map((l) => l.pid as number).filter(alive);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    const started = Date.now();
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(pids.filter(alive)).toEqual([]);
    expect(server.lines().filter((l) => l.msg === 'shutting down').length).toBeGreaterThanOrEqual(3); // primary + 2 workers
  }, 30_000);

  it('stops with exit code 1 when a worker cannot start (port in use), instead of restarting it forever', async () => {
    const port = await freePort();
    const blocker = createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const failing = serve({ WORKERS: '2' }, port);
      expect(await failing.exited).toBe(1);
      expect(failing.output()).toMatch(/EADDRINUSE/);
      expect(failing.lines().some((l) => l.msg === 'a worker failed to start; stopping')).toBe(true);
    } finally {
      blocker.close();
    }
  }, 60_000);
});
