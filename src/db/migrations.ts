// Migrations are listed here rather than discovered on disk, so they load the same way under tsx, jest and any
// bundler. Add each new file of migrations/ to this list, in order.
import type { Knex } from 'knex';
import * as foundation from '../../migrations/20261123_001_foundation.js';
import * as cimdClients from '../../migrations/20261123_002_cimd_clients.js';
import * as clientGovernance from '../../migrations/20261123_003_client_governance.js';
import * as upstream from '../../migrations/20261123_004_upstream.js';
import * as resourceCatalogue from '../../migrations/20261123_005_resource_catalogue.js';
import * as consoleTables from '../../migrations/20261124_006_console.js';
import * as upstreamStateDigest from '../../migrations/20261208_007_upstream_state_digest.js';
import * as clientRegistrySource from '../../migrations/20261215_008_client_registry_source.js';
import * as mcpServerReports from '../../migrations/20261216_009_mcp_server_reports.js';
import * as toolApprovals from '../../migrations/20261217_010_tool_approvals.js';
import * as adminManaged from '../../migrations/20261218_011_admin_managed.js';
import * as identityLifecycle from '../../migrations/20261219_012_identity_lifecycle.js';
import * as delegation from '../../migrations/20261220_013_delegation.js';
import * as auditRequestId from '../../migrations/20261221_014_audit_request_id.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down?(knex: Knex): Promise<void>;
}

const MIGRATIONS: Array<[string, Migration]> = [
  ['20261123_001_foundation', foundation],
  ['20261123_002_cimd_clients', cimdClients],
  ['20261123_003_client_governance', clientGovernance],
  ['20261123_004_upstream', upstream],
  ['20261123_005_resource_catalogue', resourceCatalogue],
  ['20261124_006_console', consoleTables],
  ['20261208_007_upstream_state_digest', upstreamStateDigest],
  ['20261215_008_client_registry_source', clientRegistrySource],
  ['20261216_009_mcp_server_reports', mcpServerReports],
  ['20261217_010_tool_approvals', toolApprovals],
  ['20261218_011_admin_managed', adminManaged],
  ['20261219_012_identity_lifecycle', identityLifecycle],
  ['20261220_013_delegation', delegation],
  ['20261221_014_audit_request_id', auditRequestId],
];

const source: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => MIGRATIONS,
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};

export const migrationConfig: Knex.MigratorConfig = { migrationSource: source, tableName: 'knex_migrations' };

// Any constant: serialises migrations across instances starting at the same moment on one PostgreSQL.
const MIGRATION_LOCK = 724_118;
const MIGRATION_LOCK_WAIT_MS = 5 * 60_000;

/**
 * Applies pending migrations. On PostgreSQL several instances may start at once, and knex's own migration lock
 * only exists once its tables do: an advisory lock, held by a transaction on one pooled connection while the
 * migrations run on another, makes the first instance migrate and the others wait. PGlite has a single connection
 * (and a single process), so it needs no lock and would deadlock on one.
 */
export async function migrateLatest(db: Knex): Promise<string[]> {
  const run = async () => ((await db.migrate.latest(migrationConfig)) as [number, string[]])[1];
  if (db.client.config.client !== 'pg') return run();
  let applied: string[] = [];
  await db.transaction(async (trx) => {
    // Polled rather than waited on: a blocking wait would meet the pool's statement and query timeouts
    // (db/connection.ts) while another instance migrates.
    for (const started = Date.now(); ; ) {
      const { rows } = (await trx.raw('select pg_try_advisory_xact_lock(?) as locked', [MIGRATION_LOCK])) as { rows: Array<{ locked: boolean }> };
      if (rows[0]?.locked) break;
      if (Date.now() - started > MIGRATION_LOCK_WAIT_MS) throw new Error('another instance has held the migration lock for too long');
      await new Promise((r) => setTimeout(r, 200));
    }
    applied = await run();
  });
  return applied;
}

/**
 * The migrations this code knows that the database has not applied. A database ahead of this code (a newer version's
 * migration applied during a rolling upgrade) is not an error here: the older instances stay ready until replaced.
 */
export async function pendingMigrations(db: Knex): Promise<string[]> {
  const [, pending] = (await db.migrate.list({ ...migrationConfig, disableMigrationsListValidation: true })) as [unknown, Array<{ file?: string } | [string, Migration]>];
  return pending.map((p) => (Array.isArray(p) ? p[0] : String(p.file)));
}
