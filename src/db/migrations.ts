// Migrations are listed here rather than discovered on disk, so they load the same way under tsx, jest and any
// bundler. Add each new file of migrations/ to this list, in order.
import type { Knex } from 'knex';
import * as foundation from '../../migrations/20261123_001_foundation.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down?(knex: Knex): Promise<void>;
}

const MIGRATIONS: Array<[string, Migration]> = [['20261123_001_foundation', foundation]];

const source: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => MIGRATIONS,
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};

export const migrationConfig: Knex.MigratorConfig = { migrationSource: source, tableName: 'knex_migrations' };

export async function migrateLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(migrationConfig)) as [number, string[]];
  return applied;
}

export async function pendingMigrations(db: Knex): Promise<string[]> {
  const [, pending] = (await db.migrate.list(migrationConfig)) as [unknown, Array<{ file?: string } | [string, Migration]>];
  return pending.map((p) => (Array.isArray(p) ? p[0] : String(p.file)));
}
