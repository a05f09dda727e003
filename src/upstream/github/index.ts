// GitHub (github.com, or GitHub Enterprise Server at its own host). GitHub is OAuth 2, not OpenID Connect: there is
// no discovery, no ID token and no nonce, so who logged in is whatever GitHub's REST API says the access token
// belongs to, asked over TLS right after the code exchange (state and PKCE S256 still bind the code to this browser).
//
// - The subject is the numeric user id. A login can be renamed and then registered by someone else.
// - The email is the account's primary address, and counts as verified only if GitHub verified it. Other verified
//   addresses are never used instead: the primary one is the address the person chose to be known by, and picking
//   among secondary ones would let any address ever added to the account satisfy ALLOWED_EMAIL_DOMAINS.
// - Groups are the configured organisations of which the person is an active member (a pending invitation is not
//   membership). With orgs configured, a person in none of them is refused here, before any group rule runs. An
//   organisation with OAuth App access restrictions hides its membership from apps it has not approved (GitHub
//   answers 403): an owner must approve Gatehouse's app for the organisation.
import * as oc from 'openid-client';
import { commonProblems, connectionFetch, insecureAllowed, type ConnectionKind, type ConnectionSpec, type ConnectorDeps, type SpecField } from '../connection.js';
import { idpDescription, RefreshRefused, UpstreamError, type DiscoveryReport, type Identity, type RedirectConnector, type RefreshedTokens, type Revalidation, type StartOptions, type UpstreamChecks, type UpstreamTokens } from '../connector.js';
import { tokensOf } from '../oidc/oidc-client.js';

export const GITHUB_BASE = 'https://github.com';
const ORG = /^[a-z0-9](?:[a-z0-9-]{0,38})$/i;
const TIMEOUT_S = 10;

/** github.com's API has its own host; GitHub Enterprise Server serves it under /api/v3. */
export function githubApi(base: string): string {
  return base === GITHUB_BASE ? 'https://api.github.com' : `${base}/api/v3`;
}

function githubProblems(spec: ConnectionSpec): Array<[SpecField, string]> {
  const problems: Array<[SpecField, string]> = [];
  if (!spec.clientSecret) problems.push(['clientSecret', 'required for a github connection']);
  if (spec.issuer !== undefined && URL.canParse(spec.issuer)) {
    const url = new URL(spec.issuer);
    if (url.hostname === 'api.github.com') problems.push(['issuer', `must be the web address (${GITHUB_BASE}), not the API's`]);
    else if (url.pathname !== '/') problems.push(['issuer', 'must be the web address of GitHub with no path (https://github.com, or https://<your GitHub Enterprise Server host>)']);
  }
  if (spec.orgs.some((o) => !ORG.test(o))) problems.push(['orgs', 'must be GitHub organisation names (letters, digits and dashes)']);
  return problems;
}

interface GithubUser {
  id: number;
  login: string;
  name?: string | null;
}

interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

export class GithubConnector implements RedirectConnector {
  readonly kind = 'redirect' as const;
  readonly id: string;
  readonly #base: string;
  readonly #api: string;
  readonly #config: oc.Configuration;
  readonly #scopes: string[];
  readonly #fetch: typeof fetch;

