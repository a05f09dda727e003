// The person's own pages (/account: pending approvals, the approval page; docs/TOOL-APPROVALS.md) sign in through
// Gatehouse's own /authorize like the console (console/console-client.ts), as a second first-party client defined in
// code: it only ever asks for `openid` and no resource, so it can never obtain a token for an MCP server, and its code
// is redeemed in process (account/sign-in.ts).
import type { ClientMetadata } from 'oidc-provider';
import { issuerBase } from '../http/issuer-path.js';

export const ACCOUNT_CLIENT_ID = 'gatehouse-account';
export const ACCOUNT_CALLBACK_PATH = '/account/callback';
export const ACCOUNT_COOKIE = 'gatehouse.account';

export function accountRedirectUri(issuer: string): string {
  return `${issuer}${ACCOUNT_CALLBACK_PATH}`;
}

export function accountClient(issuer: string): ClientMetadata {
  return {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: 'Gatehouse account',
    redirect_uris: [accountRedirectUri(issuer)],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    scope: 'openid',
  };
}

/** The account area's cookies live under ISSUER's path + /account. */
export function accountPath(issuer: string): string {
  return `${issuerBase(issuer)}/account`;
}

/**
 * Where a sign-in may return to: the account page, one approval page, or one connect page with its query
 * (docs/CONNECT-ACCOUNT.md; URLSearchParams-encoded, so only these characters), nothing else (no open redirect).
 */
export function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/account(\/approvals\/[A-Za-z0-9_-]{1,64}|\/connect\/[A-Za-z0-9_-]{1,64}(\?[A-Za-z0-9*._%+=&-]{1,2000})?)?$/.test(value) ? value : '/account';
}
