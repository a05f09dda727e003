// What a verified access token says about the caller, in the two shapes handlers need: the kit's own `Identity`,
// and the MCP SDK's `AuthInfo` (set as `req.auth`, which the SDK's transports pass to tool handlers as
// `extra.authInfo`). The AuthInfo type is restated structurally so the kit does not depend on the SDK.
import type { JWTPayload } from 'jose';

export interface Identity {
  /** The raw access token (forward it nowhere: it is audience-bound to this server). */
  token: string;
  /** The person's stable id at Gatehouse (for client_credentials, the client id). */
  sub: string;
  /** The OAuth client (the MCP client) the token was issued to. */
  clientId: string;
  /** Granted scopes, from the space-separated `scope` claim. */
  scopes: string[];
  /** Present only if the token carries an `email` claim. */
  email?: string;
  /** `exp`, seconds since the epoch. */
  expiresAt?: number;
  /** This server's canonical resource URI, which the token's `aud` names. */
  resource: string;
  /** Every claim of the verified token. */
  claims: JWTPayload;
}

/** The MCP SDK's AuthInfo (@modelcontextprotocol/sdk/server/auth/types.js). */
export interface AuthInfo {
  token: string;
  clientId: string;
  scopes: string[];
  expiresAt?: number;
  resource?: URL;
  extra?: Record<string, unknown>;
}

export function toAuthInfo(identity: Identity): AuthInfo {
  return {
    token: identity.token,
    clientId: identity.clientId,
    scopes: identity.scopes,
    ...(identity.expiresAt !== undefined ? { expiresAt: identity.expiresAt } : {}),
    resource: new URL(identity.resource),
    extra: { sub: identity.sub, ...(identity.email !== undefined ? { email: identity.email } : {}) },
  };
}
