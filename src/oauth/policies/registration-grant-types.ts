// Dynamic registration is open to anyone on the network, so what it grants must always involve a person: only the
// authorization code flow (and its refresh tokens). client_credentials would let a self-registered client mint
// tokens for any MCP server with nobody signing in; machine agents are created by an admin (`client add
// --confidential`). Implicit and password grants do not exist in OAuth 2.1.
import type { ClientMetadataRule } from '../registration.js';

const ALLOWED = new Set(['authorization_code', 'refresh_token']);

export const registrationGrantTypes: ClientMetadataRule = (meta) => {
  const grants = meta.grant_types;
  if (grants === undefined) return undefined;
  if (!Array.isArray(grants)) return 'grant_types must be an array';
  const refused = grants.filter((g) => !ALLOWED.has(String(g)));
  if (refused.length) return `grant type ${refused.join(', ')} cannot be registered dynamically; only authorization_code and refresh_token`;
  const responseTypes = meta.response_types;
  if (Array.isArray(responseTypes) && responseTypes.some((r) => r !== 'code')) return 'only the code response type is supported';
  return undefined;
};
