// Each connection kind's re-validation (docs/IDENTITY-LIFECYCLE.md), run on the real connector (openid-client, real
// HTTP) against the stub IdP of test/helpers/stub-idp.ts posing as Okta, Entra, Google and GitHub's REST API: what
// the IdP says today becomes the person's identity, a refusal means the person is gone, an outage is thrown (the
// caller's outage rule), and no stored token means the kind cannot tell.
import type { Identity, RedirectConnector, UpstreamTokens } from '../../src/upstream/connector.js';
import type { ConnectionKind, ConnectionSpec } from '../../src/upstream/connection.js';
import { entraKind } from '../../src/upstream/entra/index.js';
import { githubKind } from '../../src/upstream/github/index.js';
import { googleKind } from '../../src/upstream/google/index.js';
import { oktaKind } from '../../src/upstream/okta/index.js';
import { StubIdp, type StubAccount } from '../helpers/stub-idp.js';
import { connectionSpec, stubConnector } from '../helpers/connection-spec.js';

const LOGIN = 'https://login.microsoftonline.com';
const TENANT = '3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b';
const OTHER_TENANT = 'c0ffee00-dead-4bee-8f00-0123456789ab';
const OID = '9b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e';

let idp: StubIdp;
beforeEach(async () => {
  idp = await StubIdp.start();
});
afterEach(async () => {
  await idp.close();
});

const spec = (kind: ConnectionSpec['kind'], over: Partial<ConnectionSpec> = {}) => connectionSpec(kind, { storeTokens: true, ...over });
const connector = (kind: ConnectionKind, s: ConnectionSpec): RedirectConnector => stubConnector(kind, s, idp.fetch);

async function signIn(c: RedirectConnector, account?: StubAccount) {
  const { url, checks } = await c.start();
  return c.finish(await idp.login(url, account), checks);
}

describe('OpenID Connect kinds (Okta here): refresh, then the new ID token', () => {
  const okta = () => connector(oktaKind, spec('okta', { issuer: idp.origin }));
  const ada = (claims: Record<string, unknown> = {}): StubAccount => ({ claims: { sub: '00u1ada', email: 'ada@acme.com', email_verified: true, name: 'Ada', groups: ['engineering'], ...claims } });

  it('gives the identity as the IdP says it is today, and the rotated upstream tokens', async () => {
    const c = okta();
    const { identity, tokens } = await signIn(c, ada());
    idp.account = ada({ groups: ['sales'], email: 'ada.l@acme.com' });
    const answer = await c.revalidate(identity, tokens);
    expect(answer).toMatchObject({ outcome: 'current', identity: { subject: '00u1ada', email: 'ada.l@acme.com', groups: ['sales'] } });
    const next = answer.outcome === 'current' ? answer.tokens : undefined;
    expect(next?.refreshToken).toEqual(expect.any(String));
    expect(next?.refreshToken).not.toBe(tokens?.refreshToken);
    expect(idp.tokenRequests.at(-1)?.get('grant_type')).toBe('refresh_token');
  });

  it('a refused refresh token means the person is gone', async () => {
    const c = okta();
    const { identity, tokens } = await signIn(c, ada());
    idp.refreshRefusal = 'invalid_grant';
    expect(await c.revalidate(identity, tokens)).toEqual({ outcome: 'gone', reason: expect.stringMatching(/invalid_grant/), refreshTokenRefused: true });
  });

  it.each([
    ['invalid_client (an expired client secret at the IdP)', 'invalid_client', 401],
    ['unauthorized_client', 'unauthorized_client', 400],
    ['temporarily_unavailable as a 400', 'temporarily_unavailable', 400],
    ['slow_down (a rate limit)', 'slow_down', 429],
  ])('any refusal but invalid_grant says nothing about the person: %s is thrown, never "gone"', async (_what, error, status) => {
    const c = okta();
    const { identity, tokens } = await signIn(c, ada());
    idp.refreshRefusal = error;
    idp.refreshRefusalStatus = status;
    await expect(c.revalidate(identity, tokens)).rejects.toThrow();
  });

  it('an IdP answering 503 is an outage, thrown, never "gone"', async () => {
    const c = okta();
    const { identity, tokens } = await signIn(c, ada());
    idp.down = true;
    await expect(c.revalidate(identity, tokens)).rejects.toThrow();
  });

  it('an answer about another subject never updates this person', async () => {
    const c = okta();
    const { identity, tokens } = await signIn(c, ada());
    idp.account = ada({ sub: '00u9mallory' });
    await expect(c.revalidate(identity, tokens)).rejects.toThrow(/another subject/);
  });

  it('without a refresh token: UserInfo with the login access token while it lives; 401 there means gone; afterwards it cannot tell', async () => {
    const c = connector(oktaKind, spec('okta', { issuer: idp.origin, storeTokens: false }));
    const { identity, tokens } = await signIn(c, { ...ada(), userinfo: { sub: '00u1ada', email: 'ada@acme.com', email_verified: true, groups: ['ops'] } });
    expect(tokens?.refreshToken).toBeUndefined();
    expect(await c.revalidate(identity, tokens)).toMatchObject({ outcome: 'current', identity: { groups: ['ops'] } });
    idp.revokeAccessTokens();
    expect(await c.revalidate(identity, tokens)).toEqual({ outcome: 'gone', reason: expect.stringMatching(/401/) });
    expect(await c.revalidate(identity, { ...tokens, expiresAt: new Date(Date.now() - 1000) })).toEqual({ outcome: 'cannot', reason: expect.any(String) });
    expect(await c.revalidate(identity, undefined)).toEqual({ outcome: 'cannot', reason: expect.any(String) });
  });
});

