// RFC 9728 protected resource metadata: the document an MCP client reads after its first 401 to learn which
// authorization server to use (MCP authorization spec 2025-11-25, "Authorization Server Location"). Served at the
// path-aware location (`/.well-known/oauth-protected-resource/mcp` for `https://h/mcp`, RFC 9728 §3.1) and at the
// root form, which clients try second.
import { WELL_KNOWN_PRM, metadataPath } from './canonical-resource.js';

export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  bearer_methods_supported: string[];
  resource_name?: string;
}

export function metadataDocument(input: { resource: string; issuer: string; scopes?: string[] | undefined; name?: string | undefined }): ProtectedResourceMetadata {
  return {
    resource: input.resource,
    // RFC 9728 §3.3 / RFC 8414 §3.3: the client compares the issuer it then fetches byte for byte with this one.
    authorization_servers: [input.issuer],
    ...(input.scopes ? { scopes_supported: input.scopes } : {}),
    bearer_methods_supported: ['header'], // RFC 6750 §2.1 only: no query tokens (they end up in logs)
    ...(input.name ? { resource_name: input.name } : {}),
  };
}

/** The paths (no query) this server's metadata is served at. */
export function metadataPaths(canonical: string): Set<string> {
  return new Set([metadataPath(canonical), WELL_KNOWN_PRM]);
}
