// Who is an administrator, decided now (issue 16; docs/SECURITY.md "Issue 16: console administration"). Admin
// rights follow the rule in force on every console request, never a flag stored at sign-in: taking someone out of
// ADMIN_EMAILS or ADMIN_GROUPS (and restarting) ends their console access at their next request, live sessions
// included. The decision is login's own (decideAccess), on the account as stored:
//
// - ADMIN_EMAILS against the account's email only if its IdP verified it; ADMIN_GROUPS against the groups the IdP
//   sent at the last sign-in (a change at the IdP counts from the next sign-in, as for ALLOWED_GROUPS);
// - the local admin mark of a password account (`users.is_admin`, set by `gatehouse user add --admin` or the
//   first-admin setup link) is the rule for that account, read from `users` here; it grants nothing once that user
//   is disabled;
// - someone the sign-in policy in force (ALLOWED_EMAIL_DOMAINS, ALLOWED_GROUPS) no longer admits is no
//   administrator either.
//
// ADMIN_EMAILS and ADMIN_GROUPS come from the environment only, never from the console's policy overrides.
//
// It lives in the admin service layer (docs/ARCHITECTURE.md, "The admin service layer"), which refuses taking away
// the last administrator by this same rule; the console's guard asks it on every request (console/admins.ts).
import type { Config } from '../config.js';
import type { PolicyReader } from '../policy/settings.js';
import { decideAccess } from '../upstream/access-policy.js';
import { accountActive, type Account, type Accounts } from '../upstream/accounts.js';
import type { LocalAccounts } from '../upstream/local/accounts.js';

export interface AdministratorsDeps {
  config: Pick<Config, 'ADMIN_EMAILS' | 'ADMIN_GROUPS'>;
  policy: PolicyReader;
  accounts: Pick<Accounts, 'localUsersOf'>;
  users: Pick<LocalAccounts, 'adminMarks'>;
}

export class Administrators {
  constructor(private readonly deps: AdministratorsDeps) {}

  /** Whether this account may use the console now. A disabled or deprovisioned account never may. */
  async isAdmin(account: Account): Promise<boolean> {
    return (await this.among([account])).has(account.id);
  }

  /** The ids of those of these accounts that are administrators now (one query per table, for a page of people). */
  async among(accounts: Account[]): Promise<Set<string>> {
    // A person their IdP said is gone is no administrator until they sign in through it again.
    const live = accounts.filter(accountActive);
    if (!live.length) return new Set();
    const policy = await this.deps.policy.effective();
    const rules = {
      allowedEmailDomains: policy.ALLOWED_EMAIL_DOMAINS,
      allowedGroups: policy.ALLOWED_GROUPS,
      adminEmails: this.deps.config.ADMIN_EMAILS,
      adminGroups: this.deps.config.ADMIN_GROUPS,
    };
    const localUsers = await this.deps.accounts.localUsersOf(live.map((a) => a.id));
    const marked = await this.deps.users.adminMarks([...localUsers.values()].flat());
    const admins = new Set<string>();
    for (const a of live) {
      const localAdmin = (localUsers.get(a.id) ?? []).some((u) => marked.has(u));
      const decision = decideAccess({ email: a.email ?? undefined, emailVerified: a.emailVerified, groups: a.groups, localAdmin }, rules);
      if (decision.allowed && decision.admin) admins.add(a.id);
    }
    return admins;
  }
}
