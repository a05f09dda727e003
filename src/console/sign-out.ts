// Signing out ends the console session (the cookie and its row) and the person's Gatehouse sign-in session in this
// browser, when it is theirs (issue 16, item 2): nothing they signed in with stays open behind them, so the next
// console sign-in must authenticate whatever its URL says (console/sign-in.ts checks auth_time as well). Grants
// and tokens of MCP clients are not touched: they belong to the clients, and are revoked on the person's page.
// Another person's session in the same browser is left alone: signing one person out must not sign out another.
import { consoleRouter } from './router.js';
import type Router from '@koa/router';
import type { ConsoleDeps } from './deps.js';
import { consoleState } from './guard.js';
import { consolePath } from './console-client.js';
import { CONSOLE_COOKIE } from './sessions.js';

export function signOutRoutes(deps: ConsoleDeps): Router {
  const router = consoleRouter();
  router.post('/console/logout', async (ctx) => {
    const { session, account } = consoleState(ctx);
    await deps.sessions.destroy(session.id);
    // oidc-provider's session, found by its own signed cookie (sent here: its path is the issuer's, above /console).
    const signIn = await deps.provider().Session.get(ctx).catch(() => undefined);
    const endSignIn = !!signIn?.accountId && signIn.accountId === account.id;
    if (endSignIn) await signIn.destroy();
    await deps.pages.record(ctx, { type: 'console.logout', outcome: 'success', details: { gatehouseSessionEnded: endSignIn } });
    ctx.cookies.set(CONSOLE_COOKIE, null, { path: consolePath(deps.config.ISSUER), httpOnly: true, sameSite: 'strict', secure: deps.config.ISSUER.startsWith('https:'), overwrite: true });
    ctx.status = 200;
    ctx.type = 'html';
    ctx.body = deps.pages.signedOut();
  });
  return router;
}
