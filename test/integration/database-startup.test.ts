// Issue 23: a database Gatehouse cannot use at start. A refused port, a wrong password and a missing database each
// give one line naming DATABASE_URL by host, port and database with the cause, never the password and no stack trace,
// after retrying for DB_CONNECT_RETRY_SECONDS; then exit 1. The CLI says the same in one line without waiting. And
// start-up order does not matter: a database that appears after Gatehouse started is waited for (real PostgreSQL
// only: the embedded pass has no PostgreSQL server to bring up late; CI runs both passes).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, spawnServe } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/database.js';
import { startFakePostgres, type FakePostgres } from '../helpers/fake-postgres.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { freePort } from '../helpers/server.js';

const PASSWORD = 'the-db-pass-w0rd';
const SECRET_KEY = 'database-startup-test-secret-key-0123456789';
const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-db-startup-'));
const url = (port: number, database: string) => `postgres://gatehouse:${PASSWORD}@127.0.0.1:${port}/${database}`;

const fakes: FakePostgres[] = [];
afterAll(async () => {
  for (const f of fakes) await f.close();
});

/** `gatehouse serve` until it exits; its whole output. */
async function serveUntilExit(databaseUrl: string): Promise<{ code: number | null; output: string }> {
  const s = spawnServe({ DATABASE_URL: databaseUrl, DB_CONNECT_RETRY_SECONDS: '2', DATA_DIR: dataDir, SECRET_KEY }, await freePort());
  const code = await s.exited;
  return { code, output: s.output() };
}

/** The one line that names DATABASE_URL outside the JSON log (where a single "waiting" notice may say it too). */
function checkOneLine(output: string, expected: RegExp): RegExpExecArray {
  const plain = output.split('\n').filter((l) => l && !l.startsWith('{'));
  const named = plain.filter((l) => l.includes('DATABASE_URL'));
  expect(named).toHaveLength(1);
  const match = expected.exec(named[0]!);
  expect(match).not.toBeNull();
  expect(output).not.toContain(PASSWORD);
  expect(output).not.toMatch(/^\s+at /m); // no stack trace
  expect(output).not.toMatch(/Acquire connection error|KnexTimeoutError/);
  // While it retried it said so once, with the same cause.
  expect(output.split('\n').filter((l) => l.startsWith('{') && l.includes('waiting for the database'))).toHaveLength(1);
  return match!;
}

describe('gatehouse serve against a database it cannot use', () => {
  it('a refused port, a wrong password, a missing database: one line each naming DATABASE_URL and the cause, retried, then exit 1', async () => {
    const refusedPort = await freePort();
    const wrongPassword = await startFakePostgres({ code: '28P01', message: 'password authentication failed for user "gatehouse"' });
    const missing = await startFakePostgres({ code: '3D000', message: 'database "nowhere" does not exist' });
    fakes.push(wrongPassword, missing);
    const [refused, auth, absent] = await Promise.all([
      serveUntilExit(url(refusedPort, 'gatehouse')),
      serveUntilExit(url(wrongPassword.port, 'gatehouse')),
      serveUntilExit(url(missing.port, 'nowhere')),
    ]);
    for (const r of [refused, auth, absent]) expect(r.code).toBe(1);

    const attempts = (m: RegExpExecArray) => Number(m[1]);
    const gaveUp = '\\(gave up after (\\d+) attempts in 2 s, DB_CONNECT_RETRY_SECONDS\\)$';
    expect(attempts(checkOneLine(refused.output, new RegExp(`^gatehouse: could not start: DATABASE_URL \\(127\\.0\\.0\\.1:${refusedPort}/gatehouse\\): connection refused ${gaveUp}`)))).toBeGreaterThan(1);
    expect(attempts(checkOneLine(auth.output, new RegExp(`^gatehouse: could not start: DATABASE_URL \\(127\\.0\\.0\\.1:${wrongPassword.port}/gatehouse\\): password authentication failed for user "gatehouse" ${gaveUp}`)))).toBe(wrongPassword.attempts());
    expect(attempts(checkOneLine(absent.output, new RegExp(`^gatehouse: could not start: DATABASE_URL \\(127\\.0\\.0\\.1:${missing.port}/nowhere\\): database "nowhere" does not exist ${gaveUp}`)))).toBe(missing.attempts());
    expect(wrongPassword.attempts()).toBeGreaterThan(1);
  }, 120_000);

  it('gatehouse migrate says the same in one line, after one attempt', async () => {
    const wrongPassword = await startFakePostgres({ code: '28P01', message: 'password authentication failed for user "gatehouse"' });
    fakes.push(wrongPassword);
    const res = await runCli(['migrate'], { DATABASE_URL: url(wrongPassword.port, 'gatehouse'), DATA_DIR: dataDir, SECRET_KEY });
    expect(res.code).toBe(1);
    const lines = `${res.stdout}${res.stderr}`.split('\n').filter((l) => l.includes('DATABASE_URL'));
    expect(lines).toEqual([`gatehouse: DATABASE_URL (127.0.0.1:${wrongPassword.port}/gatehouse): password authentication failed for user "gatehouse"`]);
    expect(`${res.stdout}${res.stderr}`).not.toContain(PASSWORD);
    expect(res.stderr).not.toMatch(/^\s+at /m);
    expect(wrongPassword.attempts()).toBe(1);
  }, 60_000);
});

if (process.env.TEST_DATABASE_URL) {
  describe('start-up order (real PostgreSQL)', () => {
    it('Gatehouse started before its database waits for it, comes up, and creates the bootstrap admin read from stdin', async () => {
      const db = await createTestDatabase();
      const real = new URL(db.env.DATABASE_URL!);
      const latePort = await freePort();
      const late = new URL(real.href);
      late.hostname = '127.0.0.1';
      late.port = String(latePort);
      const s = spawnServe({ ...db.env, DATABASE_URL: late.href, DB_CONNECT_RETRY_SECONDS: '60', BOOTSTRAP_ADMIN_EMAIL: 'order@example.com', BOOTSTRAP_ADMIN_PASSWORD_FILE: '-' }, await freePort());
      s.child.stdin.end('the order admin passphrase\n');
      let forward: { close(): Promise<void> } | undefined;
      try {
        const until = async (check: () => boolean | Promise<boolean>) => {
          for (;;) {
            if (await check()) return;
            if (s.child.exitCode !== null) throw new Error(`gatehouse exited:\n${s.output()}`);
            await new Promise((r) => setTimeout(r, 200));
          }
        };
        await until(() => s.output().includes('waiting for the database'));
        expect(s.output()).toContain(`DATABASE_URL (127.0.0.1:${latePort}/${real.pathname.slice(1)}): connection refused`);
        await new Promise((r) => setTimeout(r, 5_000)); // the database's own start
        forward = await startTcpProxy({ host: real.hostname, port: Number(real.port || 5432) }, latePort);
        await until(async () => (await fetch(`${s.url}/readyz`).catch(() => undefined))?.status === 200);
        const lines = s.lines();
        expect(lines.some((l) => l.msg === 'first administrator created from BOOTSTRAP_ADMIN_EMAIL' && l.email === 'order@example.com')).toBe(true);
        expect(lines.some((l) => typeof l.setupLink === 'string')).toBe(false);
      } finally {
        s.child.kill('SIGTERM');
        await s.exited;
        await forward?.close();
        await db.drop();
      }
    }, 120_000);
  });
}
