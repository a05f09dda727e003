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

export interface ConnectTransactionRequest {
  /** Upstream scopes asked for beyond the connection's. */
  scopes: string[];
  /** The client_id the page was opened for: only ever a name to show on the done page. */
  clientId?: string | undefined;
}

export interface ConnectTransaction {
  connectionId: string;
  checks: UpstreamChecks;
  request: ConnectTransactionRequest;
}

const connectKey = (accountId: string, key: string) => `connect:${accountId}:${key}`;

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

  /**
   * The connect-account page's upstream leg (docs/CONNECT-ACCOUNT.md): the same row, state digest and single take,
   * keyed `connect:<account id>:<random key>` — the key lives in the browser's own connect cookie, the account in
   * its account session — so it never meets an interaction id (which has no colon) and only that browser, signed in
   * as that person, can finish it. What the page asked for (scopes, the client to name) is sealed with the checks.
   */
  async beginConnect(accountId: string, key: string, connectionId: string, checks: UpstreamChecks, request: ConnectTransactionRequest): Promise<void> {
    const id = connectKey(accountId, key);
    await this.db('upstream_transactions')
      .insert({
        interaction_id: id,
        connection_id: connectionId,
        checks: this.box.seal(JSON.stringify({ ...checks, connect: request }), `${PURPOSE}:${id}`),
        state_digest: sha256(checks.state),
        expires_at: new Date(Date.now() + TRANSACTION_TTL_MS),
      })
      .onConflict('interaction_id')
      .merge();
  }

  /** Removes and returns the connect transaction if `state` is its state (one statement, as `take`). */
  async takeConnect(accountId: string, key: string, state: string): Promise<ConnectTransaction | undefined> {
    const tx = await this.take(connectKey(accountId, key), state);
    if (!tx) return undefined;
    const { connect, ...checks } = tx.checks as UpstreamChecks & { connect?: ConnectTransactionRequest };
    return { connectionId: tx.connectionId, checks, request: { scopes: connect?.scopes ?? [], clientId: connect?.clientId } };
  }

  /** Whether this browser's connect transaction is still live (a wrong state from a spent or expired one). */
  pendingConnect(accountId: string, key: string): Promise<boolean> {
    return this.pending(connectKey(accountId, key));
  }

  async deleteExpired(): Promise<number> {
    return this.db('upstream_transactions').where('expires_at', '<=', new Date()).delete();
  }
}
