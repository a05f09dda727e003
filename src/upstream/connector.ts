// The one shape every identity source produces and the two small interfaces a connector implements (// after dex's connector package). Whoever logs a person in, Gatehouse only ever sees an Identity; upstream tokens
// stay with the connector and the token vault, never in a Gatehouse token.

export interface Identity {
  connector: string; // the connection's id, e.g. "local", "okta"
  issuer: string; // who vouches for the subject (the upstream issuer, or urn:gatehouse:local)
  subject: string; // stable id at that issuer: never an email, which can be reassigned
  email?: string | undefined;
  /** Only a verified email can satisfy ALLOWED_EMAIL_DOMAINS or ADMIN_EMAILS. */
  emailVerified?: boolean | undefined;
  name?: string | undefined;
  groups: string[];
  /** The IdP sent only part of the person's groups (Entra's overage): group rules cannot be decided. */
  groupsIncomplete?: boolean | undefined;
  /** Local accounts only: the account was created as an admin (first-run setup, `user add --admin`). */
  localAdmin?: boolean | undefined;
}

/**
 * What the identity source says of a person now (docs/IDENTITY-LIFECYCLE.md), asked at refresh: `current` with the
 * identity as it is today (and the upstream tokens, when refreshing them gave new ones); `gone` when the source says
 * the person may no longer sign in (a refused refresh token, a token the IdP no longer accepts, a suspended or removed
 * account, a kind's own rule such as organisation membership); `cannot` when it cannot tell (no usable stored
 * token). An unreachable or failing source is neither: the connector throws, and the caller applies the outage rule.
 */
export type Revalidation =
  | { outcome: 'current'; identity: Identity; tokens?: UpstreamTokens | undefined }
  | { outcome: 'gone'; reason: string; /** The IdP refused the stored refresh token itself. */ refreshTokenRefused?: boolean }
  | { outcome: 'cannot'; reason: string };

/** A connector that checks a password itself (local accounts). */
export interface PasswordConnector {
  readonly id: string;
  readonly kind: 'password';
  login(email: string, password: string): Promise<Identity | undefined>;
  /** Reads the account again (Revalidation). */
  revalidate(known: Identity): Promise<Revalidation>;
}

/** What must be kept server-side between the redirect to the IdP and its callback (single use, ≤ 10 minutes). */
export interface UpstreamChecks {
  state: string;
  nonce?: string | undefined;
  codeVerifier: string;
}

/** Upstream tokens, kept (encrypted) only when the connection asks for them. */
export interface UpstreamTokens {
  accessToken?: string | undefined;
  refreshToken?: string | undefined;
  expiresAt?: Date | undefined;
  scope?: string | undefined;
}

export interface StartOptions {
  /** The person must authenticate again at the IdP, not ride an IdP session. */
  freshLogin?: boolean | undefined;
  /**
   * Upstream scopes asked for on top of the connection's own (the connect-account page's incremental consent,
   * docs/CONNECT-ACCOUNT.md); each kind also asks for what keeps a refresh token covering them.
   */
  scopes?: string[] | undefined;
}

/** What a connection's discovery found (the console's Test): the IdP's endpoints and what it supports. */
export interface DiscoveryReport {
  /** The document or API fetched to find this out. */
  fetched: string;
  issuer: string;
  authorizationEndpoint?: string | undefined;
  tokenEndpoint?: string | undefined;
  userinfoEndpoint?: string | undefined;
  jwksUri?: string | undefined;
  scopesSupported?: string[] | undefined;
  pkceMethods?: string[] | undefined;
  /** What the admin should know beyond the endpoints (e.g. "no discovery document: fixed endpoints"). */
  notes: string[];
}

/** A connector that sends the browser to an IdP and verifies what comes back (OIDC, OAuth 2). */
export interface RedirectConnector {
  readonly id: string;
  readonly kind: 'redirect';
  /**
   * The upstream authorization URL, and the checks the callback must pass. Never carries MCP parameters; only
   * Gatehouse's own demand for a fresh sign-in (an MCP client asked for prompt=login or max_age).
   */
  start(options?: StartOptions): Promise<{ url: URL; checks: UpstreamChecks }>;
  /** Exchanges the callback's code (state, PKCE and nonce checked) and returns who logged in. */
  finish(callback: URL, checks: UpstreamChecks): Promise<{ identity: Identity; tokens?: UpstreamTokens | undefined }>;
  /** Fetches the IdP's discovery document (or the kind's equivalent) now; throws what went wrong. */
  discover(): Promise<DiscoveryReport>;
  /** Asks the IdP about a person again with the upstream tokens kept from their login (Revalidation). */
  revalidate(known: Identity, tokens: UpstreamTokens | undefined): Promise<Revalidation>;
  /**
   * Redeems `tokens.refreshToken` for new tokens (docs/TOKEN-VAULT.md). Throws RefreshRefused when the IdP says the
   * refresh token is dead (invalid_grant: revoked, expired, single-use already spent); anything else thrown is an
   * outage and says nothing about the token. An answer without a refresh token keeps `tokens.refreshToken`.
   */
  refresh(tokens: UpstreamTokens, request?: RefreshRequest): Promise<RefreshedTokens>;
  /** The kind's refresh tokens span resources (Entra): refresh(…, { resource }) returns that resource's token. */
  readonly multiResource?: boolean;
}

export interface RefreshRequest {
  /** Upstream scopes the caller needs (the vault checked them against the grant already). */
  scopes?: string[] | undefined;
  /** Another resource than the connection's own; honoured only by a multiResource kind, ignored by the others. */
  resource?: string | undefined;
}

/** Refreshed tokens; `resource` set when the access token is for that resource, not the connection's own. */
export interface RefreshedTokens extends UpstreamTokens {
  resource?: string | undefined;
}

/** The IdP refused the refresh token itself (invalid_grant): it will never work again; the person must sign in. */
/**
 * An IdP's error_description as Gatehouse keeps it (audit rows, a vault row's detail): short, printable, and with any
 * long token-like run masked — an IdP that echoes the refresh token it refused must not put it in the audit log.
 */
export function idpDescription(text: unknown): string {
  if (typeof text !== 'string') return '';
  return text.replace(/[^\x20-\x7E]/g, ' ').replace(/[A-Za-z0-9._~+/=-]{20,}/g, '…').slice(0, 160);
}

export class RefreshRefused extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export type Connector = PasswordConnector | RedirectConnector;

/**
 * A refusal a person should read: `reason` goes to the audit log, `message` to the page. Anything else a
 * connector throws is treated as "the identity provider could not be reached or answered wrongly".
 */
export class UpstreamError extends Error {
  constructor(
    readonly reason: string,
    readonly userMessage: string,
    readonly cancelled = false,
  ) {
    super(reason);
  }
}
