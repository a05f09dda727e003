// Clients an administrator creates (`gatehouse client add`, the console): MCP clients with fixed redirect URIs, and
// confidential machine agents using client_credentials, which alone carry the machine mark the token endpoint asks
// for (policies/client-metadata/client-credentials-admin-only.ts). The metadata passes the client-metadata policy as
// source `static-admin` (the same rules as every other source, except that client_credentials is allowed to a
// confidential client), then oidc-provider's own client schema, and is stored through the adapter (sealed at rest).
import { randomBytes } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/connection.js';
import { PostgresAdapter } from './adapter.js';
import { STATIC_SCOPES } from './provider.js';
import { applyClientMetadataPolicy } from './client-metadata-policy.js';
import { MACHINE_CLIENT_PROPERTY, RESOURCE_PROPERTY } from './policies/client-metadata/client-admin-properties.js';
import type { ClientRegistry } from './client-registry.js';
import { canonicalResource, InvalidResourceUri } from './resources.js';

/** The input describes a client Gatehouse will not create (the message says why, for the admin). */
export class ClientInputError extends Error {}

function resourceOf(uri: string): string {
  try {
    return canonicalResource(uri);
  } catch (err) {
    throw err instanceof InvalidResourceUri ? new ClientInputError(err.message) : err;
  }
}

export interface NewClient {
  name: string;
  redirectUris: string[];
  confidential: boolean;
  scope?: string | undefined;
  resource?: string | undefined; // the resource server this confidential client speaks for (introspection)
  redirectUriSchemes?: readonly string[]; // REDIRECT_URI_SCHEMES
}

export interface CreatedClient {
  client_id: string;
  client_secret?: string;
  client_name: string;
  redirect_uris: string[];
  grant_types: string[];
  token_endpoint_auth_method: string;
}

export async function createStaticClient(db: Db, box: SecretBox, provider: Provider, input: NewClient): Promise<CreatedClient> {
  if (!input.name.trim()) throw new ClientInputError('a client needs a name');
  if (!input.confidential && input.redirectUris.length === 0) throw new ClientInputError('a public client needs at least one redirect URI');
  const grantTypes = [
    ...(input.redirectUris.length ? ['authorization_code', 'refresh_token'] : []),
    ...(input.confidential ? ['client_credentials'] : []),
  ];
  const metadata: Record<string, unknown> = {
    client_id: `gh_${randomBytes(12).toString('base64url')}`,
    client_name: input.name,
    redirect_uris: input.redirectUris,
    grant_types: grantTypes,
    response_types: input.redirectUris.length ? ['code'] : [],
    token_endpoint_auth_method: input.confidential ? 'client_secret_basic' : 'none',
    client_id_issued_at: Math.floor(Date.now() / 1000),
    ...(input.confidential ? { client_secret: randomBytes(32).toString('base64url'), client_secret_expires_at: 0, [MACHINE_CLIENT_PROPERTY]: true } : {}),
    ...(input.scope ? { scope: input.scope } : {}),
    ...(input.resource ? { [RESOURCE_PROPERTY]: resourceOf(input.resource) } : {}),
  };
  const decision = applyClientMetadataPolicy(metadata, 'static-admin', { staticScopes: STATIC_SCOPES, redirectUriSchemes: input.redirectUriSchemes ?? [] });
  if (!decision.ok) throw new ClientInputError(decision.refusal.error_description);
  try {
    await provider.Client.validate(metadata as never);
  } catch (err) {
    const described = err as { error_description?: unknown };
    throw typeof described.error_description === 'string' ? new ClientInputError(described.error_description) : err;
  }
  await new PostgresAdapter('Client', { db, box }).upsert(String(metadata.client_id), metadata as never, 0);
  return {
    client_id: String(metadata.client_id),
    ...(metadata.client_secret ? { client_secret: String(metadata.client_secret) } : {}),
    client_name: input.name,
    redirect_uris: input.redirectUris,
    grant_types: grantTypes,
    token_endpoint_auth_method: String(metadata.token_endpoint_auth_method),
  };
}

/**
 * An admin adds a client (`gatehouse client add`, the console's New static client): created as above, then entered
 * in the registry as an active static client. The caller audits it (never with the secret).
 */
export async function addStaticClient(
  deps: { db: Db; box: SecretBox; provider: Provider; registry: ClientRegistry },
  input: NewClient,
): Promise<CreatedClient> {
  const created = await createStaticClient(deps.db, deps.box, deps.provider, input);
  await deps.registry.record({ clientId: created.client_id, origin: 'static', status: 'active', clientName: created.client_name });
  return created;
}
