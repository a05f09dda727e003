// Signing out ends the console session (the cookie and its row). It does not end the person's Gatehouse sign-in
// session; the next console sign-in asks for a fresh login anyway (prompt=login).
import { consoleRouter } from './router.js';
import type Router from '@koa/router';
import type { ConsoleDeps } from './deps.js';
import { consoleState } from './guard.js';
import { consolePath } from './console-client.js';
import { CONSOLE_COOKIE } from './sessions.js';

export function signOutRoutes(deps: ConsoleDeps): Router {
  const router = consoleRouter();
  router.post('/console/logout', async (ctx) => {
    const { session } = consoleState(ctx);
    await deps.sessions.destroy(session.id);
    await deps.pages.record(ctx, { type: 'console.logout', outcome: 'success' });
    ctx.cookies.set(CONSOLE_COOKIE, null, { path: consolePath(deps.config.ISSUER), httpOnly: true, sameSite: 'strict', secure: deps.config.ISSUER.startsWith('https:'), overwrite: true });
    ctx.status = 200;
    ctx.type = 'html';
    ctx.body = deps.pages.signedOut();
  });
  return router;
}
