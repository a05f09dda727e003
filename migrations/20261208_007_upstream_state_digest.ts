// Issue 15, finding 6: an upstream transaction is taken only when the callback's state matches it. The state is
// inside the sealed `checks`, which SQL cannot read, so its SHA-256 digest sits beside it and the callback deletes
// `WHERE interaction_id = ? AND state_digest = ?`: compare, then delete, in one statement. A callback with any
// other state (an unsolicited link opened in the victim's browser) leaves the transaction where it was.
//
// Forward only. Rows written before this migration (and, during a rolling upgrade, by instances still on the old
// code) have no digest; the state cannot be recovered to compute one here (it is sealed with SECRET_KEY), and no
// default would be right. The column stays nullable and such a row never matches (`NULL = x` is not true): those
// sign-ins, at most ten minutes old, are refused and the person starts again; the expiry sweep removes the rows.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('upstream_transactions', (t) => {
    t.text('state_digest'); // base64url SHA-256 of the upstream state (crypto/digest.ts)
  });
}

// knex requires a down function; this migration has none to offer: without the digest, `take` would match nothing.
export async function down(): Promise<void> {
  throw new Error('20261208_007_upstream_state_digest is forward-only');
}
