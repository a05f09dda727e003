// Issue 23: the request an audit row came from (src/request-id.ts), the same id as the request's log line, its
// X-Request-Id header and any error page it showed. Not indexed: every token writes an audit row, and a lookup by
// request id is an operator's occasional search, narrowed by time (docs/ARCHITECTURE.md, "Request ids").
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.text('request_id');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.dropColumn('request_id');
  });
}
