// Narrowing a policy ends access (issue 15, finding 7; docs/SECURITY.md, threat 7 and Protocol: "Narrowing a
// policy ends access"). Who may sign in (ALLOWED_EMAIL_DOMAINS, ALLOWED_GROUPS: the console's value, else the
// environment's) and who may use an MCP server or scope (its access rule) were checked at login and at consent only,
// so a person a tightened policy now excludes kept their 14-day session and 30-day refresh tokens. They are checked
// again, against the account as stored (email, email_verified, groups) and the policy in force, wherever old
// approval is reused:
//
// - at every refresh, and when a code is redeemed (a code issued a moment before the narrowing must not become a
//   token after it): oidc-provider's refresh_token and authorization_code grants call findAccount(ctx, sub, token)
//   before they spend or rotate anything; a refusal revokes the whole grant (every token and the remembered
//   consent), is audited as `token.refused`, and findAccount answers undefined, which oidc-provider turns into
//   `invalid_grant`;
// - whenever a remembered session skips the login page: /authorize calls findAccount for the session's account
//   (oidc-provider's loadAccount) before any prompt is decided. A refusal ends the session's login (a fresh session
//   id, no account, no per-client grants), revokes the grant remembered for this client, is audited as
//   `authorization.refused`, and findAccount answers undefined: the login prompt runs, and signing in again meets
//   the same policy in login-result.ts (the refusal page). Hooking findAccount, not a middleware, catches every way
//   into the pipeline (GET and POST /authorize) at the one point where the session's account is turned into a person;
// - the resource's rule on a remembered grant: remembered-consent.ts reuses a grant only while the rules admit the
//   request, and revokes it here when the rules no longer admit what the grant itself holds.
//
// The decisions are the ones login and consent make (decideAccess, refusedAccess), never a copy. Cheap on a
// refresh: the account came with the token (read-ahead.ts), the policy and the resources are cached per instance;
// only a refusal writes.
import type { KoaContextWithOIDC } from 'oidc-provider';
import { requestOrigin, type AuditLog } from '../../../audit/writer.js';
import type { Db } from '../../../db/connection.js';
import type { PolicyReader } from '../../../policy/settings.js';
import { decideAccess } from '../../../upstream/access-policy.js';
import type { Account } from '../../../upstream/accounts.js';
import { revokeGrant } from '../../adapter.js';
import type { ResourceRegistry } from '../../resources.js';
import { refusedAccess } from './resource-access.js';

export interface CurrentAccessDeps {
  db: Db;
  policy: PolicyReader;
  resources: ResourceRegistry;
  audit: AuditLog;
}

/** What a grant or token holds: scopes per resource (OIDC scopes with no resource are not governed by rules). */
export type Holdings = Array<{ resource: string; scopes: string[] }>;

/** Why the person may no longer have what they hold, if they may not: the sign-in policy first, then each resource's rules. */
export async function currentAccessRefusal(deps: Pick<CurrentAccessDeps, 'policy' | 'resources'>, account: Account, holdings: Holdings = []): Promise<string | undefined> {
  const policy = await deps.policy.effective();
  const person = { email: account.email ?? undefined, emailVerified: account.emailVerified, groups: account.groups };
  // The admin lists only decide the admin mark, which is not in question here.
  const decision = decideAccess(person, { allowedEmailDomains: policy.ALLOWED_EMAIL_DOMAINS, allowedGroups: policy.ALLOWED_GROUPS, adminEmails: [], adminGroups: [] });
  if (!decision.allowed) return `the sign-in policy no longer admits this person: ${decision.reason}`;
  for (const held of holdings) {
    const resource = await deps.resources.find(held.resource);
    const refusal = resource && refusedAccess(resource, held.scopes, account);
    if (refusal) return `the access rule no longer admits this person: ${refusal.reason}`;
  }
  return undefined;
}

/** A grant's holdings, as oidc-provider stores them (resource → space-separated scopes). */
export function grantHoldings(grant: { resources?: Record<string, string> | undefined }): Holdings {
  return Object.entries(grant.resources ?? {}).map(([resource, scope]) => ({ resource, scopes: scope.split(' ').filter(Boolean) }));
}

interface PresentedToken {
  grantId?: string | undefined;
  resource?: string | string[] | undefined;
  scope?: string | undefined;
}

/**
 * findAccount's check. True when the request may go on with this account; false when it must not, after the grant
 * is revoked, the session's login ended (at /authorize) and the refusal audited.
 */
