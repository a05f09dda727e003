// RFC 8707 for MCP: the token audience is exactly one registered resource; an unregistered one gets
// invalid_target; a client that sends none gets the default resource when one is configured. Access tokens are
// RFC 9068 JWTs (typ at+jwt) signed with the current ES256 key, verifiable by the MCP server against /jwks.
import { errors, type Client, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { KeySet } from '../../keys.js';
import type { FirstPartyClients } from '../../first-party-clients.js';
import { cappedScopes, resourceAllowed, type DynamicClientCaps } from './dynamic-client-caps.js';
import { canonicalOrSame, type ResourceRegistry } from '../../resources.js';
import { ADMIN_API_PROPERTY } from '../client-metadata/client-admin-properties.js';
import { ADMIN_API_TOKEN_TTL } from '../../admin-api-audience.js';

/** The admin API scopes a client was given by an administrator (docs/ADMIN-API.md), or none. */
function adminApiScopes(client: Client): string | undefined {
  const value = (client as unknown as Record<string, unknown>)[ADMIN_API_PROPERTY];
  return typeof value === 'string' && value ? value : undefined;
}

export function resourceIndicators(deps: { resources: ResourceRegistry; firstParty: FirstPartyClients; keys: () => KeySet; accessTokenTtl: number; caps: DynamicClientCaps; adminApiAudience: string }) {
  const signWith = () => {
    const key = deps.keys().signingKey('ES256');
    if (!key) throw new Error('no active ES256 signing key');
    return { alg: 'ES256' as const, kid: key.kid };
  };
  return {
    enabled: true,

    async defaultResource(_ctx: KoaContextWithOIDC, client: Client, oneOf?: string[]): Promise<string | string[] | undefined> {
      // A first-party client (the console's sign-in) asks who the person is, never for an MCP server.
      if (deps.firstParty.has(client.clientId)) return undefined;
      // An admin API client speaks to the admin API only.
      if (adminApiScopes(client)) return deps.adminApiAudience;
      const fallback = await deps.resources.defaultResource();
      if (oneOf) {
        // At /token with several granted resources and none named: the default one, if it was granted.
        return fallback && oneOf.includes(fallback.uri) ? fallback.uri : oneOf;
      }
      return fallback?.uri;
    },

    async getResourceServerInfo(_ctx: KoaContextWithOIDC, indicator: string, client: Client): Promise<ResourceServer> {
      if (deps.firstParty.has(client.clientId)) throw new errors.InvalidTarget('a first-party client cannot obtain tokens for an MCP server');
      // The admin API is an audience of its own: only a client an administrator made for it gets there, with the
      // admin scopes it was given; such a client gets no MCP server's token (docs/ADMIN-API.md, "Tokens").
      const adminScopes = adminApiScopes(client);
      if (canonicalOrSame(indicator) === deps.adminApiAudience || adminScopes) {
        if (!adminScopes || canonicalOrSame(indicator) !== deps.adminApiAudience) {
          throw new errors.InvalidTarget(adminScopes ? 'an admin API client obtains tokens for the admin API only' : 'only an admin API client obtains tokens for the admin API');
        }
        return { scope: adminScopes, audience: deps.adminApiAudience, accessTokenTTL: Math.min(deps.accessTokenTtl, ADMIN_API_TOKEN_TTL), accessTokenFormat: 'jwt', jwt: { sign: signWith() } };
      }
      const resource = await deps.resources.find(indicator);
      if (!resource) throw new errors.InvalidTarget(`resource ${canonicalOrSame(indicator)} is not registered with this authorization server`);
      if (!resourceAllowed(deps.caps, client.clientId, resource.uri)) {
        throw new errors.InvalidTarget(`resource ${resource.uri} is not available to dynamically registered clients`);
      }
      return {
        scope: cappedScopes(deps.caps, client.clientId, Object.keys(resource.scopes)).join(' '),
        audience: resource.uri,
        accessTokenTTL: deps.accessTokenTtl,
        accessTokenFormat: 'jwt',
        jwt: { sign: signWith() },
      };
    },

    // MCP clients need not repeat `resource` at /token: a token for the one granted resource is returned.
    async useGrantedResource(): Promise<boolean> {
      return true;
    },
  };
}
