// A small urlencoded form reader for Gatehouse's own pages, with a hard size limit. oidc-provider
// parses its own endpoints' bodies. A field with a NUL, a lone surrogate or malformed percent-encoding is a 400
// (input-sanity.ts), never a database error.
import type { Context } from 'koa';
import { BadInput, parseForm } from './input-sanity.js';
import { readRawBody } from './raw-body.js';

export const FORM_LIMIT_BYTES = 16 * 1024;

export async function readForm(ctx: Context, limit = FORM_LIMIT_BYTES): Promise<Record<string, string>> {
  if (!ctx.is('application/x-www-form-urlencoded')) ctx.throw(415, 'expected an application/x-www-form-urlencoded form');
  const parsed = parseForm(await readRawBody(ctx, limit));
  if ('problem' in parsed) throw new BadInput('a form field has', parsed.problem);
  const out: Record<string, string> = {};
  for (const [k, v] of parsed.pairs) if (!(k in out)) out[k] = v;
  return out;
}

/** Refuses cross-site form posts: a browser always sends Origin on POST, and it must be our own. */
export function assertSameOrigin(ctx: Context, issuer: string): void {
  const origin = ctx.get('Origin');
  if (origin && origin !== new URL(issuer).origin) ctx.throw(403, 'cross-origin form submission refused');
}
