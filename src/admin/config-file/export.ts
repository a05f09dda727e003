// The current state as a configuration file (docs/CONFIG-FILE.md, "Export"): MCP servers, clients an administrator
// created, connections and policy overrides, in the format load.ts reads, so an export applied back plans nothing
// but adoptions. Secrets are never exported: each one becomes an {env: CHANGE_ME_…} reference the operator points
// at the real secret before applying. What the environment defines (RESOURCES, the UPSTREAM_* connection) is left
// out, since a file may not define it too; dynamic and CIMD clients register themselves and are left out as well.
import { Document } from 'yaml';
import { clientMetadata } from '../../oauth/static-clients.js';
import type { ConfigContext } from './plan.js';
import { resourceInputOf } from '../resources.js';

/** A placeholder variable name for a secret the export leaves out. */
export function placeholder(kind: 'CLIENT' | 'CONNECTION', id: string): string {
  return `CHANGE_ME_${kind}_${id.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_SECRET`;
}

export async function exportConfig(ctx: ConfigContext): Promise<Record<string, unknown>> {
  const mcpServers = (await ctx.resources.list())
    .filter((r) => !ctx.services.resources.fromEnvironment(r.uri))
    .map((r) => {
      const input = resourceInputOf(r);
      // A scope with nothing but a description is written the short way, as RESOURCES allows.
      const scopes = Object.fromEntries(
        Object.entries(input.scopes).map(([name, e]) => [name, e.tools?.length || e.access || e.approval ? e : (e.description ?? name)]),
      );
      return { ...input, scopes, ...(input.default ? {} : { default: undefined }) };
    });

  const clients = [];
  for (const c of await ctx.registry.list({ origin: 'static' })) {
    const meta = (await clientMetadata(ctx.db, ctx.box, c.clientId)) ?? {};
    const confidential = meta.token_endpoint_auth_method !== undefined && meta.token_endpoint_auth_method !== 'none';
    const redirectUris = Array.isArray(meta.redirect_uris) ? (meta.redirect_uris as string[]) : [];
    clients.push({
      client_id: c.clientId,
      name: typeof meta.client_name === 'string' ? meta.client_name : (c.clientName ?? c.clientId),
      ...(redirectUris.length ? { redirect_uris: redirectUris } : {}),
      ...(confidential ? { confidential: true } : {}),
      ...(typeof meta.scope === 'string' && meta.scope ? { scope: meta.scope } : {}),
      ...(typeof meta.gatehouse_resource === 'string' ? { resource: meta.gatehouse_resource } : {}),
      ...(typeof meta.gatehouse_admin_api === 'string' ? { admin_api: meta.gatehouse_admin_api } : {}),
      ...(confidential ? { secret: { env: placeholder('CLIENT', c.clientId) } } : {}),
    });
  }
  clients.sort((a, b) => (a.client_id < b.client_id ? -1 : 1));

  const connections = (await ctx.connections.list())
    .filter((c) => c.source !== 'env')
    .map((c) => ({
      id: c.id,
      name: c.name,
      kind: c.kind,
      issuer: c.issuer,
      client_id: c.clientId,
      ...(c.clientSecret ? { client_secret: { env: placeholder('CONNECTION', c.id) } } : {}),
      ...(c.scopes.length ? { scopes: c.scopes } : {}),
      tenant: c.tenant,
      ...(c.allowedTenants.length ? { allowed_tenants: c.allowedTenants } : {}),
      ...(c.hostedDomains.length ? { hosted_domains: c.hostedDomains } : {}),
      groups_claim: c.groupsClaim,
      ...(c.orgs.length ? { orgs: c.orgs } : {}),
      ...(c.storeTokens ? { store_tokens: true } : {}),
      ...(c.allowPrivateNetwork ? { allow_private_network: true } : {}),
      ...(c.idJag ? { id_jag: true } : {}),
      id_jag_resource: c.idJagResource,
    }));

  const policy = Object.fromEntries((await ctx.policy.entries()).filter((e) => e.overridden).map((e) => [e.name, e.effective]));

  // JSON drops the undefined fields; YAML is written from the same object.
  return JSON.parse(JSON.stringify({ mcp_servers: mcpServers, clients, connections, policy })) as Record<string, unknown>;
}

/** The export as YAML, with a header that says what was left out and what to fill in. */
export function exportYaml(content: Record<string, unknown>): string {
  const doc = new Document(content);
  doc.commentBefore = [
    ' Gatehouse configuration file (docs/CONFIG-FILE.md), written by `gatehouse config export`.',
    ' Secrets are not exported: each {env: CHANGE_ME_...} names a variable to set (or replace it with {file: path})',
    ' before applying. Left out: MCP servers from RESOURCES, the UPSTREAM_* connection, dynamic and CIMD clients.',
  ].join('\n');
  return doc.toString({ lineWidth: 0 });
}
