// The person's own pages at /account (docs/TOOL-APPROVALS.md, docs/CONNECTED-APPS.md, docs/CONNECT-ACCOUNT.md): the
// pending approvals, the connected apps with their Revoke buttons, the upstream accounts linked in the token vault,
// the connect-account page, and the approval page where a tool call is approved or rejected. Every
// page but sign-in needs an account session (else: sign in, and come back);
// every POST must come from this origin and carry the session's CSRF token. Only the person the call is made for may
// decide it: anyone else gets 403, audited. The page cannot be framed (http/security-headers.ts).
import Router from '@koa/router';
import compose from 'koa-compose';
import type { Context, Middleware } from 'koa';
import { requestOrigin } from '../audit/writer.js';
import type { ApprovalService } from '../approvals/service.js';
import type { Approval, ToolApprovals } from '../approvals/store.js';
import type { ConsoleSession, ConsoleSessions } from '../console/sessions.js';
import type { Db } from '../db/connection.js';
import { readForm } from '../http/form-body.js';
import { issuerBase } from '../http/issuer-path.js';
import type { CimdClients } from '../oauth/cimd/cimd-clients.js';
import type { ClientRegistry } from '../oauth/client-registry.js';
import type { FirstPartyClients } from '../oauth/first-party-clients.js';
import { GrantActivity } from '../oauth/grant-activity.js';
import type { ResourceRegistry } from '../oauth/resources.js';
import type { McpServerInventories } from '../reporting/inventory.js';
import { accountActive, type Account } from '../upstream/accounts.js';
import { ACCOUNT_COOKIE, accountPath } from './account-client.js';
import { accountSignIn, type AccountSignInDeps } from './sign-in.js';
import { argumentsView } from './arguments-view.js';
import { ConnectedApps, type ConnectedApp } from './connected-apps.js';
import { connectAccount, type ConnectDeps } from './connect.js';
import { CONNECT_CALLBACK_PATH } from '../interaction/upstream-leg.js';

export interface AccountDeps extends AccountSignInDeps, ConnectDeps {
  sessions: ConsoleSessions;
  approvals: ApprovalService;
  store: ToolApprovals;
  resources: ResourceRegistry;
  inventories: McpServerInventories;
  db: Db;
  registry: ClientRegistry;
  cimdClients: CimdClients;
  firstParty: FirstPartyClients;
}

/** A time as the pages show it: minutes, in UTC, with the exact instant in the <time> element. */
const shown = (d: Date) => ({ iso: d.toISOString(), text: `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC` });

const appView = (a: ConnectedApp) => ({
  ...a,
  grantedAt: shown(a.grantedAt),
  lastUsedAt: a.lastUsedAt ? shown(a.lastUsedAt) : null,
});

interface AccountState {
  session: ConsoleSession;
  account: Account;
  form: Record<string, string>;
}

