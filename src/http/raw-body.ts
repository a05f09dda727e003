// Reads a request body with a hard limit, for the few middlewares that must adjust a request before oidc-provider
// parses it (which it then reads from ctx.request.body). Same limit as oidc-provider's own parser.
import type { Context } from 'koa';
import getRawBody from 'raw-body';

export const PROVIDER_BODY_LIMIT = 56 * 1024;

export async function readRawBody(ctx: Context, limit = PROVIDER_BODY_LIMIT): Promise<string> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) ctx.throw(413, 'request body too large');
  try {
    return await getRawBody(ctx.req, { limit, encoding: 'utf8', ...(declared ? { length: declared } : {}) });
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status === 413) ctx.throw(413, 'request body too large');
    // A body shorter or longer than its Content-Length, or one the client stopped sending.
    if (status && status >= 400 && status < 500) ctx.throw(400, 'the request body could not be read');
    throw err;
  }
}

/** Hands a body to oidc-provider as if it had parsed it itself. */
export function setParsedBody(ctx: Context, body: unknown): void {
  (ctx.request as unknown as { body: unknown }).body = body;
}
