// The preset upstream identity providers (issue 4): Okta, Microsoft Entra ID, Google and GitHub, each a connection
// kind with its own settings checks and sign-in rules. Each test runs the real connector (openid-client, real HTTP)
// against a stub IdP on 127.0.0.1. For Entra and Google the stub poses as login.microsoftonline.com and
// accounts.google.com through the connector's fetch hook, so issuer, audience, nonce and signature checks run on
// the real-looking https issuers; anything else off this machine is refused.
import { UpstreamError, type RedirectConnector, type UpstreamChecks } from '../../src/upstream/connector.js';
import type { ConnectionKind, ConnectionSpec } from '../../src/upstream/connection.js';
import { entraKind } from '../../src/upstream/entra/index.js';
import { githubKind } from '../../src/upstream/github/index.js';
import { googleKind } from '../../src/upstream/google/index.js';
import { oktaKind } from '../../src/upstream/okta/index.js';
import { StubIdp, type StubAccount } from '../helpers/stub-idp.js';
import { connectionSpec, STUB_REDIRECT, stubConnector } from '../helpers/connection-spec.js';

const REDIRECT = STUB_REDIRECT;
const LOGIN = 'https://login.microsoftonline.com';
const TENANT = '3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b'; // the organisation's tenant
const PARTNER = '7e8d9c0b-1a2b-4c3d-9e4f-5a6b7c8d9e0f'; // a second allowed tenant
const ATTACKER = 'c0ffee00-dead-4bee-8f00-0123456789ab'; // a tenant anyone could create
const OID = '9b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e';

let idp: StubIdp;
beforeEach(async () => {
  idp = await StubIdp.start();
});
afterEach(async () => {
  await idp.close();
});

const spec = connectionSpec;
const connector = (kind: ConnectionKind, s: ConnectionSpec): RedirectConnector => stubConnector(kind, s, idp.fetch);

/** start() → the person signs in at the stub as `account` → finish() with the callback the IdP redirected to. */
async function signIn(c: RedirectConnector, account?: StubAccount) {
  const { url, checks } = await c.start();
  const callback = await idp.login(url, account);
  return { url, checks, ...(await c.finish(callback, checks)) };
}

/** openid-client wraps the precise check that failed (`unexpected JWT "iss" (issuer) claim value`) as the cause. */
const failedCheck = (pattern: RegExp) => expect.objectContaining({ cause: expect.objectContaining({ message: expect.stringMatching(pattern) }) });

const problemFields = (kind: ConnectionKind, s: ConnectionSpec, production = false) => kind.validate(s, production).map(([field]) => field);

// --- Okta ----------------------------------------------------------------------------------------------------

describe('Okta: the issuer is an org authorization server or a custom one, nothing else', () => {
  it.each([
    'https://acme.okta.com',
    'https://acme.okta.com/',
    'https://acme.oktapreview.com/oauth2/default',
    'https://login.acme.com/oauth2/aus1a2b3c4d5E6f7g8h9',
  ])('accepts %s', (issuer) => {
    expect(oktaKind.validate(spec('okta', { issuer }), true)).toEqual([]);
  });

  it.each([
    'https://acme.okta.com/oauth2', // no server id
    'https://acme.okta.com/oauth2/v1', // the org server's API path, pasted as an issuer
    'https://acme.okta.com/oauth2/default/v1/authorize', // an endpoint, not an issuer
    'https://acme.okta.com/app/acme_gatehouse/exk123/sso/saml', // a SAML app URL
    'http://acme.okta.com', // plain http to a real host
  ])('refuses %s', (issuer) => {
    expect(problemFields(oktaKind, spec('okta', { issuer }), true)).toEqual(['issuer']);
  });

  it('requires an issuer and a client id', () => {
    expect(problemFields(oktaKind, spec('okta', { clientId: undefined }))).toEqual(['issuer', 'clientId']);
  });
});