export async function admitsCurrentAccess(ctx: KoaContextWithOIDC, deps: CurrentAccessDeps, account: Account, token?: PresentedToken): Promise<boolean> {
  const route = ctx.oidc?.route;
  const grantType = ctx.oidc.params?.grant_type;
  if (route === 'token' && (grantType === 'refresh_token' || grantType === 'authorization_code') && token?.grantId) {
    return atTokenGrant(ctx, deps, account, { ...token, grantId: token.grantId }, String(grantType));
  }
  if (route === 'authorization' && ctx.oidc.session?.accountId === account.id) return atSilentAuthorization(ctx, deps, account);
  return true;
}

async function atTokenGrant(ctx: KoaContextWithOIDC, deps: CurrentAccessDeps, account: Account, token: PresentedToken & { grantId: string }, grantType: string): Promise<boolean> {
  const resource = [token.resource].flat().find((r): r is string => typeof r === 'string');
  const holdings = resource ? [{ resource, scopes: String(token.scope ?? '').split(' ').filter(Boolean) }] : [];
  const reason = await currentAccessRefusal(deps, account, holdings);
  if (!reason) return true;
  await revokeGrant(deps.db, token.grantId);
  await deps.audit.record({
    type: 'token.refused',
    outcome: 'failure',
    reason: `${reason}; grant revoked`,
    actor: account.email ?? account.id,
    clientId: ctx.oidc.client?.clientId,
    resource,
    details: { grant_type: grantType, accountId: account.id, grantId: token.grantId },
    ...requestOrigin(ctx),
  });
  return false;
}

async function atSilentAuthorization(ctx: KoaContextWithOIDC, deps: CurrentAccessDeps, account: Account): Promise<boolean> {
  // Only the sign-in policy here: the request's resource and scopes are the consent prompt's to judge
  // (resource-access.ts), and the grant remembered for them is checked by remembered-consent.ts.
  const reason = await currentAccessRefusal(deps, account);
  if (!reason) return true;
  const clientId = ctx.oidc.client?.clientId;
  const grantIds = clientId ? await rememberedGrantIds(ctx, deps.db, account.id, clientId) : [];
  for (const grantId of grantIds) await revokeGrant(deps.db, grantId);
  endSessionLogin(ctx);
  await deps.audit.record({
    type: 'authorization.refused',
    outcome: 'failure',
    reason: `${reason}; session ended${grantIds.length ? ', grant revoked' : ''}`,
    actor: account.email ?? account.id,
    clientId,
    details: { accountId: account.id, grantIds },
    ...requestOrigin(ctx),
  });
  return false;
}

/** The grant this person's consent memory and this browser's session hold for the client. */
async function rememberedGrantIds(ctx: KoaContextWithOIDC, db: Db, accountId: string, clientId: string): Promise<string[]> {
  const row = (await db('consents').where({ account_id: accountId, client_id: clientId }).first('grant_id')) as { grant_id: string } | undefined;
  const ids = [row?.grant_id, ctx.oidc.session?.grantIdFor(clientId)].filter((id): id is string => !!id);
  return [...new Set(ids)];
}

/**
 * Ends the browser's session as a login: oidc-provider saves the session at the end of the request, under a new id
 * (the old row is deleted, the cookie replaced) and without the account, its login time or its per-client grants.
 * With no account in the session the login prompt is the first to run, so nothing after this trusts the old login.
 * (oidc-provider's session proxy refuses to *set* an empty accountId; deleting the property is how it is unset.)
 */
function endSessionLogin(ctx: KoaContextWithOIDC): void {
  const session = ctx.oidc.session as unknown as Record<string, unknown> & { resetIdentifier(): void };
  for (const key of ['accountId', 'loginTs', 'amr', 'acr', 'transient', 'authorizations']) Reflect.deleteProperty(session, key);
  session.resetIdentifier();
}

/**
 * remembered-consent.ts's check on a grant it is about to reuse: false (and the grant revoked, audited) when the
 * rules no longer admit what the grant holds. A request that merely asks for more than the person may have is not
 * this: the consent page refuses it and the grant stays.
 */
export async function rememberedGrantStillAdmitted(ctx: KoaContextWithOIDC, deps: CurrentAccessDeps, account: Account, grant: { jti: string; resources?: Record<string, string> | undefined }): Promise<boolean> {
  const reason = await currentAccessRefusal(deps, account, grantHoldings(grant));
  if (!reason) return true;
  await revokeGrant(deps.db, grant.jti);
  await deps.audit.record({
    type: 'authorization.refused',
    outcome: 'failure',
    reason: `${reason}; remembered grant revoked`,
    actor: account.email ?? account.id,
    clientId: ctx.oidc.client?.clientId,
    details: { accountId: account.id, grantIds: [grant.jti] },
    ...requestOrigin(ctx),
  });
  return false;
}
