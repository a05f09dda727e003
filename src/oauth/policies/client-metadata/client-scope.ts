// docs/SECURITY.md (Registration): a client's registered `scope` does not cap what it may request later. MCP clients
// register with the scopes of their first 401 (resource scopes such as `tools:read`) and step up with the same
// client_id. oidc-provider would refuse metadata naming scopes outside its static list (openid, email, …), so
// resource scopes are removed from the registered `scope` before it validates the metadata (RFC 7591 §2 lets the
// server replace a requested value); the resource's scope catalogue remains the cap at /authorize. Applies to every
// source that declares metadata, a metadata document included.
import type { ClientMetadataRule } from '../../client-metadata-policy.js';

export function clientScope(staticScopes: readonly string[]): ClientMetadataRule {
  const statics = new Set(staticScopes);
  return (meta, source) => {
    if (source === 'stored' || typeof meta.scope !== 'string') return undefined;
    const kept = meta.scope.split(' ').filter((s) => statics.has(s));
    if (kept.length) meta.scope = kept.join(' ');
    else delete meta.scope;
    return undefined;
  };
}
