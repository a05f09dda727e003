// Gatehouse as deployed (plain JavaScript: see protocol.mjs): PostgreSQL (BENCH_DATABASE_URL, else a fresh database on postgres://postgres@127.0.0.1:5432,
// dropped on exit), every layer on, rate limits off (they would answer 429 to a load generator on one IP; BENCH_RATE_LIMITS=on counts them), logs at
// warn. Creates one confidential client_credentials client and one local user. BENCH_WORKERS=<n>: n server
// processes on the port, supervised by the same code as WORKERS=<n> (src/cluster/). Commands: `queries` → SQL queries
// run since start (a knex query listener, summed over the workers), to count round trips per request.
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { serveCommands, tellParent } from './protocol.mjs';

// The server as deployed: the production build (npm run build, which bench:server runs first), compiled JavaScript
// under plain node, with no TypeScript loader in the process.
import { joinCluster } from '../../dist/server/src/cluster/worker.js';
import { superviseWorkers } from '../../dist/server/src/cluster/supervisor.js';
import { loadConfig } from '../../dist/server/src/config.js';
import { startGatehouse } from '../../dist/server/src/gatehouse.js';
import { createLogger } from '../../dist/server/src/log.js';
import { createStaticClient } from '../../dist/server/src/oauth/static-clients.js';

const RESOURCE = 'https://mcp.example.test/mcp';
const USER = { email: 'bench@example.com', password: 'bench password that is long enough' };

async function freePort() {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// BENCH_RATE_LIMITS=on: every limit counted in PostgreSQL, as in production, but set too high to refuse the load.
const LIMITS = process.env.BENCH_RATE_LIMITS === 'on' ? '1000000' : '0'; // the most a limit may be


const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const countQueries = (gh) => {
  let queries = 0;
  gh.services.handle.db.on('query', () => queries++);
  return () => queries;
};

if (cluster.isWorker) {
  // A worker forked by superviseWorkers, set up as `gatehouse serve` sets one up, plus the query count.
  const config = loadConfig(JSON.parse(process.env.BENCH_GATEHOUSE_ENV));
  const gh = await startGatehouse(config, { log: createLogger(config.LOG_LEVEL), announceSetup: false });
  const queries = countQueries(gh);
  process.on('message', (m) => m?.type === 'bench:queries' && process.send({ type: 'bench:queries', queries: queries() }));
  const stop = () => void gh.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  joinCluster(gh.metrics, stop);
} else {
  let databaseUrl = process.env.BENCH_DATABASE_URL;
  let drop;
  if (!databaseUrl) {
    const admin = 'postgres://postgres@127.0.0.1:5432/postgres';
    const name = `gatehouse_bench_${randomBytes(5).toString('hex')}`;
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query(`create database ${name}`);
    await c.end();
    databaseUrl = `postgres://postgres@127.0.0.1:5432/${name}`;
    drop = async () => {
      const d = new pg.Client({ connectionString: admin });
      await d.connect();
      await d.query(`drop database if exists ${name} with (force)`);
      await d.end();
    };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const port = await freePort();
  const env = {
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://127.0.0.1:${port}`,
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    RESOURCES: JSON.stringify([{ uri: RESOURCE, name: 'Bench MCP', scopes: { 'tools:read': 'Read', 'tools:write': 'Write' }, default: true }]),
    ...Object.fromEntries(['REGISTRATION_RATE_LIMIT', 'TOKEN_RATE_LIMIT', 'TOKEN_RATE_LIMIT_IP', 'AUTHORIZE_RATE_LIMIT', 'LOGIN_RATE_LIMIT', 'LOGIN_RATE_LIMIT_IP'].map((name) => [name, LIMITS])),
    DCR_MAX_CLIENTS: process.env.DCR_MAX_CLIENTS ?? '1000000',
    // Every flow of (c) registers a client from one address: the per-source cap would end the run.
    DCR_MAX_CLIENTS_PER_SOURCE: process.env.DCR_MAX_CLIENTS_PER_SOURCE ?? '1000000',
    WORKERS: String(WORKERS),
    ...(process.env.NODE_ENV ? { NODE_ENV: process.env.NODE_ENV } : {}),
  };
  const config = loadConfig(env);
  const gh = await startGatehouse(config, { log: createLogger(config.LOG_LEVEL) });
  await gh.services.users.create(USER);
  const machine = await createStaticClient(gh.services.handle.db, gh.services.box, gh.holder.provider, { name: 'Bench agent', redirectUris: [], confidential: true });

  const cleanUp = async () => {
    await drop?.();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  };
  let queries;
  if (WORKERS > 1) {
    // This process's server only set the database up; the workers serve, and SIGTERM stops them (the supervisor).
    await gh.close();
    process.env.BENCH_GATEHOUSE_ENV = JSON.stringify(env);
    const supervisor = await superviseWorkers(config, createLogger(config.LOG_LEVEL));
    let listening = 0;
    await new Promise((resolve) => cluster.on('listening', () => ++listening === WORKERS && resolve()));
    void supervisor.stopped.then(cleanUp);
    const askOne = (w) => new Promise((resolve) => {
      const answer = (m) => m?.type === 'bench:queries' && (w.off('message', answer), resolve(m.queries));
      w.on('message', answer);
      w.send({ type: 'bench:queries' });
    });
    queries = async () => (await Promise.all(Object.values(cluster.workers ?? {}).map(askOne))).reduce((a, b) => a + b, 0);
  } else {
    queries = countQueries(gh);
    process.once('SIGTERM', () => void gh.close().then(cleanUp));
  }

  serveCommands(async (command) => (command === 'queries' ? { queries: await queries() } : { error: `unknown command ${command}` }));
  tellParent({ issuer: config.ISSUER, metadata: `${config.ISSUER}/.well-known/oauth-authorization-server`, jwks: `${config.ISSUER}/jwks`, machine: { id: machine.client_id, secret: machine.client_secret }, user: USER, resource: RESOURCE });
}
