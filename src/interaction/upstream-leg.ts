// The second handshake, Gatehouse ↔ the upstream IdP, bound to the first (docs/ARCHITECTURE.md, "The upstream leg": the
// two-layer consent CSRF). The leg starts under /interaction/<uid>, from the browser whose interaction cookie names
// that uid; its state, nonce and PKCE verifier stay server-side under that uid. The IdP returns to the fixed
// /upstream/callback, which only bounces the browser back under /interaction/<uid>; there the transaction is
// taken by the cookie's uid and the response's state together (issue 15, finding 6). A callback from another
// person's login (their code, their state), or any unsolicited one, matches nothing: it is refused and this
// browser's sign-in stays intact for the genuine response. A browser without this interaction's cookie never
// reaches a transaction at all. Every refusal is audited and ends on a page, never on a redirect.
import type { Context } from 'koa';
import * as oc from 'openid-client';
import type Provider from 'oidc-provider';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import { sha256 } from '../crypto/digest.js';
import type { PolicyReader } from '../policy/settings.js';
import { issuerBase } from '../http/issuer-path.js';
import type { Logger } from '../log.js';
import type { FirstPartyClients } from '../oauth/first-party-clients.js';
import { NO_UPSTREAM_METRICS, type UpstreamMetrics } from '../metrics/upstream-metrics.js';
import type { Accounts } from '../upstream/accounts.js';
import { UpstreamError } from '../upstream/connector.js';
import type { Connections, StoredConnection } from '../upstream/connections.js';
import { TRANSACTION_TTL_MS, type UpstreamTransactions } from '../upstream/transactions.js';
import type { TokenVaultApi } from '../upstream/token-vault.js';
import { finishInteraction } from './interaction-result.js';
import { completeLogin } from './login-result.js';
import type { Details, Pages } from './pages.js';

/**
 * Set when the leg starts; only read by /upstream/callback, to know which interaction to bounce into. It is left to
 * expire (≤ 10 minutes) rather than cleared when used: it names an interaction, not a secret, and keeping it lets a
 * replayed callback reach the spent transaction and be audited as the replay it is.
 */
export const UPSTREAM_COOKIE = 'gatehouse.upstream';
export const CALLBACK_PATH = '/upstream/callback';

/**
 * The connect-account page's leg (docs/CONNECT-ACCOUNT.md) returns through the same fixed callback. Its start sets
 * this cookie, under the callback's path, to a digest of its upstream state: /upstream/callback sends a response to
 * the connect flow only when the response's state is that one (or no login was started in this browser), so a
 * login and a connect in flight in one browser each get their own response; the login's checks are untouched.
 * Like UPSTREAM_COOKIE it names no secret and is left to expire.
 */
export const CONNECT_DISPATCH_COOKIE = 'gatehouse.upstream.connect';
/** Where /upstream/callback bounces a connect response, under the account area (its session and connect cookie). */
export const CONNECT_CALLBACK_PATH = '/account/connect-callback';
/** What CONNECT_DISPATCH_COOKIE holds: the state's digest, compared at the callback. */
export const connectStateHint = (state: string) => sha256(`connect-dispatch:${state}`);

export interface UpstreamLegDeps {
  config: Config;
  provider: () => Provider;
  connections: Connections;
  transactions: UpstreamTransactions;
  accounts: Accounts;
  /** Where a login's upstream tokens go (docs/CONNECT-ACCOUNT.md): linked in the token vault with the identity that signed in. */
  vault: TokenVaultApi;
  audit: AuditLog;
  log: Logger;
  pages: Pages;
  policy: PolicyReader;
  /** Upstream latency and failures by connection kind; absent where nothing is scraped. */
  upstreamMetrics?: UpstreamMetrics | undefined;
  /** Gatehouse's own clients, whose logins are marked fresh (oauth/first-party-clients.ts). */
  firstParty?: FirstPartyClients | undefined;
}

