// Each test file gets its own database: a fresh PGlite data directory, or, when TEST_DATABASE_URL is set, a fresh
// PostgreSQL database created beside it and dropped afterwards, so files can run in parallel.
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface TestDatabase {
  env: Record<string, string>;
  /** A data dir for the server's generated secret (and the embedded database when no TEST_DATABASE_URL). */
  dataDir: string;
  realPostgres: boolean;
  drop(): Promise<void>;
}

/**
 * `fresh`: an embedded database that starts from nothing (initdb included), as on a new machine. Otherwise the data
 * directory is a copy of the initialised template built once per run (test/setup/pglite-template.js).
 */
export async function createTestDatabase(options: { fresh?: boolean } = {}): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    const template = process.env.GATEHOUSE_PGLITE_TEMPLATE;
    if (!options.fresh && template && existsSync(join(template, 'pgdata', 'PG_VERSION'))) {
      cpSync(join(template, 'pgdata'), join(dataDir, 'pgdata'), { recursive: true });
    }
    return { env: { DATA_DIR: dataDir }, dataDir, realPostgres: false, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const name = `gatehouse_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    env: { DATA_DIR: dataDir, DATABASE_URL: url.toString() },
    dataDir,
    realPostgres: true,
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
