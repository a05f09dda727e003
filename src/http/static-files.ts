// The few static assets the pages use (one stylesheet), served from views/static with a fixed allow-list.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Middleware } from 'koa';
import { VIEWS_DIR } from '../interaction/views.js';

const FILES: Record<string, string> = { '/static/style.css': 'text/css; charset=utf-8', '/static/console.css': 'text/css; charset=utf-8' };

export function staticFiles(): Middleware {
  const cache = new Map(Object.keys(FILES).map((p) => [p, readFileSync(join(VIEWS_DIR, p))]));
  return async (ctx, next) => {
    const body = cache.get(ctx.path);
    if (!body || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    ctx.type = FILES[ctx.path]!;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = body;
  };
}
