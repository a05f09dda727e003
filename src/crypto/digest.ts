// Bearer secrets (tokens, codes, session and interaction ids) are stored only as SHA-256 digests (DESIGN.md §7):
// a leaked database row cannot be replayed as a credential.
import { createHash, timingSafeEqual } from 'node:crypto';

export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
