// Issue 21: delegation (docs/DELEGATION.md). The token vault keeps, per account and connection, the upstream tokens
// with their state (active | needs_reauth | revoked), who the linked account is at the IdP (a connection linked from
// the connect-account page need not be a sign-in identity), and a short lease so one instance refreshes at a time.
// Each MCP server says which connections (and upstream scopes) and which other MCP servers it may obtain tokens for.
// Identity assertions (ID-JAG) are single use across every instance: their (issuer, jti) is kept until they expire.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('upstream_tokens', (t) => {
    t.text('status').notNullable().defaultTo('active'); // active | needs_reauth | revoked
    t.text('status_detail');
    t.text('upstream_issuer');
    t.text('upstream_subject');
    t.timestamp('refreshed_at', { useTz: true });
    // Held by the one instance redeeming the refresh token now (single flight); others wait for it to clear.
    t.timestamp('refresh_lease_until', { useTz: true });
  });
  await knex.schema.alterTable('resources', (t) => {
    // { connections: { <connection id>: [upstream scope, …] }, resources: { <MCP server URI>: [scope, …] } }
    t.jsonb('delegation');
  });
  await knex.schema.createTable('assertions_seen', (t) => {
    t.text('issuer').notNullable();
    t.text('jti').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable().index();
    t.primary(['issuer', 'jti']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('assertions_seen');
  await knex.schema.alterTable('resources', (t) => t.dropColumn('delegation'));
  await knex.schema.alterTable('upstream_tokens', (t) => {
    for (const c of ['status', 'status_detail', 'upstream_issuer', 'upstream_subject', 'refreshed_at', 'refresh_lease_until']) t.dropColumn(c);
  });
}
