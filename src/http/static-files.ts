// The few static assets the pages use (two stylesheets, one small script), served from views/static with a fixed allow-list.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Middleware } from 'koa';
import { routeOf } from './route-resolution.js';
import { VIEWS_DIR } from '../views/views.js';

const FILES: Record<string, string> = {
  '/static/style.css': 'text/css; charset=utf-8',
  '/static/console.css': 'text/css; charset=utf-8',
  // The console's copy button (a secret shown once); the CSP allows same-origin scripts only (security-headers.ts).
  '/static/copy.js': 'text/javascript; charset=utf-8',
};

/** The static route's handler: the resolved route's canonical path names the file (http/route-table.ts). */
export function staticFiles(): Middleware {
  const cache = new Map(Object.keys(FILES).map((p) => [p, readFileSync(join(VIEWS_DIR, p))]));
  return async (ctx, next) => {
    const path = routeOf(ctx)?.spec.path ?? '';
    const body = cache.get(path);
    if (!body) return next();
    ctx.type = FILES[path]!;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = body;
  };
}
