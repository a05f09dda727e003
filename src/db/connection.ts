// One knex instance per process: `pg` against DATABASE_URL, or PGlite (PostgreSQL in WASM) persisted in DATA_DIR.
// Both speak the same SQL, so the same migrations and queries run on each.
import { join } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';
import { lockDataDir } from './data-dir-lock.js';

export type Db = Knex;

// Return BIGINT and NUMERIC as JS numbers on pg, as PGlite does: our bigints are epoch milliseconds and counters.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

export interface DbHandle {
  db: Db;
  embedded: boolean;
  close(): Promise<void>;
}

export async function openDatabase(options: { databaseUrl?: string; dataDir: string; poolMax?: number }): Promise<DbHandle> {
  if (options.databaseUrl) {
    const db = knexFactory({
      client: 'pg',
      connection: { connectionString: options.databaseUrl, application_name: 'gatehouse' },
      pool: { min: 0, max: options.poolMax ?? 10 },
      acquireConnectionTimeout: 10_000,
    });
    return { db, embedded: false, close: () => db.destroy() };
  }
  const release = lockDataDir(options.dataDir);
  try {
    const db = knexFactory({
      client: ClientPgLite as unknown as typeof Knex.Client,
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