describe('Okta: groups and refresh tokens', () => {
  it('asks the org authorization server for the groups scope and reads the groups claim', async () => {
    const okta = connector(oktaKind, spec('okta', { issuer: idp.origin }));
    const { url, identity } = await signIn(okta, { claims: { sub: '00u1', email: 'ada@acme.com', email_verified: true, name: 'Ada', groups: ['Engineering', 'Everyone'] } });
    expect(url.searchParams.get('scope')).toBe('openid email profile groups');
    expect(identity).toEqual({
      connector: 'okta',
      issuer: idp.origin,
      subject: '00u1',
      email: 'ada@acme.com',
      emailVerified: true,
      name: 'Ada',
      groups: ['Engineering', 'Everyone'],
    });
  });

  it('does not ask a custom authorization server for an undefined groups scope (Okta would fail the login with invalid_scope)', async () => {
    idp.issuer = `${idp.origin}/oauth2/default`;
    idp.publishAt(`${idp.origin}/oauth2/default/v1`);
    const okta = connector(oktaKind, spec('okta', { issuer: `${idp.origin}/oauth2/default/`, groupsClaim: 'okta_groups' }));
    const { url, identity } = await signIn(okta, { claims: { sub: '00u2', email: 'bo@acme.com', email_verified: true, okta_groups: ['mcp-users'] } });
    expect(url.searchParams.get('scope')).toBe('openid email profile');
    expect(identity.issuer).toBe(`${idp.origin}/oauth2/default`);
    expect(identity.groups).toEqual(['mcp-users']);
  });

  it('reads a configured groups claim from UserInfo when the ID token leaves it out', async () => {
    const okta = connector(oktaKind, spec('okta', { issuer: idp.origin, groupsClaim: 'okta_groups' }));
    const { identity } = await signIn(okta, { claims: { sub: '00u3', email: 'cy@acme.com' }, userinfo: { sub: '00u3', okta_groups: ['Ops'] } });
    expect(identity.groups).toEqual(['Ops']);
  });

  it('asks for offline_access only when the connection stores upstream tokens', async () => {
    const plain = await signIn(connector(oktaKind, spec('okta', { issuer: idp.origin })));
    expect(plain.url.searchParams.get('scope')).not.toContain('offline_access');
    // The login's access token is kept for re-validation (docs/IDENTITY-LIFECYCLE.md); no refresh token without offline_access.
    expect(plain.tokens?.accessToken).toEqual(expect.any(String));
    expect(plain.tokens?.refreshToken).toBeUndefined();
    const storing = await signIn(connector(oktaKind, spec('okta', { issuer: idp.origin, storeTokens: true })));
    expect(storing.url.searchParams.get('scope')).toBe('openid email profile groups offline_access');
    expect(storing.tokens?.refreshToken).toEqual(expect.any(String));
  });
});

// --- Microsoft Entra ID ---------------------------------------------------------------------------------------

/** The stub plays login.microsoftonline.com for `tenant` (path segment), publishing `issuer` in discovery. */
function asEntra(tenant: string, issuer: string): void {
  idp.intercept(LOGIN, 'https://graph.microsoft.com');
  idp.issuer = issuer;
  idp.endpoints = {
    authorization_endpoint: `${LOGIN}/${tenant}/oauth2/v2.0/authorize`,
    token_endpoint: `${LOGIN}/${tenant}/oauth2/v2.0/token`,
    jwks_uri: `${LOGIN}/${tenant}/discovery/v2.0/keys`,
    userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
  };
}

const MULTI_ISSUER = `${LOGIN}/{tenantid}/v2.0`;
const entraAccount = (claims: Record<string, unknown> = {}): StubAccount => ({
  claims: { sub: 'pairwise-AbC123', oid: OID, tid: TENANT, name: 'Ada Lovelace', email: 'ada@contoso.com', ...claims },
});
const multiTenant = (over: Partial<ConnectionSpec> = {}) => spec('entra', { tenant: 'organizations', allowedTenants: [TENANT, PARTNER], ...over });

describe('Entra ID: a multi-tenant connection signs in only the allowed tenants', () => {
  beforeEach(() => asEntra('organizations', MULTI_ISSUER));

  it("refuses a validly signed token from a tenant outside allowedTenants (the attacker's own tenant)", async () => {
    const entra = connector(entraKind, multiTenant());
    const refusal = signIn(entra, entraAccount({ tid: ATTACKER }));
    await expect(refusal).rejects.toBeInstanceOf(UpstreamError);
    await expect(refusal).rejects.toMatchObject({ reason: expect.stringContaining(ATTACKER) });
  });

  it('accepts each allowed tenant, with the tenant-specific issuer and the oid as subject', async () => {
    for (const tid of [TENANT, PARTNER.toUpperCase()]) {
      const { identity } = await signIn(connector(entraKind, multiTenant()), entraAccount({ tid: tid.toLowerCase() }));
      expect(identity).toMatchObject({ connector: 'entra', issuer: `${LOGIN}/${tid.toLowerCase()}/v2.0`, subject: OID, name: 'Ada Lovelace' });
    }
  });

  it('refuses a token whose iss names another tenant than its tid (an allowed tid pasted into a foreign token)', async () => {
    const entra = connector(entraKind, multiTenant());
    await expect(signIn(entra, entraAccount({ tid: TENANT, iss: `${LOGIN}/${ATTACKER}/v2.0` }))).rejects.toEqual(failedCheck(/"iss"/));
  });

  it('refuses an ID token not signed by a key Microsoft publishes', async () => {
    idp.signingKey = 'foreign';
    await expect(signIn(connector(entraKind, multiTenant()), entraAccount())).rejects.toEqual(failedCheck(/signature verification failed/));
  });
});

