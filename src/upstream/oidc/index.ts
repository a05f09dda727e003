// Generic OpenID Connect: any IdP with discovery (Keycloak, Auth0, Authentik, Ping, an Okta or Entra set up by
// hand…). The okta, entra and google kinds extend this connector with their own request parameters and checks.
import { commonProblems, connectionFetch, insecureAllowed, type ConnectionKind, type ConnectionSpec, type ConnectorDeps, type SpecField, oidcRevalidation } from '../connection.js';
import { RefreshRefused, UpstreamError, type DiscoveryReport, type Identity, type RedirectConnector, type RefreshedTokens, type RefreshRequest, type Revalidation, type StartOptions, type UpstreamChecks, type UpstreamTokens } from '../connector.js';
import { groupsFrom, OidcClient, refusedByIdp, str, type IdTokenClaims } from './oidc-client.js';

export const DEFAULT_OIDC_SCOPES = ['openid', 'email', 'profile'];

export class OidcConnector implements RedirectConnector {
  readonly kind = 'redirect' as const;
  readonly id: string;
  protected readonly client: OidcClient;

  constructor(
    protected readonly spec: ConnectionSpec,
    deps: ConnectorDeps,
    issuer: URL = new URL(spec.issuer!),
  ) {
    this.id = spec.id;
    const base = spec.scopes.length ? spec.scopes : this.defaultScopes();
    const scopes = spec.storeTokens ? [...new Set([...base, ...this.offlineScopes()])] : base;
    // `openid` is what makes this an OIDC login: never let a scope override drop it.
    this.client = new OidcClient({
      issuer,
      clientId: spec.clientId!,
      clientSecret: spec.clientSecret,
      redirectUri: deps.redirectUri,
      scopes: scopes.includes('openid') ? scopes : ['openid', ...scopes],
      allowInsecure: insecureAllowed(issuer.href, deps.production),
      fetch: connectionFetch(spec, deps),
    });
  }

  protected defaultScopes(): string[] {
    return DEFAULT_OIDC_SCOPES;
  }

  /** What asks the IdP for a refresh token, when the connection stores upstream tokens. */
  protected offlineScopes(): string[] {
    return ['offline_access'];
  }

  /** Extra authorization parameters of a kind (Google's hd, for instance). */
  protected authorizationParams(): Record<string, string> {
    return {};
  }

  /** A kind's extra authorization parameters when more scopes are asked for (StartOptions.scopes). */
  protected incrementalParams(): Record<string, string> {
    return {};
  }

  /** A kind's own checks on the validated ID token; throws UpstreamError to refuse. */
  protected verify(_claims: IdTokenClaims): void {}

  protected emailVerified(claims: Record<string, unknown>): boolean {
    return claims.email_verified === true || claims.email_verified === 'true';
  }

