// Client governance (issue #3): who registered which client, its approval status and last use (for approval mode
// and the expiry of unused dynamic clients), and the shared counters of rate-limiter-flexible.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('client_registry', (t) => {
    t.text('client_id').primary();
    t.text('origin').notNullable(); // dynamic | static
    t.text('status').notNullable(); // active | pending | disabled
    t.text('client_name');
    t.text('registered_ip');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('status_changed_at', { useTz: true });
    t.text('status_changed_by');
    t.index(['origin', 'status']);
  });
  // The table layout rate-limiter-flexible's PostgreSQL store expects (created here, not at run time).
  await knex.schema.createTable('rate_limits', (t) => {
    t.string('key', 255).primary();
    t.integer('points').notNullable().defaultTo(0);
    t.bigInteger('expire');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('rate_limits');
  await knex.schema.dropTableIfExists('client_registry');
}
