// Who may report for an MCP server (docs/MCP-SERVER-REPORTING.md, "Who may report"): the server's own confidential
// client, created by an administrator and linked to it with `gatehouse_resource`, authenticating with HTTP Basic.
//
// 401 invalid_client: no or malformed credentials, an unknown client, a client that holds no secret (auth `none`,
// any client_id URL), a wrong or expired secret. 403 unauthorized_client: a client that did authenticate but is
// not an administrator's resource-server client (origin `static` in the client registry, as the introspection
// policy requires: oauth/policies/hooks/introspection.ts), is pending or disabled, or whose resource is gone.
import type Provider from 'oidc-provider';
import { basicCredentials } from '../http/basic-credentials.js';
import { clientKind } from '../oauth/client-kind.js';
import type { ClientRegistry } from '../oauth/client-registry.js';
import { RESOURCE_PROPERTY } from '../oauth/policies/client-metadata/client-admin-properties.js';
import { canonicalOrSame, type ResourceRegistry } from '../oauth/resources.js';
import { ReportRefusal } from './report-refusal.js';

export interface Reporter {
  clientId: string;
  /** The registered resource it reports for, canonical. */
  resource: string;
}

export interface ReporterDeps {
  provider: () => Provider;
  registry: ClientRegistry;
  resources: ResourceRegistry;
}

// Every failed authentication gets the same answer; the audit row keeps the reason.
const unauthenticated = (description: string, clientId?: string) => new ReportRefusal(401, 'invalid_client', description, clientId, 'client authentication failed');
const unauthorized = (description: string, clientId: string) => new ReportRefusal(403, 'unauthorized_client', description, clientId);

/** The reporting client, or throws the ReportRefusal to answer. */
export async function authenticateReporter(authorization: string, deps: ReporterDeps): Promise<Reporter> {
  if (!authorization) throw unauthenticated('client authentication required (HTTP Basic)');
  const credentials = basicCredentials(authorization);
  if (!credentials) throw unauthenticated('malformed HTTP Basic credentials');
  const { id, secret } = credentials;
  // A client_id URL names a metadata document, which holds no secret: never fetched here.
  if (clientKind(id) === 'cimd') throw unauthenticated('a client identified by a metadata document cannot report', id);
  const client = await deps.provider().Client.find(id);
  if (!client) throw unauthenticated('unknown client', id);
  if (client.clientAuthMethod === 'none' || !client.clientSecret) throw unauthenticated('the client has no secret', id);
  if (!client.compareClientSecret(secret)) throw unauthenticated('wrong client secret', id);
  if (client.clientSecretExpiresAt && Date.now() / 1000 >= client.clientSecretExpiresAt) throw unauthenticated('client secret expired', id);

  const entry = await deps.registry.find(id);
  if (entry?.origin !== 'static') throw unauthorized('only a client an administrator created for an MCP server may report', id);
  if (entry.status !== 'active') throw unauthorized(`the client is ${entry.status}`, id);
  const linked = (client as unknown as Record<string, unknown>)[RESOURCE_PROPERTY];
  if (typeof linked !== 'string' || !linked) throw unauthorized('the client is not linked to an MCP server (gatehouse client add --resource)', id);
  const resource = await deps.resources.find(linked);
  if (!resource || resource.uri !== canonicalOrSame(linked)) throw unauthorized('the client\'s MCP server is no longer registered', id);
  return { clientId: id, resource: resource.uri };
}

/** The body's `resource` must be the reporter's own, in canonical form (as in `aud`). */
export function checkResource(reporter: Reporter, claimed: string): void {
  if (canonicalOrSame(claimed) !== reporter.resource) {
    throw new ReportRefusal(403, 'unauthorized_client', 'resource is not the MCP server this client reports for', reporter.clientId);
  }
}
