// RFC 8707 for MCP: the token audience is exactly one registered resource; an unregistered one gets
// invalid_target; a client that sends none gets the default resource when one is configured. Access tokens are
// RFC 9068 JWTs (typ at+jwt) signed with the current ES256 key, verifiable by the MCP server against /jwks.
import { errors, type Client, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { KeySet } from '../../keys.js';
import type { FirstPartyClients } from '../../first-party-clients.js';
import { cappedScopes, resourceAllowed, type DynamicClientCaps } from './dynamic-client-caps.js';
import { canonicalOrSame, type ResourceRegistry } from '../../resources.js';

export function resourceIndicators(deps: { resources: ResourceRegistry; firstParty: FirstPartyClients; keys: () => KeySet; accessTokenTtl: number; caps: DynamicClientCaps }) {
  return {
    enabled: true,

    async defaultResource(_ctx: KoaContextWithOIDC, client: Client, oneOf?: string[]): Promise<string | string[] | undefined> {
      // A first-party client (the console's sign-in) asks who the person is, never for an MCP server.
      if (deps.firstParty.has(client.clientId)) return undefined;
      const fallback = await deps.resources.defaultResource();
      if (oneOf) {
        // At /token with several granted resources and none named: the default one, if it was granted.
        return fallback && oneOf.includes(fallback.uri) ? fallback.uri : oneOf;
      }
      return fallback?.uri;
    },

    async getResourceServerInfo(_ctx: KoaContextWithOIDC, indicator: string, client: Client): Promise<ResourceServer> {
      if (deps.firstParty.has(client.clientId)) throw new errors.InvalidTarget('a first-party client cannot obtain tokens for an MCP server');
      const resource = await deps.resources.find(indicator);
      if (!resource) throw new errors.InvalidTarget(`resource ${canonicalOrSame(indicator)} is not registered with this authorization server`);
      if (!resourceAllowed(deps.caps, client.clientId, resource.uri)) {
        throw new errors.InvalidTarget(`resource ${resource.uri} is not available to dynamically registered clients`);
      }
      const key = deps.keys().signingKey('ES256');
      if (!key) throw new Error('no active ES256 signing key');
      return {
        scope: cappedScopes(deps.caps, client.clientId, Object.keys(resource.scopes)).join(' '),
        audience: resource.uri,
        accessTokenTTL: deps.accessTokenTtl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256', kid: key.kid } },
      };
    },

    // MCP clients need not repeat `resource` at /token: a token for the one granted resource is returned.
    async useGrantedResource(): Promise<boolean> {
      return true;
    },
  };
}
