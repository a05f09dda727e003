// Entry point for `npm start` / `gatehouse serve`: configuration errors print one line per problem and exit 1
// before anything listens; SIGTERM/SIGINT shut down gracefully. With WORKERS > 1 this process supervises that many
// server processes (cluster/supervisor.ts) and each of them comes through here again as a cluster worker. An
// unreachable database is one line too (db/connect-retry.ts), after DB_CONNECT_RETRY_SECONDS of retries.
import cluster from 'node:cluster';
import { joinCluster } from './cluster/worker.js';
import { superviseWorkers } from './cluster/supervisor.js';
import { loadConfiguration } from './configuration.js';
import { ConfigError, type Config } from './config.js';
import { DataDirLockedError } from './db/data-dir-lock.js';
import { bootstrapFirstAdmin, openServices, seedDatabase, startGatehouse } from './gatehouse.js';
import { createLogger, type Logger } from './log.js';
import { readBootstrapAdmin, STDIN, type BootstrapAdmin } from './upstream/local/bootstrap-admin.js';

const configurationError = (err: ConfigError): never => {
  for (const p of err.problems) process.stderr.write(`gatehouse: configuration error: ${p}\n`);
  process.exit(1);
};

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return ''; // refused by readBootstrapAdmin, which says why
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * BOOTSTRAP_ADMIN_* (upstream/local/bootstrap-admin.ts), read once by the process that starts the server: never by a
 * cluster worker, which has neither the primary's standard input nor need of it (the primary created the admin).
 */
async function bootstrapAdmin(config: Config): Promise<BootstrapAdmin | undefined> {
  if (cluster.isWorker || !config.BOOTSTRAP_ADMIN_EMAIL) return undefined;
  const stdin = config.BOOTSTRAP_ADMIN_PASSWORD_FILE === STDIN ? await readStdin() : '';
  try {
    return readBootstrapAdmin(config, () => stdin);
  } catch (err) {
    if (err instanceof ConfigError) return configurationError(err);
    throw err;
  }
}

/**
 * With WORKERS > 1 the primary creates the bootstrap administrator before it forks, so workers never race to. Seeded
 * first, as a single process is, so the connections it checks for a password sign-in are there (seeding is idempotent;
 * the supervisor's own seeding then changes nothing).
 */
async function bootstrapBeforeWorkers(config: Config, log: Logger, admin: BootstrapAdmin): Promise<void> {
  const services = await openServices(config, { log });
  try {
    await seedDatabase(services);
    await bootstrapFirstAdmin(services, admin);
  } finally {
    await services.handle.close();
  }
}

export async function serve(): Promise<void> {
  let config;
  try {
    config = loadConfiguration();
  } catch (err) {
    if (err instanceof ConfigError) configurationError(err);
    throw err;
  }
  const admin = await bootstrapAdmin(config);
  if (config.WORKERS > 1 && cluster.isPrimary) {
    let supervisor;
    try {
      const log = createLogger(config.LOG_LEVEL);
      if (admin) await bootstrapBeforeWorkers(config, log, admin);
      supervisor = await superviseWorkers(config, log);
    } catch (err) {
      if (err instanceof ConfigError) configurationError(err);
      process.stderr.write(`gatehouse: could not start: ${(err as Error).message}\n`);
      process.exit(1);
    }
    process.exit(await supervisor.stopped);
  }
  const slot = cluster.isWorker ? Number(process.env.GATEHOUSE_WORKER) : undefined;
  const log = slot ? createLogger(config.LOG_LEVEL).child({ worker: slot, pid: process.pid }) : createLogger(config.LOG_LEVEL);
  let running: Awaited<ReturnType<typeof startGatehouse>> | undefined;
  // Handlers before the start: the server listens (and answers /readyz) before startGatehouse resolves, and a signal
  // in that window must still shut down gracefully, once the start has settled.
  let signalled: string | undefined;
  const shutdown = (signal: string) => {
    if (!running) {
      signalled = signal;
      return;
    }
    running.services.log.info({ signal }, 'shutting down');
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  try {
    running = await startGatehouse(config, { log, announceSetup: slot === undefined || slot === 1, bootstrapAdmin: admin });
  } catch (err) {
    if (err instanceof ConfigError) configurationError(err);
    if (err instanceof DataDirLockedError) {
      process.stderr.write(`gatehouse: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`gatehouse: could not start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (signalled) shutdown(signalled);
  if (cluster.isWorker) joinCluster(running.metrics, () => shutdown('primary gone'));
}
