// A real upstream OpenID Provider for the upstream-login tests: a second oidc-provider instance on
// 127.0.0.1:<ephemeral port> (plain http, issuer `http://127.0.0.1:<port>`), with discovery, JWKS, an RS256-signed
// ID token carrying email, email_verified, name and groups, PKCE (S256) required, one confidential
// client_secret_post client whose only redirect URI is Gatehouse's fixed `/upstream/callback`, and refresh tokens
// when offline_access is asked. Gatehouse talks to it over real HTTP with openid-client, exactly as it would to
// Okta or Keycloak, so the whole bound handshake (state, nonce, PKCE, ID token checks) runs for real.
//
// Its login is scripted over HTTP: the interaction URL is `/idp-interaction/<uid>`; GET shows a tiny form, POST
// `/idp-interaction/<uid>/login` with `sub=<account>` logs that account in AND grants the requested scopes in one
// step; POST `/idp-interaction/<uid>/abort` is the person pressing Cancel (the IdP answers error=access_denied).
// Once a browser has logged in, the IdP's session and grant let the next authorization for that browser through
// without any page, like a real IdP does (so tests can prove Gatehouse asks its own consent anyway).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import Provider, { type Configuration } from 'oidc-provider';
import { authorizeUrl, pkcePair, registerPublicClient } from './browser-flow.js';
import { atUrl, formAction, type MultiOriginBrowser } from './multi-origin-browser.js';
import { freePort } from './server.js';

export interface IdpAccount {
  email?: string | undefined;
  email_verified?: boolean | undefined;
  name?: string | undefined;
  groups?: string[] | undefined;
}

export interface MockIdpOptions {
  /** Gatehouse's ISSUER: the client's redirect URI is `${gatehouseIssuer}/upstream/callback`. */
  gatehouseIssuer: string;
  /** Accounts by subject; the map is live: change a profile and the next ID token says so. */
  accounts: Record<string, IdpAccount>;
  clientId?: string;
  clientSecret?: string;
  /** Rotate refresh tokens on every use (a reused one is refused and ends the upstream grant, as Keycloak and Auth0 do). */
  rotateRefreshTokens?: boolean;
  /** Scopes beyond openid/email/profile/offline_access the IdP grants (an API's, for incremental consent). */
  extraScopes?: string[];
  /** The host in the issuer (default 127.0.0.1; `localhost` keeps a real browser's cookies apart from Gatehouse's). */
  host?: string;
}

export interface MockIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Gatehouse's fixed callback, the client's only redirect URI. */
  callbackUrl: string;
  accounts: Record<string, IdpAccount>;
  /** Every login page the IdP showed (GET /idp-interaction/<uid>), by interaction uid. */
  readonly loginPagesShown: string[];
  /** Every authorization request the IdP received, its query parameters as sent. */
  readonly authorizationRequests: URLSearchParams[];
  /** How many requests reached the token endpoint (code exchanges and refreshes). */
  readonly tokenRequests: () => number;
  /** While true the IdP is "down": every request is answered 503. */
  down: boolean;
  /**
   * Plays the person at the IdP in `browser`: opens the IdP authorization URL; if the IdP asks, logs in as `sub`
   * (logging in and consenting in one step). Returns the URL the IdP sends the browser back to (Gatehouse's
   * /upstream/callback?code&state&iss) WITHOUT opening it, so a test can hold it or open it elsewhere.
   */
  login(browser: MultiOriginBrowser, idpAuthorizeUrl: string | URL, sub?: string): Promise<URL>;
  /** Same, but the person presses Cancel at the IdP: the callback carries error=access_denied. */
  cancel(browser: MultiOriginBrowser, idpAuthorizeUrl: string | URL): Promise<URL>;
  /**
   * Signs any JWT with the key the IdP signs its ID tokens with (published at its jwks_uri): a logout bearer or a
   * Security Event Token, as the IdP would send them (docs/UNIVERSAL-LOGOUT.md). The header defaults to RS256 and
   * the IdP's kid; `header` adds to it or replaces them.
   */
  signJwt(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

const COOKIE_KEYS = ['mock-idp-cookie-key-one-0123456789', 'mock-idp-cookie-key-two-0123456789'];
const INTERACTION = /^\/idp-interaction\/([A-Za-z0-9_-]+)(\/login|\/abort)?$/;

export async function startMockIdp(options: MockIdpOptions): Promise<MockIdp> {
  const port = await freePort();
  const issuer = `http://${options.host ?? '127.0.0.1'}:${port}`;
  const clientId = options.clientId ?? 'gatehouse-at-mock-idp';
  const clientSecret = options.clientSecret ?? 'mock-idp-client-secret-0123456789abcdef';
  const callbackUrl = `${options.gatehouseIssuer}/upstream/callback`;
  const accounts = options.accounts;
  /** PKCE challenges of authorization requests that asked for offline_access. */
  const offlineRequested = new Set<string>();
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'mock-idp-rs256', alg: 'RS256', use: 'sig' };

  const configuration: Configuration = {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [callbackUrl],
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        id_token_signed_response_alg: 'RS256',
      },
    ],
    jwks: { keys: [signingKey as never] },
    cookies: { keys: COOKIE_KEYS },
    responseTypes: ['code'],
    pkce: { required: () => true },
    scopes: ['openid', 'email', 'profile', 'offline_access', ...(options.extraScopes ?? [])],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    // Put the scopes' claims in the ID token (not only at UserInfo), as Okta and Entra do for these claims.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/idp-interaction/${interaction.uid}` },
    // A refresh token whenever the authorization request asked for offline_access, as Okta or Keycloak do.
    // oidc-provider itself follows OIDC Core §11 to the letter and drops offline_access from a request without
    // prompt=consent, so the scope never reaches the code: the request is remembered by its PKCE challenge instead.
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && (code.scopes.has('offline_access') || offlineRequested.has(String((code as { codeChallenge?: string }).codeChallenge))),
    ...(options.rotateRefreshTokens ? { rotateRefreshToken: () => true } : {}),
    findAccount: (_ctx, sub) => {
      if (!accounts[sub]) return undefined;
      return {
        accountId: sub,
        claims: () => {
          const a = accounts[sub] ?? {};
          return { sub, ...a } as { sub: string };
        },
      };
    },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!doctype html><title>IdP error</title><p id="error">${escape(String(out.error))}: ${escape(String(out.error_description ?? ''))}</p>`;
    },
  };
  const provider = new Provider(issuer, configuration);
  const providerCallback = provider.callback();

  const loginPagesShown: string[] = [];
  const authorizationRequests: URLSearchParams[] = [];

  async function interaction(req: IncomingMessage, res: ServerResponse, uid: string, action: string | undefined): Promise<void> {
    let details: Awaited<ReturnType<Provider['interactionDetails']>>;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      return html(res, 400, '<p id="error">no interaction in this browser</p>');
    }
    if (details.uid !== uid) return html(res, 400, '<p id="error">not this browser\'s interaction</p>');
    if (!action && req.method === 'GET') {
      loginPagesShown.push(uid);
      return html(
        res,
        200,
        `<h1>Mock IdP sign-in</h1>
