// RFC 6749 §3.3: when a client omits `scope`, the authorization server applies a default. MCP clients omit it when
// neither the 401 nor the protected resource metadata named scopes. The default here is the requested (or default)
// resource's whole scope catalogue: the consent page lists every one of them, so the person sees exactly what the
// token will carry. (oidc-provider refuses a grant with no scope at all, so an empty default is not an option.)
import type { Middleware } from 'koa';
import type { ResourceRegistry } from '../../resources.js';

/** A rule of the authorization route (src/policy-table.ts). */
export function defaultScope(options: { resources: ResourceRegistry }): Middleware {
  return async (ctx, next) => {
    const fromQuery = ctx.method === 'GET' || ctx.method === 'HEAD';
    const body = (ctx.request as unknown as { body?: Record<string, unknown> }).body;
    if (!fromQuery && !(ctx.method === 'POST' && body)) return next();
    const params = fromQuery ? new URLSearchParams(ctx.querystring) : undefined;
    const scope = fromQuery ? params!.get('scope') : body!.scope;
    if (scope !== null && scope !== undefined && scope !== '') return next();
    const requested = fromQuery ? params!.getAll('resource') : [body!.resource].flat().filter((v): v is string => typeof v === 'string');
    if (requested.length > 1) return next(); // several resources: the client must say what it wants
    const resource = await options.resources.resolve(requested);
    const names = resource ? Object.keys(resource.scopes) : [];
    if (!names.length) return next(); // an unknown resource is refused further on (invalid_target)
    if (fromQuery) {
      params!.set('scope', names.join(' '));
      ctx.querystring = params!.toString();
    } else {
      body!.scope = names.join(' ');
    }
    await next();
  };
}