export function upstreamLeg(deps: UpstreamLegDeps) {
  const { pages } = deps;
  const metrics = deps.upstreamMetrics ?? NO_UPSTREAM_METRICS;

  const refused = async (ctx: Context, reason: string, extra: { clientId?: string; connection?: string } = {}) => {
    await deps.audit.record({
      type: 'upstream.callback',
      outcome: 'failure',
      reason,
      clientId: extra.clientId,
      details: { interaction: ctx.params.uid, connector: extra.connection },
      ...requestOrigin(ctx),
    });
  };

  const unreachable = (ctx: Context, name: string) =>
    pages.refuse(ctx, 502, 'Sign-in is unavailable', `${name} could not be reached or did not answer correctly. Try again in a moment.`, 'temporarily_unavailable');

  async function start(ctx: Context, d: Details, connection: StoredConnection): Promise<void> {
    const connector = deps.connections.connector(connection);
    if (connector.kind !== 'redirect') return pages.expired(ctx);
    let begun: Awaited<ReturnType<typeof connector.start>>;
    try {
      // A client that demands a fresh sign-in (prompt=login, max_age) must not be satisfied by an IdP session.
      const prompts = String(d.params.prompt ?? '').split(' ');
      begun = await metrics.time(connection.kind, 'start', () => connector.start({ freshLogin: prompts.includes('login') || d.params.max_age !== undefined }));
    } catch (err) {
      metrics.failed(connection.kind, 'start', 'unreachable');
      deps.log.warn({ connection: connection.id, err: errorSummary(err) }, 'upstream IdP unavailable');
      await deps.audit.record({ type: 'upstream.start', outcome: 'failure', reason: `identity provider unavailable: ${errorSummary(err)}`, clientId: String(d.params.client_id), details: { connector: connection.id }, ...requestOrigin(ctx) });
      return unreachable(ctx, connection.name);
    }
    const interactionEnds = d.exp ? new Date(d.exp * 1000) : new Date(Date.now() + TRANSACTION_TTL_MS);
    await deps.transactions.begin(d.uid, connection.id, begun.checks, interactionEnds);
    ctx.cookies.set(UPSTREAM_COOKIE, d.uid, {
      // Under ISSUER's path, where the IdP sends the browser back (`${ISSUER}/upstream/callback`).
      path: `${issuerBase(deps.config.ISSUER)}${CALLBACK_PATH}`,
      httpOnly: true,
      // Lax: the IdP's redirect back is a top-level cross-site navigation, which Lax cookies accompany.
      sameSite: 'lax',
      secure: deps.config.ISSUER.startsWith('https:'),
      signed: true,
      maxAge: TRANSACTION_TTL_MS,
      overwrite: true,
    });
    ctx.status = 303;
    ctx.redirect(begun.url.href);
  }

  async function finish(ctx: Context): Promise<void> {
    const d = await pages.details(ctx);
    if (!d) {
      // No interaction cookie for this uid in this browser: someone else's interaction, or an expired one.
      await refused(ctx, 'callback without this interaction\'s cookie (expired, or not this browser\'s sign-in)');
      return pages.expired(ctx);
    }
    const clientId = String(d.params.client_id);
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    // Taken only with its own state (compared and deleted in one statement): a response with another state leaves
    // this browser's sign-in waiting for the genuine one.
    const tx = await deps.transactions.take(d.uid, state);
    if (!tx) {
      if (await deps.transactions.pending(d.uid)) {
        await refused(ctx, 'state mismatch: the response belongs to another sign-in (possible login CSRF); the sign-in in progress is kept', { clientId });
        return pages.refuse(ctx, 400, 'This sign-in response is not yours', 'The identity provider\'s response does not belong to the sign-in started in this browser, so nobody was signed in. Start again from your application.');
      }
      await refused(ctx, 'no upstream transaction (expired, replayed or never started)', { clientId });
      return pages.refuse(ctx, 400, 'This sign-in has expired', 'This sign-in response was already used or has expired. Start again from your application.');
    }
    if (d.prompt.name !== 'login') {
      await refused(ctx, `interaction is past login (${d.prompt.name})`, { clientId, connection: tx.connectionId });
      return pages.expired(ctx);
    }
    const connection = await deps.connections.find(tx.connectionId);
    const connector = connection && deps.connections.connector(connection);
    if (!connection || connector?.kind !== 'redirect') {
      await refused(ctx, 'connection removed during sign-in', { clientId, connection: tx.connectionId });
      return pages.expired(ctx);
    }
    // Disabled while the person was at the IdP: no sign-in finishes through it (docs/SECURITY.md, "A disabled
    // connection refuses all but revocations").
    if (!connection.enabled) {
      await refused(ctx, 'connection disabled during sign-in', { clientId, connection: tx.connectionId });
      return pages.refuse(ctx, 403, `Sign-in with ${connection.name} is turned off`, `An administrator turned off sign-in with ${connection.name}. Start again from your application and choose another way to sign in, or ask your administrator.`, 'access_denied');
    }
    // openid-client checks the response against the URL the IdP redirected to: the fixed callback.
    const callback = new URL(`${deps.config.ISSUER}${CALLBACK_PATH}`);
    callback.search = ctx.querystring;
    try {
      const { identity, tokens } = await metrics.time(connection.kind, 'finish', () => connector.finish(callback, tx.checks));
      return await completeLogin({ ...deps }, ctx, d, identity, tokens);
    } catch (err) {
      return failed(ctx, d, connection, err);
    }
  }

  async function failed(ctx: Context, d: Details, connection: StoredConnection, err: unknown): Promise<void> {
    const clientId = String(d.params.client_id);
    const meta = { clientId, details: { connector: connection.id }, ...requestOrigin(ctx) };
    if (err instanceof UpstreamError) {
      metrics.failed(connection.kind, 'finish', 'refused');
      await deps.audit.record({ type: 'login', outcome: 'failure', reason: err.reason, ...meta });
      return pages.refuse(ctx, 403, 'Access not allowed', err.userMessage);
    }
    if (err instanceof oc.AuthorizationResponseError) {
      // The IdP itself said no (the person cancelled, or the IdP refused them): the MCP client hears access_denied.
      metrics.failed(connection.kind, 'finish', 'idp_denied');
      await deps.audit.record({ type: 'login', outcome: 'failure', reason: `identity provider returned ${err.error}`, ...meta });
      const redirectTo = await finishInteraction(d, { error: 'access_denied', error_description: `Sign-in at ${connection.name} did not complete (${err.error})` }, { mergeWithLastSubmission: false });
      return ctx.redirect(redirectTo);
    }
    const summary = errorSummary(err);
    const network = !(err instanceof oc.ResponseBodyError) && !(err instanceof oc.ClientError && String(err.code ?? '').startsWith('OAUTH_'));
    deps.log.warn({ connection: connection.id, err: summary }, 'upstream login failed');
    metrics.failed(connection.kind, 'finish', network ? 'unreachable' : 'invalid_response');
    await deps.audit.record({ type: 'upstream.callback', outcome: 'failure', reason: `upstream response rejected: ${summary}`, ...meta });
    if (network) return unreachable(ctx, connection.name);
    return pages.refuse(ctx, 400, 'Sign-in could not be verified', `The response from ${connection.name} failed verification, so nobody was signed in. Start again from your application.`);
  }

  return { start, finish };
}

/** A loggable one-liner: openid-client's code and message, never a response body (which can hold tokens). */
function errorSummary(err: unknown): string {
  if (err instanceof oc.ResponseBodyError) return `${err.code}: ${err.error}`;
  if (err instanceof Error) return `${(err as { code?: string }).code ?? err.name}: ${err.message}`.slice(0, 300);
  return 'unknown error';
}
