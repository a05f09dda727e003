// Google (Google Workspace, or any Google account). The issuer is fixed. Two Google habits shape this connector:
//
// - Workspace membership is the ID token's `hd` claim, present only for accounts of a Workspace domain. The `hd`
//   authorization parameter merely pre-filters the account chooser: the person can edit it out of the URL and sign in
//   with a gmail.com account. So `hd` is sent as a hint and the claim is what decides (an email's domain is no proof
//   either: a consumer Google account can be registered with any address).
// - Google has no `offline_access` scope (it rejects it). A refresh token is asked for with `access_type=offline`,
//   and Google returns one only when the person is shown the consent screen: on the first consent, not on later
//   sign-ins. `prompt=consent` forces that screen on every sign-in, so each login yields a fresh refresh token.
//   Google keeps a limited number of live refresh tokens per account and client (currently 100) and silently revokes
//   the oldest beyond it, and a consent-screen app left in "Testing" (external users) gets refresh tokens that
//   expire after 7 days as soon as it asks for more than openid, email and profile.
//   Without storeTokens neither parameter is sent: people are not asked to consent again at every sign-in.
// - `email_verified` is Google's one-time check that the person could read mail at that address, possibly years ago.
//   Google is authoritative for an address only when it hosts it: a Workspace account (`hd` present) or Gmail. A
//   consumer Google account registered with alice@company.com keeps email_verified=true after Alice has left the
//   company, so such an address does not count as verified here (nor for ALLOWED_EMAIL_DOMAINS or ADMIN_EMAILS).
import { commonProblems, DOMAIN_NAME, type ConnectionKind, type ConnectionSpec, type ConnectorDeps, type SpecField, oidcRevalidation } from '../connection.js';
import { UpstreamError } from '../connector.js';
import { OidcConnector } from '../oidc/index.js';
import { str, type IdTokenClaims } from '../oidc/oidc-client.js';

export const GOOGLE_ISSUER = 'https://accounts.google.com';

function googleProblems(spec: ConnectionSpec): Array<[SpecField, string]> {
  const problems: Array<[SpecField, string]> = [];
  if (spec.issuer !== undefined) problems.push(['issuer', `must not be set for a google connection: the issuer is always ${GOOGLE_ISSUER}`]);
  if (!spec.clientSecret) problems.push(['clientSecret', 'required for a google connection (a Web application OAuth client)']);
  if (spec.hostedDomains.some((d) => !DOMAIN_NAME.test(d))) problems.push(['hostedDomains', 'must be Google Workspace domains, e.g. example.com']);
  return problems;
}

export class GoogleConnector extends OidcConnector {
  constructor(spec: ConnectionSpec, deps: ConnectorDeps) {
    super(spec, deps, new URL(GOOGLE_ISSUER));
  }

  /** Google refuses `offline_access`; its refresh tokens come from access_type=offline (see authorizationParams). */
  protected override offlineScopes(): string[] {
    return [];
  }

  protected override authorizationParams(): Record<string, string> {
    const domains = this.spec.hostedDomains.map((d) => d.toLowerCase());
    return {
      // A hint for the account chooser only; verify() is the check. `*` means "any Workspace account".
      ...(domains.length ? { hd: domains.length === 1 ? domains[0]! : '*' } : {}),
      ...(this.spec.storeTokens ? { access_type: 'offline', prompt: 'consent' } : {}),
    };
  }

  /** Added scopes need a refresh token covering them and the earlier ones: a fresh consent that keeps past grants. */
  protected override incrementalParams(): Record<string, string> {
    return { access_type: 'offline', prompt: 'consent', include_granted_scopes: 'true' };
  }

  protected override emailVerified(claims: Record<string, unknown>): boolean {
    const email = str(claims.email)?.toLowerCase() ?? '';
    const hosted = str(claims.hd) !== undefined || email.endsWith('@gmail.com') || email.endsWith('@googlemail.com');
    return hosted && super.emailVerified(claims);
  }

  /** The signed `hd` claim decides: a missing `hd` is a consumer account, another `hd` another organisation. */
  protected override verify(claims: IdTokenClaims): void {
    const domains = this.spec.hostedDomains.map((d) => d.toLowerCase());
    if (!domains.length) return;
    const hd = str(claims.hd)?.toLowerCase();
    if (!hd || !domains.includes(hd)) {
      throw new UpstreamError(
        `google: hosted domain ${hd ?? '(none: not a Workspace account)'} is not allowed`,
        `Sign in with your Google Workspace account of ${domains.join(' or ')}.${hd ? '' : ' Personal Google accounts cannot sign in here.'}`,
      );
    }
  }
}

export const googleKind: ConnectionKind = {
  kind: 'google',
  displayName: 'Google',
  validate: (spec, production) => [...googleProblems(spec), ...commonProblems(spec, production)],
  create: (spec, deps) => new GoogleConnector(spec, deps),
  revalidation: oidcRevalidation,
};
