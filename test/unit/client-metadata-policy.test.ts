// The one client-metadata policy (client-metadata-policy.ts), rule by rule and source by source, and the two places
// it depends on oidc-provider 9.13.3's internals: the token endpoint's grant-type check (patched) and the client
// schema's extraClientMetadata hook (where metadata documents become clients). If the pinned version changes
// either, the tests at the bottom fail before anything ships.
import { applyClientMetadataPolicy, type ClientMetadata, type ClientSource } from '../../src/oauth/client-metadata-policy.js';
import { isMachineClient } from '../../src/oauth/policies/client-metadata/client-credentials-admin-only.js';

const POLICY = { staticScopes: ['openid', 'offline_access', 'email', 'profile'], redirectUriSchemes: ['cursor'] };
const decide = (meta: ClientMetadata, source: ClientSource) => applyClientMetadataPolicy(meta, source, POLICY);

// claude.ai's published document (client_id adapted): it lists a grant this server does not offer.
const claudeAi = () => ({
  client_id: 'https://claude.ai/oauth/mcp-oauth-client-metadata',
  client_name: 'Claude',
  client_uri: 'https://claude.ai',
  redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
  grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
});

describe('a metadata document is narrowed to what this server grants (RFC 7591 §2), never widened', () => {
  it('keeps claude.ai working: the jwt-bearer grant is dropped, the rest kept', () => {
    const decision = decide(claudeAi(), 'cimd');
    expect(decision.ok).toBe(true);
    expect(decision.ok && decision.metadata.grant_types).toEqual(['authorization_code', 'refresh_token']);
  });

  it('drops client_credentials: a URL client is never a machine client', () => {
    const decision = decide({ ...claudeAi(), grant_types: ['authorization_code', 'client_credentials'] }, 'cimd');
    expect(decision.ok && decision.metadata.grant_types).toEqual(['authorization_code']);
  });

  it('refuses a document left with no grant at all (client_credentials only)', () => {
    const decision = decide({ ...claudeAi(), grant_types: ['client_credentials'] }, 'cimd');
    expect(decision.ok).toBe(false);
    expect(!decision.ok && decision.refusal.error_description).toMatch(/names no grant .* it named client_credentials/);
  });

  it.each([
    ['http://evil.example/callback', /http redirect URIs are only allowed on loopback/],
    ['myapp:/callback', /private-use scheme myapp/],
    ['vscode://callback', /private-use scheme vscode/],
  ])('refuses a document whose redirect URI is %s', (uri, reason) => {
    const decision = decide({ ...claudeAi(), redirect_uris: [uri] }, 'cimd');
    expect(decision.ok).toBe(false);
    expect(!decision.ok && decision.refusal).toMatchObject({ error: 'invalid_redirect_uri', rule: 'client-redirect-uris' });
    expect(!decision.ok && decision.refusal.error_description).toMatch(reason);
  });

  it.each([['gatehouse_resource', 'https://mcp.example.test/mcp'], ['gatehouse_machine_client', true]])('refuses a document asserting %s', (key, value) => {
    const decision = decide({ ...claudeAi(), [key]: value }, 'cimd');
    expect(!decision.ok && decision.refusal.error_description).toBe(`${key} cannot be self-asserted`);
  });
});

