// A small identity provider on 127.0.0.1 for the upstream connector tests: OIDC discovery, a JWKS, an authorization
// endpoint that redirects back with a code, a token endpoint that checks the code, redirect_uri, client secret and
// PKCE and returns an RS256 ID token with whatever claims the test sets, UserInfo, and GitHub's OAuth and REST
// endpoints. It can pose as a real IdP host: `fetch` rewrites the origins given to `intercept` (login.microsoftonline.com,
// accounts.google.com…) to this server, so openid-client checks real-looking https issuers, and it refuses any other
// non-loopback request, so no test ever leaves this machine.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
let keys: Promise<{ idp: KeyPair; foreign: KeyPair; jwk: JWK }> | undefined;
function signingKeys() {
  keys ??= (async () => {
    const idp = await generateKeyPair('RS256');
    const foreign = await generateKeyPair('RS256');
    return { idp, foreign, jwk: { ...(await exportJWK(idp.publicKey)), kid: 'stub-1', alg: 'RS256', use: 'sig' } };
  })();
  return keys;
}

/** Who signs in at the stub's authorization endpoint next. */
export interface StubAccount {
  /** ID token claims on top of iss, aud, iat, exp and nonce (which they may override, to play an attacker). */
  claims: Record<string, unknown>;
  /** UserInfo; default: { sub } only. */
  userinfo?: Record<string, unknown>;
}

export interface GithubAccount {
  user: Record<string, unknown>;
  emails: Array<{ email: string; primary: boolean; verified: boolean; visibility?: string | null }>;
  /** Per organisation: GitHub's answer to GET /user/memberships/orgs/<org>; absent means 404. */
  memberships: Record<string, { status: number; state?: string }>;
}

interface Grant {
  params: URLSearchParams;
  account: StubAccount;
}

export class StubIdp {
  origin = '';
  /** The issuer in discovery; `{tenantid}` (Entra's multi-tenant template) is replaced by the token's tid. */
  issuer = '';
  endpoints = { authorization_endpoint: '', token_endpoint: '', jwks_uri: '', userinfo_endpoint: '' };
  clientId = 'gatehouse-client';
  clientSecret = 'gatehouse-secret';
  account: StubAccount = { claims: { sub: 'user-1' } };
  github: GithubAccount = { user: { id: 1, login: 'octocat', name: null }, emails: [], memberships: {} };
  /** 'foreign': sign ID tokens with a key the JWKS does not publish. */
  signingKey: 'idp' | 'foreign' = 'idp';
  /** Every authorization request and token request received, in order. */
  readonly authorizations: URLSearchParams[] = [];
  readonly tokenRequests: URLSearchParams[] = [];
  /** Every URL fetched through `fetch`, as the client asked for it (before rewriting). */
  readonly fetched: string[] = [];
  /** While set, the token endpoint refuses refresh tokens with this error (the person deactivated at the IdP). */
  refreshRefusal: string | undefined;
  /** The HTTP status of that refusal. */
  refreshRefusalStatus = 400;
  /** While true, GitHub's API answers 403 with x-ratelimit-remaining: 0 (its rate limit). */
  githubRateLimited = false;
  /** While true, every request is answered 503. */
  down = false;
  /** False: Google's habit, a refresh answers no new refresh token and the old one stays valid. */
  rotateRefreshTokens = true;
  /** Refresh tokens older than this are refused with invalid_grant (Google's 7-day expiry for "Testing" apps). */
  refreshTokenMaxAgeMs: number | undefined;
  /** How long the token endpoint takes to answer a refresh (so concurrent callers really overlap). */
  refreshDelayMs = 0;
  /** GitHub App user tokens: the code grant answers an expiring token and a refresh token too. */
  githubApp = false;
  readonly #refreshTokens = new Map<string, Grant>();
  readonly #refreshIssuedAt = new Map<string, number>();
  readonly #intercepted = new Set<string>();
  readonly #codes = new Map<string, Grant>();
  readonly #tokens = new Map<string, Grant>();
  #server!: Server;

