// The foundation schema: oidc-provider state, signing keys, MCP resources, local accounts, consent memory and the
// audit log. Forward-only in production; `down` exists for development resets.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Every oidc-provider model in one table. `id`, `uid` and `user_code` hold SHA-256 digests for bearer secrets
  // (everything but Client and Grant, whose ids are not credentials); `payload` is JSON, or sealed with
  // SECRET_KEY when it carries a secret (clients).
  await knex.schema.createTable('oidc_payloads', (t) => {
    t.text('model').notNullable();
    t.text('id').notNullable();
    t.text('payload').notNullable();
    t.text('grant_id');
    t.text('uid');
    t.text('user_code');
    t.timestamp('expires_at', { useTz: true });
    t.timestamp('consumed_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['model', 'id']);
    t.index(['grant_id']);
    t.index(['model', 'uid']);
    t.index(['model', 'user_code']);
    t.index(['expires_at']);
  });

  await knex.schema.createTable('signing_keys', (t) => {
    t.text('kid').primary();
    t.text('alg').notNullable();
    t.text('private_jwk').notNullable(); // sealed with SECRET_KEY
    t.jsonb('public_jwk').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('activates_at', { useTz: true }).notNullable();
    t.timestamp('retired_at', { useTz: true });
    t.timestamp('expires_at', { useTz: true }); // retired_at + the longest lifetime of what it signed
  });

  await knex.schema.createTable('resources', (t) => {
    t.text('uri').primary(); // normalised: https://h and https://h/ are one resource
    t.text('name').notNullable();
    t.jsonb('scopes').notNullable().defaultTo('{}'); // scope name → description shown on the consent page
    t.boolean('is_default').notNullable().defaultTo(false);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('create unique index resources_one_default on resources (is_default) where is_default');

  await knex.schema.createTable('users', (t) => {
    t.text('id').primary();
    t.text('email').notNullable().unique(); // lower-cased
    t.text('name');
    t.text('password_hash'); // argon2id; null until set through a setup link
    t.boolean('is_admin').notNullable().defaultTo(false);
    t.timestamp('disabled_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('setup_tokens', (t) => {
    t.text('token_hash').primary();
    t.text('purpose').notNullable(); // first-admin
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // Remembered consent: one Grant per person and client, reused while it covers what is asked.
  await knex.schema.createTable('consents', (t) => {
    t.text('account_id').notNullable();
    t.text('client_id').notNullable();
    t.text('grant_id').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'client_id']);
  });

  await knex.schema.createTable('audit_events', (t) => {
    t.bigIncrements('id');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('type').notNullable();
    t.text('outcome').notNullable(); // success | failure
    t.text('actor');
    t.text('client_id');
    t.text('resource');
    t.text('ip');
    t.text('user_agent');
    t.text('reason');
    t.jsonb('details');
    t.index(['at']);
    t.index(['type', 'at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['audit_events', 'consents', 'setup_tokens', 'users', 'resources', 'signing_keys', 'oidc_payloads']) {
    await knex.schema.dropTableIfExists(table);
  }
}
