// The first-admin setup page behind the one-time link printed at start while no administrator exists
// (upstream/local/first-admin.ts).
import Router from '@koa/router';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import { assertSameOrigin, readForm } from '../http/form-body.js';
import { issuerBase } from '../http/issuer-path.js';
import { AccountError, type LocalAccounts } from '../upstream/local/accounts.js';
import { completeFirstAdmin, setupTokenValid } from '../upstream/local/first-admin.js';
import type { Views } from '../views/views.js';

export function setupRoutes(deps: { config: Config; db: Db; accounts: LocalAccounts; views: Views; audit: AuditLog }): Router {
  // Case-sensitive: the edge resolved the canonical path (http/route-resolution.ts).
  const router = new Router({ prefix: '/setup/:token', sensitive: true });
  // The route matches below ISSUER's path (http/issuer-path.ts); the form posts to the full path.
  const base = issuerBase(deps.config.ISSUER);
  // A refused link says why it may be dead and what to run instead (views/setup.eta), not the end-user error card.
  const invalid = { invalid: true };

  router.get('/', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'html';
    if (!(await setupTokenValid(deps.db, ctx.params.token!))) {
      ctx.status = 404;
      ctx.body = deps.views.render('setup', invalid);
      return;
    }
    ctx.body = deps.views.render('setup', { action: `${base}${ctx.path}` });
  });

  router.post('/', async (ctx) => {
    assertSameOrigin(ctx, deps.config.ISSUER);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'html';
    const form = await readForm(ctx);
    try {
      const user = await completeFirstAdmin(deps.db, deps.accounts, ctx.params.token!, { email: form.email ?? '', password: form.password ?? '' });
      if (!user) {
        ctx.status = 404;
        ctx.body = deps.views.render('setup', invalid);
        return;
      }
      await deps.audit.record({ type: 'admin.created', outcome: 'success', actor: user.email, reason: 'first-admin setup link', ...requestOrigin(ctx) });
      ctx.body = deps.views.render('setup', { done: true, email: user.email });
    } catch (err) {
      if (!(err instanceof AccountError)) throw err;
      ctx.status = 400;
      ctx.body = deps.views.render('setup', { action: `${base}${ctx.path}`, error: err.message, email: form.email });
    }
  });
  return router;
}
