// Grant administration (docs/ARCHITECTURE.md, "The admin service layer"): a person's or a client's live grants, in
// pages, and revoking one — every artefact issued under it goes, so its refresh tokens stop at once (access tokens
// already issued live until they expire). One `grant.revoked` event, naming the actor and `details.via`.
import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/writer.js';
import type { Db } from '../db/connection.js';
import { grantsOfAccount, grantsOfClient, revokeGrant, type GrantSummary } from '../oauth/adapter.js';
import { auditedBy, type Actor } from './actor.js';
import { AdminError } from './admin-error.js';
import { compareKeys, pageOf, type Page, type PageRequest } from './page.js';

export type { GrantSummary };

export interface GrantAdminDeps {
  db: Db;
  /** The provider of the moment: its Grant model finds a grant by id. */
  provider: () => Provider;
  audit: AuditLog;
}

// Newest first, as the console lists them; the id breaks ties.
const keyOf = (g: GrantSummary) => [-g.grantedAt.getTime(), g.grantId];
// Sorted by that key, as pageOf needs: the rows come by creation time, and grants given in the same second (iat) tie.
const sorted = (grants: GrantSummary[]) => grants.sort((a, b) => compareKeys(keyOf(a), keyOf(b)));

export class GrantAdmin {
  constructor(private readonly deps: GrantAdminDeps) {}

  /** A person's live grants, newest first. */
  async ofPerson(accountId: string, request: PageRequest = {}): Promise<Page<GrantSummary>> {
    return pageOf(sorted(await grantsOfAccount(this.deps.db, accountId)), keyOf, request);
  }

  /** The live grants given to a client, newest first. */
  async ofClient(clientId: string, request: PageRequest = {}): Promise<Page<GrantSummary>> {
    return pageOf(sorted(await grantsOfClient(this.deps.db, clientId)), keyOf, request);
  }

  /** A live grant by id; undefined when unknown or expired. */
  async find(grantId: string): Promise<GrantSummary | undefined> {
    if (!grantId || grantId.length > 200) return undefined;
    const grant = await this.deps.provider().Grant.find(grantId);
    if (!grant?.accountId) return undefined;
    return (await grantsOfAccount(this.deps.db, grant.accountId)).find((g) => g.grantId === grantId);
  }

  /**
   * Revokes a grant with everything issued under it. `accountId` (the console's person page) refuses a grant of
   * someone else as unknown, so a page can never reach beyond its person.
   */
  async revoke(actor: Actor, grantId: string, options: { accountId?: string | undefined } = {}): Promise<GrantSummary> {
    const grant = await this.find(grantId);
    if (!grant || (options.accountId !== undefined && grant.accountId !== options.accountId)) throw new AdminError('not_found', 'There is no such grant.');
    await revokeGrant(this.deps.db, grant.grantId);
    const { via, actorId, ...who } = auditedBy(actor);
    await this.deps.audit.record({ type: 'grant.revoked', outcome: 'success', clientId: grant.clientId, ...who, details: { accountId: grant.accountId, grantId: grant.grantId, via, actorId } });
    return grant;
  }
}
