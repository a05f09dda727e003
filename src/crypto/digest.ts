// Bearer secrets (tokens, codes, session and interaction ids) are stored only as SHA-256 digests:
// a leaked database row cannot be replayed as a credential.
import { createHash } from 'node:crypto';

export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

