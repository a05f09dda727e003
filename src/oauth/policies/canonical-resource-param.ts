// RFC 8707 + MCP "Canonical Server URI": `https://h` and `https://h/` name the same resource. The `resource`
// parameter is rewritten to its canonical form before oidc-provider sees it, so a grant made for one spelling is
// honoured at /token for the other, and `aud` is always the canonical URI.
import type { Middleware } from 'koa';
import { canonicalOrSame } from '../resources.js';

function rewrite(value: unknown): unknown {
  if (typeof value === 'string') return canonicalOrSame(value);
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? canonicalOrSame(v) : v));
  return value;
}

const MAX_FORM_BYTES = 56 * 1024; // oidc-provider's own body limit

async function readForm(req: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw Object.assign(new Error('request entity too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
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
      // oidc-provider reads a pre-parsed body from ctx.request.body when the stream was consumed.
      const raw = await readForm(ctx.req);
      const params = new URLSearchParams(raw);
      const body: Record<string, unknown> = {};
      for (const key of new Set(params.keys())) {
        const all = params.getAll(key);
        body[key] = all.length === 1 ? all[0] : all;
      }
      if ('resource' in body) body.resource = rewrite(body.resource);
      (ctx.request as unknown as { body: unknown }).body = body;
    }
    await next();
  };
}
