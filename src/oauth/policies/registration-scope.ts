// DESIGN.md §6: a client's registered `scope` does not cap what it may request later. MCP clients register with
// the scopes of their first 401 (resource scopes such as `tools:read`) and step up with the same client_id.
// oidc-provider would refuse a registration naming scopes outside its static list (openid, email, …), so resource
// scopes are removed from the registered `scope` before it validates the metadata; the resource's scope catalogue
// remains the cap at /authorize.
import type { ClientMetadataRule } from '../registration.js';

export function registrationScope(staticScopes: readonly string[]): ClientMetadataRule {
  const statics = new Set(staticScopes);
  return (meta) => {
    if (typeof meta.scope !== 'string') return undefined;
    const kept = meta.scope.split(' ').filter((s) => statics.has(s));
    if (kept.length) meta.scope = kept.join(' ');
    else delete meta.scope;
    return undefined;
  };
}
