// The person an identity assertion names (docs/ENTERPRISE-MANAGED-AUTHORIZATION.md, "Who the token is for"): the
// assertion's (connection, iss, sub) is linked exactly as a login through that connection links its ID token
// (upstream/accounts.ts: by that triple, never by email), under the same sign-in policy (upstream/access-policy.ts)
// and the same resource rules (policies/hooks/current-access.ts). Two differences, both because an assertion carries
// less than an ID token: a person already linked keeps the profile their last login stored (an assertion has no
// groups, so refreshing from it would erase them), and a deprovisioned account stays refused until the person signs
// in through the IdP again (a login, not a token request, is what lifts it).
import type { Config } from '../../config.js';
import type { PolicyReader } from '../../policy/settings.js';
import { decideAccess } from '../../upstream/access-policy.js';
import type { Account, Accounts } from '../../upstream/accounts.js';
import type { Identity } from '../../upstream/connector.js';
import type { StoredConnection } from '../../upstream/connections.js';
import { currentAccessRefusal } from '../policies/hooks/current-access.js';
import type { ResourceRegistry } from '../resources.js';
import { AssertionRefusal, type VerifiedAssertion } from './id-jag-assertion.js';

export interface PersonDeps {
  config: Pick<Config, 'ADMIN_EMAILS' | 'ADMIN_GROUPS'>;
  accounts: Accounts;
  policy: PolicyReader;
  resources: ResourceRegistry;
}

/** The identity a login through `connection` would have produced for this subject. */
function identityOf(connection: StoredConnection, p: VerifiedAssertion['payload']): Identity {
  const email = typeof p.email === 'string' && p.email.length <= 320 ? p.email : undefined;
  return {
    connector: connection.id,
    issuer: p.iss,
    subject: p.sub,
    email,
    // Only an email the IdP says it verified can satisfy ALLOWED_EMAIL_DOMAINS, as at login.
    emailVerified: !!email && p.email_verified === true,
    name: typeof p.name === 'string' ? p.name.slice(0, 200) : undefined,
    groups: [],
  };
}

/**
 * The account the token is for, once the sign-in policy and the resource's rules admit it to `scopes` on `resource`;
 * an AssertionRefusal (invalid_grant) naming why otherwise.
 */
export async function personOf(deps: PersonDeps, a: VerifiedAssertion, resource: string, scopes: string[]): Promise<Account> {
  const { connection, payload } = a;
  const identity = identityOf(connection, payload);
  const linked = await deps.accounts.findByIdentity(connection.id, identity.issuer, identity.subject);
  let account: Account | undefined;
  if (linked) {
    account = await deps.accounts.findById(linked);
  } else {
    // A first appearance: the login's decision, then the login's linking.
    const policy = await deps.policy.effective();
    const decision = decideAccess(identity, {
      allowedEmailDomains: policy.ALLOWED_EMAIL_DOMAINS,
      allowedGroups: policy.ALLOWED_GROUPS,
      adminEmails: deps.config.ADMIN_EMAILS,
      adminGroups: deps.config.ADMIN_GROUPS,
    });
    if (!decision.allowed) throw new AssertionRefusal('invalid_grant', `the sign-in policy does not admit this person: ${decision.reason}`, { connection: connection.id });
    account = await deps.accounts.link(identity, decision.admin);
  }
  if (!account) throw new AssertionRefusal('invalid_grant', 'the linked account no longer exists', { connection: connection.id });
  const details = { connection: connection.id, accountId: account.id };
  if (account.disabled) throw new AssertionRefusal('invalid_grant', 'the account is disabled', details);
  if (account.deprovisionedAt) throw new AssertionRefusal('invalid_grant', `the account is deprovisioned: the person must sign in through ${connection.name} again`, details);
  const refusal = await currentAccessRefusal(deps, account, [{ resource, scopes }]);
  if (refusal) throw new AssertionRefusal('invalid_grant', refusal, details);
  return account;
}
