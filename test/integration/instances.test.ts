// DESIGN.md §8: instances are stateless and share everything through PostgreSQL; the embedded database belongs to
// one process. And a running server shuts down cleanly on SIGTERM.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { DataDirLockedError } from '../../src/db/data-dir-lock.js';
import { deleteExpiredPayloads } from '../../src/oauth/adapter.js';
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const USER = { email: 'barbara@example.com', password: 'liskov substitution' };
const REDIRECT = 'http://127.0.0.1:47000/cb';

let db: TestDatabase;
const servers: TestServer[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  for (const s of servers) await s.close();
  await db?.drop();
});

describe('several instances', () => {
  it('share keys, clients and grants through PostgreSQL; a second process on an embedded database is refused', async () => {
    if (!db.realPostgres) {
      servers.push(await startTestServer(db.env));
      await expect(startTestServer(db.env)).rejects.toBeInstanceOf(DataDirLockedError);
      return;
    }
    // Two instances of one issuer start at once: keys are created once, under an advisory lock.
    const port = await freePort();
    const started = await Promise.allSettled([startTestServer(db.env, port), startTestServer(db.env, await freePort())]);
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    expect(started.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled']);
    const [a, b] = servers as [TestServer, TestServer];
    const jwksA = (await (await fetch(`${a.url}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    const jwksB = (await (await fetch(`${b.url}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwksA.keys).toHaveLength(2);
    expect(jwksB.keys.map((k) => k.kid).sort()).toEqual(jwksA.keys.map((k) => k.kid).sort());

    await a.services.users.create(USER);
    const client = await registerPublicClient(a.issuer, [REDIRECT]);
    const { verifier, challenge } = pkcePair();
    const callback = await authorizeThrough(new Browser(a.issuer), a.issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE,
    }, USER);
    const tokens = await tokenRequest(a.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT });
    expect(tokens.status).toBe(200);
    // B knows A's client and grant: it refreshes the token A issued (B's issuer differs only by port here, so the
    // check is the shared state, not the issuer string).
    const refreshed = await tokenRequest(b.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: client.client_id });
    expect(refreshed.status).toBe(200);
    // A token signed by A verifies against B's JWKS.
    await expect(jwtVerify(tokens.body.access_token, createRemoteJWKSet(new URL(`${b.url}/jwks`)), { audience: TEST_RESOURCE })).resolves.toBeDefined();
  });
});

describe('cleanup', () => {
  it('deletes expired authorization state and keeps the rest', async () => {
    const server = servers[0] ?? (await startTestServer(db.env));
    if (!servers.includes(server)) servers.push(server);
    const d = server.services.handle.db;
    await d('oidc_payloads').insert([
      { model: 'AccessToken', id: 'expired-1', payload: '{}', expires_at: new Date(Date.now() - 60_000) },
      { model: 'AccessToken', id: 'expired-2', payload: '{}', expires_at: new Date(Date.now() - 1_000) },
      { model: 'AccessToken', id: 'alive', payload: '{}', expires_at: new Date(Date.now() + 60_000) },
      { model: 'Grant', id: 'forever', payload: '{}', expires_at: null },
    ]);
    expect(await deleteExpiredPayloads(d, 1)).toBeGreaterThanOrEqual(2); // batch of one: loops until done
    const left = (await d('oidc_payloads').whereIn('id', ['expired-1', 'expired-2', 'alive', 'forever']).pluck('id')) as string[];
    expect(left.sort()).toEqual(['alive', 'forever']);
  });
});

describe('graceful shutdown', () => {
  it('stops on SIGTERM with exit code 0 and releases the database', async () => {
    for (const s of servers.splice(0)) await s.close();
    const port = await freePort();
    const child = spawn(process.execPath, [join(process.cwd(), 'bin', 'gatehouse.js'), 'serve'], {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', PORT: String(port), HOST: '127.0.0.1', ISSUER: `http://127.0.0.1:${port}`, LOG_LEVEL: 'info', ...db.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    let up = false;
    for (let i = 0; i < 120 && !up; i++) {
      up = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (!up) await new Promise((r) => setTimeout(r, 250));
    }
    expect(up).toBe(true);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toMatch(/shutting down/);
    if (!db.realPostgres) expect(existsSync(join(db.dataDir, 'gatehouse.lock'))).toBe(false);
  }, 60_000);
});
