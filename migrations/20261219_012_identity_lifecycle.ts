// Issue 20: the identity lifecycle (docs/IDENTITY-LIFECYCLE.md). What the identity provider decides after a login
// reaches Gatehouse: each identity remembers when it was last re-validated with its IdP and how that ended (with a
// short lease so one instance asks the IdP at a time); an account the IdP says is gone is marked deprovisioned
// (apart from an administrator's `disabled_at`: a new login through the IdP clears it). Each grant's use is kept
// for the person's connected-apps page; global logout credentials per connection and the Shared Signals events
// seen (replays are no-ops); invitation and password-reset links for local people (stored as digests).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.timestamp('deprovisioned_at', { useTz: true });
    t.text('deprovisioned_reason');
  });
  await knex.schema.alterTable('identities', (t) => {
    // The last time the IdP vouched for this identity (a login or a successful re-validation): the outage grace runs from here.
    t.timestamp('revalidated_at', { useTz: true });
    // The last attempt, whatever its outcome, and that outcome: ok | updated | gone | unavailable | cannot.
    t.timestamp('revalidation_checked_at', { useTz: true });
    t.text('revalidation_outcome');
    t.text('revalidation_detail');
    // Held by the one instance asking the IdP now (single flight); others wait for it to clear.
    t.timestamp('revalidation_lease_until', { useTz: true });
  });
  await knex.schema.createTable('grant_activity', (t) => {
    t.text('grant_id').primary();
    t.text('account_id').notNullable().index();
    t.text('client_id').notNullable();
    t.timestamp('first_used_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('last_ip');
    t.text('last_user_agent');
  });
  await knex.schema.alterTable('upstream_connections', (t) => {
    t.text('global_logout_secret_hash'); // SHA-256 of the per-connection global token revocation credential
  });
  await knex.schema.createTable('security_events_seen', (t) => {
    t.text('connection_id').notNullable();
    t.text('jti').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now()).index();
    t.primary(['connection_id', 'jti']);
  });
  await knex.schema.createTable('local_account_links', (t) => {
    t.text('token_hash').primary();
    t.text('kind').notNullable(); // invitation | password_reset
    t.text('user_id').notNullable();
    t.text('created_by');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable().index();
    t.timestamp('used_at', { useTz: true });
    t.index(['user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('local_account_links');
  await knex.schema.dropTable('security_events_seen');
  await knex.schema.alterTable('upstream_connections', (t) => t.dropColumn('global_logout_secret_hash'));
  await knex.schema.dropTable('grant_activity');
  await knex.schema.alterTable('identities', (t) => {
    for (const c of ['revalidated_at', 'revalidation_checked_at', 'revalidation_outcome', 'revalidation_detail', 'revalidation_lease_until']) t.dropColumn(c);
  });
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('deprovisioned_at');
    t.dropColumn('deprovisioned_reason');
  });
}
