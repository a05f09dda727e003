// Every console route but sign-in passes here: a live console session (else sign in), an account that is still an
// administrator and not disabled (else a 403 page: admin rights are decided from the rule in force and account status
// read on every request, so taking them away takes effect at once; console/admins.ts), and for every change a
// same-origin form post carrying the session's CSRF token (else 403, audited). The parsed form is handed on in
// ctx.state.console.
import type { Context, Middleware } from 'koa';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import { readForm } from '../http/form-body.js';
import type { Accounts, Account } from '../upstream/accounts.js';
import type { Views } from '../views/views.js';
import type { Administrators } from './admins.js';
import { CONSOLE_COOKIE, type ConsoleSession, type ConsoleSessions } from './sessions.js';

export interface ConsoleState {
  session: ConsoleSession;
  account: Account;
  /** The submitted form of a POST (already checked for its CSRF token). */
  form: Record<string, string>;
  nonAdmin?: boolean;
}

export function consoleState(ctx: Context): ConsoleState {
  return ctx.state.console as ConsoleState;
}

export interface GuardDeps {
  /** Pages anyone may open (sign-in and its callback): matched by their own router, never by a path string. */
  open: (ctx: Context) => boolean;
  /** Pages any signed-in account may use, administrator or not (sign-out). */
  anyAccount: (ctx: Context) => boolean;
  issuer: string;
  base: string;
  sessions: ConsoleSessions;
  accounts: Accounts;
  admins: Administrators;
  audit: AuditLog;
  views: Views;
}

export function consoleGuard(deps: GuardDeps): Middleware {
  const origin = new URL(deps.issuer).origin;
  const deny = (ctx: Context, status: number, title: string, description: string, csrf?: string) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = deps.views.page(ctx, 'console/forbidden', { title, description, csrf, signedIn: !!csrf });
  };

  return async (ctx, next) => {
    if (deps.open(ctx)) return next();
    ctx.set('Cache-Control', 'no-store');
    const session = await deps.sessions.find(ctx.cookies.get(CONSOLE_COOKIE));
    const reading = ctx.method === 'GET' || ctx.method === 'HEAD';
    if (!session) {
      if (reading) {
        ctx.status = 303;
        return ctx.redirect(`${deps.base}/console/login`);
      }
      await deps.audit.record({ type: 'console.refused', outcome: 'failure', reason: 'no console session', details: { path: ctx.path.slice(0, 256) }, ...requestOrigin(ctx) });
      return deny(ctx, 401, 'Sign in first', 'Your console session has ended. Sign in again.');
    }
    const account = await deps.accounts.findById(session.accountId);
    // Anyone with a session may sign out; everything else is for administrators.
    const signingOut = deps.anyAccount(ctx);
    const admin = !!account && (await deps.admins.isAdmin(account));
    if (!account || (!admin && !signingOut)) {
      if (account) {
        await deps.audit.record({ type: 'console.refused', outcome: 'failure', actor: account.email ?? account.id, reason: account.disabled ? 'account disabled' : 'not an administrator', details: { path: ctx.path.slice(0, 256), accountId: account.id }, ...requestOrigin(ctx) });
      }
      return deny(ctx, 403, 'Administrators only', 'Your account is not an administrator of this Gatehouse. Ask an administrator if you need access.', session.csrf);
    }
    let form: Record<string, string> = {};
    if (!reading) {
      // Browsers always send Origin on POST; a foreign one is a cross-site request whatever the token says.
      const sentOrigin = ctx.get('Origin');
      const foreign = sentOrigin !== '' && sentOrigin !== origin;
      form = ctx.is('application/x-www-form-urlencoded') ? await readForm(ctx) : {};
      if (foreign || !deps.sessions.csrfMatches(session, form._csrf)) {
        await deps.audit.record({
          type: 'console.refused',
          outcome: 'failure',
          actor: account.email ?? account.id,
          reason: foreign ? 'cross-origin form post' : 'missing or wrong CSRF token',
          details: { path: ctx.path.slice(0, 256) },
          ...requestOrigin(ctx),
        });
        return deny(ctx, 403, 'Request refused', 'This form was not sent from this console page, or the page was too old. Go back, reload and try again.', session.csrf);
      }
    }
    ctx.state.console = { session, account, form } satisfies ConsoleState;
    if (signingOut && !admin) ctx.state.console.nonAdmin = true;
    return next();
  };
}
