// Entry point for `npm start` / `gatehouse serve`: configuration errors print one line per problem and exit 1
// before anything listens; SIGTERM/SIGINT shut down gracefully.
import { ConfigError, loadConfig } from './config.js';
import { DataDirLockedError } from './db/data-dir-lock.js';
import { startGatehouse } from './gatehouse.js';

export async function serve(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) process.stderr.write(`gatehouse: configuration error: ${p}\n`);
      process.exit(1);
    }
    throw err;
  }
  let running;
  try {
    running = await startGatehouse(config);
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
}
