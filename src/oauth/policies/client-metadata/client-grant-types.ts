// OAuth 2.1 §4.1 and §4.3 (authorization code, refresh token), RFC 6749 §4.4 (client_credentials), RFC 7591 §2
// (grant_types; the server may replace requested values): what each source of clients may be granted.
//
// Everyone gets at most authorization_code and refresh_token, so every token involves a person. client_credentials
// mints tokens for any MCP server with nobody signing in, so it belongs only to a confidential client an
// administrator created (`client add --confidential`, the console), which carries the machine mark
// (client-admin-properties.ts) the token endpoint checks (client-credentials-admin-only.ts). Implicit and password
// grants do not exist in OAuth 2.1.
//
// - dynamic, update: anything else is refused, so the registrant learns what it will not get.
// - cimd: a metadata document is published once for every server it is used with, and names what its client can
//   do anywhere (claude.ai's lists urn:ietf:params:oauth:grant-type:jwt-bearer): it is narrowed to what this server
//   grants, and refused only when nothing is left. client_credentials is dropped: a URL client is never a machine.
// - static-admin: client_credentials only with a client secret.
// - stored: client_credentials is dropped from a client without the machine mark (defence in depth: nothing else
//   should have written one).
//
// Delegation (docs/DELEGATION.md): token exchange (RFC 8693) belongs only to an MCP server's own client — confidential,
// admin-created, bound to its resource (gatehouse_resource) — since it hands out the person's upstream tokens. The
// identity assertion grant (jwt-bearer, ID-JAG) needs a confidential client of any source: a CIMD client keeps it
// when its document authenticates with private_key_jwt; a public client never gets it.
import type { ClientMetadataRule, ClientSource } from '../../client-metadata-policy.js';
import { MACHINE_CLIENT_PROPERTY, RESOURCE_PROPERTY } from './client-admin-properties.js';
import { clientKind } from '../../client-kind.js';

const PERSON_GRANTS = new Set(['authorization_code', 'refresh_token']);
const CLIENT_CREDENTIALS = 'client_credentials';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';


function allowedGrants(source: ClientSource, meta: Record<string, unknown>): Set<string> {
  const allowed = new Set(PERSON_GRANTS);
  // oidc-provider's default method is client_secret_basic (provider.ts clientDefaults): unset counts as confidential
  // for an admin's client; a metadata document must say private_key_jwt itself.
  const isConfidential = source === 'cimd' ? meta.token_endpoint_auth_method === 'private_key_jwt' : meta.token_endpoint_auth_method !== 'none';
  if (isConfidential) allowed.add(JWT_BEARER);
  if (source === 'static-admin' && meta.token_endpoint_auth_method !== 'none') {
    allowed.add(CLIENT_CREDENTIALS);
    if (typeof meta[RESOURCE_PROPERTY] === 'string') allowed.add(TOKEN_EXCHANGE);
  }
  return allowed;
}

export const clientGrantTypes: ClientMetadataRule = (meta, source) => {
  const grants = meta.grant_types;
  if (source === 'stored') {
    if (Array.isArray(grants)) {
      const serverOwn = typeof meta[RESOURCE_PROPERTY] === 'string' && meta[MACHINE_CLIENT_PROPERTY] === true && clientKind(String(meta.client_id)) === 'static';
      meta.grant_types = grants.filter(
        (g) => (g !== CLIENT_CREDENTIALS || meta[MACHINE_CLIENT_PROPERTY] === true) && (g !== TOKEN_EXCHANGE || serverOwn) && (g !== JWT_BEARER || meta.token_endpoint_auth_method !== 'none'),
      );
      // An MCP server's own client made before token exchange existed gains it (docs/DELEGATION.md).
      if (serverOwn && !grants.includes(TOKEN_EXCHANGE)) (meta.grant_types as string[]).push(TOKEN_EXCHANGE);
    }
    return undefined;
  }
  const responseTypes = meta.response_types;
  if (grants !== undefined && !Array.isArray(grants)) return 'grant_types must be an array';
  if (responseTypes !== undefined && !Array.isArray(responseTypes)) return 'response_types must be an array';
  const allowed = allowedGrants(source, meta);

  if (source === 'cimd') {
    if (Array.isArray(grants)) {
      meta.grant_types = grants.filter((g) => allowed.has(String(g)));
      if (grants.length && !(meta.grant_types as unknown[]).length) {
        return `grant_types names no grant this server gives an application identified by a metadata document (only authorization_code, refresh_token and, with private_key_jwt, ${JWT_BEARER}; it named ${grants.map(String).join(', ')})`;
      }
    }
    if (Array.isArray(responseTypes)) {
      meta.response_types = responseTypes.filter((r) => r === 'code');
      if (responseTypes.length && !(meta.response_types as unknown[]).length) return 'response_types must include code, the only response type supported';
    }
    return undefined;
  }

  if (Array.isArray(grants)) {
    const refused = grants.filter((g) => !allowed.has(String(g)));
    if (refused.includes(CLIENT_CREDENTIALS) && source === 'static-admin') return 'client_credentials needs a confidential client (with a client secret)';
    if (refused.includes(TOKEN_EXCHANGE) && source === 'static-admin') return `${TOKEN_EXCHANGE} needs a confidential client bound to its MCP server (--resource)`;
    if (refused.includes(JWT_BEARER)) return `${JWT_BEARER} needs a confidential client`;
    if (refused.length) return `grant type ${refused.map(String).join(', ')} ${source === 'static-admin' ? 'is not supported' : 'cannot be registered dynamically'}; only authorization_code and refresh_token`;
  }
  if (Array.isArray(responseTypes) && responseTypes.some((r) => r !== 'code')) return 'only the code response type is supported';
  return undefined;
};
