// The connect-account page (docs/CONNECT-ACCOUNT.md): the signed-in person links an upstream account to the token
// vault, or grants it more scopes, for MCP servers that exchange their Gatehouse token for it. The page only shows
// and asks; the upstream redirect starts on a POST carrying the session's CSRF token (a link alone must not be able
// to send a victim's browser through an attacker's upstream login). The leg returns through the fixed
// /upstream/callback like a login's (interaction/upstream-leg.ts): its state, nonce and PKCE verifier are kept
// server-side under this browser's random connect key and the person's account, and taken once with the matching
// state. What comes back is linked only when it may be: a connection the person signs in with must return that
// same upstream person, and an upstream identity that signs in to another account is refused. Every refusal is
// audited and ends on a page; the done page links nowhere the request named (no open redirect).
import type { ResourceRegistry } from '../oauth/resources.js';
import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import * as oc from 'openid-client';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import { issuerBase } from '../http/issuer-path.js';
import { CALLBACK_PATH, CONNECT_CALLBACK_PATH, CONNECT_DISPATCH_COOKIE, connectStateHint } from '../interaction/upstream-leg.js';
import { clientIdentity } from '../interaction/client-facts.js';
import type { Logger } from '../log.js';
import type { CimdClients } from '../oauth/cimd/cimd-clients.js';
import type { ClientRegistry } from '../oauth/client-registry.js';
import type { Account, Accounts } from '../upstream/accounts.js';
import { UpstreamError, type RedirectConnector } from '../upstream/connector.js';
import type { Connections, StoredConnection } from '../upstream/connections.js';
import { KINDS } from '../upstream/kinds.js';
import type { TokenVaultApi, VaultStatus } from '../upstream/token-vault.js';
import { TRANSACTION_TTL_MS, type UpstreamTransactions } from '../upstream/transactions.js';

/** This browser's connect key, under the connect callback's path only; signed, HttpOnly, left to expire like the login's. */
export const CONNECT_COOKIE = 'gatehouse.account.connect';

// RFC 6749 §3.3 scope-token characters; a bounded list, so a crafted link cannot make a page (or an IdP request) huge.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,200}$/;
const MAX_SCOPES = 30;
const MAX_CLIENT_ID = 500;

export interface ConnectDeps {
  config: Config;
  connections: Connections;
  accounts: Accounts;
  vault: TokenVaultApi;
  transactions: UpstreamTransactions;
  registry: ClientRegistry;
  cimdClients: CimdClients;
  audit: AuditLog;
  log: Logger;
  /** The MCP servers' delegation policies: a link asks only for upstream scopes one of them may use. */
  resources: Pick<ResourceRegistry, 'list'>;
}

/** What the page helpers of account/index.ts give this module. */
export interface ConnectPages {
  render(ctx: Context, status: number, view: string, data: Record<string, unknown>): void;
  problem(ctx: Context, status: number, title: string, description: string): void;
}

type Usable = { connection: StoredConnection; connector: RedirectConnector } | { status: number; title: string; description: string; reason: string };

const STATUS_TEXT: Record<VaultStatus, string> = { active: 'active', needs_reauth: 'needs re-authorization', revoked: 'revoked' };

