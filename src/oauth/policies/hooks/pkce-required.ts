// OAuth 2.1 §4.1.1 and the MCP authorization spec: every client uses PKCE, confidential or not. oidc-provider 9
// accepts only S256, so `plain` is refused by the library; a missing code_challenge is refused here.
export function pkceRequired(): boolean {
  return true;
}
