// Issue 17: what MCP servers report back (docs/MCP-SERVER-REPORTING.md). `mcp_server_inventories` holds each
// server's last tool inventory, replaced whole by every report; it goes with its resource (on delete cascade), so a
// removed MCP server leaves no inventory behind. `tool_call_batches` remembers the batch ids already accepted, so a
// retried batch is answered as a duplicate and writes nothing; its primary key is what makes two concurrent
// replays write once. Rows older than the longest an event may lag (7 days) plus a day are purged with the audit
// retention (gatehouse.ts).
//
// The expression index on `details->>'tool'` serves the console's tool filter (audit/queries.ts); a btree on a
// jsonb text extraction works the same on PostgreSQL and PGlite.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('mcp_server_inventories', (t) => {
    t.text('resource').primary().references('uri').inTable('resources').onDelete('CASCADE');
    t.jsonb('tools').notNullable();
    t.jsonb('policy').notNullable();
    t.jsonb('kit');
    t.text('reported_by').notNullable();
    t.timestamp('reported_at', { useTz: true }).notNullable();
    t.timestamp('changed_at', { useTz: true }).notNullable();
  });
  await knex.schema.createTable('tool_call_batches', (t) => {
    t.text('resource').notNullable();
    t.text('batch_id').notNullable();
    // Per resource: one server's batch ids can never turn another's batches into duplicates.
    t.primary(['resource', 'batch_id']);
    t.timestamp('accepted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['accepted_at']);
  });
  await knex.raw("create index audit_events_tool on audit_events ((details->>'tool'))");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists audit_events_tool');
  await knex.schema.dropTableIfExists('tool_call_batches');
  await knex.schema.dropTableIfExists('mcp_server_inventories');
}
