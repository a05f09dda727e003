// The MCP SDK client's OAuthClientProvider as end-to-end tests need it: keeps what the SDK hands it in memory and
// records the authorization URL instead of opening a browser, so the test plays the person.
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

export interface TestOAuthProviderOptions {
  clientName?: string;
  /** Use this https URL as client_id (a Client ID Metadata Document) instead of DCR. */
  clientMetadataUrl?: string;
  /**
   * false: drop the refresh token. The SDK (1.32) refreshes instead of re-authorizing on 403 insufficient_scope when it
   * holds one, and a refresh cannot widen the scope (modelcontextprotocol/typescript-sdk#2255).
   */
  keepRefreshToken?: boolean;
}

export class TestOAuthProvider implements OAuthClientProvider {
  info?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifier = '';
  authorizationUrl?: URL;
  readonly invalidated: string[] = [];

  /** `redirectUrl` may be a function when the callback server starts after the provider is made. */
  constructor(
    private readonly redirect: string | (() => string),
    readonly options: TestOAuthProviderOptions = {},
  ) {}

  get redirectUrl() {
    return typeof this.redirect === 'string' ? this.redirect : this.redirect();
  }
  get clientMetadataUrl() {
    return this.options.clientMetadataUrl;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.options.clientName ?? 'SDK test client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = this.options.keepRefreshToken === false ? { ...tokens, refresh_token: undefined } : tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery') {
    this.invalidated.push(scope);
    if (scope === 'tokens' || scope === 'all') this.saved = undefined;
    if (scope === 'all' || scope === 'client') this.info = undefined;
  }
}
