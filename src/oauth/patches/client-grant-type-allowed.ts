// PATCH of an oidc-provider 9.13.3 internal (pinned in package.json): `Client.prototype.grantTypeAllowed`
// (lib/models/client.js), which `allowedGrantTypeCheck` in lib/actions/token.js calls, after client authentication
// and before any grant handler runs, as `ctx.oidc.client.grantTypeAllowed(ctx.oidc.params.grant_type)`.
// test/unit/oidc-provider-patches.test.ts fails if the pinned version stops calling it there.  Why a patch:
// oidc-provider has no hook between "this client authenticated" and "its grant runs", and it grants
// client_credentials to any client whose grant_types list it (features.clientCredentials is global). Wrapping the one
// predicate the token endpoint asks puts policies/client-metadata/client-credentials-admin-only.ts on every
// client_credentials request whatever path or spelling reached it, keyed on the grant type alone. For that grant the
// wrapper throws `unauthorized_client` with the reason instead of answering false (which oidc-provider turns into
// `invalid_request`); oidc-provider's `grant.error` event then audits it as `token.refused`. Every other grant type
// keeps oidc-provider's answer.
import Provider, { errors } from 'oidc-provider';
import { CLIENT_CREDENTIALS_REFUSAL, isMachineClient } from '../policies/client-metadata/client-credentials-admin-only.js';

type GrantTypeAllowed = (this: { clientId: string; [key: string]: unknown }, type: string) => boolean;

export function applyClientCredentialsRule(provider: Provider): void {
  const proto = provider.Client.prototype as unknown as { grantTypeAllowed: GrantTypeAllowed };
  const listed = proto.grantTypeAllowed;
  proto.grantTypeAllowed = function grantTypeAllowed(type) {
    if (type === 'client_credentials' && !isMachineClient(this)) throw new errors.UnauthorizedClient(CLIENT_CREDENTIALS_REFUSAL);
    return listed.call(this, type);
  };
}