export function connectAccount(deps: ConnectDeps, pages: ConnectPages) {
  const base = issuerBase(deps.config.ISSUER);
  const secure = deps.config.ISSUER.startsWith('https:');
  const actor = (account: Account) => account.email ?? account.id;

  const audit = (ctx: Context, account: Account | undefined, outcome: 'success' | 'failure', reason: string | undefined, details: Record<string, unknown>) =>
    deps.audit.record({ type: 'account.upstream_connected', outcome, actor: account ? actor(account) : undefined, reason, details, ...requestOrigin(ctx) });

  /** The connection, if the vault can hold its tokens; else why not, for a page. */
  async function usable(id: string): Promise<Usable> {
    const connection = await deps.connections.find(id);
    if (!connection) return { status: 404, title: 'No such account to connect', description: 'This server has no upstream connection by that name. The link may be out of date: ask the application again.', reason: 'unknown connection' };
    if (!connection.enabled) return { status: 403, title: `${connection.name} is turned off`, description: `An administrator turned off ${connection.name}: no account can be connected through it now. Ask your administrator.`, reason: 'connection disabled' };
    const connector = connection.kind === 'local' ? undefined : deps.connections.connector(connection);
    if (!connector || connector.kind !== 'redirect') {
      return { status: 400, title: 'Nothing to connect', description: `${connection.name} is this server's own password sign-in: it has no upstream account or tokens to connect.`, reason: 'connection keeps no upstream tokens (local)' };
    }
    if (!connection.storeTokens) {
      return {
        status: 400,
        title: `${connection.name} cannot be connected yet`,
        description: `This server does not keep ${connection.name} tokens. An administrator must turn on "keep upstream tokens" for this connection (the console's "Ask the IdP for a refresh token") before applications can use your ${connection.name} account.`,
        reason: 'connection has storeTokens off',
      };
    }
    return { connection, connector };
  }

  /** The `scope` asked for, as a list; undefined when it is not a list of scope tokens. */
  function scopesOf(value: unknown): string[] | undefined {
    if (value === undefined || value === '') return [];
    if (typeof value !== 'string') return undefined;
    const list = [...new Set(value.split(' ').filter(Boolean))];
    return list.length <= MAX_SCOPES && list.every((s) => SCOPE_TOKEN.test(s)) ? list : undefined;
  }

  /**
   * Scopes of the link no MCP server's delegation policy lists for this connection (docs/DELEGATION.md): a crafted
   * link must not make the person grant the IdP more than any server may ask for.
   */
  async function undelegable(connectionId: string, scopes: string[]): Promise<string[]> {
    if (!scopes.length) return [];
    const allowed = new Set<string>();
    for (const r of await deps.resources.list()) if (Object.hasOwn(r.delegation.connections, connectionId)) for (const s of r.delegation.connections[connectionId]!) allowed.add(s);
    return scopes.filter((s) => !allowed.has(s));
  }

  const clientIdOf = (value: unknown) => (typeof value === 'string' && value.length > 0 && value.length <= MAX_CLIENT_ID ? value : undefined);

  /** The client's name as this server knows it (never fetched, never trusted): undefined for an unknown id. */
  async function clientNamed(clientId: string | undefined) {
    if (!clientId) return undefined;
    const registered = await deps.registry.find(clientId).catch(() => undefined);
    const cimd = registered ? undefined : await deps.cimdClients.find(clientId).catch(() => undefined);
    if (!registered && !cimd) return undefined;
    return clientIdentity({ clientId, clientName: registered?.clientName ?? cimd?.clientName });
  }

  /** The upstream account the vault links for this person and connection, for the pages. */
  async function linkedView(accountId: string, connectionId: string) {
    const linked = await deps.vault.linked(accountId, connectionId);
    return linked ? { subject: linked.subject, issuer: linked.issuer, status: linked.status, statusText: STATUS_TEXT[linked.status] ?? linked.status, scope: linked.scope ?? '' } : null;
  }

  const refuseUnusable = async (ctx: Context, account: Account, id: string, u: Exclude<Usable, { connection: StoredConnection }>) => {
    await audit(ctx, account, 'failure', u.reason, { connection: id.slice(0, 64) });
    pages.problem(ctx, u.status, u.title, u.description);
  };

  /** GET /account/connect/:connection — the page. Never starts the upstream leg. */
  async function page(ctx: Context, account: Account, csrf: string): Promise<void> {
    const id = ctx.params.connection!;
    const u = await usable(id);
    if (!('connection' in u)) return refuseUnusable(ctx, account, id, u);
    const scopes = scopesOf(ctx.query.scope);
    if (!scopes) return pages.problem(ctx, 400, 'This link is not valid', 'The permissions it asks for are not a list of scope names. Ask the application again.');
    const stray = await undelegable(u.connection.id, scopes);
    if (stray.length) {
      await audit(ctx, account, 'failure', `the link asks for scopes no MCP server may use: ${stray.join(' ').slice(0, 200)}`, { connection: u.connection.id });
      return pages.problem(ctx, 400, 'This link is not valid', `It asks ${u.connection.name} for permissions no MCP server here may use (${stray.join(' ').slice(0, 200)}). Ask the application again, or your administrator.`);
    }
    const clientId = clientIdOf(ctx.query.client_id);
    const client = await clientNamed(clientId);
    const signsIn = (await deps.accounts.identities(account.id)).some((i) => i.connectionId === u.connection.id);
    pages.render(ctx, 200, 'account/connect', {
      title: `Connect your ${u.connection.name} account`,
      connection: { id: u.connection.id, name: u.connection.name, kind: KINDS[u.connection.kind].displayName },
      configuredScopes: u.connection.scopes,
      extraScopes: scopes,
      client: client ?? null,
      linked: await linkedView(account.id, u.connection.id),
      signsIn,
      account: { email: account.email, name: account.name },
      csrf,
      action: `${base}/account/connect/${encodeURIComponent(u.connection.id)}`,
      scope: scopes.join(' '),
      clientId: client ? clientId : '',
    });
  }

  /** POST /account/connect/:connection — the Connect button: the upstream redirect, with the added scopes. */
  async function start(ctx: Context, account: Account, form: Record<string, string>): Promise<void> {
    const id = ctx.params.connection!;
    const u = await usable(id);
    if (!('connection' in u)) return refuseUnusable(ctx, account, id, u);
    const scopes = scopesOf(form.scope);
    if (!scopes) return pages.problem(ctx, 400, 'This form is not valid', 'The permissions it asks for are not a list of scope names.');
    if ((await undelegable(u.connection.id, scopes)).length) return pages.problem(ctx, 400, 'This form is not valid', 'It asks for permissions no MCP server here may use.');
    let begun: Awaited<ReturnType<RedirectConnector['start']>>;
    try {
      begun = await u.connector.start({ scopes });
    } catch (err) {
      deps.log.warn({ connection: u.connection.id, err: errorSummary(err) }, 'upstream IdP unavailable (connect account)');
      await audit(ctx, account, 'failure', `identity provider unavailable: ${errorSummary(err)}`, { connection: u.connection.id });
      return pages.problem(ctx, 502, `${u.connection.name} is unavailable`, `${u.connection.name} could not be reached or did not answer correctly. Try again in a moment.`);
    }
    const key = randomBytes(24).toString('base64url');
    await deps.transactions.beginConnect(account.id, key, u.connection.id, begun.checks, { scopes, clientId: clientIdOf(form.client_id) });
    const cookie = { httpOnly: true, sameSite: 'lax' as const, secure, signed: true, maxAge: TRANSACTION_TTL_MS, overwrite: true };
    ctx.cookies.set(CONNECT_COOKIE, key, { ...cookie, path: `${base}${CONNECT_CALLBACK_PATH}` });
    ctx.cookies.set(CONNECT_DISPATCH_COOKIE, connectStateHint(begun.checks.state), { ...cookie, path: `${base}${CALLBACK_PATH}` });
    ctx.status = 303;
    ctx.redirect(begun.url.href);
  }

  /** GET /account/connect-callback — bounced here by /upstream/callback. */
  async function finish(ctx: Context, account: Account): Promise<void> {
    const key = ctx.cookies.get(CONNECT_COOKIE, { signed: true });
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    if (!key) {
      await audit(ctx, account, 'failure', 'callback without a connect cookie: no connect was started in this browser, or it expired', {});
      return pages.problem(ctx, 400, 'This connection has expired', 'No account connection was started in this browser, or it took too long. Open the link from your application again.');
    }
    // Taken only with its own state, and only by this person (the key is scoped to their account): anyone else's
    // response leaves this browser's connect waiting for the genuine one.
    const tx = await deps.transactions.takeConnect(account.id, key, state);
    if (!tx) {
      if (await deps.transactions.pendingConnect(account.id, key)) {
        await audit(ctx, account, 'failure', 'state mismatch: the response belongs to another connect or sign-in (possible login CSRF); the connect in progress is kept', {});
        return pages.problem(ctx, 400, 'This response is not yours', 'The identity provider\'s response does not belong to the connection started in this browser, so nothing was connected. Start again from your application.');
      }
      await audit(ctx, account, 'failure', 'no connect transaction (expired, replayed, or started by another person)', {});
      return pages.problem(ctx, 400, 'This connection has expired', 'This response was already used or has expired, so nothing was connected. Open the link from your application again.');
    }
    const details = { connection: tx.connectionId };
    const u = await usable(tx.connectionId);
    if (!('connection' in u)) return refuseUnusable(ctx, account, tx.connectionId, u);
    const { connection, connector } = u;
    // openid-client checks the response against the URL the IdP redirected to: the fixed callback.
    const callback = new URL(`${deps.config.ISSUER}${CALLBACK_PATH}`);
    callback.search = ctx.querystring;
    let result: Awaited<ReturnType<RedirectConnector['finish']>>;
    try {
      result = await connector.finish(callback, tx.checks);
    } catch (err) {
      if (err instanceof UpstreamError) {
        await audit(ctx, account, 'failure', err.reason, details);
        return pages.problem(ctx, 403, 'Not connected', err.userMessage);
      }
      if (err instanceof oc.AuthorizationResponseError) {
        await audit(ctx, account, 'failure', `identity provider returned ${err.error}`, details);
        return pages.problem(ctx, 403, 'Not connected', `The connection at ${connection.name} was cancelled or refused, so nothing changed.`);
      }
      const summary = errorSummary(err);
      deps.log.warn({ connection: connection.id, err: summary }, 'upstream connect failed');
      await audit(ctx, account, 'failure', `upstream response rejected: ${summary}`, details);
      return pages.problem(ctx, 400, 'The connection could not be verified', `The response from ${connection.name} failed verification, so nothing was connected. Start again from your application.`);
    }
    const { identity, tokens } = result;
    const who = { issuer: identity.issuer, subject: identity.subject };
    const upstream = { ...details, issuer: identity.issuer, subject: identity.subject };
    // A connection the person signs in with: the vault must hold that same upstream person's tokens, or an MCP server
    // would act as someone else upstream while Gatehouse says it is this person.
    const signIn = (await deps.accounts.identities(account.id)).filter((i) => i.connectionId === connection.id);
    if (signIn.length && !signIn.some((i) => i.issuer === who.issuer && i.subject === who.subject)) {
      await audit(ctx, account, 'failure', 'upstream subject is not the one this account signs in with', upstream);
      return pages.problem(ctx, 403, `You signed in to ${connection.name} as someone else`, `You sign in to this server with a different ${connection.name} account. Sign out of ${connection.name}, sign in there with your own account, and try again. Nothing was connected.`);
    }
    const owner = await deps.accounts.findByIdentity(connection.id, who.issuer, who.subject);
    if (owner && owner !== account.id) {
      await audit(ctx, account, 'failure', 'upstream identity is the sign-in identity of another account', { ...upstream, otherAccount: owner });
      return pages.problem(ctx, 403, `This ${connection.name} account belongs to someone else`, `That ${connection.name} account signs in to another account of this server, so it cannot be connected to yours. Nothing was connected.`);
    }
    if (!tokens?.accessToken) {
      await audit(ctx, account, 'failure', 'identity provider returned no access token', upstream);
      return pages.problem(ctx, 502, 'Not connected', `${connection.name} did not return tokens, so nothing was connected. Try again in a moment.`);
    }
    // A different upstream account already linked is replaced: the person asked for this on their own page (POST with
    // CSRF) and just authenticated upstream in this browser; the audit keeps which one it replaced.
    const before = await deps.vault.linked(account.id, connection.id);
    const replaced = before && (before.issuer !== who.issuer || before.subject !== who.subject) ? { replacedIssuer: before.issuer, replacedSubject: before.subject } : {};
    await deps.vault.link(account.id, connection.id, who, tokens);
    await audit(ctx, account, 'success', undefined, { ...upstream, scope: tokens.scope ?? null, requested: tx.request.scopes, ...replaced });
    const client = await clientNamed(tx.request.clientId);
    pages.render(ctx, 200, 'account/connected', {
      title: `${connection.name} is connected`,
      connection: { id: connection.id, name: connection.name },
      clientName: client?.clientName ?? null,
      scope: tokens.scope ?? '',
    });
  }

  /**
   * The /account page's "Upstream accounts": every connection the vault can serve, linked or not. A disabled one
   * offers no Connect (it would be refused), only the Disconnect of tokens still kept for it (docs/SECURITY.md, "A
   * disabled connection refuses all but revocations").
   */
  async function upstreamAccounts(accountId: string) {
    const out = [];
    for (const connection of await deps.connections.list()) {
      if (connection.kind === 'local' || !connection.storeTokens) continue;
      const linked = await linkedView(accountId, connection.id);
      if (!connection.enabled && (!linked || linked.status === 'revoked')) continue;
      out.push({ id: connection.id, name: connection.name, linked, connectUrl: `${base}/account/connect/${encodeURIComponent(connection.id)}` });
    }
    return out;
  }

  return { page, start, finish, upstreamAccounts, usable };
}

/** A loggable one-liner: openid-client's code and message, never a response body (which can hold tokens). */
function errorSummary(err: unknown): string {
  if (err instanceof oc.ResponseBodyError) return `${err.code}: ${err.error}`;
  if (err instanceof Error) return `${(err as { code?: string }).code ?? err.name}: ${err.message}`.slice(0, 300);
  return 'unknown error';
}