describe('a redirect URI is in canonical form, for every source (docs/SECURITY.md, "Exact redirect URIs")', () => {
  const app = (...redirectUris: string[]) => ({ client_name: 'App', redirect_uris: redirectUris, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' });
  // A security tester's spellings, accepted verbatim before this rule: each means something different to another parser.
  const HOSTILE: [string, string, RegExp][] = [
    ['a CR and a header in the path', 'https://app.example.com/cb\rSet-Cookie: pwn=1', /redirect_uris\[0\] "https:\/\/app\.example\.com\/cb\\rSet-Cookie: pwn=1" contains a control character \(U\+000D\)$/],
    ['a control character', 'https://app.example.com/cb2\x01x', /contains a control character \(U\+0001\)$/],
    ['a space', 'https://app.example.com/c b', /contains a space$/],
    ['a backslash before @', 'https://app.example.com\\@evil.com/cb', /contains a backslash, which some parsers read as "\/"$/],
    ['ideographic full stops', 'https://app。example。com/cb', /contains a non-ASCII character \(U\+3002\); did you mean https:\/\/app\.example\.com\/cb$/],
    ['a wildcard host', 'https://*.example.com/cb', /has host \*\.example\.com, which is not an IP address or a host name/],
    ['an underscore in the host', 'https://app_1.example.com/cb', /has host app_1\.example\.com, which is not/],
    ['an empty label', 'https://app..example.com/cb', /has host app\.\.example\.com, which is not/],
    ['an upper-case scheme and host', 'HTTPS://App.Example.com/cb', /is not in canonical form; did you mean https:\/\/app\.example\.com\/cb$/],
    ['a default port', 'https://app.example.com:443/cb', /did you mean https:\/\/app\.example\.com\/cb$/],
    ['no path, with a query', 'https://app.example.com?x=1', /did you mean https:\/\/app\.example\.com\/\?x=1$/],
    ['dot segments', 'https://app.example.com/x/../cb', /did you mean https:\/\/app\.example\.com\/cb$/],
    ['a shorthand loopback address', 'http://127.1/callback', /did you mean http:\/\/127\.0\.0\.1\/callback$/],
    ['an encoded unreserved character', 'https://app.example.com/%7Euser/cb', /percent-encoding, RFC 3986 §6\.2\.2\); did you mean https:\/\/app\.example\.com\/~user\/cb$/],
    ['a broken percent escape', 'https://app.example.com/cb?x=%zz', /has a "%" that does not start a percent-encoded octet$/],
    ['an upper-case private-use scheme', 'Com.Example.App:/callback', /did you mean com\.example\.app:\/callback$/],
    ['a space in a private-use URI', 'com.example.app:/call back', /contains a space$/],
    ['credentials in a private-use URI', 'com.example.app://user:pw@host/cb', /has credentials \(user:password@\) before its host$/],
  ];

  it.each(HOSTILE)('refuses %s (%j) from every source, naming it', (_what, uri, reason) => {
    for (const source of ['dynamic', 'update', 'cimd', 'static-admin'] as ClientSource[]) {
      const decision = decide(app(uri), source);
      expect(!decision.ok && decision.refusal).toMatchObject({ error: 'invalid_redirect_uri', rule: 'client-redirect-uris' });
      expect(!decision.ok && decision.refusal.error_description).toMatch(reason);
    }
  });

  it('names the URI by its index', () => {
    const decision = decide(app('https://claude.ai/api/mcp/auth_callback', 'https://App.example.com/cb'), 'dynamic');
    expect(!decision.ok && decision.refusal.error_description).toBe('redirect_uris[1] "https://App.example.com/cb" is not in canonical form; did you mean https://app.example.com/cb');
  });

  it('never refuses a stored client (it passed when it was created)', () => {
    expect(decide(app('https://*.example.com/cb'), 'stored').ok).toBe(true);
  });

  it.each([
    'http://localhost:33418/callback', 'http://localhost/callback', 'http://127.0.0.1:53123/callback', 'http://127.0.0.1/', 'http://[::1]:8080/oauth/callback',
    'cursor://anysphere.cursor-retrieval/oauth/user-info/callback', 'cursor://anysphere.cursor-mcp/oauth/callback', 'com.example.app:/callback', 'com.example.app:callback',
    'https://claude.ai/api/mcp/auth_callback', 'https://chatgpt.com/connector_platform_oauth_redirect', 'https://vscode.dev/redirect', 'https://insiders.vscode.dev/redirect',
    // A bare origin: its serialization but for the root "/", which every parser adds alike.
    'http://127.0.0.1:33418', 'https://app.example.com',
    'https://xn--bcher-kva.example/cb', 'https://10.0.0.1:8443/cb', 'https://[2001:db8::1]/cb', 'https://app.example.com/cb?tenant=a%2Fb', 'https://app.example.com/cb?',
  ])('keeps accepting the canonical %s', (uri) => {
    for (const source of ['dynamic', 'cimd', 'static-admin'] as ClientSource[]) {
      const decision = decide(app(uri), source);
      expect(decision.ok ? 'accepted' : decision.refusal.error_description).toBe('accepted');
    }
  });
});

describe('registration and updates are refused, not narrowed, so the registrant learns what it will not get', () => {
  it.each<ClientSource>(['dynamic', 'update'])('%s: client_credentials and the machine mark are refused', (source) => {
    const cc = decide({ redirect_uris: ['https://app.example/cb'], grant_types: ['authorization_code', 'client_credentials'], token_endpoint_auth_method: 'client_secret_basic' }, source);
    expect(!cc.ok && cc.refusal.error_description).toMatch(/client_credentials cannot be registered dynamically/);
    const mark = decide({ redirect_uris: ['https://app.example/cb'], gatehouse_machine_client: true }, source);
    expect(!mark.ok && mark.refusal.error_description).toBe('gatehouse_machine_client cannot be self-asserted');
  });
});

describe('an administrator may create a machine client, and only a confidential one', () => {
  it('allows client_credentials with a secret and the mark', () => {
    expect(decide({ grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic', gatehouse_machine_client: true }, 'static-admin').ok).toBe(true);
  });

  it('refuses client_credentials, or the mark, on a public client', () => {
    const cc = decide({ grant_types: ['client_credentials'], redirect_uris: [], token_endpoint_auth_method: 'none' }, 'static-admin');
    expect(!cc.ok && cc.refusal.error_description).toMatch(/client_credentials needs a confidential client/);
    const mark = decide({ grant_types: ['authorization_code'], redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'none', gatehouse_machine_client: true }, 'static-admin');
    expect(!mark.ok && mark.refusal.error_description).toMatch(/belongs only on a confidential client/);
  });
});

describe('a stored client is never refused; client_credentials without the mark is dropped', () => {
  it('drops client_credentials from an unmarked stored client and keeps it on a marked one', () => {
    const unmarked = decide({ client_id: 'gh_x', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' }, 'stored');
    expect(unmarked.ok && unmarked.metadata.grant_types).toEqual([]);
    const marked = decide({ client_id: 'gh_y', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', gatehouse_machine_client: true }, 'stored');
    expect(marked.ok && marked.metadata.grant_types).toEqual(['client_credentials']);
  });
});

describe('the token endpoint\'s machine-client test (RFC 6749 §4.4)', () => {
  it.each([
    ['an admin-created confidential client with the mark', true, { clientId: 'gh_a', tokenEndpointAuthMethod: 'client_secret_basic', gatehouse_machine_client: true }],
    ['no mark', false, { clientId: 'gh_a', tokenEndpointAuthMethod: 'client_secret_basic' }],
    ['a public client, even marked', false, { clientId: 'gh_a', tokenEndpointAuthMethod: 'none', gatehouse_machine_client: true }],
    ['a dynamic client, even marked', false, { clientId: 'dyn_a', tokenEndpointAuthMethod: 'client_secret_basic', gatehouse_machine_client: true }],
    ['a metadata-document client, even marked', false, { clientId: 'https://app.example/c.json', tokenEndpointAuthMethod: 'private_key_jwt', gatehouse_machine_client: true }],
    ['an upper-case HTTPS client_id, even marked', false, { clientId: 'HTTPS://app.example/c.json', tokenEndpointAuthMethod: 'private_key_jwt', gatehouse_machine_client: true }],
    ['a mark that is not true', false, { clientId: 'gh_a', tokenEndpointAuthMethod: 'client_secret_basic', gatehouse_machine_client: 'true' }],
  ])('%s → %s', (_name, expected, client) => {
    expect(isMachineClient(client)).toBe(expected);
  });
});
