// `GET /`: a small page saying what this server is, its issuer, and where to go (the account page, the console, the
// RFC 8414 metadata). Nothing a visitor could not read from the metadata already: no version, no connections, no
// clients (docs/SECURITY.md, "Browser pages"). Under an ISSUER with a path it is that path's root (issuer-path.ts).
import type { Middleware } from 'koa';
import type { Views } from '../views/views.js';
import { issuerBase } from './issuer-path.js';
import { RFC8414_PATH } from './route-table.js';

/** The metadata URL an MCP client reads: the well-known segment before ISSUER's path (RFC 8414 §3.1). */
function metadataUrl(issuer: string): string {
  return `${new URL(issuer).origin}${RFC8414_PATH}${issuerBase(issuer)}`;
}

export function landingPage(options: { issuer: string; views: Views }): Middleware {
  const body = options.views.render('home', { issuer: options.issuer, metadataUrl: metadataUrl(options.issuer) });
  return async (ctx) => {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = body;
  };
}