describe('Entra ID: a single tenant is pinned', () => {
  it('by tenant id: a token with another tid is refused even under the right issuer', async () => {
    asEntra(TENANT, `${LOGIN}/${TENANT}/v2.0`);
    const entra = connector(entraKind, spec('entra', { tenant: TENANT }));
    expect((await signIn(entra, entraAccount())).identity.issuer).toBe(`${LOGIN}/${TENANT}/v2.0`);
    await expect(signIn(entra, entraAccount({ tid: ATTACKER }))).rejects.toBeInstanceOf(UpstreamError);
  });

  it("by verified domain: discovery yields the tenant's id issuer, and a token of another tenant is refused", async () => {
    asEntra('contoso.com', `${LOGIN}/${TENANT}/v2.0`);
    const entra = connector(entraKind, spec('entra', { tenant: 'contoso.com' }));
    const { url, identity } = await signIn(entra, entraAccount());
    expect(url.origin + url.pathname).toBe(`${LOGIN}/contoso.com/oauth2/v2.0/authorize`);
    expect(identity.issuer).toBe(`${LOGIN}/${TENANT}/v2.0`);
    await expect(signIn(entra, entraAccount({ tid: ATTACKER, iss: `${LOGIN}/${ATTACKER}/v2.0` }))).rejects.toEqual(failedCheck(/"iss"/));
  });
});

describe('Entra ID: only Gatehouse parameters go upstream, never the MCP ones', () => {
  beforeEach(() => asEntra('organizations', MULTI_ISSUER));

  it('sends no resource parameter and no MCP scope, in the authorization request or the token request', async () => {
    const { url } = await signIn(connector(entraKind, multiTenant()), entraAccount());
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'code_challenge', 'code_challenge_method', 'nonce', 'redirect_uri', 'response_type', 'scope', 'state']);
    expect(url.searchParams.get('scope')).toBe('openid email profile');
    const token = idp.tokenRequests[0]!;
    expect(token.has('resource')).toBe(false);
    expect(token.has('scope')).toBe(false);
  });

  it('adds only offline_access when the connection stores upstream tokens, and returns them', async () => {
    const { url, tokens } = await signIn(connector(entraKind, multiTenant({ storeTokens: true })), entraAccount());
    expect(url.searchParams.get('scope')).toBe('openid email profile offline_access');
    expect(url.searchParams.has('resource')).toBe(false);
    expect(tokens).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
  });

  it('keeps the profile scope, which carries oid, in a custom scope list', async () => {
    const { url } = await signIn(connector(entraKind, multiTenant({ scopes: ['openid', 'email'] })), entraAccount());
    expect(url.searchParams.get('scope')).toBe('openid email profile');
  });
});

describe("Entra ID: the email claim is unverified unless xms_edov says the domain's owner verified it", () => {
  beforeEach(() => asEntra('organizations', MULTI_ISSUER));

  it('treats email without xms_edov as unverified, even next to an email_verified claim (nOAuth)', async () => {
    const { identity } = await signIn(connector(entraKind, multiTenant()), entraAccount({ email: 'CEO@victim.example', email_verified: true }));
    expect(identity.email).toBe('ceo@victim.example');
    expect(identity.emailVerified).toBe(false);
  });

  it('treats email with xms_edov true as verified', async () => {
    const { identity } = await signIn(connector(entraKind, multiTenant()), entraAccount({ xms_edov: true }));
    expect(identity).toMatchObject({ email: 'ada@contoso.com', emailVerified: true });
  });
});

