// Where a client came from, read off its id: a Client ID Metadata Document URL, a dynamically registered id
// (Gatehouse mints those with DYNAMIC_CLIENT_PREFIX), or a client an admin created. One place knows the id shapes.
export const DYNAMIC_CLIENT_PREFIX = 'dyn_';

export type ClientKind = 'cimd' | 'dynamic' | 'static';

export function clientKind(clientId: string): ClientKind {
  // Case-insensitive, as oidc-provider's own test for a client identifier URL is (isValidClientIdUrl): an
  // `HTTPS://…` client_id is resolved as a metadata document, so it must never pass for an admin-created client.
  if (/^https:\/\//i.test(clientId)) return 'cimd';
  if (clientId.startsWith(DYNAMIC_CLIENT_PREFIX)) return 'dynamic';
  return 'static';
}
