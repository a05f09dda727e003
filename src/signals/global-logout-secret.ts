// The per-connection credential of global token revocation (docs/UNIVERSAL-LOGOUT.md): a random bearer secret an
// administrator makes for one connection and pastes into the IdP. Only its SHA-256 is stored
// (`upstream_connections.global_logout_secret_hash`), so a database row cannot be replayed; the prefix lets the
// endpoint tell a secret from a JWT without trying both, and makes a leaked one recognisable in a scan.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { sha256 } from '../crypto/digest.js';

export const GLOBAL_LOGOUT_SECRET_PREFIX = 'ghgl_';

/** A new credential: shown once, stored as `hash`. */
export function newGlobalLogoutSecret(): { secret: string; hash: string } {
  const secret = `${GLOBAL_LOGOUT_SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { secret, hash: sha256(secret) };
}

export const isGlobalLogoutSecret = (value: string): boolean => value.startsWith(GLOBAL_LOGOUT_SECRET_PREFIX);

/**
 * The connection whose stored digest matches the presented secret. Every digest is compared, each in constant time
 * and none skipped after a match, so the answer's timing says nothing about the stored values or their number.
 */
export function connectionOfSecret(presented: string, stored: ReadonlyArray<{ id: string; hash: string }>): string | undefined {
  const digest = Buffer.from(sha256(presented));
  let found: string | undefined;
  for (const { id, hash } of stored) {
    const candidate = Buffer.from(hash);
    const same = candidate.length === digest.length && timingSafeEqual(candidate, digest);
    if (same && found === undefined) found = id;
  }
  return found;
}