<form method="post" action="/idp-interaction/${uid}/login"><input name="sub" aria-label="Account"><button type="submit">Sign in</button></form>
<form method="post" action="/idp-interaction/${uid}/abort"><button type="submit">Cancel</button></form>`,
      );
    }
    if (req.method !== 'POST') return html(res, 405, '<p id="error">method not allowed</p>');
    const form = new URLSearchParams(await readBody(req));
    if (action === '/abort') {
      return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
    }
    const sub = form.get('sub') ?? '';
    if (!accounts[sub]) return html(res, 401, '<p id="error">unknown account</p>');
    // Login and consent in one step: a grant for everything the client asked (openid email profile offline_access,
    // and any extra scope: an access token without a resource carries them all, as the token response's `scope`).
    const clientId = String(details.params.client_id);
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    const g = grant && grant.accountId === sub ? grant : new provider.Grant({ accountId: sub, clientId });
    g.addOIDCScope(String(details.params.scope ?? 'openid'));
    const grantId = await g.save();
    await provider.interactionFinished(req, res, { login: { accountId: sub }, consent: { grantId } }, { mergeWithLastSubmission: false });
  }

  let tokenRequests = 0;
  const state = { down: false };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    if (state.down) {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"temporarily_unavailable"}');
      return;
    }
    if (url.pathname === '/token' && req.method === 'POST') tokenRequests++;
    const m = INTERACTION.exec(url.pathname);
    if (m) {
      interaction(req, res, m[1]!, m[2]).catch((err: unknown) => {
        if (!res.headersSent) html(res, 500, `<p id="error">${escape(String(err))}</p>`);
      });
      return;
    }
    if (url.pathname === '/auth' && req.method === 'GET') {
      authorizationRequests.push(new URLSearchParams(url.search));
      const challenge = url.searchParams.get('code_challenge');
      if (challenge && url.searchParams.get('scope')?.split(' ').includes('offline_access')) offlineRequested.add(challenge);
    }
    providerCallback(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });

  async function toCallback(browser: MultiOriginBrowser, idpAuthorizeUrl: string | URL, act: (page: Response) => Promise<Response>): Promise<URL> {
    const stop = atUrl(callbackUrl);
    let step = await browser.open(idpAuthorizeUrl, stop);
    if (step instanceof Response) {
      const where = new URL(step.url);
      if (step.status !== 200 || !where.pathname.startsWith('/idp-interaction/')) {
        throw new Error(`mock IdP: expected its login page or a redirect to ${callbackUrl}, got ${step.status} ${step.url}: ${(await step.text()).slice(0, 300)}`);
      }
      step = await browser.follow(await act(step), stop);
    }
    if (!(step instanceof URL)) throw new Error(`mock IdP: login ended on ${step.status} ${step.url}: ${(await step.text()).slice(0, 300)}`);
    return step;
  }

  return {
    issuer,
    clientId,
    clientSecret,
    callbackUrl,
    accounts,
    loginPagesShown,
    authorizationRequests,
    tokenRequests: () => tokenRequests,
    get down() {
      return state.down;
    },
    set down(value: boolean) {
      state.down = value;
    },
    login: (browser, idpAuthorizeUrl, sub) =>
      toCallback(browser, idpAuthorizeUrl, async (page) => {
        if (sub === undefined) throw new Error('mock IdP: it asked for a login and no account was given');
        const action = formAction(await page.text(), page.url, '/login');
        return browser.postForm(action, { sub });
      }),
    cancel: (browser, idpAuthorizeUrl) =>
      toCallback(browser, idpAuthorizeUrl, async (page) => browser.postForm(formAction(await page.text(), page.url, '/abort'), {})),
    signJwt: (claims, header = {}) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: signingKey.kid, ...header }).sign(privateKey),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><meta charset="utf-8"><title>Mock IdP</title>${body}`);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// --- Driving an MCP client's authorization through Gatehouse and the mock IdP ------------------------------------

