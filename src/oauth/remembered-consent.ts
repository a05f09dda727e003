// Consent is remembered per person and client: the grant a person approved is found again on their
// next authorization, from any browser, and reused while it covers the requested resource and scopes; anything
// new asks again (the consent prompt's checks compare the request with this grant).
import type { Grant, KoaContextWithOIDC } from 'oidc-provider';
import type { Db } from '../db/connection.js';
import type { Accounts } from '../upstream/accounts.js';
import { rememberedGrantStillAdmitted, type CurrentAccessDeps } from './policies/hooks/current-access.js';
import { requestRefusal } from './policies/hooks/resource-access.js';
import type { ResourceRegistry } from './resources.js';

export interface RememberedGrantDeps extends CurrentAccessDeps {
  db: Db;
  resources: ResourceRegistry;
  accounts: Accounts;
}

/**
 * The grant to reuse, unless the access rules no longer admit the person to it or to what is asked. A grant whose
 * own holdings the rules (or the sign-in policy) no longer admit is revoked (policies/hooks/current-access.ts); a request
 * beyond what the person may have only skips the grant. Either way the consent prompt runs, and the consent page
 * refuses with the reason (a rule tightened since the last consent takes effect at the next authorization).
 */
export async function loadRememberedGrant(ctx: KoaContextWithOIDC, deps: RememberedGrantDeps): Promise<Grant | undefined> {
  const grant = await rememberedGrant(ctx, deps.db);
  const accountId = ctx.oidc.session?.accountId;
  if (!grant || !accountId) return grant;
  const account = await deps.accounts.findById(accountId);
  if (!account) return grant;
  if (!(await rememberedGrantStillAdmitted(ctx, deps, account, grant))) return undefined;
  const lookup = { resources: deps.resources, accounts: { findById: async () => account } };
  return (await requestRefusal(lookup, accountId, ctx.oidc.params ?? {})) ? undefined : grant;
}

async function rememberedGrant(ctx: KoaContextWithOIDC, db: Db): Promise<Grant | undefined> {
  const { oidc } = ctx;
  const clientId = oidc.client!.clientId;
  const accountId = oidc.session?.accountId;
  let grantId: string | undefined = oidc.result?.consent?.grantId;
  if (!grantId && accountId) {
    const row = (await db('consents').where({ account_id: accountId, client_id: clientId }).first('grant_id')) as { grant_id: string } | undefined;
    grantId = row?.grant_id;
  }
  grantId ??= oidc.session?.grantIdFor(clientId);
  if (!grantId) return undefined;
  const grant = await oidc.provider.Grant.find(grantId);
  // A grant belongs to one person and one client: never reuse it across either.
  if (!grant || grant.clientId !== clientId || (accountId && grant.accountId !== accountId)) return undefined;
  return grant;
}

export async function rememberConsent(db: Db, accountId: string, clientId: string, grantId: string): Promise<void> {
  await db('consents')
    .insert({ account_id: accountId, client_id: clientId, grant_id: grantId, updated_at: new Date() })
    .onConflict(['account_id', 'client_id'])
    .merge(['grant_id', 'updated_at']);
}
