// Refresh tokens for MCP clients: issued on the authorization code grant whenever the client
// may use the refresh_token grant, without requiring `offline_access` (MCP clients rarely ask for it), bound to
// the granted scope and resource, and rotated on every use (rotateRefreshToken: refresh-lifetime.ts, which also
// bounds the chain's life). Reuse of a rotated token is detected by
// oidc-provider, which then revokes the whole grant (OAuth 2.1 §4.3.1, RFC 9700 §2.2.2).
import type { Client, KoaContextWithOIDC } from 'oidc-provider';

export async function issueRefreshToken(_ctx: KoaContextWithOIDC, client: Client): Promise<boolean> {
  return client.grantTypeAllowed('refresh_token');
}
