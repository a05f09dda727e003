// The tool→scope catalogue of each MCP server, public like the consent page that shows it: `GET /catalogue?resource=<uri>`
// answers what the resource-server kit needs to check `tools/call` (which scopes each tool needs) and what a client
// may show before asking. Nothing here is secret: access rules stay inside Gatehouse.
import type { Middleware } from 'koa';
import type { ResourceRegistry } from './resources.js';

export const CATALOGUE_PATH = '/catalogue';

export function catalogue(resources: ResourceRegistry): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== CATALOGUE_PATH) return next();
    ctx.set('Access-Control-Allow-Origin', '*');
    if (ctx.method === 'OPTIONS') {
      ctx.set('Access-Control-Allow-Methods', 'GET');
      ctx.status = 204;
      return;
    }
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD, OPTIONS');
      ctx.body = { error: 'invalid_request', error_description: 'use GET' };
      return;
    }
    const requested = ctx.query.resource;
    const resource = typeof requested === 'string' ? await resources.find(requested) : await resources.defaultResource();
    if (!resource || Array.isArray(requested)) {
      ctx.status = 404;
      ctx.body = { error: 'invalid_target', error_description: 'no such resource is registered' };
      return;
    }
    ctx.set('Cache-Control', 'public, max-age=60');
    ctx.body = {
      resource: resource.uri,
      name: resource.name,
      ...(resource.description ? { description: resource.description } : {}),
      scopes: Object.fromEntries(Object.entries(resource.catalogue).map(([name, e]) => [name, { description: e.description, tools: e.tools }])),
    };
  };
}
