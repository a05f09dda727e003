// Entry point for `npm start` / `gatehouse serve`: configuration errors print one line per problem and exit 1
// before anything listens; SIGTERM/SIGINT shut down gracefully. With WORKERS > 1 this process supervises that many
// server processes (cluster/supervisor.ts) and each of them comes through here again as a cluster worker.
import cluster from 'node:cluster';
import { joinCluster } from './cluster/worker.js';
import { superviseWorkers } from './cluster/supervisor.js';
import { loadConfiguration } from './configuration.js';
import { ConfigError } from './config.js';
import { DataDirLockedError } from './db/data-dir-lock.js';
import { startGatehouse } from './gatehouse.js';
import { createLogger } from './log.js';

export async function serve(): Promise<void> {
  let config;
  try {
    config = loadConfiguration();
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) process.stderr.write(`gatehouse: configuration error: ${p}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (config.WORKERS > 1 && cluster.isPrimary) {
    let supervisor;
    try {
      supervisor = await superviseWorkers(config, createLogger(config.LOG_LEVEL));
    } catch (err) {
      process.stderr.write(`gatehouse: could not start: ${(err as Error).message}\n`);
      process.exit(1);
    }
    process.exit(await supervisor.stopped);
  }
  const slot = cluster.isWorker ? Number(process.env.GATEHOUSE_WORKER) : undefined;
  const log = slot ? createLogger(config.LOG_LEVEL).child({ worker: slot, pid: process.pid }) : createLogger(config.LOG_LEVEL);
  let running;
  try {
    running = await startGatehouse(config, { log, announceSetup: slot === undefined || slot === 1 });
  } catch (err) {
    if (err instanceof DataDirLockedError) {
      process.stderr.write(`gatehouse: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`gatehouse: could not start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const shutdown = (signal: string) => {
    running.services.log.info({ signal }, 'shutting down');
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  if (cluster.isWorker) joinCluster(running.metrics, () => shutdown('primary gone'));
}
