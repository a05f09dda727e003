// Issue 18: a person approves tool calls (docs/TOOL-APPROVALS.md). `tool_approvals` holds each approval request:
// its binding (resource, client, subject, grant, tool, the arguments' digest), the arguments themselves sealed with
// SECRET_KEY (only the approval page shows them), its mode and how it ended. The partial index serves the lookup the
// kit's every retry makes: one live request per binding. `resources.approvals` holds a server's approval marks that
// are not a scope's: per tool, and for tools the server reports as destructive. `account_sessions`: the person's own
// pages, where approvals are decided.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tool_approvals', (t) => {
    t.text('id').primary();
    t.text('resource').notNullable().references('uri').inTable('resources').onDelete('CASCADE');
    t.text('client_id').notNullable();
    t.text('account_id').notNullable();
    t.text('grant_id').notNullable();
    t.text('tool').notNullable();
    t.text('arguments_digest').notNullable();
    t.text('arguments_sealed').notNullable();
    t.text('mode').notNullable();
    // pending → approved | rejected | expired; used_at: an approved each-call approval was spent, or a rejection told
    t.text('status').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('decided_at', { useTz: true });
    t.timestamp('used_at', { useTz: true });
    t.index(['account_id', 'status']);
    t.index(['grant_id', 'tool', 'arguments_digest']);
    t.index(['created_at']);
  });
  await knex.schema.alterTable('resources', (t) => {
    t.jsonb('approvals');
  });
  // The person's own pages (/account): sessions like the console's, in their own table.
  await knex.schema.createTable('account_sessions', (t) => {
    t.text('id_hash').primary();
    t.text('account_id').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_seen_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['account_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('account_sessions');
  await knex.schema.alterTable('resources', (t) => {
    t.dropColumn('approvals');
  });
  await knex.schema.dropTableIfExists('tool_approvals');
}
