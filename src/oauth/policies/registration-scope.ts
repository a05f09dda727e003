// DESIGN.md §6: a client's registered `scope` does not cap what it may request later. MCP clients register with
// the scopes of their first 401 (resource scopes such as `tools:read`) and step up with the same client_id.
// oidc-provider would refuse a registration naming scopes outside its static list (openid, email, …), so resource
// scopes are removed from the registered `scope` before it validates the metadata; the resource's scope catalogue
// remains the cap at /authorize.
import type { Middleware } from 'koa';
import { readRawBody, setParsedBody } from '../../http/raw-body.js';

export function registrationScope(options: { registrationPath: string; staticScopes: readonly string[] }): Middleware {
  const statics = new Set(options.staticScopes);
  return async (ctx, next) => {
    const isRegistration =
      (ctx.method === 'POST' && ctx.path === options.registrationPath) ||
      (ctx.method === 'PUT' && ctx.path.startsWith(`${options.registrationPath}/`));
    if (!isRegistration || !ctx.is('application/json')) return next();
    const raw = await readRawBody(ctx);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      ctx.status = 400;
      ctx.body = { error: 'invalid_client_metadata', error_description: 'the request body is not valid JSON' };
      return;
    }
    if (body && typeof body === 'object' && !Array.isArray(body) && typeof (body as { scope?: unknown }).scope === 'string') {
      const meta = body as { scope?: string };
      const kept = meta.scope!.split(' ').filter((s) => statics.has(s));
      if (kept.length) meta.scope = kept.join(' ');
      else delete meta.scope;
    }
    setParsedBody(ctx, body);
    await next();
  };
}
