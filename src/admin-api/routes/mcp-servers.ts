// The admin API's MCP servers (docs/ADMIN-API.md, "MCP servers"): RFC 8707 resources with their scope catalogue (each
// scope's description, tools, access rule and approval mark), access rule, tool approval marks and default flag.
// Bodies are the RESOURCES entry shape, checked by the same zod schema as RESOURCES (config.ts `resourceSeed`,
// strict: an unknown field is refused); each operation is one call of admin/resources.ts, which checks, changes and
// audits. A server is named in the path by its URI, percent-encoded.
import { z } from 'zod';
import type { AdminServices } from '../../admin/index.js';
import { AdminError } from '../../admin/admin-error.js';
import { APPROVAL_MODES, resourceSeed } from '../../config.js';
import type { Resource } from '../../oauth/resources.js';
import { operation, type Operation } from '../operation.js';
import { PageQuery, pageOf, text, Version } from '../schemas.js';

const ApprovalMode = z.enum(APPROVAL_MODES).meta({ description: 'docs/TOOL-APPROVALS.md: a person approves each call, or once per grant.' });
const AccessRule = z
  .object({ email_domains: z.array(z.string()), groups: z.array(z.string()) })
  .meta({ id: 'AccessRule', description: 'Only people with a verified email in one of the domains, or in one of the groups.' });

export const McpServer = z
  .object({
    uri: z.string().meta({ description: 'The canonical URI: the audience of its tokens.' }),
    name: z.string(),
    description: z.string().nullable(),
    scopes: z.record(
      z.string(),
      z.object({ description: z.string(), tools: z.array(z.string()).meta({ description: 'The MCP tools the scope unlocks.' }), access: AccessRule.optional(), approval: ApprovalMode.optional() }),
    ),
    access: AccessRule.nullable().meta({ description: 'Who may get tokens for it at all; null: everyone who may sign in.' }),
    tool_approval: z.record(z.string(), ApprovalMode),
    destructive_tools_approval: ApprovalMode.nullable(),
    delegation: z
      .object({ connections: z.record(z.string(), z.array(z.string())), resources: z.record(z.string(), z.array(z.string())) })
      .meta({ description: 'docs/DELEGATION.md: connection id → upstream scopes, and MCP server URI → scopes, it may obtain by token exchange.' }),
    default: z.boolean().meta({ description: 'Used for clients that send no resource parameter.' }),
    managed_by: z.string().nullable().meta({ description: 'The configuration file that manages it; only that file changes it.' }),
    from_environment: z.boolean().meta({ description: 'Defined by RESOURCES: seeded again at every start, so a change here lasts until then.' }),
    version: z.string(),
  })
  .meta({ id: 'McpServer' });

const Uri = z.object({ uri: z.string().min(1).max(2000).meta({ description: 'The server\'s URI, percent-encoded.' }) });
// The scope name is checked by the service against RESOURCES' rule, so a bad one is audited as a refused change.
const UriScope = Uri.extend({ scope: z.string().min(1).max(200).meta({ description: 'The scope, percent-encoded.' }) });

// A scope's object form in RESOURCES ({description, tools, access, approval}; config.ts), strict as the rest.
const scopeEntry = resourceSeed.shape.scopes.unwrap().valueType.options[1];
const ServerInput = resourceSeed.meta({ id: 'McpServerInput', description: 'A RESOURCES entry.' });
const ServerReplacement = resourceSeed.omit({ uri: true }).extend({ version: Version.optional() }).meta({ id: 'McpServerReplacement', description: 'A RESOURCES entry without its URI (the path names it): everything is replaced.' });
const ServerPatch = z
  .object({
    name: resourceSeed.shape.name,
    description: resourceSeed.shape.description.unwrap().nullable().optional(),
    scopes: resourceSeed.shape.scopes.unwrap().optional().meta({ description: 'The whole catalogue: replaces every scope.' }),
    access: resourceSeed.shape.access.unwrap().nullable().optional(),
    tool_approval: resourceSeed.shape.tool_approval.unwrap().nullable().optional(),
    destructive_tools_approval: resourceSeed.shape.destructive_tools_approval.unwrap().nullable().optional(),
    delegation: resourceSeed.shape.delegation.unwrap().nullable().optional(),
    default: z.boolean().optional(),
    version: Version.optional(),
  })
  .strict()
  .meta({ id: 'McpServerPatch', description: 'The fields to change; null clears an optional one; the rest stays.' });
const ScopeInput = scopeEntry.extend({ version: Version.optional() }).meta({ id: 'McpServerScope', description: 'One scope of the catalogue: replaces it, or adds it.' });

