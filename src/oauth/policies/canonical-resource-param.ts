// RFC 8707 + MCP "Canonical Server URI": `https://h` and `https://h/` name the same resource. The `resource`
// parameter is rewritten to its canonical form before oidc-provider sees it, so a grant made for one spelling is
// honoured at /token for the other, and `aud` is always the canonical URI.
import type { Middleware } from 'koa';
import { parsedForm } from '../../http/provider-form.js';
import { canonicalOrSame } from '../resources.js';

function rewrite(value: string | string[]): string | string[] {
  return Array.isArray(value) ? value.map(canonicalOrSame) : canonicalOrSame(value);
}

export function canonicalResourceParam(paths: { authorization: string; token: string }): Middleware {
  return async (ctx, next) => {
    if (ctx.path === paths.authorization && ctx.method === 'GET' && ctx.querystring.includes('resource=')) {
      const params = new URLSearchParams(ctx.querystring);
      const values = params.getAll('resource');
      params.delete('resource');
      for (const v of values) params.append('resource', canonicalOrSame(v));
      ctx.querystring = params.toString();
    } else if ((ctx.path === paths.token || ctx.path === paths.authorization) && ctx.method === 'POST') {
      const body = parsedForm(ctx);
      if (body?.resource !== undefined) body.resource = rewrite(body.resource);
    }
    await next();
  };
}