  static async start(): Promise<StubIdp> {
    const idp = new StubIdp();
    idp.#server = createServer((req, res) => {
      idp.#route(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
      });
    });
    await new Promise<void>((resolve) => idp.#server.listen(0, '127.0.0.1', () => resolve()));
    idp.origin = `http://127.0.0.1:${(idp.#server.address() as AddressInfo).port}`;
    idp.issuer = idp.origin;
    idp.publishAt(idp.origin);
    return idp;
  }

  /** Advertises the endpoints under `base` (which `intercept` must map here when it is not this server). */
  publishAt(base: string): void {
    this.endpoints = {
      authorization_endpoint: `${base}/authorize`,
      token_endpoint: `${base}/token`,
      jwks_uri: `${base}/jwks`,
      userinfo_endpoint: `${base}/userinfo`,
    };
  }

  /** Serves requests for these https origins (as if DNS pointed them here). */
  intercept(...origins: string[]): void {
    for (const o of origins) this.#intercepted.add(new URL(o).origin);
  }

  /** A fetch that sends intercepted origins here, lets loopback through and refuses everything else. */
  readonly fetch: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    this.fetched.push(url.href);
    if (this.#intercepted.has(url.origin)) {
      const local = new URL(url.pathname + url.search, this.origin);
      return globalThis.fetch(local, init);
    }
    if (url.hostname === '127.0.0.1') return globalThis.fetch(input, init);
    throw new Error(`test attempted to reach ${url.origin}`);
  };

  /**
   * Plays the browser at the IdP: opens the authorization URL as `account`, and returns where the IdP sends the
   * browser back (the callback URL, with code and state).
   */
  async login(authorizationUrl: URL, account?: StubAccount): Promise<URL> {
    if (account) this.account = account;
    const res = await this.fetch(authorizationUrl, { redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status !== 302 || !location) throw new Error(`authorization endpoint answered ${res.status}: ${await res.text()}`);
    return new URL(location);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const path = url.pathname;
    if (this.down) return json(res, 503, { error: 'temporarily_unavailable' });
    const is = (endpoint: string, ...alt: string[]) => [new URL(endpoint).pathname, ...alt].includes(path);
    if (path.endsWith('/.well-known/openid-configuration')) return json(res, 200, this.#discovery());
    if (is(this.endpoints.jwks_uri)) return json(res, 200, { keys: [(await signingKeys()).jwk] });
    if (is(this.endpoints.authorization_endpoint, '/login/oauth/authorize')) return this.#authorize(url, res);
    if (req.method === 'POST' && is(this.endpoints.token_endpoint, '/login/oauth/access_token')) {
      return this.#token(new URLSearchParams(await body(req)), path === '/login/oauth/access_token', res);
    }
    if (is(this.endpoints.userinfo_endpoint)) {
      const grant = this.#bearer(req);
      if (!grant) return json(res, 401, { error: 'invalid_token' });
      return json(res, 200, grant.account.userinfo ?? { sub: grant.account.claims.sub });
    }
    const api = /^(?:\/api\/v3)?(\/user(?:\/emails|\/memberships\/orgs\/([^/]+))?)$/.exec(path);
    if (api) return this.#githubApi(req, api[1]!, api[2] && decodeURIComponent(api[2]), res);
    json(res, 404, { error: 'not_found' });
  }

  #discovery() {
    return {
      issuer: this.issuer,
      ...this.endpoints,
      response_types_supported: ['code'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      scopes_supported: ['openid', 'email', 'profile', 'offline_access'],
    };
  }

  #authorize(url: URL, res: ServerResponse): void {
    const p = url.searchParams;
    this.authorizations.push(p);
    const redirect = p.get('redirect_uri');
    if (p.get('client_id') !== this.clientId || !redirect) return json(res, 400, { error: 'invalid_request' });
    if (p.get('response_type') !== 'code' || p.get('code_challenge_method') !== 'S256' || !p.get('code_challenge')) {
      return json(res, 400, { error: 'invalid_request', error_description: 'code flow with PKCE S256 only' });
    }
    const code = randomBytes(16).toString('base64url');
    this.#codes.set(code, { params: p, account: structuredClone(this.account) });
    const back = new URL(redirect);
    back.searchParams.set('code', code);
    if (p.has('state')) back.searchParams.set('state', p.get('state')!);
    res.writeHead(302, { location: back.href }).end();
  }

  async #token(form: URLSearchParams, github: boolean, res: ServerResponse): Promise<void> {
    this.tokenRequests.push(form);
    const grant = this.#codes.get(form.get('code') ?? '');
    this.#codes.delete(form.get('code') ?? '');
    const verifier = form.get('code_verifier') ?? '';
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    if (form.get('client_id') !== this.clientId || form.get('client_secret') !== this.clientSecret) {
      return json(res, 401, { error: 'invalid_client' });
    }
    if (form.get('grant_type') === 'refresh_token') return this.#refresh(form, github, res);
    if (
      form.get('grant_type') !== 'authorization_code' ||
      !grant ||
      grant.params.get('redirect_uri') !== form.get('redirect_uri') ||
      grant.params.get('code_challenge') !== challenge
    ) {
      return json(res, 400, { error: 'invalid_grant' });
    }
    const accessToken = randomBytes(16).toString('base64url');
    this.#tokens.set(accessToken, grant);
    const scopes = (grant.params.get('scope') ?? '').split(' ');
    const offline = scopes.includes('offline_access') || grant.params.get('access_type') === 'offline';
    if (github && !this.githubApp) return json(res, 200, { access_token: accessToken, token_type: 'bearer', scope: scopes.join(',') });
    const refreshToken = offline || github ? randomBytes(16).toString('base64url') : undefined;
    if (refreshToken) this.#keepRefreshToken(refreshToken, grant);
    if (github) return json(res, 200, { access_token: accessToken, token_type: 'bearer', expires_in: 28800, refresh_token: refreshToken, refresh_token_expires_in: 15897600, scope: '' });
    return json(res, 200, {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: 3600,
      scope: scopes.join(' '),
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      ...(scopes.includes('openid') ? { id_token: await this.#idToken(grant) } : {}),
    });
  }

  /** A refresh: a new access token and ID token for the account as it is now (`account`), the refresh token rotated. */
  async #refresh(form: URLSearchParams, github: boolean, res: ServerResponse): Promise<void> {
    if (this.refreshDelayMs) await new Promise((r) => setTimeout(r, this.refreshDelayMs));
    const presented = form.get('refresh_token') ?? '';
    const old = this.#refreshTokens.get(presented);
    if (this.refreshRefusal) return json(res, this.refreshRefusalStatus, { error: this.refreshRefusal });
    const issuedAt = this.#refreshIssuedAt.get(presented) ?? 0;
    const expired = this.refreshTokenMaxAgeMs !== undefined && Date.now() - issuedAt > this.refreshTokenMaxAgeMs;
    // GitHub answers a spent or unknown refresh token with HTTP 200 and an error field.
    if (!old && github) return json(res, 200, { error: 'bad_refresh_token', error_description: 'The refresh token passed is incorrect or expired.' });
    if (!old || expired) return json(res, 400, { error: 'invalid_grant', ...(expired ? { error_description: 'Token has been expired or revoked.' } : {}) });
    const grant: Grant = { params: new URLSearchParams(old.params), account: structuredClone(this.account) };
    grant.params.delete('nonce');
    // A scope on the refresh asks for another resource's token (Entra's `{resource}/.default`): no ID token then.
    const asked = form.get('scope');
    if (asked) grant.params.set('scope', asked);
    const accessToken = randomBytes(16).toString('base64url');
    this.#tokens.set(accessToken, grant);
    let refreshToken: string | undefined;
    if (this.rotateRefreshTokens) {
      this.#refreshTokens.delete(presented);
      refreshToken = randomBytes(16).toString('base64url');
      this.#keepRefreshToken(refreshToken, grant);
    }
    const scopes = (grant.params.get('scope') ?? '').split(' ');
    if (github) return json(res, 200, { access_token: accessToken, token_type: 'bearer', expires_in: 28800, refresh_token: refreshToken, refresh_token_expires_in: 15897600, scope: '' });
    return json(res, 200, {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: 3600,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      ...(asked ? { scope: scopes.filter((s) => s !== 'offline_access').join(' ') } : {}),
      ...(scopes.includes('openid') ? { id_token: await this.#idToken(grant) } : {}),
    });
  }

  #keepRefreshToken(token: string, grant: Grant): void {
    this.#refreshTokens.set(token, grant);
    this.#refreshIssuedAt.set(token, Date.now());
  }

  /** The refresh token grants received (each one a redemption). */
  refreshRequests(): URLSearchParams[] {
    return this.tokenRequests.filter((f) => f.get('grant_type') === 'refresh_token');
  }

  /** Moves every live refresh token's issue time `ms` into the past (no test waits seven days). */
  ageRefreshTokens(ms: number): void {
    for (const [token, at] of this.#refreshIssuedAt) this.#refreshIssuedAt.set(token, at - ms);
  }

  /** The scope an access token was issued for (`undefined` for an unknown token). */
  scopeOf(accessToken: string): string | undefined {
    return this.#tokens.get(accessToken)?.params.get('scope') ?? undefined;
  }

  /** Every access token stops working (revoked at the IdP): its APIs answer 401. */
  revokeAccessTokens(): void {
    this.#tokens.clear();
  }

  async #idToken(grant: Grant): Promise<string> {
    const claims = grant.account.claims;
    const now = Math.floor(Date.now() / 1000);
    const { idp, foreign } = await signingKeys();
    return new SignJWT({
      iss: this.issuer.replace('{tenantid}', String(claims.tid)),
      aud: this.clientId,
      iat: now,
      exp: now + 600,
      ...(grant.params.has('nonce') ? { nonce: grant.params.get('nonce') } : {}),
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'stub-1', typ: 'JWT' })
      .sign(this.signingKey === 'idp' ? idp.privateKey : foreign.privateKey);
  }

  #bearer(req: IncomingMessage): Grant | undefined {
    const match = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    return match ? this.#tokens.get(match[1]!) : undefined;
  }

  #githubApi(req: IncomingMessage, path: string, org: string | undefined, res: ServerResponse): void {
    if (!this.#bearer(req)) return json(res, 401, { message: 'Bad credentials' });
    if (this.githubRateLimited) {
      res.writeHead(403, { 'content-type': 'application/json', 'x-ratelimit-remaining': '0' }).end('{"message":"API rate limit exceeded"}');
      return;
    }
    if (!req.headers['user-agent']) return json(res, 403, { message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header' });
    if (path === '/user') return json(res, 200, this.github.user);
    if (path === '/user/emails') return json(res, 200, this.github.emails);
    const membership = this.github.memberships[org!];
    if (!membership) return json(res, 404, { message: 'Not Found' });
    if (membership.status !== 200) return json(res, membership.status, { message: 'Forbidden' });
    return json(res, 200, { state: membership.state ?? 'active', role: 'member', organization: { login: org } });
  }
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (data += chunk));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}
