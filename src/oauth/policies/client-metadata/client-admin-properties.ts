// RFC 7591 §2 ("the authorization server MAY reject or replace any of the client's requested metadata values") and
// §5 (a client's own statements about itself are not trusted): Gatehouse's own client metadata is an
// administrator's statement about a client, never the client's.
//
//   gatehouse_resource         the MCP server a confidential client speaks for: it may introspect that resource's
//                              tokens (policies/hooks/introspection.ts)
//   gatehouse_machine_client   true: a confidential client an administrator created, which may use
//                              client_credentials (policies/client-metadata/client-credentials-admin-only.ts)
//
// Either one in a registration, an update or a metadata document is refused: a document is written by whoever
// controls its host, a registration by anyone who can reach /register. Only createStaticClient sets them, and a
// machine mark there must sit on a confidential client that has client_credentials.
import type { ClientMetadataRule } from '../../client-metadata-policy.js';

export const RESOURCE_PROPERTY = 'gatehouse_resource';
export const MACHINE_CLIENT_PROPERTY = 'gatehouse_machine_client';
/** The extraClientMetadata properties oidc-provider keeps on a client (provider.ts). */
export const ADMIN_PROPERTIES = [RESOURCE_PROPERTY, MACHINE_CLIENT_PROPERTY] as const;

export const clientAdminProperties: ClientMetadataRule = (meta, source) => {
  if (source === 'stored') return undefined;
  if (source !== 'static-admin') {
    const asserted = ADMIN_PROPERTIES.find((p) => meta[p] !== undefined);
    return asserted ? `${asserted} cannot be self-asserted` : undefined;
  }
  const mark = meta[MACHINE_CLIENT_PROPERTY];
  if (mark === undefined) return undefined;
  if (mark !== true) return `${MACHINE_CLIENT_PROPERTY} must be true when present`;
  const grants = Array.isArray(meta.grant_types) ? meta.grant_types : [];
  if (meta.token_endpoint_auth_method === 'none' || !grants.includes('client_credentials')) {
    return `${MACHINE_CLIENT_PROPERTY} belongs only on a confidential client with the client_credentials grant`;
  }
  return undefined;
};
