// Who may log in, and who is an admin: the rules of README's "Configuration" (ALLOWED_*, ADMIN_*) applied to identities from any connection.
import { decideAccess, type AccessRules } from '../../src/upstream/access-policy.js';
import type { Identity } from '../../src/upstream/connector.js';

const none: AccessRules = { allowedEmailDomains: [], allowedGroups: [], adminEmails: [], adminGroups: [] };
const person = (over: Partial<Identity> = {}): Identity => ({
  connector: 'oidc', issuer: 'https://idp.example.com', subject: 's1', email: 'ann@example.com', emailVerified: true, groups: [], ...over,
});

describe('ALLOWED_EMAIL_DOMAINS', () => {
  const rules = { ...none, allowedEmailDomains: ['example.com'] };

  it('admits a verified email in an allowed domain', () => {
    expect(decideAccess(person(), rules)).toEqual({ allowed: true, admin: false });
  });

  it('refuses a verified email in another domain, and says which', () => {
    const d = decideAccess(person({ email: 'eve@evil.test' }), rules);
    expect(d).toMatchObject({ allowed: false, reason: 'email domain evil.test not allowed' });
    expect(!d.allowed && d.message).toMatch(/evil\.test/);
  });

  it('refuses an unverified email even in an allowed domain (anyone can type that address into an IdP profile)', () => {
    expect(decideAccess(person({ emailVerified: false }), rules)).toMatchObject({ allowed: false, reason: 'email not verified by the identity provider' });
  });

  it('refuses an identity without an email', () => {
    expect(decideAccess(person({ email: undefined }), rules)).toMatchObject({ allowed: false });
  });

  it('is not fooled by a subdomain or a look-alike suffix', () => {
    expect(decideAccess(person({ email: 'eve@example.com.evil.test' }), rules).allowed).toBe(false);
    expect(decideAccess(person({ email: 'eve@notexample.com' }), rules).allowed).toBe(false);
  });
});

describe('ALLOWED_GROUPS', () => {
  const rules = { ...none, allowedGroups: ['engineering'] };

  it('admits a member and refuses a non-member', () => {
    expect(decideAccess(person({ groups: ['engineering'] }), rules).allowed).toBe(true);
    expect(decideAccess(person({ groups: ['sales'] }), rules)).toMatchObject({ allowed: false, reason: 'not in an allowed group' });
  });

  it('refuses, with its own reason, when the IdP sent an incomplete group list (Entra overage)', () => {
    expect(decideAccess(person({ groups: [], groupsIncomplete: true }), rules)).toMatchObject({ allowed: false, reason: expect.stringMatching(/incomplete/) });
  });
});

describe('admins', () => {
  it('recognises an admin by verified email, case-insensitively', () => {
    expect(decideAccess(person({ email: 'Ann@Example.com' }), { ...none, adminEmails: ['ann@example.COM'] })).toEqual({ allowed: true, admin: true });
  });

  it('does not make an admin of an unverified email that matches ADMIN_EMAILS', () => {
    expect(decideAccess(person({ emailVerified: false }), { ...none, adminEmails: ['ann@example.com'] })).toEqual({ allowed: true, admin: false });
  });

  it('recognises an admin by group', () => {
    expect(decideAccess(person({ groups: ['gatehouse-admins'] }), { ...none, adminGroups: ['gatehouse-admins'] })).toEqual({ allowed: true, admin: true });
  });

  it('keeps local admins (first-run setup, user add --admin) admins', () => {
    expect(decideAccess(person({ localAdmin: true }), none)).toEqual({ allowed: true, admin: true });
  });
});
