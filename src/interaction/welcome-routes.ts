// The page behind a local person's one-time link (docs/PEOPLE.md; upstream/local/account-links.ts): an invitation or a
// password reset. GET /welcome/<token> shows a form asking for the new password twice (a link previewer that opens
// it changes nothing); the form posts the token in a field to POST /welcome, so no request that changes anything
// carries it in its URL. Using the link signs nobody in: the person then signs in from their application or the
// console like everyone else. An unknown, replaced, used or expired link gets one page whatever the cause (no oracle);
// the audit row says which. The POST is rate limited per address (welcomeRateLimit, in the policy table).
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { requestOrigin } from '../audit/writer.js';
import type { Config } from '../config.js';
import { assertSameOrigin, readForm } from '../http/form-body.js';
import { issuerBase } from '../http/issuer-path.js';
import { answerPage, type RateLimits } from '../http/rate-limits.js';
import type { AccountLinks, LinkKind } from '../upstream/local/account-links.js';
import { AccountError } from '../upstream/local/accounts.js';
import type { Views } from '../views/views.js';

export interface WelcomeDeps {
  config: Pick<Config, 'ISSUER'>;
  links: AccountLinks;
  views: Views;
}

const TITLES: Record<LinkKind, string> = { invitation: 'Choose your password', password_reset: 'Choose a new password' };
const USED = Symbol('welcome link used');

/**
 * Sign-in's per-address failure limit (LOGIN_RATE_LIMIT_IP, http/rate-limits.ts) on every post of a link: counted
 * before the link is looked up, so parallel guesses cannot slip past it; a link used successfully gives its point back.
 */
export function welcomeRateLimit(deps: { limits: RateLimits; views: Views }): Middleware {
  return async (ctx, next) => {
    const refusal = await deps.limits.check(ctx, [[deps.limits.loginIp, ctx.ip]]);
    if (refusal) return answerPage(ctx, deps.views, refusal);
    await next();
    if ((ctx.state as Record<symbol, unknown>)[USED]) await deps.limits.loginIp.refund(ctx.ip);
  };
}

export function welcomeRoutes(deps: WelcomeDeps): Router {
  // Case-sensitive: the edge resolved the canonical path (http/route-resolution.ts).
  const router = new Router({ sensitive: true });
  // The routes match below ISSUER's path (http/issuer-path.ts); the form posts to the full path.
  const base = issuerBase(deps.config.ISSUER);
  const action = `${base}/welcome`;

  const render = (ctx: Context, status: number, data: Record<string, unknown>) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'html';
    ctx.status = status;
    ctx.body = deps.views.render('welcome', data);
  };
  const invalid = (ctx: Context) => render(ctx, 404, { title: 'This link cannot be used', invalid: true });
  const form = (ctx: Context, status: number, token: string, link: { kind: LinkKind; email: string }, error?: string) =>
    render(ctx, status, { title: TITLES[link.kind], action, token, email: link.email, kind: link.kind, error });

  router.get('/welcome/:token', async (ctx) => {
    const token = ctx.params.token!;
    const link = await deps.links.open(token, requestOrigin(ctx));
    if (!link) return invalid(ctx);
    form(ctx, 200, token, link);
  });

  router.post('/welcome', async (ctx) => {
    assertSameOrigin(ctx, deps.config.ISSUER);
    const fields = await readForm(ctx);
    const token = (fields.token ?? '').slice(0, 200);
    const password = (fields.password ?? '').slice(0, 1025);
    const origin = requestOrigin(ctx);
    if (password !== (fields.confirm ?? '').slice(0, 1025)) {
      const link = await deps.links.open(token, origin, 'use');
      return link ? form(ctx, 400, token, link, 'The two passwords differ. Type the same password twice.') : invalid(ctx);
    }
    try {
      const used = await deps.links.consume(token, password, origin);
      if (!used.ok) return invalid(ctx);
      (ctx.state as Record<symbol, unknown>)[USED] = true;
      render(ctx, 200, { title: 'Password set', done: true, email: used.email, consoleUrl: `${base}/console`, accountUrl: `${base}/account` });
    } catch (err) {
      if (!(err instanceof AccountError)) throw err;
      // A weak password leaves the link as it was: the form again, with the rule it broke.
      const link = await deps.links.open(token, origin, 'use');
      return link ? form(ctx, 400, token, link, `${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}.`) : invalid(ctx);
    }
  });
  return router;
}
