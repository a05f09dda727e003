// Parses the urlencoded body of the oidc-provider endpoints Gatehouse inspects before the provider does (/token,
// POST /authorize, /revoke, /introspect) once, with oidc-provider's own size limit, and hands the result to the
// provider as ctx.request.body. Policies then read and adjust one parsed object.
import type { Context, Middleware } from 'koa';
import { readRawBody, setParsedBody } from './raw-body.js';

export type FormBody = Record<string, string | string[]>;

export function providerForm(paths: string[]): Middleware {
  const set = new Set(paths);
  return async (ctx, next) => {
    if (ctx.method === 'POST' && set.has(ctx.path) && ctx.is('application/x-www-form-urlencoded')) {
      const params = new URLSearchParams(await readRawBody(ctx));
      const body: FormBody = {};
      for (const key of new Set(params.keys())) {
        const all = params.getAll(key);
        body[key] = all.length === 1 ? all[0]! : all;
      }
      setParsedBody(ctx, body);
    }
    await next();
  };
}

export function parsedForm(ctx: Context): FormBody | undefined {
  const body = (ctx.request as unknown as { body?: unknown }).body;
  return body && typeof body === 'object' ? (body as FormBody) : undefined;
}
