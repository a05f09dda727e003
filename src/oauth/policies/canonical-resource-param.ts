// RFC 8707 + MCP "Canonical Server URI": `https://h` and `https://h/` name the same resource. The `resource`
// parameter is rewritten to its canonical form before oidc-provider sees it, so a grant made for one spelling is
// honoured at /token for the other, and `aud` is always the canonical URI.
import type { Middleware } from 'koa';
import { readRawBody, setParsedBody } from '../../http/raw-body.js';
import { canonicalOrSame } from '../resources.js';

function rewrite(value: unknown): unknown {
  if (typeof value === 'string') return canonicalOrSame(value);
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? canonicalOrSame(v) : v));
  return value;
}

export function canonicalResourceParam(paths: { authorization: string; token: string }): Middleware {
  return async (ctx, next) => {
    if (ctx.path === paths.authorization && ctx.method === 'GET' && ctx.querystring.includes('resource=')) {
      const params = new URLSearchParams(ctx.querystring);
      const values = params.getAll('resource');
      params.delete('resource');
      for (const v of values) params.append('resource', canonicalOrSame(v));
      ctx.querystring = params.toString();
    } else if (
      (ctx.path === paths.token || ctx.path === paths.authorization) &&
      ctx.method === 'POST' &&
      ctx.is('application/x-www-form-urlencoded')
    ) {
      const raw = await readRawBody(ctx);
      const params = new URLSearchParams(raw);
      const body: Record<string, unknown> = {};
      for (const key of new Set(params.keys())) {
        const all = params.getAll(key);
        body[key] = all.length === 1 ? all[0] : all;
      }
      if ('resource' in body) body.resource = rewrite(body.resource);
      setParsedBody(ctx, body);
    }
    await next();
  };
}
