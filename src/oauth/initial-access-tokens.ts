// Initial access tokens for dynamic registration (REGISTRATION=closed; policies/request/registration-closed.ts) as
// administration sees them: oidc-provider's InitialAccessToken rows, which the adapter stores under the token's
// SHA-256 digest only (adapter.ts). A token is named by a prefix of that digest: enough to tell tokens apart and to
// revoke one, and worthless as a credential, since the adapter digests whatever a client presents.
import type { Db } from '../db/connection.js';

const MODEL = 'InitialAccessToken';
export const TOKEN_ID_LENGTH = 16;

export interface InitialAccessTokenInfo {
  /** The first characters of the token's digest (base64url): not the token, and not enough to recreate it. */
  id: string;
  createdAt: Date;
  expiresAt: Date | null;
}

const live = (db: Db) => db('oidc_payloads').where({ model: MODEL }).where((q) => q.whereNull('expires_at').orWhere('expires_at', '>', new Date()));

/** The live tokens, oldest first. */
export async function listInitialAccessTokens(db: Db): Promise<InitialAccessTokenInfo[]> {
  const rows = (await live(db).select('id', 'created_at', 'expires_at').orderBy('created_at').orderBy('id')) as Array<{ id: string; created_at: Date | string; expires_at: Date | string | null }>;
  return rows.map((r) => ({ id: r.id.slice(0, TOKEN_ID_LENGTH), createdAt: new Date(r.created_at), expiresAt: r.expires_at ? new Date(r.expires_at) : null }));
}

/** The live token a digest prefix names, or undefined. */
export async function findInitialAccessToken(db: Db, id: string): Promise<InitialAccessTokenInfo | undefined> {
  return id.length === TOKEN_ID_LENGTH ? (await listInitialAccessTokens(db)).find((t) => t.id === id) : undefined;
}

/** Deletes the token a digest prefix names (expired ones too); false when there is none. */
export async function deleteInitialAccessToken(db: Db, id: string): Promise<boolean> {
  if (id.length !== TOKEN_ID_LENGTH) return false;
  const keys = ((await db('oidc_payloads').where({ model: MODEL }).pluck('id')) as string[]).filter((key) => key.startsWith(id));
  if (!keys.length) return false;
  await db('oidc_payloads').where({ model: MODEL }).whereIn('id', keys).delete();
  return true;
}
