// CORS for an MCP endpoint called from browsers (web-based MCP clients, the MCP Inspector): any origin may call it,
// because the bearer token, not a cookie, is the credential, so nothing ambient leaks to a foreign page. The client
// must be able to read `WWW-Authenticate` (to find the metadata and the scope to ask for) and `Mcp-Session-Id`.

export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'WWW-Authenticate, Mcp-Session-Id',
};

export const PREFLIGHT_HEADERS: Readonly<Record<string, string>> = {
  ...CORS_HEADERS,
  'Access-Control-Allow-Methods': 'GET, POST, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID',
  'Access-Control-Max-Age': '86400',
};