describe('Entra ID: groups, and the overage Gatehouse cannot resolve', () => {
  beforeEach(() => asEntra('organizations', MULTI_ISSUER));
  const GROUP = '5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f';

  it('reads group object ids from the groups claim', async () => {
    const { identity } = await signIn(connector(entraKind, multiTenant()), entraAccount({ groups: [GROUP] }));
    expect(identity.groups).toEqual([GROUP]);
    expect(identity.groupsIncomplete).toBeUndefined();
  });

  it('marks the groups incomplete on overage (_claim_names.groups), so group rules refuse rather than guess', async () => {
    const overage = { _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: `https://graph.microsoft.com/v1.0/users/${OID}/getMemberObjects` } } };
    const { identity } = await signIn(connector(entraKind, multiTenant()), entraAccount(overage));
    expect(identity).toMatchObject({ groups: [], groupsIncomplete: true });
  });

  it('marks the groups incomplete on hasgroups, even if a partial list came along', async () => {
    const { identity } = await signIn(connector(entraKind, multiTenant()), entraAccount({ hasgroups: true, groups: [GROUP] }));
    expect(identity).toMatchObject({ groups: [], groupsIncomplete: true });
  });

  it('reads another claim (app roles) when groupsClaim names it', async () => {
    const { identity } = await signIn(connector(entraKind, multiTenant({ groupsClaim: 'roles' })), entraAccount({ roles: ['Gatehouse.User'] }));
    expect(identity.groups).toEqual(['Gatehouse.User']);
  });
});

describe('Entra ID: settings', () => {
  it.each([
    ['a tenant id', { tenant: TENANT }],
    ['a verified domain', { tenant: 'contoso.onmicrosoft.com' }],
    ['organizations with allowed tenant ids', { tenant: 'organizations', allowedTenants: [TENANT] }],
    ['common with allowed tenant ids', { tenant: 'common', allowedTenants: [TENANT, PARTNER] }],
  ])('accepts %s', (_what, over: Partial<ConnectionSpec>) => {
    expect(entraKind.validate(spec('entra', over), true)).toEqual([]);
  });

  it.each([
    ['no tenant', {}, ['tenant']],
    ['consumers (personal accounts)', { tenant: 'consumers' }, ['tenant']],
    ["the personal accounts' tenant id", { tenant: '9188040d-6c67-4c5b-b112-36a304b66dad' }, ['tenant']],
    ['a tenant that is neither id nor domain', { tenant: 'contoso' }, ['tenant']],
    ['organizations without allowedTenants (any tenant in the world)', { tenant: 'organizations' }, ['allowedTenants']],
    ['common without allowedTenants', { tenant: 'common' }, ['allowedTenants']],
    ['allowed tenants as domains', { tenant: 'organizations', allowedTenants: ['contoso.com'] }, ['allowedTenants']],
    ['allowedTenants with a single tenant', { tenant: TENANT, allowedTenants: [PARTNER] }, ['allowedTenants']],
    ['an issuer (it follows from the tenant)', { tenant: TENANT, issuer: `${LOGIN}/${TENANT}/v2.0` }, ['issuer']],
    ['no client id', { tenant: TENANT, clientId: undefined }, ['clientId']],
  ])('refuses %s', (_what, over: Partial<ConnectionSpec>, fields) => {
    expect(problemFields(entraKind, spec('entra', over))).toEqual(fields);
  });
});

// --- Google ---------------------------------------------------------------------------------------------------

function asGoogle(): void {
  idp.intercept('https://accounts.google.com', 'https://oauth2.googleapis.com', 'https://www.googleapis.com', 'https://openidconnect.googleapis.com');
  idp.issuer = 'https://accounts.google.com';
  idp.endpoints = {
    authorization_endpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
    token_endpoint: 'https://oauth2.googleapis.com/token',
    jwks_uri: 'https://www.googleapis.com/oauth2/v3/certs',
    userinfo_endpoint: 'https://openidconnect.googleapis.com/v1/userinfo',
  };
}

const googleAccount = (claims: Record<string, unknown> = {}): StubAccount => ({
  claims: { sub: '110169484474386276334', email: 'grace@acme.com', email_verified: true, name: 'Grace', hd: 'acme.com', ...claims },
});
const WITHOUT_HD = { hd: undefined };

