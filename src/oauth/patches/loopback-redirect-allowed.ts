// PATCH of an oidc-provider 9.13.3 internal (pinned in package.json): `Client.prototype.redirectUriAllowed`
// (lib/models/client.js), the predicate its authorization endpoint (lib/actions/authorization/check_redirect_uri.js)
// asks about every redirect_uri. test/unit/oidc-provider-patches.test.ts fails if the pinned version stops asking it
// there. Why a patch: oidc-provider ignores the port of loopback redirect URIs only for `application_type=native`
// clients, and MCP clients register as `web` while listening on an ephemeral port (RFC 8252 §7.3); the rule itself
// is policies/client-metadata/loopback-redirect.ts. Exact matches keep oidc-provider's answer.
import type Provider from 'oidc-provider';
import { loopbackRedirectMatches } from '../policies/client-metadata/loopback-redirect.js';

export function applyLoopbackRedirectRule(provider: Provider): void {
  const proto = provider.Client.prototype as unknown as {
    redirectUriAllowed(this: { redirectUris?: string[] }, value: string): boolean;
  };
  const exact = proto.redirectUriAllowed;
  proto.redirectUriAllowed = function redirectUriAllowed(value: string) {
    return exact.call(this, value) || loopbackRedirectMatches(value, this.redirectUris ?? []);
  };
}
