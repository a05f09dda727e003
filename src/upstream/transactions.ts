// The server-side half of an upstream handshake (docs/ARCHITECTURE.md, "The upstream leg"). When the browser leaves for the
// IdP, its state, nonce and PKCE verifier are stored here under the interaction id from the browser's own
// interaction cookie, sealed, for at most ten minutes, with the state's digest beside them. The callback takes them
// back exactly once, and only with the matching state (issue 15, finding 6): `take` compares and deletes in one
// statement, so a replayed or raced callback finds nothing, and an unsolicited one (another state, say a cross-site
// link opened in the victim's browser) leaves the victim's sign-in intact instead of ending it.
import { sha256 } from '../crypto/digest.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/connection.js';
import type { UpstreamChecks } from './connector.js';

export const TRANSACTION_TTL_MS = 10 * 60_000;
const PURPOSE = 'upstream-transaction';

export interface UpstreamTransaction {
  interactionId: string;
  connectionId: string;
  checks: UpstreamChecks;
}

export class UpstreamTransactions {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  /** Starts (or restarts: the previous state stops being valid) the upstream leg of one interaction. */
  async begin(interactionId: string, connectionId: string, checks: UpstreamChecks, expiresAt: Date): Promise<void> {
    const cap = new Date(Date.now() + TRANSACTION_TTL_MS);
    const row = {
      interaction_id: interactionId,
      connection_id: connectionId,
      checks: this.box.seal(JSON.stringify(checks), `${PURPOSE}:${interactionId}`),
      state_digest: sha256(checks.state),
      expires_at: expiresAt < cap ? expiresAt : cap,
    };
    await this.db('upstream_transactions').insert(row).onConflict('interaction_id').merge();
  }

  /**
   * Removes and returns the interaction's transaction if `state` is its state and it has not expired. One
   * statement: a callback with another state deletes nothing. (A row without a digest, from before the
   * state_digest migration, never matches; it expires within ten minutes.)
   */
  async take(interactionId: string, state: string): Promise<UpstreamTransaction | undefined> {
    const rows = (await this.db('upstream_transactions')
      .where({ interaction_id: interactionId, state_digest: sha256(state) })
      .delete(['connection_id', 'checks', 'expires_at'])) as Array<{
      connection_id: string;
      checks: string;
      expires_at: Date | string;
    }>;
    const row = rows[0];
    if (!row || new Date(row.expires_at).getTime() <= Date.now()) return undefined;
    const checks = JSON.parse(this.box.open(row.checks, `${PURPOSE}:${interactionId}`)) as UpstreamChecks;
    return { interactionId, connectionId: row.connection_id, checks };
  }

  /** Whether the interaction still has a live transaction: after a refused `take`, tells a wrong state from none. */
  async pending(interactionId: string): Promise<boolean> {
    return !!(await this.db('upstream_transactions').where({ interaction_id: interactionId }).where('expires_at', '>', new Date()).first('interaction_id'));
  }

  async deleteExpired(): Promise<number> {
    return this.db('upstream_transactions').where('expires_at', '<=', new Date()).delete();
  }
}
