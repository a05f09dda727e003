// The end of every login, whichever connection vouched for the person: the access policy, identity linking, the
// upstream tokens the connection keeps, the audit event, and handing the account to oidc-provider. What comes next
// (Gatehouse's consent page for this client) is decided by the grant, never by what the IdP asked or skipped.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import type { PolicyReader } from '../policy/settings.js';
import type { Accounts } from '../upstream/accounts.js';
import { decideAccess } from '../upstream/access-policy.js';
import type { Identity, UpstreamTokens } from '../upstream/connector.js';
import { LOCAL_ISSUER } from '../upstream/local/accounts.js';
import type { TokenVaultApi } from '../upstream/token-vault.js';
import { finishInteraction } from './interaction-result.js';
import { freshLoginAcr, type FirstPartyClients } from '../oauth/first-party-clients.js';
import type { Details, Pages } from './pages.js';

export interface LoginDeps {
  config: Config;
  provider: () => Provider;
  accounts: Accounts;
  /** The token vault: a login's upstream tokens are linked there with the identity (docs/CONNECT-ACCOUNT.md). */
  vault: TokenVaultApi;
  audit: AuditLog;
  pages: Pages;
  /** Who may log in (ALLOWED_EMAIL_DOMAINS, ALLOWED_GROUPS) is the policy in force, read at each login. */
  policy: PolicyReader;
  /** Gatehouse's own clients: a login inside one of their requests carries freshLoginAcr (first-party-clients.ts). */
  firstParty?: FirstPartyClients | undefined;
}

export async function completeLogin(deps: LoginDeps, ctx: Context, d: Details, identity: Identity, tokens?: UpstreamTokens): Promise<void> {
  const c = deps.config;
  const policy = await deps.policy.effective();
  const meta = { actor: identity.email ?? identity.subject, clientId: String(d.params.client_id), ...requestOrigin(ctx) };
  const details = { connector: identity.connector, issuer: identity.issuer };
  const decision = decideAccess(identity, {
    allowedEmailDomains: policy.ALLOWED_EMAIL_DOMAINS,
    allowedGroups: policy.ALLOWED_GROUPS,
    // Environment only: an admin must not be able to take console access away from everyone from the console.
    adminEmails: c.ADMIN_EMAILS,
    adminGroups: c.ADMIN_GROUPS,
  });
  if (!decision.allowed) {
    await deps.audit.record({ type: 'login', outcome: 'failure', reason: decision.reason, details, ...meta });
    return deps.pages.refuse(ctx, 403, 'Access not allowed', decision.message);
  }
  const account = await deps.accounts.link(identity, decision.admin);
  if (account.disabled) {
    await deps.audit.record({ type: 'login', outcome: 'failure', reason: 'account disabled', details: { ...details, accountId: account.id }, ...meta });
    return deps.pages.refuse(ctx, 403, 'Access not allowed', 'Your account has been disabled by an administrator.');
  }
  if (tokens) await deps.vault.link(account.id, identity.connector, { issuer: identity.issuer, subject: identity.subject }, tokens);
  await deps.audit.record({ type: 'login', outcome: 'success', details: { ...details, accountId: account.id, admin: decision.admin }, ...meta });
  const clientId = String(d.params.client_id);
  const acr = deps.firstParty?.has(clientId) && typeof d.params.state === 'string' ? { acr: freshLoginAcr(d.params.state) } : {};
  const redirectTo = await finishInteraction(d, { login: { accountId: account.id, amr: [identity.issuer === LOCAL_ISSUER ? 'pwd' : 'fed'], ...acr } }, { mergeWithLastSubmission: false });
  ctx.redirect(redirectTo);
}
