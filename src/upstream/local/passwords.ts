// argon2id for local passwords (DESIGN.md §7). Tests use cheaper costs; production uses the library defaults
// (about 190 ms per hash on the reference machine).
import argon2 from 'argon2';

const cheap = process.env.NODE_ENV === 'test';
const options = cheap
  ? { type: argon2.argon2id, memoryCost: 4096, timeCost: 2, parallelism: 1 }
  : { type: argon2.argon2id };

export const MIN_PASSWORD_LENGTH = 12;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, options);
}

let dummy: Promise<string> | undefined;

/** Verifies, spending the same time whether or not an account exists, so login timing reveals nothing. */
export async function verifyPassword(hash: string | null | undefined, password: string): Promise<boolean> {
  if (!hash) {
    dummy ??= hashPassword('gatehouse-timing-equaliser');
    await argon2.verify(await dummy, password).catch(() => false);
    return false;
  }
  return argon2.verify(hash, password).catch(() => false);
}
