// Clients that use a Client ID Metadata Document (issue #3). Their metadata is fetched from the client_id URL and
// never stored; this table only remembers that the client was used (so administrators can list them) and whether
// an administrator blocked it. Owned by src/oauth/cimd/cimd-clients.ts.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('cimd_clients', (t) => {
    t.text('client_id').primary(); // the https URL, exactly as the client sends it
    t.text('host').notNullable(); // host[:port] of the URL, the name the consent page shows
    t.text('client_name'); // from the document when last seen
    t.timestamp('first_seen_at', { useTz: true }); // null for a URL blocked before it was ever used
    t.timestamp('last_seen_at', { useTz: true }); // written at most every few minutes per instance
    t.timestamp('blocked_at', { useTz: true });
    t.text('blocked_by');
    t.index(['host']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('cimd_clients');
}