describe('Google: the hosted domain is checked in the signed ID token, the hd parameter is only a hint', () => {
  beforeEach(asGoogle);

  it('sends no hd without hostedDomains, and signs in any account', async () => {
    const { url, identity } = await signIn(connector(googleKind, spec('google')), googleAccount({ email: 'someone@gmail.com', ...WITHOUT_HD }));
    expect(url.href.startsWith('https://accounts.google.com/o/oauth2/v2/auth?')).toBe(true);
    expect(url.searchParams.has('hd')).toBe(false);
    expect(identity).toMatchObject({ issuer: 'https://accounts.google.com', subject: '110169484474386276334', email: 'someone@gmail.com', emailVerified: true });
  });

  it('sends hd=<domain> for one domain and accepts an ID token with that hd', async () => {
    const { url, identity } = await signIn(connector(googleKind, spec('google', { hostedDomains: ['acme.com'] })), googleAccount());
    expect(url.searchParams.get('hd')).toBe('acme.com');
    expect(identity).toMatchObject({ email: 'grace@acme.com', emailVerified: true });
  });

  it('refuses an ID token without hd (a personal account) even though hd was requested: the person stripped it from the URL', async () => {
    const google = connector(googleKind, spec('google', { hostedDomains: ['acme.com'] }));
    const { url, checks } = await google.start();
    url.searchParams.delete('hd'); // what the attacker does in the address bar
    const callback = await idp.login(url, googleAccount({ email: 'grace.acme.com@gmail.com', ...WITHOUT_HD }));
    const refusal = google.finish(callback, checks);
    await expect(refusal).rejects.toBeInstanceOf(UpstreamError);
    await expect(refusal).rejects.toMatchObject({ userMessage: expect.stringContaining('acme.com') });
  });

  it('refuses an ID token whose hd is another Workspace domain', async () => {
    const google = connector(googleKind, spec('google', { hostedDomains: ['acme.com'] }));
    await expect(signIn(google, googleAccount({ hd: 'evil.example', email: 'x@evil.example' }))).rejects.toMatchObject({ reason: expect.stringContaining('evil.example') });
  });

  it('sends hd=* for several domains and accepts each of them, and only them', async () => {
    const google = connector(googleKind, spec('google', { hostedDomains: ['acme.com', 'Acme.co.uk'] }));
    const { url, identity } = await signIn(google, googleAccount({ hd: 'acme.co.uk', email: 'h@acme.co.uk' }));
    expect(url.searchParams.get('hd')).toBe('*');
    expect(identity.email).toBe('h@acme.co.uk');
    expect((await signIn(google, googleAccount())).identity.email).toBe('grace@acme.com');
    await expect(signIn(google, googleAccount({ hd: 'other.example' }))).rejects.toBeInstanceOf(UpstreamError);
  });
});

describe('Google: refresh tokens come from access_type=offline and prompt=consent, never offline_access', () => {
  beforeEach(asGoogle);

  it('sends neither parameter without storeTokens', async () => {
    const { url, tokens } = await signIn(connector(googleKind, spec('google')), googleAccount());
    expect(url.searchParams.has('access_type')).toBe(false);
    expect(url.searchParams.has('prompt')).toBe(false);
    expect(tokens?.refreshToken).toBeUndefined();
  });

  it('sends both with storeTokens, keeps offline_access out of the scope, and returns the refresh token', async () => {
    const { url, tokens } = await signIn(connector(googleKind, spec('google', { storeTokens: true })), googleAccount());
    expect(url.searchParams.get('access_type')).toBe('offline');
    expect(url.searchParams.get('prompt')).toBe('consent');
    expect(url.searchParams.get('scope')).toBe('openid email profile');
    expect(tokens?.refreshToken).toEqual(expect.any(String));
  });
});

describe('Google: an email is verified only where Google hosts it', () => {
  beforeEach(asGoogle);

  it("does not count email_verified of a personal account registered with a company address (it outlives the person's job)", async () => {
    const { identity } = await signIn(connector(googleKind, spec('google')), googleAccount({ email: 'alice@formerjob.example', ...WITHOUT_HD }));
    expect(identity).toMatchObject({ email: 'alice@formerjob.example', emailVerified: false });
  });

  it('counts it for Workspace (hd) and Gmail addresses', async () => {
    const google = connector(googleKind, spec('google'));
    expect((await signIn(google, googleAccount())).identity.emailVerified).toBe(true);
    expect((await signIn(google, googleAccount({ email: 'ada@gmail.com', ...WITHOUT_HD }))).identity.emailVerified).toBe(true);
    expect((await signIn(google, googleAccount({ email_verified: false }))).identity.emailVerified).toBe(false);
  });
});

