// The server-side half of an upstream handshake (DESIGN.md §1, §10.9; seed 000). When the browser leaves for the
// IdP, its state, nonce and PKCE verifier are stored here under the interaction id from the browser's own
// interaction cookie, sealed, for at most ten minutes. The callback takes them back exactly once: `take` deletes
// the row in the same statement that reads it, so a replayed or raced callback finds nothing, and a callback that
// fails its checks has still used the transaction up.
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
      expires_at: expiresAt < cap ? expiresAt : cap,
    };
    await this.db('upstream_transactions').insert(row).onConflict('interaction_id').merge();
  }

  /** Removes and returns the interaction's transaction, if it has not expired. */
  async take(interactionId: string): Promise<UpstreamTransaction | undefined> {
    const rows = (await this.db('upstream_transactions').where({ interaction_id: interactionId }).delete(['connection_id', 'checks', 'expires_at'])) as Array<{
      connection_id: string;
      checks: string;
      expires_at: Date | string;
    }>;
    const row = rows[0];
    if (!row || new Date(row.expires_at).getTime() <= Date.now()) return undefined;
    const checks = JSON.parse(this.box.open(row.checks, `${PURPOSE}:${interactionId}`)) as UpstreamChecks;
    return { interactionId, connectionId: row.connection_id, checks };
  }

  async deleteExpired(): Promise<number> {
    return this.db('upstream_transactions').where('expires_at', '<=', new Date()).delete();
  }
}
