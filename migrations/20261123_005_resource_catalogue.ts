// The tool→scope catalogue and access rules of each MCP server (issue #5). `scopes` keeps its column: each entry is
// now {description, tools, access} (older rows hold a bare description string, read as such).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('resources', (t) => {
    t.text('description');
    t.jsonb('access'); // null: everyone who may sign in; else {email_domains, groups}
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('resources', (t) => {
    t.dropColumn('access');
    t.dropColumn('description');
  });
}
