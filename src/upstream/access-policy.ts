// Who may log in at all, and who is an admin (ALLOWED_EMAIL_DOMAINS, ALLOWED_GROUPS, ADMIN_EMAILS,
// ADMIN_GROUPS). Applied to every identity, whatever the connection. Only an email the IdP says it verified counts:
// an unverified address is whatever the person typed into their IdP profile (Entra's mutable `email` is the
// textbook case), so it can neither open the domain gate nor make anyone an admin.
import type { Identity } from './connector.js';

export interface AccessRules {
  allowedEmailDomains: string[];
  allowedGroups: string[];
  adminEmails: string[];
  adminGroups: string[];
}

export type AccessDecision = { allowed: true; admin: boolean } | { allowed: false; reason: string; message: string };

/** The email, lower-cased, only if the IdP verified it: the one form every email rule compares. */
export function verifiedEmail(person: { email?: string | null | undefined; emailVerified?: boolean | undefined }): string | undefined {
  return person.emailVerified === true && person.email ? person.email.trim().toLowerCase() : undefined;
}

/** The domain of the verified email, if any. */
export function verifiedDomain(person: Parameters<typeof verifiedEmail>[0]): string | undefined {
  const email = verifiedEmail(person);
  return email?.slice(email.lastIndexOf('@') + 1);
}

/** Decided on what an IdP says at login, and on the stored account at refresh and silent authorization (oauth/policies/hooks/current-access.ts). */
export function decideAccess(identity: Partial<Identity> & Pick<Identity, 'groups'>, rules: AccessRules): AccessDecision {
  const email = verifiedEmail(identity);
  if (rules.allowedEmailDomains.length) {
    if (!email) {
      return {
        allowed: false,
        reason: identity.email ? 'email not verified by the identity provider' : 'no email from the identity provider',
        message: 'This service only admits people with a verified email address from an approved domain, and your identity provider did not confirm one for you.',
      };
    }
    const domain = verifiedDomain(identity)!;
    if (!rules.allowedEmailDomains.includes(domain)) {
      return { allowed: false, reason: `email domain ${domain} not allowed`, message: `Email addresses at ${domain} are not allowed to use this service.` };
    }
  }
  if (rules.allowedGroups.length && !identity.groups.some((g) => rules.allowedGroups.includes(g))) {
    return identity.groupsIncomplete
      ? {
          allowed: false,
          reason: 'group membership incomplete (too many groups for the identity provider to list)',
          message: 'Your identity provider did not send your full list of groups, so your access could not be checked. Ask your administrator to assign groups to the application.',
        }
      : { allowed: false, reason: 'not in an allowed group', message: 'You are not a member of a group that may use this service.' };
  }
  const adminEmails = rules.adminEmails.map((e) => e.toLowerCase());
  const admin =
    identity.localAdmin === true ||
    (!!email && adminEmails.includes(email)) ||
    identity.groups.some((g) => rules.adminGroups.includes(g));
  return { allowed: true, admin };
}