  constructor(
    private readonly spec: ConnectionSpec,
    private readonly deps: ConnectorDeps,
  ) {
    this.id = spec.id;
    this.#base = new URL(spec.issuer ?? GITHUB_BASE).origin;
    this.#api = githubApi(this.#base);
    // Token exchange and REST API alike go through the connection's guarded fetch (docs/SECURITY.md, "Issue 16").
    this.#fetch = connectionFetch(spec, deps);
    const base = spec.scopes.length ? spec.scopes : ['read:user', 'user:email'];
    // Membership of a private member is visible only with read:org: the org rule needs it whatever the scope list.
    this.#scopes = spec.orgs.length && !base.includes('read:org') ? [...base, 'read:org'] : base;
    this.#config = new oc.Configuration(
      { issuer: this.#base, authorization_endpoint: `${this.#base}/login/oauth/authorize`, token_endpoint: `${this.#base}/login/oauth/access_token` },
      spec.clientId!,
      undefined,
      oc.ClientSecretPost(spec.clientSecret),
    );
    this.#config.timeout = TIMEOUT_S;
    if (insecureAllowed(this.#base, deps.production)) oc.allowInsecureRequests(this.#config);
    this.#config[oc.customFetch] = this.#fetch as oc.CustomFetch;
  }

  async start(options: StartOptions = {}): Promise<{ url: URL; checks: UpstreamChecks }> {
    const codeVerifier = oc.randomPKCECodeVerifier();
    const checks = { state: oc.randomState(), codeVerifier };
    const url = oc.buildAuthorizationUrl(this.#config, {
      redirect_uri: this.deps.redirectUri,
      // Incremental consent (docs/CONNECT-ACCOUNT.md): GitHub asks the person again for the added scopes.
      scope: [...new Set([...this.#scopes, ...(options.scopes ?? [])])].join(' '),
      code_challenge: await oc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state: checks.state,
    });
    return { url, checks };
  }

  /** GitHub publishes no discovery document: its endpoints are fixed; reaching its API's /meta proves the host. */
  async discover(): Promise<DiscoveryReport> {
    const fetched = `${this.#api}/meta`;
    const response = await this.#fetch(fetched, {
      headers: { accept: 'application/vnd.github+json', 'user-agent': 'Gatehouse' },
      redirect: 'error',
      signal: AbortSignal.timeout(TIMEOUT_S * 1000),
    });
    await response.body?.cancel();
    if (response.status !== 200) throw new Error(`GitHub answered ${fetched} with HTTP ${response.status}`);
    const server = this.#config.serverMetadata();
    return {
      fetched,
      issuer: this.#base,
      authorizationEndpoint: server.authorization_endpoint,
      tokenEndpoint: server.token_endpoint,
      userinfoEndpoint: `${this.#api}/user`,
      scopesSupported: this.#scopes,
      pkceMethods: ['S256'],
      notes: ['GitHub is OAuth 2, not OpenID Connect: there is no discovery document and no ID token. The endpoints are fixed; the scopes shown are the ones Gatehouse asks for.'],
    };
  }

  async finish(callback: URL, checks: UpstreamChecks): Promise<{ identity: Identity; tokens?: UpstreamTokens }> {
    const response = await oc.authorizationCodeGrant(this.#config, callback, {
      pkceCodeVerifier: checks.codeVerifier,
      expectedState: checks.state,
      idTokenExpected: false,
    });
    const token = response.access_token;
    const user = (await this.#get(token, '/user')).body as GithubUser | undefined;
    if (!user || !Number.isSafeInteger(user.id) || typeof user.login !== 'string') throw new Error('GitHub answered /user without an id');
    const [email, groups] = await Promise.all([this.#primaryEmail(token), this.#activeOrgs(token, user.login)]);
    const identity: Identity = {
      connector: this.spec.id,
      issuer: this.#base,
      subject: String(user.id),
      ...email,
      name: (typeof user.name === 'string' && user.name) || user.login,
      groups,
    };
    // Kept whatever storeTokens says: re-validation at refresh reads the API with it (docs/IDENTITY-LIFECYCLE.md).
    return { identity, tokens: tokensOf(response) };
  }

  /**
   * Reads the user, the primary email and the organisations again with the stored token (docs/IDENTITY-LIFECYCLE.md).
   * An expiring token (GitHub Apps that opt in) is refreshed first. GitHub answering 401 means the token was revoked,
   * the app's authorization removed or the account suspended: the person is gone; leaving every configured
   * organisation is the login's refusal, so gone too.
   */
  async revalidate(known: Identity, tokens: UpstreamTokens | undefined): Promise<Revalidation> {
    let current = tokens;
    if (tokens?.refreshToken && (!tokens.accessToken || (tokens.expiresAt && tokens.expiresAt.getTime() <= Date.now() + 60_000))) {
      try {
        current = await this.refresh(tokens);
      } catch (err) {
        if (err instanceof RefreshRefused) return { outcome: 'gone', reason: err.reason, refreshTokenRefused: true };
        throw err;
      }
    }
    const token = current?.accessToken;
    if (!token) return { outcome: 'cannot', reason: 'no GitHub token kept from the login' };
    if (current?.expiresAt && current.expiresAt.getTime() <= Date.now()) return { outcome: 'cannot', reason: 'the GitHub token from the login has expired and there is no refresh token' };
    const { status, body } = await this.#get(token, '/user', [401]);
    if (status === 401) return { outcome: 'gone', reason: 'GitHub no longer accepts the token (401): revoked, the authorization removed, or the account suspended' };
    const user = body as GithubUser | undefined;
    if (!user || !Number.isSafeInteger(user.id) || typeof user.login !== 'string') throw new Error('GitHub answered /user without an id');
    if (String(user.id) !== known.subject) throw new Error('GitHub answered /user for another account');
    let groups: string[];
    try {
      groups = await this.#activeOrgs(token, user.login);
    } catch (err) {
      if (err instanceof UpstreamError) return { outcome: 'gone', reason: err.reason };
      throw err;
    }
    const email = await this.#primaryEmail(token);
    const identity: Identity = { connector: this.spec.id, issuer: this.#base, subject: String(user.id), ...email, name: (typeof user.name === 'string' && user.name) || user.login, groups };
    return { outcome: 'current', identity, ...(current !== tokens ? { tokens: current } : {}) };
  }

  /**
   * Redeems a GitHub App's expiring user token's refresh token (docs/TOKEN-VAULT.md). Each is single use: the answer
   * carries the next one, which must be kept. GitHub answers errors with HTTP 200 and an `error` field (or 4xx):
   * `bad_refresh_token` (spent, expired or revoked) and `invalid_grant` mean the token is dead; any other error, an
   * unreadable answer or a 5xx is an outage. OAuth Apps' tokens never expire and come with no refresh token.
   */
  async refresh(tokens: UpstreamTokens): Promise<RefreshedTokens> {
    if (!tokens.refreshToken) throw new RefreshRefused('no GitHub refresh token is kept (an OAuth App token, which does not expire)');
    const endpoint = this.#config.serverMetadata().token_endpoint!;
    const response = await this.#fetch(endpoint, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Gatehouse' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refreshToken, client_id: this.spec.clientId!, client_secret: this.spec.clientSecret ?? '' }),
      redirect: 'error',
      signal: AbortSignal.timeout(TIMEOUT_S * 1000),
    });
    const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    const error = typeof body?.error === 'string' ? body.error : undefined;
    if (error === 'bad_refresh_token' || error === 'invalid_grant') {
      const description = typeof body?.error_description === 'string' ? `: ${idpDescription(body.error_description)}` : '';
      throw new RefreshRefused(`GitHub answered ${error}${description}`);
    }
    if (response.status !== 200 || error || typeof body?.access_token !== 'string') {
      throw new Error(`GitHub answered the refresh with HTTP ${response.status}${error ? ` (${error})` : ''}`);
    }
    const next = tokensOf({
      access_token: body.access_token,
      refresh_token: typeof body.refresh_token === 'string' ? body.refresh_token : undefined,
      expires_in: typeof body.expires_in === 'number' ? body.expires_in : undefined,
      scope: typeof body.scope === 'string' ? body.scope : undefined,
    });
    // An empty scope is GitHub App tokens' (their permissions are the app's): keep what was stored.
    return { ...next, refreshToken: next.refreshToken ?? tokens.refreshToken, scope: next.scope || tokens.scope };
  }

  /** The primary address, verified or not; without the user:email grant (404/403), no address at all. */
  async #primaryEmail(token: string): Promise<{ email?: string; emailVerified: boolean }> {
    const { status, body } = await this.#get(token, '/user/emails', [403, 404]);
    if (status !== 200 || !Array.isArray(body)) return { emailVerified: false };
    const primary = (body as GithubEmail[]).find((e) => e.primary === true && typeof e.email === 'string');
    if (!primary) return { emailVerified: false };
    return { email: primary.email.toLowerCase(), emailVerified: primary.verified === true };
  }

  /** The configured organisations the person is an active member of, by the configured spelling. */
  async #activeOrgs(token: string, login: string): Promise<string[]> {
    const orgs = this.spec.orgs;
    if (!orgs.length) return [];
    const results = await Promise.all(
      orgs.map(async (org) => {
        const { status, body } = await this.#get(token, `/user/memberships/orgs/${encodeURIComponent(org)}`, [403, 404]);
        const state = (body as { state?: unknown } | undefined)?.state;
        return { org, status, active: status === 200 && state === 'active', pending: status === 200 && state === 'pending' };
      }),
    );
    const active = results.filter((r) => r.active).map((r) => r.org);
    if (!active.length) {
      const why = results.map((r) => `${r.org}: ${r.active ? 'active' : r.pending ? 'pending invitation' : r.status}`).join(', ');
      throw new UpstreamError(
        `github: ${login} is not an active member of a configured organisation (${why})`,
        `Your GitHub account ${login} is not a member of ${orgs.join(' or ')}. If it is, accept any pending invitation, or ask an organisation owner to approve this application's access to the organisation.`,
      );
    }
    return active;
  }

  /** GET on the REST API; a status outside 200 and `tolerated` means GitHub answered wrongly. */
  async #get(token: string, path: string, tolerated: number[] = []): Promise<{ status: number; body: unknown }> {
    const response = await this.#fetch(`${this.#api}${path}`, {
      headers: { accept: 'application/vnd.github+json', 'user-agent': 'Gatehouse', authorization: `Bearer ${token}` },
      redirect: 'error',
      signal: AbortSignal.timeout(TIMEOUT_S * 1000),
    });
    // GitHub answers a rate limit with 403 (or 429) and these headers: that is an outage, never "not a member" or
    // "no email" (docs/IDENTITY-LIFECYCLE.md).
    if (response.status === 429 || (response.status === 403 && (response.headers.get('x-ratelimit-remaining') === '0' || response.headers.has('retry-after')))) {
      await response.body?.cancel();
      throw new Error(`GitHub rate-limited ${path} (HTTP ${response.status})`);
    }
    if (response.status !== 200 && !tolerated.includes(response.status)) {
      throw new Error(`GitHub answered ${path} with HTTP ${response.status}`);
    }
    const body: unknown = response.status === 200 ? await response.json() : await response.body?.cancel();
    return { status: response.status, body };
  }
}

export const githubKind: ConnectionKind = {
  kind: 'github',
  displayName: 'GitHub',
  validate: (spec, production) => [...githubProblems(spec), ...commonProblems(spec, production)],
  create: (spec, deps) => new GithubConnector(spec, deps),
  revalidation: () => ({
    mode: 'access-token',
    note: "Re-validated at refresh with the stored GitHub token: the user, the primary verified email and organisation membership are read again (GitHub's OAuth tokens do not expire unless the app opts in to expiring tokens, which are then refreshed).",
  }),
};
