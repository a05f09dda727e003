// A client's last use is the last time it was given something: an authorization response (a code) or tokens
// (docs/SECURITY.md, "Issue 16"). It used to be recorded whenever a request merely named the client, so anyone
// could keep any dynamic client alive with a bare /authorize?client_id=… and the expiry sweep
// (ClientRegistry.sweepUnused) never freed the registrations an attacker piled up. oidc-provider's
// `authorization.success` (emitted as the code goes out, for /authorize and its resume alike) and `grant.success`
// (after a grant handler issued tokens) mark exactly the successes.
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { ClientRegistry } from '../../client-registry.js';

export function recordClientUse(provider: Provider, registry: ClientRegistry, onError: (err: unknown) => void): void {
  // The events are synchronous and not awaited by oidc-provider: the write is finished before the response leaves,
  // so a client that just got its tokens is already recorded as used.
  const writes = new WeakMap<object, Promise<void>>();
  const touch = (ctx: KoaContextWithOIDC) => {
    const clientId = ctx.oidc?.client?.clientId;
    if (clientId) writes.set(ctx, registry.touch(clientId).catch(onError));
  };
  provider.on('authorization.success', touch);
  provider.on('grant.success', touch);
  const settle: Middleware = async (ctx, next) => {
    try {
      await next();
    } finally {
      await writes.get(ctx);
    }
  };
  provider.use(settle);
}