describe("Entra and Google: the kind's own rules hold at refresh too", () => {
  it('Entra: a refreshed ID token from another tenant means gone', async () => {
    idp.intercept(LOGIN, 'https://graph.microsoft.com');
    idp.issuer = `${LOGIN}/{tenantid}/v2.0`;
    idp.endpoints = {
      authorization_endpoint: `${LOGIN}/organizations/oauth2/v2.0/authorize`,
      token_endpoint: `${LOGIN}/organizations/oauth2/v2.0/token`,
      jwks_uri: `${LOGIN}/organizations/discovery/v2.0/keys`,
      userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
    };
    const c = connector(entraKind, spec('entra', { tenant: 'organizations', allowedTenants: [TENANT] }));
    const account = (tid: string): StubAccount => ({ claims: { sub: 'pairwise-1', oid: OID, tid, name: 'Ada', email: 'ada@contoso.com' } });
    const { identity, tokens } = await signIn(c, account(TENANT));
    expect(identity.subject).toBe(OID);
    expect(await c.revalidate(identity, tokens)).toMatchObject({ outcome: 'current', identity: { subject: OID } });
    // The same person under another tenant's issuer and tid (moved out of the allowed organisation).
    idp.account = account(OTHER_TENANT);
    expect(await c.revalidate(identity, tokens)).toMatchObject({ outcome: 'gone' });
  });

  it('Google: a hosted domain that is no longer allowed means gone', async () => {
    idp.intercept('https://accounts.google.com', 'https://oauth2.googleapis.com', 'https://www.googleapis.com', 'https://openidconnect.googleapis.com');
    idp.issuer = 'https://accounts.google.com';
    idp.endpoints = {
      authorization_endpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
      token_endpoint: 'https://oauth2.googleapis.com/token',
      jwks_uri: 'https://www.googleapis.com/oauth2/v3/certs',
      userinfo_endpoint: 'https://openidconnect.googleapis.com/v1/userinfo',
    };
    const c = connector(googleKind, spec('google', { hostedDomains: ['acme.com'] }));
    const grace = (hd: string | undefined): StubAccount => ({ claims: { sub: '1101694', email: 'grace@acme.com', email_verified: true, name: 'Grace', hd } });
    const { identity, tokens } = await signIn(c, grace('acme.com'));
    expect(tokens?.refreshToken).toEqual(expect.any(String));
    idp.account = grace(undefined);
    expect(await c.revalidate(identity, tokens)).toEqual({ outcome: 'gone', reason: expect.stringMatching(/hosted domain/) });
  });
});

describe('GitHub: the REST API read again with the stored token', () => {
  const OCTOCAT = { id: 583231, login: 'octocat', name: 'The Octocat' };
  const withOrgs = () => connector(githubKind, spec('github', { issuer: idp.origin, orgs: ['acme'], storeTokens: false }));

  async function signedIn(c: RedirectConnector): Promise<{ identity: Identity; tokens?: UpstreamTokens | undefined }> {
    idp.github = { user: OCTOCAT, emails: [{ email: 'octocat@acme.example', primary: true, verified: true }], memberships: { acme: { status: 200, state: 'active' } } };
    return signIn(c);
  }

  it('a member still: current, with the email of today', async () => {
    const c = withOrgs();
    const { identity, tokens } = await signedIn(c);
    idp.github.emails = [{ email: 'octo@acme.example', primary: true, verified: true }];
    expect(await c.revalidate(identity, tokens)).toMatchObject({ outcome: 'current', identity: { subject: '583231', email: 'octo@acme.example', groups: ['acme'] } });
  });

  it('organisation membership removed → gone (the login rule, refused at refresh)', async () => {
    const c = withOrgs();
    const { identity, tokens } = await signedIn(c);
    idp.github.memberships = {};
    expect(await c.revalidate(identity, tokens)).toEqual({ outcome: 'gone', reason: expect.stringMatching(/not an active member/) });
  });

  it('the token revoked (the app removed, the account suspended): 401 → gone', async () => {
    const c = withOrgs();
    const { identity, tokens } = await signedIn(c);
    idp.revokeAccessTokens();
    expect(await c.revalidate(identity, tokens)).toEqual({ outcome: 'gone', reason: expect.stringMatching(/401/) });
  });

  it("GitHub's rate limit (403 with x-ratelimit-remaining: 0) is an outage, never \"not a member\" or \"no email\"", async () => {
    const c = withOrgs();
    const { identity, tokens } = await signedIn(c);
    idp.githubRateLimited = true;
    await expect(c.revalidate(identity, tokens)).rejects.toThrow(/rate-limited/);
  });

  it('GitHub down → thrown (an outage), and no token → cannot', async () => {
    const c = withOrgs();
    const { identity, tokens } = await signedIn(c);
    idp.down = true;
    await expect(c.revalidate(identity, tokens)).rejects.toThrow(/503/);
    expect(await c.revalidate(identity, undefined)).toEqual({ outcome: 'cannot', reason: expect.any(String) });
  });

  it('an answer for another GitHub account is never taken', async () => {
    const c = withOrgs();
    const { identity, tokens } = await signedIn(c);
    idp.github.user = { ...OCTOCAT, id: 1 };
    await expect(c.revalidate(identity, tokens)).rejects.toThrow(/another account/);
  });
});
