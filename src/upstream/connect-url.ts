// Where a person links an upstream account or grants it more scopes (docs/DELEGATION.md, "Connect account"): the
// URL the token exchange hands an MCP server when the vault has nothing usable, for the server to show in a
// URL-mode elicitation. It carries no secret and acts for whoever is signed in at Gatehouse when it is opened.
export const CONNECT_PATH = '/account/connect';

export interface ConnectRequest {
  /** Upstream scopes to ask for beyond those already granted. */
  scopes?: string[] | undefined;
  /** The MCP client the person came from, named on the page (a client_id). */
  clientId?: string | undefined;
}

export function connectAccountUrl(issuer: string, connectionId: string, request: ConnectRequest = {}): string {
  const url = new URL(`${issuer.replace(/\/$/, '')}${CONNECT_PATH}/${encodeURIComponent(connectionId)}`);
  if (request.scopes?.length) url.searchParams.set('scope', request.scopes.join(' '));
  if (request.clientId) url.searchParams.set('client_id', request.clientId);
  return url.href;
}
