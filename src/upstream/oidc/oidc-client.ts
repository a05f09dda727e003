// The OpenID Connect relying-party half of the bridge, on openid-client: discovery (cached per instance for an hour;
// a failure for 30 s, so anonymous sign-in attempts on a broken connection cannot make the server hammer an
// unreachable host: docs/SECURITY.md, "Issue 16"), an authorization URL with PKCE S256, state and nonce, and a code
// exchange that validates state, PKCE, the ID token's issuer, audience, expiry and nonce, and its signature against
// the IdP's JWKS (openid-client skips the signature for TLS-fetched ID tokens unless non-repudiation checks are
// enabled; we enable them so a compromised TLS path alone cannot mint identities). Every OIDC-based kind uses this.
import * as oc from 'openid-client';
import { idpDescription, type UpstreamChecks, type UpstreamTokens } from '../connector.js';

export interface OidcClientOptions {
  /** The issuer to discover (`<issuer>/.well-known/openid-configuration`). */
  issuer: URL;
  clientId: string;
  clientSecret?: string | undefined;
  redirectUri: string;
  scopes: string[];
  allowInsecure: boolean;
  /** Every request of this client goes through it: the connection's guarded fetch (upstream/connection.ts). */
  fetch: typeof fetch;
}

const DISCOVERY_TTL_MS = 3600_000;
export const DISCOVERY_FAILURE_TTL_MS = 30_000;
const TIMEOUT_S = 10;

export type IdTokenClaims = oc.IDToken;

export class OidcClient {
  #config: { value: Promise<oc.Configuration>; at: number; ttl: number } | undefined;

  constructor(private readonly options: OidcClientOptions) {}

  configuration(): Promise<oc.Configuration> {
    if (this.#config && Date.now() - this.#config.at < this.#config.ttl) return this.#config.value;
    const o = this.options;
    const auth = o.clientSecret ? oc.ClientSecretPost(o.clientSecret) : oc.None();
    const value = oc.discovery(o.issuer, o.clientId, undefined, auth, {
      timeout: TIMEOUT_S,
      execute: [...(o.allowInsecure ? [oc.allowInsecureRequests] : []), oc.enableNonRepudiationChecks],
      [oc.customFetch]: o.fetch as oc.CustomFetch,
    });
    const entry = { value, at: Date.now(), ttl: DISCOVERY_TTL_MS };
    this.#config = entry;
    // The failure itself is what is kept: every caller within the window gets the same rejection, no new request.
    value.catch(() => {
      if (this.#config === entry) this.#config = { value, at: Date.now(), ttl: DISCOVERY_FAILURE_TTL_MS };
    });
    return value;
  }

  /** Where discovery reads the IdP's metadata (OIDC Discovery §4). */
  discoveryUrl(): string {
    return `${this.options.issuer.href.replace(/\/$/, '')}/.well-known/openid-configuration`;
  }

  /** The URL to send the browser to, with only the parameters given here: never an MCP client's. */
  async start(extra: Record<string, string> = {}, moreScopes: string[] = []): Promise<{ url: URL; checks: UpstreamChecks }> {
    const config = await this.configuration();
    const codeVerifier = oc.randomPKCECodeVerifier();
    const checks = { state: oc.randomState(), nonce: oc.randomNonce(), codeVerifier };
    const url = oc.buildAuthorizationUrl(config, {
      redirect_uri: this.options.redirectUri,
      scope: [...new Set([...this.options.scopes, ...moreScopes])].join(' '),
      code_challenge: await oc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state: checks.state,
      nonce: checks.nonce,
      ...extra,
    });
    return { url, checks };
  }

  /** Exchanges the code; throws unless state, PKCE, nonce and the ID token all check out. */
  async finish(callback: URL, checks: UpstreamChecks): Promise<{ claims: IdTokenClaims; accessToken: string; tokens: UpstreamTokens }> {
    const config = await this.configuration();
    const response = await oc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: checks.codeVerifier,
      expectedState: checks.state,
      ...(checks.nonce ? { expectedNonce: checks.nonce } : {}),
      idTokenExpected: true,
    });
    const claims = response.claims();
    if (!claims) throw new Error('the identity provider returned no ID token');
    return { claims, accessToken: response.access_token, tokens: tokensOf(response) };
  }

  /** UserInfo, bound to the ID token's subject (a mismatched `sub` is refused by openid-client). */
  async userinfo(accessToken: string, subject: string | undefined): Promise<Record<string, unknown>> {
    return oc.fetchUserInfo(await this.configuration(), accessToken, subject ?? oc.skipSubjectCheck);
  }

  /**
   * The refresh token grant (docs/IDENTITY-LIFECYCLE.md): a new access token and, when the IdP sends one, an ID token
   * validated like a login's (signature, issuer, audience, expiry). A refresh token the IdP omits keeps the old one.
   */
  async refresh(refreshToken: string, parameters: Record<string, string> = {}): Promise<{ claims: IdTokenClaims | undefined; accessToken: string; tokens: UpstreamTokens }> {
    const response = await oc.refreshTokenGrant(await this.configuration(), refreshToken, parameters);
    return { claims: response.claims(), accessToken: response.access_token, tokens: tokensOf(response) };
  }
}

/**
 * The IdP's word that a stored credential no longer stands for the person: `invalid_grant` in answer to a refresh
 * (revoked, expired, the user deactivated or suspended) or a 401 from UserInfo. Every other error says nothing about
 * the person — `invalid_client` is Gatehouse's own registration (an expired client secret), `slow_down` or a 429 a
 * rate limit, a 5xx or no answer an outage — and must never end anyone's access (docs/IDENTITY-LIFECYCLE.md).
 */
export function refusedByIdp(err: unknown, stage: 'refresh' | 'userinfo'): string | undefined {
  if (stage === 'refresh') {
    return err instanceof oc.ResponseBodyError && err.error === 'invalid_grant' ? `the identity provider answered invalid_grant${err.error_description ? `: ${idpDescription(err.error_description)}` : ''}` : undefined;
  }
  if (err instanceof oc.WWWAuthenticateChallengeError && err.status === 401) return 'the identity provider no longer accepts the token (401)';
  // A 401 without a WWW-Authenticate challenge: openid-client keeps the response as the cause.
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (cause instanceof Response && cause.status === 401) return 'the identity provider no longer accepts the token (401)';
  return undefined;
}

export function tokensOf(response: { access_token: string; refresh_token?: string | undefined; expires_in?: number | undefined; scope?: string | undefined }): UpstreamTokens {
  return {
    accessToken: response.access_token,
    refreshToken: response.refresh_token,
    expiresAt: response.expires_in ? new Date(Date.now() + response.expires_in * 1000) : undefined,
    scope: response.scope,
  };
}

/** The groups a claim carries, if it is a list of strings (or one string). */
export function groupsFrom(claims: Record<string, unknown>, claim: string): string[] {
  const value = claims[claim];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string');
  return [];
}

export const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length ? v : undefined);
