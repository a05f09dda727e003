// Reads a request body with a hard limit, for the few middlewares that must adjust a request before oidc-provider
// parses it (which it then reads from ctx.request.body). Same limit as oidc-provider's own parser.
import type { Context } from 'koa';

export const PROVIDER_BODY_LIMIT = 56 * 1024;

export async function readRawBody(ctx: Context, limit = PROVIDER_BODY_LIMIT): Promise<string> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) ctx.throw(413, 'request body too large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) ctx.throw(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Hands a body to oidc-provider as if it had parsed it itself. */
export function setParsedBody(ctx: Context, body: unknown): void {
  (ctx.request as unknown as { body: unknown }).body = body;
}
