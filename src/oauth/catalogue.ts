// The tool→scope catalogue of each MCP server, public like the consent page that shows it: `GET /catalogue?resource=<uri>`
// answers what the resource-server kit needs to check `tools/call` (which scopes each tool needs) and what a client
// may show before asking. Nothing here is secret: access rules stay inside Gatehouse.
import type { Middleware } from 'koa';
import type { ResourceRegistry } from './resources.js';

/** The catalogue route's handler (src/policy-table.ts). */
/** `approvalModes`: the tools of a resource that need a person's approval (docs/TOOL-APPROVALS.md), which the kit enforces. */
export function catalogue(resources: ResourceRegistry, approvalModes: (uri: string) => Promise<Record<string, string>> = async () => ({})): Middleware {
  return async (ctx) => {
    ctx.set('Access-Control-Allow-Origin', '*');
    if (ctx.method === 'OPTIONS') {
      ctx.set('Access-Control-Allow-Methods', 'GET');
      ctx.status = 204;
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
      approvals: await approvalModes(resource.uri),
    };
  };
}
