// One knex instance per process: `pg` against DATABASE_URL, or PGlite (PostgreSQL in WASM) persisted in DATA_DIR.
// Both speak the same SQL, so the same migrations and queries run on each.
import { join } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { loadEmbeddedDriver } from './embedded-driver.js';
import pg from 'pg';
import { lockDataDir } from './data-dir-lock.js';
import { namePreparedStatements } from './prepared-statements.js';

export type Db = Knex;

// Return BIGINT and NUMERIC as JS numbers on pg, as PGlite does: our bigints are epoch milliseconds and counters.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

// A database that went away must fail a request within seconds, never hang it (issue 7): each bound below is one
// way a request can wait on PostgreSQL. Together a request meets a dead database in well under 5 s and answers 503
// (db/unavailable.ts); the pool opens fresh connections as soon as the database is back, with no restart.
const ACQUIRE_TIMEOUT_MS = 3_000; // waiting for a pooled connection (all busy, or every new one failing)
const FAIL_FAST = {
  connectionTimeoutMillis: 2_000, // TCP connect + startup; a partitioned host never answers a SYN
  statement_timeout: 4_000, // server side: a query stuck on locks or load is cancelled cleanly (57014)
  query_timeout: 4_500, // client side: catches a partition under an open socket, which the server cannot see
  keepAlive: true, // and lets the kernel notice a dead peer on idle pooled connections
  keepAliveInitialDelayMillis: 10_000,
};

export interface DbHandle {
  db: Db;
  embedded: boolean;
  close(): Promise<void>;
}

export async function openDatabase(options: { databaseUrl?: string; dataDir: string; poolMax?: number }): Promise<DbHandle> {
  if (options.databaseUrl) {
    const db = knexFactory({
      client: 'pg',
      connection: {
        connectionString: options.databaseUrl,
        application_name: 'gatehouse',
        ...FAIL_FAST,
      },
      pool: {
        min: 0,
        max: options.poolMax ?? 10,
        afterCreate: (conn: Parameters<typeof namePreparedStatements>[0], done: (err: Error | null, conn: unknown) => void) => {
          namePreparedStatements(conn);
          done(null, conn);
        },
      },
      acquireConnectionTimeout: ACQUIRE_TIMEOUT_MS,
    });
    return { db, embedded: false, close: () => db.destroy() };
  }
  const release = lockDataDir(options.dataDir);
  try {
    const db = knexFactory({
      client: (await loadEmbeddedDriver()) as unknown as typeof Knex.Client,
      dialect: 'postgres',
      connection: { filename: join(options.dataDir, 'pgdata') },
    } as Knex.Config);
    await db.raw('select 1');
    return {
      db,
      embedded: true,
      close: async () => {
        try {
          await db.destroy();
        } finally {
          release();
        }
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}
