// First run: with no user at all, Gatehouse prints a one-time setup link where the first admin sets a password,
// so nobody edits the database by hand. The link's token is stored only as a digest, is single-use and expires.
import { randomBytes } from 'node:crypto';
import { sha256 } from '../../crypto/digest.js';
import type { Db } from '../../db/connection.js';
import type { LocalAccounts, User } from './accounts.js';

const TTL_MS = 24 * 3600 * 1000;

export async function issueFirstAdminLink(db: Db, accounts: LocalAccounts, issuer: string): Promise<string | undefined> {
  if ((await accounts.count()) > 0) return undefined;
  const token = randomBytes(32).toString('base64url');
  await db('setup_tokens').insert({ token_hash: sha256(token), purpose: 'first-admin', expires_at: new Date(Date.now() + TTL_MS) });
  return `${issuer}/setup/${token}`;
}

export async function setupTokenValid(db: Db, token: string): Promise<boolean> {
  const row = await db('setup_tokens')
    .where({ token_hash: sha256(token), purpose: 'first-admin' })
    .whereNull('used_at')
    .where('expires_at', '>', new Date())
    .first();
  return !!row;
}

/** Uses the token and creates the admin in one transaction: two racing submissions cannot both succeed. */
export async function completeFirstAdmin(
  db: Db,
  accounts: LocalAccounts,
  token: string,
  input: { email: string; password: string },
): Promise<User | undefined> {
  return db.transaction(async (trx) => {
    const used = await trx('setup_tokens')
      .where({ token_hash: sha256(token), purpose: 'first-admin' })
      .whereNull('used_at')
      .where('expires_at', '>', new Date())
      .update({ used_at: new Date() });
    if (used !== 1) return undefined;
    const anyUser = await trx('users').first('id');
    if (anyUser) return undefined;
    return accounts.create({ ...input, isAdmin: true }, trx);
  });
}
