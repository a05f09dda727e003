// The fixed redirect URI registered at every IdP. It decides nothing: it reads which interaction (or connect-account
// leg, docs/CONNECT-ACCOUNT.md) this browser started an upstream leg for (a cookie scoped to this path) and bounces the browser, query intact,
// into that interaction's path, where the interaction cookie and the server-side transaction decide. `base` is
// ISSUER's path ('' at the root): the route matches below it, the bounce goes to the full path.
import type { Middleware } from 'koa';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import type { Pages } from './pages.js';
import { CALLBACK_PATH, CONNECT_CALLBACK_PATH, CONNECT_DISPATCH_COOKIE, connectStateHint, UPSTREAM_COOKIE } from './upstream-leg.js';

const UID = /^[A-Za-z0-9_-]{1,64}$/;

/** The upstream callback route's handler (src/policy-table.ts). */
export function upstreamCallback(deps: { audit: AuditLog; pages: Pages; base: string }): Middleware {
  return async (ctx) => {
    const uid = ctx.cookies.get(UPSTREAM_COOKIE, { signed: true });
    // A connect-account leg (docs/CONNECT-ACCOUNT.md) gets the response whose state it started, or any response when
    // no login was started here; there its own cookie, the account session and the stored state decide.
    const connect = ctx.cookies.get(CONNECT_DISPATCH_COOKIE, { signed: true });
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    const login = !!uid && UID.test(uid);
    if (connect && (!login || connect === connectStateHint(state))) {
      ctx.set('Cache-Control', 'no-store');
      ctx.status = 303;
      return ctx.redirect(`${deps.base}${CONNECT_CALLBACK_PATH}${ctx.querystring ? `?${ctx.querystring}` : ''}`);
    }
    if (!uid || !login) {
      await deps.audit.record({ type: 'upstream.callback', outcome: 'failure', reason: 'missing upstream cookie: no sign-in was started in this browser', ...requestOrigin(ctx) });
      return deps.pages.refuse(ctx, 400, 'This sign-in has expired', 'No sign-in was started in this browser, or it has expired. Start again from your application.');
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(`${deps.base}/interaction/${uid}${CALLBACK_PATH}${ctx.querystring ? `?${ctx.querystring}` : ''}`);
  };
}