describe('Google: settings', () => {
  it('accepts a client with hosted domains', () => {
    expect(googleKind.validate(spec('google', { hostedDomains: ['acme.com', 'acme.co.uk'] }), true)).toEqual([]);
  });

  it.each([
    ['an issuer (it is always accounts.google.com)', { issuer: 'https://accounts.google.com' }, ['issuer']],
    ['no client secret', { clientSecret: undefined }, ['clientSecret']],
    ['a hosted domain that is not a domain', { hostedDomains: ['@acme.com'] }, ['hostedDomains']],
    ['no client id', { clientId: undefined }, ['clientId']],
  ])('refuses %s', (_what, over: Partial<ConnectionSpec>, fields) => {
    expect(problemFields(googleKind, spec('google', over))).toEqual(fields);
  });
});

// --- GitHub ---------------------------------------------------------------------------------------------------

const OCTOCAT = { id: 583231, login: 'octocat', name: 'The Octocat' };

describe('GitHub: OAuth 2 without OIDC, identity from the REST API', () => {
  it('sends PKCE S256 and state but no nonce, with the default scopes, to a GitHub Enterprise Server base', async () => {
    const { url, checks } = await connector(githubKind, spec('github', { issuer: idp.origin })).start();
    expect(url.origin + url.pathname).toBe(`${idp.origin}/login/oauth/authorize`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: 'gatehouse-client',
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'read:user user:email',
      code_challenge: expect.any(String),
      code_challenge_method: 'S256',
      state: checks.state,
    });
    expect(checks.nonce).toBeUndefined();
  });

  it('signs in with the numeric id as subject and the verified primary email', async () => {
    idp.github = {
      user: OCTOCAT,
      emails: [
        { email: 'octo@users.noreply.github.com', primary: false, verified: true },
        { email: 'Octocat@GitHub.example', primary: true, verified: true },
      ],
      memberships: {},
    };
    const { identity, tokens } = await signIn(connector(githubKind, spec('github', { issuer: idp.origin })));
    expect(identity).toEqual({
      connector: 'github',
      issuer: idp.origin,
      subject: '583231',
      email: 'octocat@github.example',
      emailVerified: true,
      name: 'The Octocat',
      groups: [],
    });
    // Kept for re-validation at refresh (docs/IDENTITY-LIFECYCLE.md): GitHub's API is read again with it.
    expect(tokens?.accessToken).toEqual(expect.any(String));
    expect(idp.fetched).toEqual(expect.arrayContaining([`${idp.origin}/api/v3/user`, `${idp.origin}/api/v3/user/emails`]));
  });

  it('gives no verified email when the primary is unverified, and never picks a verified secondary instead', async () => {
    idp.github = {
      user: { id: 42, login: 'mallory', name: null },
      emails: [
        { email: 'mallory@victim.example', primary: true, verified: false },
        { email: 'mallory@elsewhere.example', primary: false, verified: true },
      ],
      memberships: {},
    };
    const { identity } = await signIn(connector(githubKind, spec('github', { issuer: idp.origin })));
    expect(identity).toMatchObject({ subject: '42', email: 'mallory@victim.example', emailVerified: false, name: 'mallory' });
  });

  it('uses github.com and api.github.com by default, and returns the token when storing tokens', async () => {
    idp.intercept('https://github.com', 'https://api.github.com');
    idp.github = { user: OCTOCAT, emails: [{ email: 'octocat@github.example', primary: true, verified: true }], memberships: {} };
    const { url, identity, tokens } = await signIn(connector(githubKind, spec('github', { storeTokens: true })));
    expect(url.origin + url.pathname).toBe('https://github.com/login/oauth/authorize');
    expect(identity).toMatchObject({ issuer: 'https://github.com', subject: '583231' });
    expect(idp.fetched).toEqual(expect.arrayContaining(['https://github.com/login/oauth/access_token', 'https://api.github.com/user', 'https://api.github.com/user/emails']));
    expect(tokens?.accessToken).toEqual(expect.any(String));
  });
});

