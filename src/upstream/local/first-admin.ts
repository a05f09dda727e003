// First run: with no administrator at all, Gatehouse prints a setup link where the first admin sets a password, so
// nobody edits the database by hand. The link's token is stored only as a digest, is single-use and expires
// (docs/SECURITY.md, "Issue 16: first-admin setup and token lifetimes"):
//   - one live link: issuing one deletes every earlier one, so a link copied from an old log line is dead;
//   - only while no administrator exists, of any kind (`administratorExists`): an admin who signed in through an
//     IdP ends the link, and no new one is issued;
//   - creation is serialised by one advisory lock, taken by issuing and by using a link, so two links (or two
//     posts of one) racing on separate connections cannot both create an admin.
// An unattended install names the first admin in its environment instead (bootstrap-admin.ts): created under the same
// lock, so two instances starting at once, or every restart, create it once; once it exists no link is issued.
import { randomBytes } from 'node:crypto';
import { sha256 } from '../../crypto/digest.js';
import type { Db } from '../../db/connection.js';
import { AccountError, type LocalAccounts, type User } from './accounts.js';
import type { BootstrapAdmin } from './bootstrap-admin.js';

const TTL_MS = 24 * 3600 * 1000;
const PURPOSE = 'first-admin';
/** pg_advisory_xact_lock key for first-admin setup ("gh" "fa"; keys.ts and migrations.ts use their own). */
const FIRST_ADMIN_LOCK = 0x6768_6661;

/**
 * Whether an administrator account exists: a local user created as admin, or an account that signed in with the
 * admin mark (ADMIN_EMAILS / ADMIN_GROUPS at its last sign-in). The one place this question is answered, so a
 * change in how admin status is computed changes it here only.
 */
export async function administratorExists(db: Db): Promise<boolean> {
  const local = await db('users').where({ is_admin: true }).first('id');
  if (local) return true;
  return !!(await db('accounts').where({ is_admin: true }).first('id'));
}

const lock = (trx: Db) => trx.raw('select pg_advisory_xact_lock(?)', [FIRST_ADMIN_LOCK]);

/** A new setup link, replacing every earlier one; undefined (and no link left at all) once an administrator exists. */
export async function issueFirstAdminLink(db: Db, _accounts: LocalAccounts, issuer: string): Promise<string | undefined> {
  return db.transaction(async (trx) => {
    await lock(trx);
    await trx('setup_tokens').where({ purpose: PURPOSE }).delete();
    if (await administratorExists(trx)) return undefined;
    const token = randomBytes(32).toString('base64url');
    await trx('setup_tokens').insert({ token_hash: sha256(token), purpose: PURPOSE, expires_at: new Date(Date.now() + TTL_MS) });
    return `${issuer}/setup/${token}`;
  });
}

export async function setupTokenValid(db: Db, token: string): Promise<boolean> {
  const row = await db('setup_tokens')
    .where({ token_hash: sha256(token), purpose: PURPOSE })
    .whereNull('used_at')
    .where('expires_at', '>', new Date())
    .first();
  return !!row && !(await administratorExists(db));
}

/** Uses the token and creates the admin in one transaction, under the lock: at most one first admin, ever. */
export async function completeFirstAdmin(
  db: Db,
  accounts: LocalAccounts,
  token: string,
  input: { email: string; password: string },
): Promise<User | undefined> {
  return db.transaction(async (trx) => {
    await lock(trx);
    const used = await trx('setup_tokens')
      .where({ token_hash: sha256(token), purpose: PURPOSE })
      .whereNull('used_at')
      .where('expires_at', '>', new Date())
      .update({ used_at: new Date() });
    if (used !== 1) return undefined;
    if (await administratorExists(trx)) return undefined;
    return accounts.create({ ...input, isAdmin: true }, trx);
  });
}

/**
 * Creates the BOOTSTRAP_ADMIN_EMAIL administrator if no administrator of any kind exists, under the lock, and ends any
 * setup link; undefined when one exists already (a restart, or another instance that got there first). Refuses,
 * rather than take over, a local account of that email that is not an administrator.
 */
export async function createBootstrapAdmin(db: Db, accounts: LocalAccounts, admin: BootstrapAdmin): Promise<User | undefined> {
  return db.transaction(async (trx) => {
    await lock(trx);
    if (await administratorExists(trx)) return undefined;
    if (await trx('users').where({ email: admin.email }).first('id')) {
      throw new AccountError(`BOOTSTRAP_ADMIN_EMAIL: ${admin.email} has a local account already, not an administrator; make it one with npx gatehouse user make-admin ${admin.email}, or name another email`);
    }
    await trx('setup_tokens').where({ purpose: PURPOSE }).delete();
    return accounts.create({ email: admin.email, password: admin.password, isAdmin: true }, trx);
  });
}
