// The console signs admins in through Gatehouse's own /authorize, so an admin meets the same login as everyone
// (any connection, local accounts, the access policy, disabled accounts refused). It is a first-party OAuth client
// defined in code, never stored: it cannot be registered, edited, disabled or deleted from outside, and it only
// ever asks for `openid` and no resource, so it can never obtain a token for an MCP server. The code it receives
// is redeemed in process (console/sign-in.ts), so no token is ever issued to it either.
import type { ClientMetadata } from 'oidc-provider';
import { issuerBase } from '../http/issuer-path.js';

export const CONSOLE_CLIENT_ID = 'gatehouse-console';
export const CONSOLE_CALLBACK_PATH = '/console/callback';

export function consoleRedirectUri(issuer: string): string {
  return `${issuer}${CONSOLE_CALLBACK_PATH}`;
}

export function consoleClient(issuer: string): ClientMetadata {
  return {
    client_id: CONSOLE_CLIENT_ID,
    client_name: 'Gatehouse console',
    redirect_uris: [consoleRedirectUri(issuer)],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    scope: 'openid',
  };
}

/** The console's cookies live under ISSUER's path + /console. */
export function consolePath(issuer: string): string {
  return `${issuerBase(issuer)}/console`;
}