describe('GitHub: with orgs configured, only active members of those organisations sign in', () => {
  const withOrgs = () => connector(githubKind, spec('github', { issuer: idp.origin, orgs: ['acme', 'acme-labs'] }));
  beforeEach(() => {
    idp.github = { user: OCTOCAT, emails: [{ email: 'octocat@acme.example', primary: true, verified: true }], memberships: {} };
  });

  it('asks for read:org and reports the organisations the person is an active member of as groups', async () => {
    idp.github.memberships = { 'acme-labs': { status: 200, state: 'active' } };
    const { url, identity } = await signIn(withOrgs());
    expect(url.searchParams.get('scope')).toBe('read:user user:email read:org');
    expect(identity.groups).toEqual(['acme-labs']);
  });

  it('refuses a person in none of them (404 for each)', async () => {
    const refusal = signIn(withOrgs());
    await expect(refusal).rejects.toBeInstanceOf(UpstreamError);
    await expect(refusal).rejects.toMatchObject({ userMessage: expect.stringContaining('acme or acme-labs') });
  });

  it('refuses a pending invitation and an organisation that hides its membership from the app (403)', async () => {
    idp.github.memberships = { acme: { status: 200, state: 'pending' }, 'acme-labs': { status: 403 } };
    await expect(signIn(withOrgs())).rejects.toMatchObject({ reason: expect.stringMatching(/acme: pending invitation, acme-labs: 403/) });
  });
});

describe('GitHub: settings', () => {
  it.each([
    ['github.com by default', {}],
    ['a GitHub Enterprise Server base', { issuer: 'https://ghe.example.com' }],
    ['organisations', { orgs: ['acme', 'acme-labs'] }],
  ])('accepts %s', (_what, over: Partial<ConnectionSpec>) => {
    expect(githubKind.validate(spec('github', over), true)).toEqual([]);
  });

  it('accepts a loopback http base outside production only', () => {
    expect(githubKind.validate(spec('github', { issuer: 'http://127.0.0.1:8080' }), false)).toEqual([]);
    expect(problemFields(githubKind, spec('github', { issuer: 'http://127.0.0.1:8080' }), true)).toEqual(['issuer']);
  });

  it.each([
    ['no client secret', { clientSecret: undefined }, ['clientSecret']],
    ['the API host as base', { issuer: 'https://api.github.com' }, ['issuer']],
    ['a base with a path', { issuer: 'https://ghe.example.com/api/v3' }, ['issuer']],
    ['an organisation name with a slash', { orgs: ['acme/team'] }, ['orgs']],
    ['no client id', { clientId: undefined }, ['clientId']],
  ])('refuses %s', (_what, over: Partial<ConnectionSpec>, fields) => {
    expect(problemFields(githubKind, spec('github', over))).toEqual(fields);
  });
});

// --- Every kind -----------------------------------------------------------------------------------------------

describe('every kind: the callback must belong to the sign-in this browser started', () => {
  const kinds: Array<[string, () => RedirectConnector]> = [
    ['okta (OIDC)', () => connector(oktaKind, spec('okta', { issuer: idp.origin }))],
    ['github (OAuth 2)', () => connector(githubKind, spec('github', { issuer: idp.origin }))],
  ];

  it.each(kinds)('%s: refuses a callback whose state is not this browser’s (an injected callback), before redeeming the code', async (_kind, make) => {
    idp.github = { user: OCTOCAT, emails: [], memberships: {} };
    const c = make();
    const victim = await c.start();
    const attacker = await c.start();
    const callback = await idp.login(attacker.url); // the attacker's own code and state
    await expect(c.finish(callback, victim.checks)).rejects.toEqual(failedCheck(/"state"/));
    expect(idp.tokenRequests).toHaveLength(0);
  });

  it.each(kinds)('%s: refuses a code redeemed without its PKCE verifier', async (_kind, make) => {
    idp.github = { user: OCTOCAT, emails: [], memberships: {} };
    const c = make();
    const { url, checks } = await c.start();
    const other: UpstreamChecks = (await c.start()).checks;
    const callback = await idp.login(url);
    await expect(c.finish(callback, { ...checks, codeVerifier: other.codeVerifier })).rejects.toThrow();
    expect(idp.tokenRequests).toHaveLength(1);
  });

  it("okta: refuses an ID token carrying another sign-in's nonce", async () => {
    const okta = connector(oktaKind, spec('okta', { issuer: idp.origin }));
    await expect(signIn(okta, { claims: { sub: '00u1', nonce: 'replayed-from-elsewhere' } })).rejects.toEqual(failedCheck(/"nonce"/));
  });
});