export interface McpClientUnderTest {
  clientId: string;
  redirectUri: string;
}

export interface StartedAuthorization {
  /** Where Gatehouse sent the browser: the IdP's authorization endpoint, with Gatehouse's upstream state. */
  idpUrl: URL;
  /** The Gatehouse interaction this browser is in. */
  uid: string;
  verifier: string;
  state: string;
}

/** Registers a public MCP client (DCR) with one loopback redirect URI. */
export async function registerMcpClient(gatehouse: string, redirectUri: string, name = 'Test MCP Client'): Promise<McpClientUnderTest> {
  const { client_id } = await registerPublicClient(gatehouse, [redirectUri], { client_name: name });
  return { clientId: client_id, redirectUri };
}

/**
 * The MCP client sends `browser` to Gatehouse's /authorize; with one upstream connection Gatehouse sends it straight
 * on to the IdP. Stops there, without opening the IdP URL.
 */
export async function startAtGatehouse(
  browser: MultiOriginBrowser,
  gatehouse: string,
  idp: MockIdp,
  client: McpClientUnderTest,
  params: { scope?: string; state?: string; resource?: string } = {},
): Promise<StartedAuthorization> {
  const { verifier, challenge } = pkcePair();
  const state = params.state ?? `mcp-${randomBytes(9).toString('base64url')}`;
  const url = authorizeUrl(gatehouse, {
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope: params.scope ?? 'tools:read',
    state,
    ...(params.resource ? { resource: params.resource } : {}),
  });
  const step = await browser.open(url, (next) => next.origin === new URL(idp.issuer).origin || next.origin === new URL(client.redirectUri).origin);
  if (!(step instanceof URL) || step.origin !== new URL(idp.issuer).origin) {
    const detail = step instanceof URL ? step.href : `${step.status} ${step.url}: ${(await step.text()).slice(0, 300)}`;
    throw new Error(`expected Gatehouse to send the browser to the IdP, got ${detail}`);
  }
  const prefix = `${gatehouse}/interaction/`;
  const uid = [...browser.history].reverse().find((h) => h.url.startsWith(prefix))?.url.slice(prefix.length).split(/[/?]/)[0];
  if (!uid) throw new Error('no Gatehouse interaction in the browser history');
  return { idpUrl: step, uid, verifier, state };
}

/**
 * Opens a URL at Gatehouse (typically the IdP's callback) in `browser` and follows Gatehouse's redirects until it
 * shows a page (a Response) or sends the browser elsewhere (a URL, not opened: the MCP client's redirect URI, or
 * the IdP).
 */
export function openAtGatehouse(browser: MultiOriginBrowser, gatehouse: string, url: string | URL, from?: string): Promise<Response | URL> {
  const origin = new URL(gatehouse).origin;
  return browser.open(url, (next) => next.origin !== origin, from);
}

/** Answers Gatehouse's consent page shown in `page`; returns where Gatehouse sends the browser (or the next page). */
export async function answerConsent(browser: MultiOriginBrowser, gatehouse: string, page: Response, decision: 'allow' | 'deny'): Promise<Response | URL> {
  const html = await page.text();
  if (!/<button[^>]*name="decision"/.test(html)) throw new Error(`expected Gatehouse's consent page, got ${page.status} ${page.url}: ${html.slice(0, 300)}`);
  const origin = new URL(gatehouse).origin;
  const res = await browser.postForm(formAction(html, page.url, 'name="decision"'), { decision });
  return browser.follow(res, (next) => next.origin !== origin);
}
