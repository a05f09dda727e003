// Ending everything a person holds at once (docs/IDENTITY-LIFECYCLE.md): every grant with each token and code issued
// under it (the adapter's revokeGrantsOfAccount), every oidc-provider browser session of the account (so no silent
// authorization rides an old login), and Gatehouse's own console and account-page sessions (their owner,
// console/sessions.ts, sits above this layer: it is handed in from the top as `endAppSessions`). Used when the IdP
// says the person is gone at a refresh, by global token revocation and Shared Signals, and by administrators.
import type { Db } from '../db/connection.js';
import { deleteSessionsOfAccount, revokeGrantsOfAccount } from './adapter.js';

export type EndAppSessions = (accountId: string) => Promise<void>;

export interface PersonRevoked {
  grantIds: string[];
  /** oidc-provider sessions (browser logins at /authorize) ended. */
  sessionsEnded: number;
}

export class PersonRevocation {
  constructor(
    private readonly db: Db,
    private readonly endAppSessions: EndAppSessions = async () => undefined,
  ) {}

  async revokeAll(accountId: string): Promise<PersonRevoked> {
    const grantIds = await revokeGrantsOfAccount(this.db, accountId);
    const sessionsEnded = await deleteSessionsOfAccount(this.db, accountId);
    await this.endAppSessions(accountId);
    return { grantIds, sessionsEnded };
  }
}
