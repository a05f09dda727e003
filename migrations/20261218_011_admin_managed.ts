// Issue 19: administration as code (docs/ARCHITECTURE.md, "The admin service layer"; docs/CONFIG-FILE.md). An
// object the declarative configuration file manages carries the file's name in `managed_by`: the service layer
// refuses a change to it from any other actor, and the console shows whose it is.
import type { Knex } from 'knex';

const TABLES = ['resources', 'client_registry', 'upstream_connections', 'policy_settings'] as const;

export async function up(knex: Knex): Promise<void> {
  for (const table of TABLES) {
    await knex.schema.alterTable(table, (t) => {
      t.text('managed_by');
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of TABLES) {
    await knex.schema.alterTable(table, (t) => {
      t.dropColumn('managed_by');
    });
  }
}
