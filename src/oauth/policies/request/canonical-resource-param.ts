// RFC 8707 + MCP "Canonical Server URI": `https://h` and `https://h/` name the same resource. The `resource`
// parameter is rewritten to its canonical form before oidc-provider sees it, so a grant made for one spelling is
// honoured at /token for the other, and `aud` is always the canonical URI. One resource named twice is that
// resource, named once. Runs on /authorize (query or form) and /token (src/policy-table.ts).
import type { Middleware } from 'koa';
import { parsedForm } from '../../../http/provider-form.js';
import { canonicalOrSame } from '../../resources.js';

export function canonicalResourceParam(): Middleware {
  return async (ctx, next) => {
    if (ctx.method === 'GET' || ctx.method === 'HEAD') {
      if (ctx.querystring.includes('resource=')) {
        const params = new URLSearchParams(ctx.querystring);
        const values = [...new Set(params.getAll('resource').map(canonicalOrSame))];
        params.delete('resource');
        for (const v of values) params.append('resource', v);
        ctx.querystring = params.toString();
      }
    } else {
      const body = parsedForm(ctx);
      if (body?.resource !== undefined) {
        const values = [...new Set([body.resource].flat().map(canonicalOrSame))];
        body.resource = values.length === 1 ? values[0]! : values;
      }
    }
    await next();
  };
}

/** The distinct `resource` values of this request (after canonicalResourceParam). */
export function requestedResources(ctx: Parameters<Middleware>[0]): string[] {
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return new URLSearchParams(ctx.querystring).getAll('resource');
  const body = parsedForm(ctx);
  return body?.resource === undefined ? [] : [body.resource].flat();
}
