// What an identity provider's logout ends (docs/UNIVERSAL-LOGOUT.md, "What is revoked"): for each account the subject
// named, every grant with its refresh tokens and codes, every Gatehouse sign-in session and the console and account
// sessions (oauth/person-revocation.ts). Asked twice, the second call finds nothing left and ends nothing: the
// answer is the same, the counts are zero.
import type { PersonRevocation } from '../oauth/person-revocation.js';

export interface LoggedOut {
  accounts: string[];
  grants: number;
  sessions: number;
}

export async function logOut(revocation: PersonRevocation, accountIds: string[]): Promise<LoggedOut> {
  let grants = 0;
  let sessions = 0;
  for (const accountId of accountIds) {
    const ended = await revocation.revokeAll(accountId);
    grants += ended.grantIds.length;
    sessions += ended.sessionsEnded;
  }
  return { accounts: accountIds, grants, sessions };
}
