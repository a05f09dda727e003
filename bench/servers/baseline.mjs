// The baseline (plain JavaScript, like the Gatehouse server: see protocol.mjs): oidc-provider 9.13.3 alone, with its in-memory adapter and no Gatehouse layer (no Koa middleware,
// no database, no policies), configured to do the same protocol work as Gatehouse: ES256 JWT access tokens for a
// resource (RFC 8707, RFC 9068), client_credentials for a confidential client, rotating refresh tokens for a
// public one. Commands: `refresh <n>` mints n refresh tokens (a grant each) straight through the provider's models.
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { serveCommands, tellParent } from './protocol.mjs';

const RESOURCE = 'https://mcp.example.test/mcp';
const SCOPE = 'tools:read tools:write';
const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'bench', alg: 'ES256', use: 'sig' };

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    { client_id: 'bench-machine', client_secret: 'bench-machine-secret', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: 'ES256' },
    { client_id: 'bench-public', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['http://127.0.0.1:33500/callback'], response_types: ['code'], token_endpoint_auth_method: 'none', id_token_signed_response_alg: 'ES256' },
  ],
  jwks: { keys: [jwk] },
  scopes: ['tools:read', 'tools:write'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: SCOPE, audience: RESOURCE, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
    },
  },
  rotateRefreshToken: true,
  issueRefreshToken: async () => true,
  ttl: { RefreshToken: 86_400, AccessToken: 3600, ClientCredentials: 3600 },
});
server.on('request', provider.callback());
process.on('SIGTERM', () => server.close(() => process.exit(0)));

async function mintRefreshToken() {
  const client = await provider.Client.find('bench-public');
  const grant = new provider.Grant({ accountId: 'bench-user', clientId: 'bench-public' });
  grant.addResourceScope(RESOURCE, 'tools:read');
  const grantId = await grant.save();
  const rt = new provider.RefreshToken({ accountId: 'bench-user', client, grantId, scope: 'tools:read', resource: RESOURCE, gty: 'authorization_code' });
  return rt.save();
}

serveCommands(async (command) => {
  const [name, arg] = command.split(' ');
  if (name === 'refresh') return Promise.all(Array.from({ length: Number(arg) }, mintRefreshToken));
  return { error: `unknown command ${name}` };
});
tellParent({ issuer, metadata: `${issuer}/.well-known/openid-configuration`, jwks: `${issuer}/jwks`, machine: { id: 'bench-machine', secret: 'bench-machine-secret' }, publicClient: 'bench-public' });
