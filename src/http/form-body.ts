// A small urlencoded form reader for Gatehouse's own pages, with a hard size limit (DESIGN.md §7). oidc-provider
// parses its own endpoints' bodies.
import type { Context } from 'koa';

export const FORM_LIMIT_BYTES = 16 * 1024;

export async function readForm(ctx: Context, limit = FORM_LIMIT_BYTES): Promise<Record<string, string>> {
  if (!ctx.is('application/x-www-form-urlencoded')) ctx.throw(415, 'expected an application/x-www-form-urlencoded form');
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) ctx.throw(413, 'request body too large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) ctx.throw(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  const out: Record<string, string> = {};
  for (const [k, v] of params) if (!(k in out)) out[k] = v;
  return out;
}

/** Refuses cross-site form posts: a browser always sends Origin on POST, and it must be our own. */
export function assertSameOrigin(ctx: Context, issuer: string): void {
  const origin = ctx.get('Origin');
  if (origin && origin !== new URL(issuer).origin) ctx.throw(403, 'cross-origin form submission refused');
}
