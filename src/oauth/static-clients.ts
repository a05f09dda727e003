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
import { JWT_BEARER, TOKEN_EXCHANGE } from './policies/client-metadata/client-grant-types.js';
import { ADMIN_API_PROPERTY, MACHINE_CLIENT_PROPERTY, RESOURCE_PROPERTY } from './policies/client-metadata/client-admin-properties.js';
import type { ClientRegistry } from './client-registry.js';
import { DYNAMIC_CLIENT_PREFIX } from './client-kind.js';
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
  /** A fixed client id (the configuration file names its clients); otherwise a random `gh_…` one. */
  clientId?: string | undefined;
  /** A given secret (the configuration file's, by reference); otherwise a random one. */
  clientSecret?: string | undefined;
  /** A client of the admin API (docs/ADMIN-API.md): the admin scopes it may obtain, e.g. `admin:read admin:write`. */
  adminApi?: string | undefined;
}

/** What an administrator may name a client: no URL (a CIMD id), not the dynamic prefix, nothing to escape. */
const CLIENT_ID_SHAPE = /^[A-Za-z0-9][A-Za-z0-9._~-]{2,99}$/;

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
    // An MCP server's own client exchanges the tokens it receives (docs/DELEGATION.md).
    ...(input.confidential && input.resource ? [TOKEN_EXCHANGE] : []),
    // A confidential client acting for people may present their IdP's identity assertions instead of a browser
    // sign-in (docs/ENTERPRISE-MANAGED-AUTHORIZATION.md); a machine agent (no redirect URI) acts for nobody.
    ...(input.confidential && input.redirectUris.length && !input.adminApi ? [JWT_BEARER] : []),
  ];
  if (input.clientId !== undefined && (!CLIENT_ID_SHAPE.test(input.clientId) || input.clientId.startsWith(DYNAMIC_CLIENT_PREFIX))) {
    throw new ClientInputError(`client_id must be 3 to 100 letters, digits or . _ ~ - and must not start with ${DYNAMIC_CLIENT_PREFIX}`);
  }
  if (input.clientSecret !== undefined && (!input.confidential || input.clientSecret.length < 32)) {
    throw new ClientInputError('a given client secret belongs only to a confidential client and must be at least 32 characters');
  }
  const metadata: Record<string, unknown> = {
    client_id: input.clientId ?? `gh_${randomBytes(12).toString('base64url')}`,
    client_name: input.name,
    redirect_uris: input.redirectUris,
    grant_types: grantTypes,
    response_types: input.redirectUris.length ? ['code'] : [],
    token_endpoint_auth_method: input.confidential ? 'client_secret_basic' : 'none',
    client_id_issued_at: Math.floor(Date.now() / 1000),
    ...(input.confidential ? { client_secret: input.clientSecret ?? randomBytes(32).toString('base64url'), client_secret_expires_at: 0, [MACHINE_CLIENT_PROPERTY]: true } : {}),
    ...(input.scope ? { scope: input.scope } : {}),
    ...(input.resource ? { [RESOURCE_PROPERTY]: resourceOf(input.resource) } : {}),
    ...(input.adminApi ? { [ADMIN_API_PROPERTY]: input.adminApi } : {}),
  };
  if (input.adminApi && (!input.confidential || input.redirectUris.length)) throw new ClientInputError('an admin API client is a confidential client without redirect URIs');
  await storeValidated(db, box, provider, metadata, input.redirectUriSchemes ?? []);
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

/** The client-metadata policy as `static-admin`, then oidc-provider's schema, then the adapter (sealed at rest). */
async function storeValidated(db: Db, box: SecretBox, provider: Provider, metadata: Record<string, unknown>, redirectUriSchemes: readonly string[]): Promise<void> {
  const decision = applyClientMetadataPolicy(metadata, 'static-admin', { staticScopes: STATIC_SCOPES, redirectUriSchemes });
  if (!decision.ok) throw new ClientInputError(decision.refusal.error_description);
  try {
    await provider.Client.validate(metadata as never);
  } catch (err) {
    const described = err as { error_description?: unknown };
    throw typeof described.error_description === 'string' ? new ClientInputError(described.error_description) : err;
  }
  await new PostgresAdapter('Client', { db, box }).upsert(String(metadata.client_id), metadata as never, 0);
}

/** A stored client's metadata (an admin-created, dynamic or first-party one), or undefined. */
export async function clientMetadata(db: Db, box: SecretBox, clientId: string): Promise<Record<string, unknown> | undefined> {
  return (await new PostgresAdapter('Client', { db, box }).find(clientId)) as Record<string, unknown> | undefined;
}

/**
 * Changes an admin-created client's name or redirect URIs. The grant types follow the redirect URIs as at creation
 * (a confidential client without any keeps client_credentials only); the whole metadata passes the policy again.
 */
export async function updateStaticClient(
  deps: { db: Db; box: SecretBox; provider: Provider; registry: ClientRegistry; redirectUriSchemes?: readonly string[] },
  clientId: string,
  change: { name?: string | undefined; redirectUris?: string[] | undefined },
): Promise<Record<string, unknown>> {
  const current = await clientMetadata(deps.db, deps.box, clientId);
  if (!current) throw new ClientInputError('there is no such client');
  const confidential = current.token_endpoint_auth_method !== 'none';
  const redirectUris = change.redirectUris ?? (current.redirect_uris as string[] | undefined) ?? [];
  if (!confidential && redirectUris.length === 0) throw new ClientInputError('a public client needs at least one redirect URI');
  const name = change.name ?? String(current.client_name ?? '');
  if (!name.trim()) throw new ClientInputError('a client needs a name');
  const metadata: Record<string, unknown> = {
    ...current,
    client_name: name,
    redirect_uris: redirectUris,
    grant_types: [
      ...(redirectUris.length ? ['authorization_code', 'refresh_token'] : []),
      ...(confidential ? ['client_credentials'] : []),
      ...(confidential && typeof current[RESOURCE_PROPERTY] === 'string' ? [TOKEN_EXCHANGE] : []),
      ...(confidential && redirectUris.length && current[ADMIN_API_PROPERTY] === undefined ? [JWT_BEARER] : []),
    ],
    response_types: redirectUris.length ? ['code'] : [],
  };
  await storeValidated(deps.db, deps.box, deps.provider, metadata, deps.redirectUriSchemes ?? []);
  await deps.registry.setName(clientId, name);
  return metadata;
}

/** A new secret for an admin-created confidential client; the old one stops working at once. Returned once. */
export async function rotateStaticSecret(deps: { db: Db; box: SecretBox; provider: Provider; redirectUriSchemes?: readonly string[] }, clientId: string, secret?: string): Promise<string> {
  const current = await clientMetadata(deps.db, deps.box, clientId);
  if (!current) throw new ClientInputError('there is no such client');
  if (current.token_endpoint_auth_method === 'none') throw new ClientInputError('a public client has no secret');
  const clientSecret = secret ?? randomBytes(32).toString('base64url');
  await storeValidated(deps.db, deps.box, deps.provider, { ...current, client_secret: clientSecret }, deps.redirectUriSchemes ?? []);
  return clientSecret;
}
