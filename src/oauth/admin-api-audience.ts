// The admin API's place (docs/ADMIN-API.md): its path under the issuer, and the audience of its access tokens,
// which is that URL, so a token for the admin API is never one for an MCP server and the other way round.
export const ADMIN_API_PATH = '/admin/api/v1';

export function adminApiAudience(issuer: string): string {
  return `${issuer}${ADMIN_API_PATH}`;
}

/** The longest an admin API access token lives, whatever ACCESS_TOKEN_TTL says. */
export const ADMIN_API_TOKEN_TTL = 900;