function shown(services: AdminServices, r: Resource) {
  const version = services.resources.version(r);
  return { body: { ...services.resources.view(r), version }, version };
}

async function known(services: AdminServices, uri: string): Promise<Resource> {
  const r = await services.resources.find(uri);
  if (!r) throw new AdminError('not_found', 'There is no such MCP server.');
  return r;
}

/** A body without the version it carried (which the handler reads as the expected version). */
const withoutVersion = <T extends { version?: string | undefined }>(body: T): Omit<T, 'version'> => {
  const { version: _version, ...rest } = body;
  return rest;
};

export const mcpServerOperations: Operation[] = [
  operation(
    {
      id: 'listMcpServers', method: 'get', path: '/mcp-servers', tag: 'MCP servers', summary: 'List MCP servers, by URI', scope: 'admin:read', status: 200,
      query: PageQuery.extend({ q: text(200).optional().meta({ description: 'Part of the URI, the name or a scope name.' }) }),
      response: pageOf(McpServer, 'McpServerPage'),
    },
    async ({ query, services }) => {
      const page = await services.resources.list(query);
      return { body: { items: page.items.map((r) => shown(services, r).body), next: page.next } };
    },
  ),
  operation(
    { id: 'getMcpServer', method: 'get', path: '/mcp-servers/{uri}', tag: 'MCP servers', summary: 'Get an MCP server', scope: 'admin:read', status: 200, params: Uri, response: McpServer, versioned: true },
    async ({ params, services }) => shown(services, await known(services, params.uri)),
  ),
  operation(
    { id: 'createMcpServer', method: 'post', path: '/mcp-servers', tag: 'MCP servers', summary: 'Register an MCP server', scope: 'admin:write', status: 201, body: ServerInput, response: McpServer, versioned: true },
    async ({ body, actor, services }) => shown(services, await services.resources.create(actor, body)),
  ),
  operation(
    {
      id: 'replaceMcpServer', method: 'put', path: '/mcp-servers/{uri}', tag: 'MCP servers', summary: 'Replace an MCP server\'s name, description, catalogue, access rule, approval marks and default flag', scope: 'admin:write', status: 200,
      params: Uri, body: ServerReplacement, response: McpServer, versioned: true,
    },
    async ({ params, body, actor, services, expectedVersion }) => shown(services, await services.resources.update(actor, params.uri, withoutVersion(body), expectedVersion)),
  ),
  operation(
    {
      id: 'updateMcpServer', method: 'patch', path: '/mcp-servers/{uri}', tag: 'MCP servers', summary: 'Change some fields of an MCP server', scope: 'admin:write', status: 200,
      params: Uri, body: ServerPatch, response: McpServer, versioned: true,
    },
    async ({ params, body, actor, services, expectedVersion }) => shown(services, await services.resources.patch(actor, params.uri, withoutVersion(body), expectedVersion)),
  ),
  operation(
    {
      id: 'setMcpServerScope', method: 'put', path: '/mcp-servers/{uri}/scopes/{scope}', tag: 'MCP servers', summary: 'Add or replace one scope: its description, tools, access rule and approval mark', scope: 'admin:write', status: 200,
      params: UriScope, body: ScopeInput, response: McpServer, versioned: true,
    },
    async ({ params, body, actor, services, expectedVersion }) => shown(services, await services.resources.setScope(actor, params.uri, params.scope, withoutVersion(body), expectedVersion)),
  ),
  operation(
    { id: 'removeMcpServerScope', method: 'delete', path: '/mcp-servers/{uri}/scopes/{scope}', tag: 'MCP servers', summary: 'Remove one scope of the catalogue', scope: 'admin:write', status: 200, params: UriScope, response: McpServer, versioned: true },
    async ({ params, actor, services, expectedVersion }) => shown(services, await services.resources.setScope(actor, params.uri, params.scope, null, expectedVersion)),
  ),
  operation(
    {
      id: 'deleteMcpServer', method: 'delete', path: '/mcp-servers/{uri}', tag: 'MCP servers', summary: 'Delete an MCP server: no token can be issued for it any more (issued ones expire)', scope: 'admin:write', status: 200, params: Uri, versioned: true,
      response: z.object({ uri: z.string(), name: z.string(), from_environment: z.boolean().meta({ description: 'Defined by RESOURCES: it comes back at the next start.' }) }).meta({ id: 'DeletedMcpServer' }),
    },
    async ({ params, actor, services, expectedVersion }) => {
      const removed = await services.resources.remove(actor, params.uri, expectedVersion);
      return { body: { uri: removed.uri, name: removed.name, from_environment: services.resources.fromEnvironment(removed.uri) } };
    },
  ),
];
