// Re-validation at refresh (docs/IDENTITY-LIFECYCLE.md): before a refresh token is spent, the person is asked about
// again at their identity provider (upstream/revalidation.ts decides when and how). Hooked into findAccount, which
// oidc-provider's refresh_token grant calls before it rotates anything, so a refusal spends nothing:
// - the IdP says the person is gone → findAccount answers undefined (invalid_grant); everything the person held
//   was ended once, where it was learnt (the revalidator's onGone);
// - the IdP's answer cannot be told apart from a token lost in an outage → invalid_grant until the person signs in
//   again through the IdP, nothing revoked;
// - the IdP cannot be asked and the outage rule refuses → 503 temporarily_unavailable with Retry-After; the
//   grant and the refresh token stay, so the client tries again.
import type { KoaContextWithOIDC } from 'oidc-provider';
import { requestOrigin, type AuditLog } from '../../../audit/writer.js';
import type { Account } from '../../../upstream/accounts.js';
import type { IdentityRow, Revalidator } from '../../../upstream/revalidation.js';
import { identitiesKey, takeAhead } from '../../read-ahead.js';

import { TemporarilyUnavailable } from '../../temporarily-unavailable.js';

/** The account a refresh goes on with (re-validated), or undefined when it must be refused. */
export async function revalidatedAtRefresh(ctx: KoaContextWithOIDC, deps: { revalidator?: Revalidator | undefined; audit: AuditLog }, account: Account): Promise<Account | undefined> {
  if (!deps.revalidator || ctx.oidc?.route !== 'token' || ctx.oidc.params?.grant_type !== 'refresh_token') return account;
  const verdict = await deps.revalidator.atRefresh(account, takeAhead<IdentityRow[]>(identitiesKey(account.id)) ?? undefined);
  if (verdict.kind === 'continue') return verdict.account;
  const refused = {
    type: 'token.refused',
    outcome: 'failure' as const,
    actor: account.email ?? account.id,
    clientId: ctx.oidc.client?.clientId,
    ...requestOrigin(ctx),
  };
  if (verdict.kind === 'login_required') {
    await deps.audit.record({ ...refused, reason: `the person must sign in again: ${verdict.reason}`, details: { grant_type: 'refresh_token', accountId: account.id, connector: verdict.connectionId } });
    return undefined;
  }
  if (verdict.kind === 'gone') {
    await deps.audit.record({ ...refused, reason: `the identity provider says this person is gone (${verdict.reason})`, details: { grant_type: 'refresh_token', accountId: account.id, connector: verdict.connectionId } });
    return undefined;
  }
  await deps.audit.record({ ...refused, reason: `re-validation impossible: ${verdict.reason}`, details: { grant_type: 'refresh_token', accountId: account.id } });
  ctx.set('Retry-After', String(verdict.retryAfterSeconds));
  throw new TemporarilyUnavailable('The identity provider could not confirm this person just now; the refresh token is still valid. Try again later.');
}
