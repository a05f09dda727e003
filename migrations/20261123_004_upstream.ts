// Upstream identity providers (issue #4): connections, the server-side half of each upstream handshake, accounts
// with the identities linked to them, and upstream tokens kept for the token vault.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('upstream_connections', (t) => {
    t.text('id').primary();
    t.text('name').notNullable();
    t.text('kind').notNullable();
    t.jsonb('settings').notNullable(); // issuer, client id, scopes, options: everything but the secret
    t.text('client_secret'); // sealed with SECRET_KEY
    t.text('source').notNullable(); // env | cli | console
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // One row per interaction with an upstream leg in flight; taken (deleted) by the callback.
  await knex.schema.createTable('upstream_transactions', (t) => {
    t.text('interaction_id').primary();
    t.text('connection_id').notNullable();
    t.text('checks').notNullable(); // sealed JSON: state, nonce, PKCE verifier
    t.timestamp('expires_at', { useTz: true }).notNullable().index();
  });

  await knex.schema.createTable('accounts', (t) => {
    t.text('id').primary();
    t.text('email'); // lower-cased; NOT unique: two IdPs may vouch for the same address
    t.boolean('email_verified').notNullable().defaultTo(false);
    t.text('name');
    t.jsonb('groups').notNullable().defaultTo('[]');
    t.boolean('is_admin').notNullable().defaultTo(false);
    t.timestamp('disabled_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_login_at', { useTz: true });
  });

  await knex.schema.createTable('identities', (t) => {
    t.text('connection_id').notNullable();
    t.text('issuer').notNullable();
    t.text('subject').notNullable();
    t.text('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('email');
    t.boolean('email_verified').notNullable().defaultTo(false);
    t.text('name');
    t.jsonb('groups').notNullable().defaultTo('[]');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_login_at', { useTz: true });
    t.primary(['connection_id', 'issuer', 'subject']);
    t.index(['account_id']);
  });

  await knex.schema.createTable('upstream_tokens', (t) => {
    t.text('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('connection_id').notNullable();
    t.text('access_token'); // sealed
    t.text('refresh_token'); // sealed
    t.timestamp('access_token_expires_at', { useTz: true });
    t.text('scope');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'connection_id']);
  });

  // Local users of earlier versions keep their account ids (their grants and tokens name them).
  await knex.raw(`
    INSERT INTO accounts (id, email, email_verified, name, is_admin, disabled_at, created_at)
    SELECT id, email, true, name, is_admin, disabled_at, created_at FROM users`);
  await knex.raw(`
    INSERT INTO identities (connection_id, issuer, subject, account_id, email, email_verified, name, created_at)
    SELECT 'local', 'urn:gatehouse:local', id, id, email, true, name, created_at FROM users`);
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['upstream_tokens', 'identities', 'accounts', 'upstream_transactions', 'upstream_connections']) {
    await knex.schema.dropTableIfExists(table);
  }
}
