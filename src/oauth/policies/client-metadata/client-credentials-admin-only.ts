// RFC 6749 §4.4 and §5.2, OAuth 2.1 §4.2 (client credentials): the client_credentials grant gives a token with no
// person behind it, for any registered MCP server and scope. docs/SECURITY.md (threat 1): it belongs only to
// confidential clients an administrator created. The test is a positive mark on the client (gatehouse_machine_client,
// which only createStaticClient sets and the metadata policy refuses from anyone else), checked together with the
// id's shape and the authentication method, so a public, dynamically registered or metadata-document client is
// refused even if a mark ever reached its metadata. A refused client gets `unauthorized_client` (RFC 6749 §5.2: "The
// authenticated client is not authorized to use this authorization grant type").
import { clientKind } from '../../client-kind.js';
import { MACHINE_CLIENT_PROPERTY } from './client-admin-properties.js';

export const CLIENT_CREDENTIALS_REFUSAL = 'client_credentials is only for confidential clients an administrator created';

export function isMachineClient(client: { clientId: string; tokenEndpointAuthMethod?: string | undefined; [key: string]: unknown }): boolean {
  return client[MACHINE_CLIENT_PROPERTY] === true && clientKind(client.clientId) === 'static' && !!client.tokenEndpointAuthMethod && client.tokenEndpointAuthMethod !== 'none';
}
