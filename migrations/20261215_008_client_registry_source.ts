// Issue 16: dynamic clients are capped per source as well as in total (DCR_MAX_CLIENTS_PER_SOURCE,
// oauth/registration.ts). A source is the registering address's IPv4 address or IPv6 /64 (src/net/address-source.ts),
// computed when the client registers and kept beside the full address, so the count is one indexed query.
//
// Rows registered before this migration have no source and count only towards DCR_MAX_CLIENTS: their addresses
// were read from the left-most X-Forwarded-For entry, which the client chose, so no source derived from them would
// be worth counting. They leave with the expiry sweep, which no longer takes a mere request for a use.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('client_registry', (t) => {
    t.text('registered_source');
    t.index(['origin', 'registered_source']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('client_registry', (t) => {
    t.dropIndex(['origin', 'registered_source']);
    t.dropColumn('registered_source');
  });
}
