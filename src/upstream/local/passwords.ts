// argon2id for local passwords. Tests use cheaper costs; production uses the library defaults
// (about 190 ms per hash on the reference machine).
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import { HashingSlots } from './hashing-slots.js';

const cheap = process.env.NODE_ENV === 'test';
const options = cheap
  ? { type: argon2.argon2id, memoryCost: 4096, timeCost: 2, parallelism: 1 }
  : { type: argon2.argon2id };

export const MIN_PASSWORD_LENGTH = 12;

/** One hash at a time per core (hashing-slots.ts): a login storm queues instead of holding 64 MiB per attempt. */
export const hashingSlots = new HashingSlots(Math.max(1, availableParallelism()));

export function hashPassword(password: string): Promise<string> {
  return hashingSlots.run(() => argon2.hash(password, options));
}

const verify = (hash: string, password: string) => hashingSlots.run(() => argon2.verify(hash, password)).catch(() => false);

let dummy: Promise<string> | undefined;

/** Verifies, spending the same time whether or not an account exists, so login timing reveals nothing. */
export async function verifyPassword(hash: string | null | undefined, password: string): Promise<boolean> {
  if (!hash) {
    dummy ??= hashPassword('gatehouse-timing-equaliser');
    await verify(await dummy, password);
    return false;
  }
  return verify(hash, password);
}
