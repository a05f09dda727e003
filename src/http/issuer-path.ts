// An ISSUER with a path (https://auth.example.com/tenant1) puts every Gatehouse URL under that path. Rather than
// prefix every route, Gatehouse mounts itself there the way koa-mount does: a request under the path has the path
// removed before any route sees it, and `ctx.mountPath` set to it, which is what oidc-provider reads to build its
// URLs (`ctx.oidc.urlFor`: endpoints in discovery, the resume URL, registration_client_uri) and therefore the paths
// of its cookies. The rest of the app keeps matching `/authorize`, `/interaction/:uid`… unchanged; only the URLs it
// hands to a browser (pages, redirects, cookie paths) add `issuerBase(ISSUER)` themselves.
//
// Outside the path, only two kinds of request are answered: the RFC 8414 §3.1 well-known forms, where the well-known
// segment sits at the host root *before* the issuer's path (`/.well-known/oauth-authorization-server/tenant1`, and the
// same insertion for `openid-configuration`, which the MCP SDK also tries), and the root health checks (a container
// probe need not know ISSUER). Everything else outside the path is a 404: this instance owns nothing else on the host.
import type { Context, Middleware } from 'koa';

/** ISSUER's path without a trailing slash: `''` for an issuer at the root of its host, else e.g. `/tenant1`. */
export function issuerBase(issuer: string): string {
  const path = new URL(issuer).pathname;
  return path === '/' ? '' : path.replace(/\/$/, '');
}

export interface IssuerPathOptions {
  issuer: string;
  /** Well-known paths (`/.well-known/…`) also answered in their RFC 8414 inserted form, `<well-known><base>`. */
  wellKnown: string[];
  /** Paths still answered at the root of the host, as they are. */
  rootPaths: string[];
}

/** Mounts the app at ISSUER's path. Not needed (and not installed) for an issuer at the root. */
export function issuerPath(options: IssuerPathOptions): Middleware {
  const base = issuerBase(options.issuer);
  const root = new Set(options.rootPaths);

  /** The path a route inside the app should see, or undefined when the request is not this instance's. */
  const inner = (path: string): string | undefined => {
    const below = under(path, base);
    if (below !== undefined) return below || '/';
    for (const wk of options.wellKnown) {
      const rest = under(path, `${wk}${base}`);
      if (rest !== undefined) return `${wk}${rest}`;
    }
    return undefined;
  };

  return async (ctx, next) => {
    const original = ctx.path;
    if (root.has(original)) return next();
    const path = inner(original);
    if (path === undefined) {
      ctx.status = 404; // Koa's plain "Not Found", as for any unknown path inside
      return;
    }
    setMountPath(ctx, base);
    ctx.path = path;
    try {
      await next();
    } finally {
      // The request log (outside this middleware) reports the path the client asked for.
      ctx.path = original;
    }
  };
}

/** What follows `prefix` in `path` when `path` is `prefix` itself or below it (`''` or `/…`); else undefined. */
function under(path: string, prefix: string): string | undefined {
  if (path === prefix) return '';
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : undefined;
}

function setMountPath(ctx: Context, base: string): void {
  (ctx as Context & { mountPath?: string }).mountPath = base;
}
