// Parses the urlencoded body of the oidc-provider endpoints Gatehouse inspects before the provider does (/token,
// POST /authorize, /revoke, /introspect: src/policy-table.ts) once, with oidc-provider's own size limit, and hands
// the result to the provider as ctx.request.body. Policies then read and adjust one parsed object. A field with a NUL,
// a lone surrogate or malformed percent-encoding is refused here (input-sanity.ts).
import type { Context, Middleware } from 'koa';
import { BadInput, parseForm } from './input-sanity.js';
import { readRawBody, setParsedBody } from './raw-body.js';

export type FormBody = Record<string, string | string[]>;

export function providerForm(): Middleware {
  return async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.is('application/x-www-form-urlencoded')) {
      const parsed = parseForm(await readRawBody(ctx));
      if ('problem' in parsed) throw new BadInput('a form field has', parsed.problem);
      const body: FormBody = {};
      for (const [key, value] of parsed.pairs) {
        const seen = Object.hasOwn(body, key) ? body[key] : undefined;
        body[key] = seen === undefined ? value : [seen, value].flat();
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
