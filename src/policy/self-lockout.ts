// The console's guard against an admin locking themselves out: ALLOWED_EMAIL_DOMAINS and ALLOWED_GROUPS apply to
// every login, the console's own included (the console signs admins in through /authorize), so a new value that
// the admin saving it would fail is refused. Decided with the same rule as every login (upstream/access-policy.ts),
// against the admin's email and groups as of their last login. ADMIN_EMAILS and ADMIN_GROUPS are not editable
// at all, for the same reason.
import type { PolicySettingName } from '../config.js';
import type { Account } from '../upstream/accounts.js';
import { decideAccess } from '../upstream/access-policy.js';
import type { EffectivePolicy } from './settings.js';

/** Why saving `name = value` would refuse the admin's own next sign-in, or undefined when it would not. */
export function selfLockout(admin: Account, policy: EffectivePolicy, name: PolicySettingName, value: unknown): string | undefined {
  if (name !== 'ALLOWED_EMAIL_DOMAINS' && name !== 'ALLOWED_GROUPS') return undefined;
  const next = { ...policy, [name]: value } as EffectivePolicy;
  const decision = decideAccess(
    { connector: '', issuer: '', subject: admin.id, email: admin.email ?? undefined, emailVerified: admin.emailVerified, groups: admin.groups },
    { allowedEmailDomains: next.ALLOWED_EMAIL_DOMAINS, allowedGroups: next.ALLOWED_GROUPS, adminEmails: [], adminGroups: [] },
  );
  if (decision.allowed) return undefined;
  return `${name}: this would stop you (${admin.email ?? admin.id}) from signing in (${decision.reason}); include your own ${name === 'ALLOWED_GROUPS' ? 'group' : 'email domain'}`;
}
