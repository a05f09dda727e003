// Koa: `app.use(guard.koa())` (or on the MCP route of a router). Uses `ctx.request.body` when a body parser
// already read the body, else reads the body and leaves it there. Sets `ctx.state.identity`, `ctx.state.auth` and
// `ctx.req.auth` (for the MCP SDK transport, which is handed `ctx.req`). Koa is not imported: the context type
// below is the few members used.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CORS_HEADERS } from '../cors.js';
import type { Guard } from '../guard.js';
import { fromParser, parsedByFramework } from '../json-body.js';
import { admit } from './node.js';

export interface KoaLikeContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  url: string;
  request: { body?: unknown };
  state: Record<string, unknown>;
  status: number;
  body: unknown;
  set(fields: Record<string, string>): void;
}
export type KoaMiddleware = (ctx: KoaLikeContext, next: () => Promise<unknown>) => Promise<void>;

export function koaMiddleware(guard: Guard): KoaMiddleware {
  return async (ctx, next) => {
    const preParsed = parsedByFramework(ctx.req, ctx.request.body);
    const readBody = preParsed ? async () => fromParser(ctx.request.body, guard.config.maxBodyBytes) : undefined;
    const outcome = await guard.decide({ req: ctx.req, method: ctx.method, url: ctx.url, readBody });
    guard.record(outcome, ctx.res);
    if ('answer' in outcome) {
      const { status, headers, body } = outcome.answer;
      ctx.status = status;
      ctx.set(headers); // Content-Type first, so Koa does not guess text/plain for the JSON text
      ctx.body = body ?? null; // null only for the 204 preflight
      return;
    }
    ctx.set({ ...CORS_HEADERS });
    ctx.state.identity = outcome.pass.identity;
    ctx.state.auth = admit(ctx.req, ctx.res, outcome.pass.identity);
    if (!preParsed && outcome.pass.body !== undefined) ctx.request.body = outcome.pass.body;
    await next();
  };
}
