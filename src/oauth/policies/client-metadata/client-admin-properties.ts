// RFC 7591 §2 ("the authorization server MAY reject or replace any of the client's requested metadata values") and
// §5 (a client's own statements about itself are not trusted): Gatehouse's own client metadata is an
// administrator's statement about a client, never the client's.
//
//   gatehouse_resource         the MCP server a confidential client speaks for: it may introspect that resource's
//                              tokens (policies/hooks/introspection.ts)
//   gatehouse_machine_client   true: a confidential client an administrator created, which may use
//                              client_credentials (policies/client-metadata/client-credentials-admin-only.ts)
//   gatehouse_admin_api        the admin API scopes (`admin:read`, `admin:write`) a machine client may obtain for the
//                              admin API's audience (docs/ADMIN-API.md; policies/hooks/resource-indicators.ts)
//
// Any one in a registration, an update or a metadata document is refused: a document is written by whoever
// controls its host, a registration by anyone who can reach /register. Only createStaticClient sets them, and a
// machine mark there must sit on a confidential client that has client_credentials.
import type { ClientMetadataRule } from '../../client-metadata-policy.js';

export const RESOURCE_PROPERTY = 'gatehouse_resource';
export const MACHINE_CLIENT_PROPERTY = 'gatehouse_machine_client';
/** The extraClientMetadata properties oidc-provider keeps on a client (provider.ts). */
export const ADMIN_API_PROPERTY = 'gatehouse_admin_api';
export const ADMIN_API_SCOPES = ['admin:read', 'admin:write'] as const;
export const ADMIN_PROPERTIES = [RESOURCE_PROPERTY, MACHINE_CLIENT_PROPERTY, ADMIN_API_PROPERTY] as const;

export const clientAdminProperties: ClientMetadataRule = (meta, source) => {
  if (source === 'stored') return undefined;
  if (source !== 'static-admin') {
    const asserted = ADMIN_PROPERTIES.find((p) => meta[p] !== undefined);
    return asserted ? `${asserted} cannot be self-asserted` : undefined;
  }
  const mark = meta[MACHINE_CLIENT_PROPERTY];
  const adminApi = meta[ADMIN_API_PROPERTY];
  if (adminApi !== undefined) {
    const scopes = typeof adminApi === 'string' ? adminApi.split(' ') : [];
    if (!scopes.length || !scopes.every((s) => (ADMIN_API_SCOPES as readonly string[]).includes(s))) return `${ADMIN_API_PROPERTY} must list admin:read and/or admin:write`;
    if (mark !== true) return `${ADMIN_API_PROPERTY} belongs only on a machine client`;
    if (meta[RESOURCE_PROPERTY] !== undefined) return `${ADMIN_API_PROPERTY} and ${RESOURCE_PROPERTY} are not given to one client`;
    // client_credentials only: a person's authorization code or a refresh token must never reach the admin API.
    const grantTypes = Array.isArray(meta.grant_types) ? meta.grant_types : [];
    const redirects = Array.isArray(meta.redirect_uris) ? meta.redirect_uris : [];
    if (redirects.length || grantTypes.some((g) => g !== 'client_credentials')) return `${ADMIN_API_PROPERTY} belongs only on a client without redirect URIs, using client_credentials alone`;
  }
  if (mark === undefined) return undefined;
  if (mark !== true) return `${MACHINE_CLIENT_PROPERTY} must be true when present`;
  const grants = Array.isArray(meta.grant_types) ? meta.grant_types : [];
  if (meta.token_endpoint_auth_method === 'none' || !grants.includes('client_credentials')) {
    return `${MACHINE_CLIENT_PROPERTY} belongs only on a confidential client with the client_credentials grant`;
  }
  return undefined;
};