  async discover(): Promise<DiscoveryReport> {
    const metadata = (await this.client.configuration()).serverMetadata();
    const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);
    const pkce = list(metadata.code_challenge_methods_supported);
    return {
      fetched: this.client.discoveryUrl(),
      issuer: metadata.issuer,
      authorizationEndpoint: metadata.authorization_endpoint,
      tokenEndpoint: metadata.token_endpoint,
      userinfoEndpoint: metadata.userinfo_endpoint,
      jwksUri: metadata.jwks_uri,
      scopesSupported: list(metadata.scopes_supported),
      pkceMethods: pkce,
      notes: pkce && !pkce.includes('S256') ? ['The IdP does not list PKCE S256, which Gatehouse always sends.'] : [],
    };
  }

  start(options: StartOptions = {}): Promise<{ url: URL; checks: UpstreamChecks }> {
    const params = this.authorizationParams();
    // OIDC Core §3.1.2.1: prompt=login makes the IdP re-authenticate (Google's prompt=consent is kept beside it).
    // Incremental consent (docs/CONNECT-ACCOUNT.md): the asked scopes join the connection's, with what keeps a refresh token.
    const more = options.scopes?.length ? [...options.scopes, ...this.offlineScopes()] : [];
    if (more.length) Object.assign(params, this.incrementalParams());
    if (options.freshLogin) params.prompt = [...new Set([...(params.prompt ?? '').split(' ').filter(Boolean), 'login'])].join(' ');
    return this.client.start(params, more);
  }

  async finish(callback: URL, checks: UpstreamChecks): Promise<{ identity: Identity; tokens?: UpstreamTokens }> {
    const { claims, accessToken, tokens } = await this.client.finish(callback, checks);
    this.verify(claims);
    // Some IdPs keep email or groups out of the ID token; UserInfo (bound to the same subject) fills the gaps.
    let profile: Record<string, unknown> = claims;
    const groupsClaim = this.spec.groupsClaim ?? 'groups';
    if (!str(claims.email) || (this.spec.groupsClaim && !(groupsClaim in claims))) {
      profile = { ...(await this.client.userinfo(accessToken, claims.sub).catch(() => ({}))), ...claims };
    }
    // Kept whatever storeTokens says: re-validation at refresh needs them (docs/IDENTITY-LIFECYCLE.md).
    return { identity: this.identity(claims, profile, groupsClaim), tokens };
  }

  /**
   * Asks the IdP again (docs/IDENTITY-LIFECYCLE.md): with a refresh token, a refresh (a refusal means the person is
   * gone) and the new ID token, completed by UserInfo like a login; without one, UserInfo with the login's access
   * token while it has not expired. The answer must be about the same subject, and passes the kind's own checks.
   */
  async revalidate(known: Identity, tokens: UpstreamTokens | undefined): Promise<Revalidation> {
    const groupsClaim = this.spec.groupsClaim ?? 'groups';
    if (tokens?.refreshToken) {
      let refreshed;
      try {
        refreshed = await this.#redeem(tokens.refreshToken);
      } catch (err) {
        if (err instanceof RefreshRefused) return { outcome: 'gone', reason: err.reason, refreshTokenRefused: true };
        throw err;
      }
      const { claims, accessToken } = refreshed;
      const next = { ...refreshed.tokens, refreshToken: refreshed.tokens.refreshToken ?? tokens.refreshToken };
      let profile: Record<string, unknown> = claims ?? {};
      if (!claims || !str(claims.email) || (this.spec.groupsClaim && !(groupsClaim in claims))) {
        try {
          profile = { ...(await this.client.userinfo(accessToken, claims?.sub)), ...profile };
        } catch (err) {
          const refusal = refusedByIdp(err, 'userinfo');
          if (refusal) return { outcome: 'gone', reason: `UserInfo: ${refusal}` };
          if (!claims) throw err;
        }
      }
      return this.#current(known, claims ?? this.#claimsOf(known, profile), profile, groupsClaim, next);
    }
    if (tokens?.accessToken && tokens.expiresAt && tokens.expiresAt.getTime() > Date.now()) {
      let profile: Record<string, unknown>;
      try {
        profile = await this.client.userinfo(tokens.accessToken, undefined);
      } catch (err) {
        const refusal = refusedByIdp(err, 'userinfo');
        if (refusal) return { outcome: 'gone', reason: `UserInfo: ${refusal}` };
        throw err;
      }
      return this.#current(known, this.#claimsOf(known, profile), profile, groupsClaim);
    }
    return { outcome: 'cannot', reason: tokens?.accessToken ? 'no upstream refresh token, and the access token from the login has expired' : 'no upstream token kept from the login' };
  }

  /**
   * The token vault's refresh (docs/TOKEN-VAULT.md): the same grant as re-validation's. A kind whose refresh tokens
   * span resources (resourceScope) asks for another resource's token; the others give the connection's own.
   */
  async refresh(tokens: UpstreamTokens, request: RefreshRequest = {}): Promise<RefreshedTokens> {
    if (!tokens.refreshToken) throw new RefreshRefused('no upstream refresh token is kept');
    const scope = request.resource ? this.resourceScope(request.resource) : undefined;
    const { tokens: next } = await this.#redeem(tokens.refreshToken, scope ? { scope } : {});
    return { ...next, refreshToken: next.refreshToken ?? tokens.refreshToken, ...(scope ? { resource: request.resource } : {}) };
  }

  /** The scope that asks for `resource`'s token with this kind's refresh token; undefined: the kind cannot. */
  protected resourceScope(_resource: string): string | undefined {
    return undefined;
  }

  /** The refresh grant; the IdP's refusal of the refresh token itself becomes RefreshRefused. */
  async #redeem(refreshToken: string, parameters: Record<string, string> = {}) {
    try {
      return await this.client.refresh(refreshToken, parameters);
    } catch (err) {
      const refusal = refusedByIdp(err, 'refresh');
      if (refusal) throw new RefreshRefused(refusal);
      throw err;
    }
  }

  /** UserInfo's answer in the ID token's shape, for the kind's checks and subject. */
  #claimsOf(known: Identity, profile: Record<string, unknown>): IdTokenClaims {
    return { ...profile, iss: known.issuer, sub: str(profile.sub) ?? '', aud: this.spec.clientId!, iat: 0, exp: 0 } as IdTokenClaims;
  }

  #current(known: Identity, claims: IdTokenClaims, profile: Record<string, unknown>, groupsClaim: string, tokens?: UpstreamTokens): Revalidation {
    let identity: Identity;
    try {
      identity = this.identity(claims, profile, groupsClaim);
    } catch {
      return { outcome: 'cannot', reason: 'the answer does not name the subject in the form the login did' };
    }
    // A different subject is an answer about someone else: never let it update this person.
    if (identity.subject !== known.subject || (claims.iss && claims.iss !== known.issuer)) {
      if (tokens) throw new Error('the identity provider answered the refresh for another subject');
      return { outcome: 'cannot', reason: "UserInfo does not carry the login's subject" };
    }
    try {
      this.verify(claims);
    } catch (err) {
      if (err instanceof UpstreamError) return { outcome: 'gone', reason: err.reason };
      throw err;
    }
    return { outcome: 'current', identity, ...(tokens ? { tokens } : {}) };
  }

  protected identity(claims: IdTokenClaims, profile: Record<string, unknown>, groupsClaim: string): Identity {
    return {
      connector: this.spec.id,
      issuer: claims.iss,
      subject: claims.sub,
      email: str(profile.email)?.toLowerCase(),
      emailVerified: this.emailVerified(profile),
      name: str(profile.name) ?? str(profile.preferred_username),
      groups: groupsFrom(profile, groupsClaim),
    };
  }
}

export function requireIssuer(spec: ConnectionSpec): Array<[SpecField, string]> {
  return spec.issuer ? [] : [['issuer', `required for a ${spec.kind} connection`]];
}

export const oidcKind: ConnectionKind = {
  kind: 'oidc',
  displayName: 'Single sign-on',
  validate: (spec, production) => [...requireIssuer(spec), ...commonProblems(spec, production)],
  create: (spec, deps) => new OidcConnector(spec, deps),
  revalidation: oidcRevalidation,
};
