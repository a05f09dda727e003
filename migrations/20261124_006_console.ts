// The admin console: its sessions (only SHA-256 digests of the cookie value are stored), the
// policy settings an admin edits there (overriding the environment's defaults), and audit-log indexes for the
// console's filters.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('console_sessions', (t) => {
    t.text('id_hash').primary();
    t.text('account_id').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_seen_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['account_id']);
  });

  // One row per overridden setting (REGISTRATION, CIMD_ALLOWED_DOMAINS…); no row = the environment's value.
  await knex.schema.createTable('policy_settings', (t) => {
    t.text('name').primary();
    t.jsonb('value').notNullable();
    t.text('updated_by');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.alterTable('audit_events', (t) => {
    t.index(['actor', 'at']);
    t.index(['client_id', 'at']);
    t.index(['outcome', 'at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.dropIndex(['actor', 'at']);
    t.dropIndex(['client_id', 'at']);
    t.dropIndex(['outcome', 'at']);
  });
  await knex.schema.dropTableIfExists('policy_settings');
  await knex.schema.dropTableIfExists('console_sessions');
}
