// A client's last use is the last time it was given something: an authorization response (a code) or tokens
// (docs/SECURITY.md, "Issue 16"). It used to be recorded whenever a request merely named the client, so anyone
// could keep any dynamic client alive with a bare /authorize?client_id=… and the expiry sweep
// (ClientRegistry.sweepUnused) never freed the registrations an attacker piled up. oidc-provider's
// `authorization.success` (emitted as the code goes out, for /authorize and its resume alike) and `grant.success`
// (after a grant handler issued tokens) mark exactly the successes.
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { finishBeforeResponse } from '../../../db/response-writes.js';
import type { ClientRegistry } from '../../client-registry.js';

/**
 * Records the use when a code or tokens go out, finished before the response leaves (db/response-writes.ts, whose
 * middleware audit/provider-events.ts installs on the provider), so a client that just got its tokens is already
 * recorded as used.
 */
export function recordClientUse(provider: Provider, registry: ClientRegistry, onError: (err: unknown) => void): void {
  const touch = (ctx: KoaContextWithOIDC) => {
    const clientId = ctx.oidc?.client?.clientId;
    if (clientId) finishBeforeResponse(ctx, registry.touch(clientId).catch(onError));
  };
  provider.on('authorization.success', touch);
  provider.on('grant.success', touch);
}
