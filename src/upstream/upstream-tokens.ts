// Upstream tokens, kept only for connections that ask for them (storeTokens), for the token-vault work to come:
// sealed with SECRET_KEY, one row per account + connection. Nothing here ever reaches a Gatehouse token, a page or
// an MCP client. An IdP that answers a later login without a refresh token (Google without prompt=consent, for
// one) must not erase the one already kept.
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/connection.js';
import type { UpstreamTokens } from './connector.js';

const purpose = (kind: 'access' | 'refresh', accountId: string, connectionId: string) => `upstream-${kind}-token:${accountId}:${connectionId}`;

export class UpstreamTokenStore {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  async save(accountId: string, connectionId: string, tokens: UpstreamTokens): Promise<void> {
    const row: Record<string, unknown> = {
      account_id: accountId,
      connection_id: connectionId,
      access_token: tokens.accessToken ? this.box.seal(tokens.accessToken, purpose('access', accountId, connectionId)) : null,
      access_token_expires_at: tokens.expiresAt ?? null,
      scope: tokens.scope ?? null,
      updated_at: new Date(),
    };
    if (tokens.refreshToken) row.refresh_token = this.box.seal(tokens.refreshToken, purpose('refresh', accountId, connectionId));
    await this.db('upstream_tokens').insert(row).onConflict(['account_id', 'connection_id']).merge(Object.keys(row).filter((k) => k !== 'account_id' && k !== 'connection_id'));
  }

  /** The decrypted tokens (for the token vault; tests). */
  async find(accountId: string, connectionId: string): Promise<UpstreamTokens | undefined> {
    const row = (await this.db('upstream_tokens').where({ account_id: accountId, connection_id: connectionId }).first()) as
      | { access_token: string | null; refresh_token: string | null; access_token_expires_at: Date | null; scope: string | null }
      | undefined;
    if (!row) return undefined;
    return {
      accessToken: row.access_token ? this.box.open(row.access_token, purpose('access', accountId, connectionId)) : undefined,
      refreshToken: row.refresh_token ? this.box.open(row.refresh_token, purpose('refresh', accountId, connectionId)) : undefined,
      expiresAt: row.access_token_expires_at ? new Date(row.access_token_expires_at) : undefined,
      scope: row.scope ?? undefined,
    };
  }
}
