// REGISTRATION=closed (RFC 7591 §3: the registration endpoint may require an initial access token, sent as an
// RFC 6750 Bearer token). Tokens are oidc-provider's own InitialAccessToken model (`gatehouse registration-token
// create` saves them), checked here through that model, so expiry and storage stay oidc-provider's.
//
// Why here and not oidc-provider's `features.registration.initialAccessToken`: that switch is fixed when the provider
// is built, and the mode is an admin's runtime policy (policy/settings.ts). Rebuilding the provider whenever the
// mode flips would tie the change to the key-reload timer and drop the provider's in-memory state for a policy
// switch; a check per registration request takes effect within the policy cache's seconds and needs nothing else.
// The provider is therefore always built with the switch off, and this is the only gate.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

/** Why this registration request lacks a valid initial access token, or undefined when it has one. */
export async function initialAccessTokenProblem(ctx: Context, provider: Provider): Promise<string | undefined> {
  const header = ctx.get('Authorization');
  if (!header) return 'an initial access token is required';
  const match = /^Bearer ([^\s]+)$/i.exec(header.trim());
  if (!match) return 'the initial access token must be sent as Authorization: Bearer';
  const token = await provider.InitialAccessToken.find(match[1]!);
  return token ? undefined : 'the initial access token is unknown or expired';
}
