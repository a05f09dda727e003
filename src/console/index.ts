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

/** Whether one of `router`'s routes (not merely a prefix or middleware) answers this request. */
const answers = (router: Router) => (ctx: Context) => router.match(ctx.path, ctx.method).route;

export function consoleRoutes(deps: Deps): Middleware {
  const admins = new Administrators(deps);
  const routers = consoleRouters({ ...deps, admins });
  const [signIn, signOut] = routers as [Router, Router];
  return compose([
    consoleGuard({ open: answers(signIn), anyAccount: answers(signOut), issuer: deps.config.ISSUER, base: deps.pages.base, sessions: deps.sessions, accounts: deps.accounts, admins, audit: deps.audit, views: deps.views }),
    ...routers.map((r) => r.routes() as Middleware),
  ]);
}
