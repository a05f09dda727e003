// The admin console at /console (issue 6): sign-in, then one module per page, each behind the guard (a live
// session of an administrator; CSRF-checked forms). Composed here, in the order a reader meets them in the nav.
import compose from 'koa-compose';
import type { Context, Middleware } from 'koa';
import type Router from '@koa/router';
import type { ConsoleDeps } from './deps.js';
import { consoleGuard } from './guard.js';
import { overviewPages } from './overview.js';
import { clientsPages } from './clients.js';
import { resourcesPages } from './resources.js';
import { connectionsPages } from './connections.js';
import { peoplePages } from './people.js';
import { auditPages } from './audit.js';
import { keysPages } from './keys.js';
import { policyPages } from './policy.js';
import { signInRoutes } from './sign-in.js';
import { signOutRoutes } from './sign-out.js';
import type { Views } from '../views/views.js';
import type { ConsolePages } from './render.js';
import { Administrators } from './admins.js';

type Deps = ConsoleDeps & { views: Views; secretKey: string };

/** Every console router, sign-in first (exported so the security suite can walk every route). */
export function consoleRouters(input: Deps & { admins?: Administrators }): Router[] {
  const deps = { ...input, admins: input.admins ?? new Administrators(input) };
  return [
    signInRoutes(deps),
    signOutRoutes(deps),
    overviewPages(deps),
    clientsPages(deps),
    resourcesPages(deps),
    connectionsPages(deps),
    peoplePages(deps),
    auditPages(deps),
    keysPages(deps),
    policyPages(deps),
  ];
}

/**
 * Behind the guard (so only a signed-in administrator meets it), a console path no route answers, or a page's own
 * 4xx (an unknown client, person or setting; a change that no longer applies), is a console page with the layout
 * and navigation, in words, with its status — not the end-user error card. A visitor without a console session
 * never gets here: the guard sends every GET to the sign-in page whether the path exists or not, so nothing tells
 * which console paths exist (docs/SECURITY.md).
 */
function consolePageErrors(pages: ConsolePages): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const e = err as { status?: unknown; expose?: unknown; message?: string };
      const page = typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true && !!ctx.state.console;
      if (!page) throw err;
      const status = e.status as number;
      if (status === 404) return notFound(pages, ctx, sentence(e.message));
      pages.render(ctx, undefined, 'not-found', { title: 'Request refused', description: sentence(e.message) ?? 'This change cannot be made.' }, status);
    }
  };
}

/** A service's short message ("no such person") as a sentence. */
const sentence = (message: string | undefined): string | undefined => {
  const said = (message ?? '').trim();
  if (!said || /^not found$/i.test(said)) return undefined;
  return `${said.charAt(0).toUpperCase()}${said.slice(1)}${/[.!?]$/.test(said) ? '' : '.'}`;
};

/**
 * A page's own 404 names the missing thing ("No such MCP server: the link may be mistyped, or it was removed.");
 * only a path no route answers gets the generic sentence.
 */
function notFound(pages: ConsolePages, ctx: Context, what?: string): void {
  const named = what?.replace(/[.!?]$/, '');
  const description = named
    ? `${named}${named.includes(':') ? '. The' : ': the'} link may be mistyped, or it was removed.`
    : 'There is no such page in the console: the link may be mistyped, or what it named was removed.';
  pages.render(ctx, undefined, 'not-found', { title: 'Not found', description }, 404);
}

/** The last middleware: reached only when no console route answered the path and method. */
const noSuchPage = (pages: ConsolePages): Middleware => (ctx) => {
  if (ctx.state.console) notFound(pages, ctx);
};

/** Whether one of `router`'s routes (not merely a prefix or middleware) answers this request. */
const answers = (router: Router) => (ctx: Context) => router.match(ctx.path, ctx.method).route;

export function consoleRoutes(deps: Deps): Middleware {
  const admins = new Administrators(deps);
  const routers = consoleRouters({ ...deps, admins });
  const [signIn, signOut] = routers as [Router, Router];
  return compose([
    consoleGuard({ open: answers(signIn), anyAccount: answers(signOut), issuer: deps.config.ISSUER, base: deps.pages.base, sessions: deps.sessions, accounts: deps.accounts, admins, audit: deps.audit, views: deps.views }),
    consolePageErrors(deps.pages),
    ...routers.map((r) => r.routes() as Middleware),
    noSuchPage(deps.pages),
  ]);
}
