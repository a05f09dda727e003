// A Gatehouse access token an MCP server hands back: with an approval request (docs/TOOL-APPROVALS.md) or as the
// subject token of a token exchange (docs/DELEGATION.md). Gatehouse checks it itself — its own published keys, iss,
// typ at+jwt, exp, aud = the presenting server's resource — and takes the binding from it, so an MCP server acts
// only on behalf of someone who called it with a live token minted for it.
import { createLocalJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { KeySet } from './keys.js';

export interface TokenBinding {
  accountId: string;
  clientId: string;
  grantId: string;
  scopes: string[];
  /** Seconds since the epoch. */
  expiresAt: number;
  /** The `act` claim of a token obtained by token exchange (docs/DELEGATION.md). */
  actor?: unknown;
}

export class AccessTokenChecker {
  #from: KeySet | undefined;
  #jwks: JWTVerifyGetKey | undefined;

  constructor(
    private readonly issuer: string,
    private readonly keys: () => KeySet,
  ) {}

  /** The binding, or throws an Error whose message says what is wrong with the token. */
  async check(token: string, resource: string): Promise<TokenBinding> {
    const keys = this.keys();
    if (keys !== this.#from || !this.#jwks) {
      this.#jwks = createLocalJWKSet(keys.publicJwks() as Parameters<typeof createLocalJWKSet>[0]);
      this.#from = keys;
    }
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.#jwks, { issuer: this.issuer, audience: resource, typ: 'at+jwt', algorithms: ['ES256', 'RS256'] }));
    } catch (err) {
      throw new Error(`access_token is not a valid access token for this MCP server (${(err as Error).message})`);
    }
    const { sub, client_id: clientId, grant_id: grantId } = payload;
    if (typeof sub !== 'string' || typeof clientId !== 'string') throw new Error('access_token names no subject or client (a client-credentials token has no person to ask)');
    if (typeof grantId !== 'string') throw new Error('access_token carries no grant: sign in again for a new token');
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    return { accountId: sub, clientId, grantId, scopes, expiresAt: Number(payload.exp), ...(payload.act !== undefined ? { actor: payload.act } : {}) };
  }
}
