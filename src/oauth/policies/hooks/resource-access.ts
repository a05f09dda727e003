// Who may get tokens for an MCP server, and for each of its scopes (issue #5's access rules). A rule admits a person
// whose verified email is in one of its domains or who is in one of its groups; a resource or scope without a rule
// admits everyone who may sign in. Checked when a person is about to consent and before a remembered grant is reused,
// so a step-up to a restricted scope, or a rule tightened since the last consent, ends in a clear denial rather than
// a token.
import { accountActive } from '../../../upstream/accounts.js';
import { verifiedDomain } from '../../../upstream/access-policy.js';
import type { AccessRule, Resource, ResourceRegistry } from '../../resources.js';

export interface Person {
  email: string | null;
  emailVerified: boolean;
  groups: string[];
  /** An administrator disabled the account, or its IdP said the person is gone: nothing is granted any more. */
  disabled?: boolean;
  deprovisionedAt?: Date | null;
}

export function ruleAdmits(rule: AccessRule | undefined, person: Person): boolean {
  if (!rule) return true;
  const domain = verifiedDomain(person);
  return (!!domain && rule.emailDomains.includes(domain)) || person.groups.some((g) => rule.groups.includes(g));
}

export type AccessRefusal = { scope?: string; reason: string; accountDisabled?: true };

/** The first rule the request breaks, if any: the resource's own, then each requested scope's. */
export function refusedAccess(resource: Resource, requestedScopes: readonly string[], person: Person): AccessRefusal | undefined {
  if (!ruleAdmits(resource.access, person)) return { reason: `not allowed to use ${resource.name}` };
  for (const scope of requestedScopes) {
    const entry = resource.catalogue[scope];
    if (entry && !ruleAdmits(entry.access, person)) return { scope, reason: `not allowed the scope ${scope} on ${resource.name}` };
  }
  return undefined;
}

/** Where the rules look people and servers up. */
export interface AccessLookup {
  resources: ResourceRegistry;
  accounts: { findById(id: string): Promise<Person | undefined> };
}

/**
 * The refusal for one authorization request (its `resource` and `scope` parameters) by one account, if any. Used by
 * the consent page, the Allow handler and the remembered-grant check, so all three decide alike.
 */
export async function requestRefusal(lookup: AccessLookup, accountId: string | undefined, params: { resource?: unknown; scope?: unknown }): Promise<AccessRefusal | undefined> {
  if (!accountId) return undefined;
  const indicators = [params.resource].flat().filter((v): v is string => typeof v === 'string');
  const resource = await lookup.resources.resolve(indicators);
  const account = await lookup.accounts.findById(accountId);
  // Disabled while signing in (outside attack, issue 22): a consent given now would create a grant after
  // disabling revoked the others.
  if (account && !accountActive(account)) return { reason: 'the account is disabled', accountDisabled: true };
  if (!resource || !account) return undefined;
  return refusedAccess(resource, String(params.scope ?? '').split(' ').filter(Boolean), account);
}