export function accountRoutes(deps: AccountDeps): Middleware {
  const base = issuerBase(deps.config.ISSUER);
  const origin = new URL(deps.config.ISSUER).origin;
  const signIn = accountSignIn(deps);
  const pages = new Router({ sensitive: true });
  const render = (ctx: Context, status: number, view: string, data: Record<string, unknown>) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = deps.views.page(ctx, view, data);
  };
  const problem = (ctx: Context, status: number, title: string, description: string) => render(ctx, status, 'error', { title, error: status === 403 ? 'access_denied' : 'invalid_request', description });
  // Its own view of grant_activity: it reads and forgets rows; the writes come from the token endpoint (gatehouse.ts).
  const apps = new ConnectedApps({ ...deps, activity: new GrantActivity(deps.db) });
  // Access tokens are JWTs checked offline: revoking stops refreshes at once, not the token already held.
  const tokenMinutes = Math.ceil(deps.config.ACCESS_TOKEN_TTL / 60);
  const connect = connectAccount(deps, { render, problem });

  /** The person of this browser's account session, if it may still use these pages. */
  const signedIn = async (ctx: Context) => {
    const session = await deps.sessions.find(ctx.cookies.get(ACCOUNT_COOKIE));
    const account = session ? await deps.accounts.findById(session.accountId) : undefined;
    return session && account && accountActive(account) ? { session, account } : undefined;
  };

  // The upstream response of a connect leg, ahead of the guard: only the session that started it can finish it, so a
  // browser without one is refused rather than sent to sign in (a sign-in now could not match it; docs/CONNECT-ACCOUNT.md).
  const connectCallback = new Router({ sensitive: true, strict: true });
  connectCallback.get(CONNECT_CALLBACK_PATH, async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const who = await signedIn(ctx);
    if (!who) {
      await deps.audit.record({ type: 'account.upstream_connected', outcome: 'failure', reason: 'connect callback without an account session', ...requestOrigin(ctx) });
      return problem(ctx, 401, 'Sign in first', 'Your session ended before the account was connected, so nothing was connected. Open the link from your application again.');
    }
    await connect.finish(ctx, who.account);
  });

  const guard: Middleware = async (ctx, next) => {
    if (signIn.match(ctx.path, ctx.method).route) return next();
    ctx.set('Cache-Control', 'no-store');
    const who = await signedIn(ctx);
    const reading = ctx.method === 'GET' || ctx.method === 'HEAD';
    if (!who) {
      if (reading) {
        // The query comes back too (the connect page's scope and client_id), re-encoded; sign-in.ts safeNext decides.
        const query = new URLSearchParams(ctx.querystring).toString();
        ctx.status = 303;
        return ctx.redirect(`${base}/account/login?next=${encodeURIComponent(query ? `${ctx.path}?${query}` : ctx.path)}`);
      }
      return problem(ctx, 401, 'Sign in first', 'Your session has ended. Open the link again to sign in.');
    }
    const { session, account } = who;
    let form: Record<string, string> = {};
    if (!reading) {
      const sent = ctx.get('Origin');
      form = ctx.is('application/x-www-form-urlencoded') ? await readForm(ctx) : {};
      if ((sent !== '' && sent !== origin) || !deps.sessions.csrfMatches(session, form._csrf)) {
        await deps.audit.record({ type: 'account.refused', outcome: 'failure', actor: account.email ?? account.id, reason: sent !== '' && sent !== origin ? 'cross-origin form post' : 'missing or wrong CSRF token', details: { path: ctx.path.slice(0, 256) }, ...requestOrigin(ctx) });
        return problem(ctx, 403, 'Request refused', 'This form was not sent from this page, or the page was too old. Go back, reload and try again.');
      }
    }
    ctx.state.account = { session, account, form } satisfies AccountState;
    return next();
  };
  const state = (ctx: Context) => ctx.state.account as AccountState;

  const describe = async (a: Approval) => {
    const resource = await deps.resources.find(a.resource);
    const tool = (await deps.inventories.find(a.resource))?.tools.find((t) => t.name === a.tool);
    const client = await deps.provider().Client.find(a.clientId).catch(() => undefined);
    return {
      id: a.id,
      tool: a.tool,
      toolTitle: tool?.title ?? null,
      toolDescription: tool?.description ?? null,
      mode: a.mode,
      clientName: typeof client?.clientName === 'string' ? client.clientName : a.clientId,
      clientId: a.clientId,
      resourceName: resource?.name ?? a.resource,
      resourceUri: a.resource,
      createdAt: a.createdAt.toISOString(),
      expiresAt: a.expiresAt.toISOString(),
      status: a.status,
      url: `${base}/account/approvals/${a.id}`,
    };
  };

  pages.get('/account', async (ctx) => {
    const { account, session } = state(ctx);
    const pending = await Promise.all((await deps.store.pendingFor(account.id)).map(describe));
    const connected = (await apps.list(account.id)).map(appView);
    const upstream = await connect.upstreamAccounts(account.id);
    render(ctx, 200, 'account/home', { title: 'Your account', account: { email: account.email, name: account.name }, pending, apps: connected, upstream, tokenMinutes, csrf: session.csrf });
  });

  pages.get('/account/connect/:connection', async (ctx) => {
    const { account, session } = state(ctx);
    await connect.page(ctx, account, session.csrf);
  });

  pages.post('/account/connect/:connection', async (ctx) => {
    const { account, form } = state(ctx);
    await connect.start(ctx, account, form);
  });

  pages.post('/account/upstream/disconnect', async (ctx) => {
    const { account, form } = state(ctx);
    const id = form.connection ?? '';
    const linked = id ? await deps.vault.linked(account.id, id) : undefined;
    // Disconnected already (the row stays, revoked): answered like one never connected.
    if (!linked || linked.status === 'revoked') return problem(ctx, 404, 'Not connected', 'No upstream account of that name is connected to your account.');
    const connection = await deps.connections.find(id);
    await deps.vault.disconnect(account.id, id);
    await deps.audit.record({ type: 'account.upstream_disconnected', outcome: 'success', actor: account.email ?? account.id, details: { connection: id, issuer: linked.issuer, subject: linked.subject }, ...requestOrigin(ctx) });
    render(ctx, 200, 'account/disconnected', { title: 'Disconnected', name: connection?.name ?? id });
  });

  pages.post('/account/apps/revoke', async (ctx) => {
    const { account, form } = state(ctx);
    if (!form.grant) return problem(ctx, 400, 'Choose an application', 'The form named no application.');
    const revoked = await apps.revoke(account.id, form.grant, { actor: account.email ?? account.id, ...requestOrigin(ctx) });
    // Another person's grant is answered like one that does not exist.
    if (!revoked) return problem(ctx, 404, 'No such connected application', 'This application is not connected to your account, or its access has already ended.');
    render(ctx, 200, 'account/revoked', { title: 'Access revoked', names: [revoked.clientName], tokenMinutes });
  });

  pages.post('/account/apps/revoke-all', async (ctx) => {
    const { account } = state(ctx);
    const revoked = await apps.revokeAll(account.id, { actor: account.email ?? account.id, ...requestOrigin(ctx) });
    render(ctx, 200, 'account/revoked', { title: 'Access revoked', names: [...new Set(revoked.map((g) => g.clientName))], tokenMinutes });
  });

  pages.get('/account/approvals/:id', async (ctx) => {
    const { account, session } = state(ctx);
    const found = await deps.store.find(ctx.params.id!);
    const why = deps.approvals.whyNot(found, account);
    if (why === 'not_found') return problem(ctx, 404, 'No such approval request', 'This approval request does not exist, or it ended more than a day ago.');
    if (why === 'not_yours') {
      await deps.audit.record({ type: 'tool.approval.refused', outcome: 'failure', actor: account.email ?? account.id, clientId: found!.clientId, resource: found!.resource, reason: 'only the person the call is made for may see or decide it', details: { tool: found!.tool, approval_id: found!.id }, ...requestOrigin(ctx) });
      return render(ctx, 403, 'account/not-yours', { title: 'Not your approval', email: account.email, switchUrl: `${base}/account/login?switch=1&next=${encodeURIComponent(ctx.path)}` });
    }
    const view = await describe(found!);
    const args = why ? undefined : argumentsView(await deps.store.argumentsOf(found!.id));
    render(ctx, why ? 410 : 200, 'account/approval', { title: `Approve ${found!.tool}?`, approval: view, args, ended: why ?? null, csrf: session.csrf, action: view.url });
  });

  pages.post('/account/approvals/:id', async (ctx) => {
    const { account, form } = state(ctx);
    const decision = form.decision === 'approve' ? 'approved' : form.decision === 'reject' ? 'rejected' : undefined;
    if (!decision) return problem(ctx, 400, 'Choose Approve or Reject', 'The form carried no decision.');
    const result = await deps.approvals.decide(ctx.params.id!, account, decision, requestOrigin(ctx));
    if ('refused' in result) {
      if (result.refused === 'not_found') return problem(ctx, 404, 'No such approval request', 'This approval request does not exist.');
      if (result.refused === 'not_yours') return problem(ctx, 403, 'Not your approval', 'This tool call is made on behalf of someone else. Only they can approve or reject it.');
      return problem(ctx, 409, result.refused === 'expired' ? 'This request has expired' : 'Already decided', result.refused === 'expired' ? 'Ask the application to call the tool again for a new request.' : 'This tool call was already approved or rejected.');
    }
    render(ctx, 200, 'account/decided', { title: decision === 'approved' ? 'Approved' : 'Rejected', approval: await describe(result.approval), decision });
  });

  pages.post('/account/logout', async (ctx) => {
    const { session, account } = state(ctx);
    await deps.sessions.destroy(session.id);
    // The person's Gatehouse sign-in in this browser ends too, so the next sign-in asks who they are.
    const signIn = await deps.provider().Session.get(ctx).catch(() => undefined);
    if (signIn?.accountId && signIn.accountId === account.id) await signIn.destroy();
    ctx.cookies.set(ACCOUNT_COOKIE, null, { path: accountPath(deps.config.ISSUER), httpOnly: true, sameSite: 'lax', secure: deps.config.ISSUER.startsWith('https:'), overwrite: true });
    render(ctx, 200, 'error', { title: 'Signed out', error: 'signed_out', description: 'You are signed out of your Gatehouse account pages.' });
  });

  return compose([signIn.routes() as Middleware, connectCallback.routes() as Middleware, guard, pages.routes() as Middleware]);
}
