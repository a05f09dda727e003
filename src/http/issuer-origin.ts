// ISSUER is the one authority for Gatehouse's own URLs. oidc-provider builds endpoint URLs and decides on Secure
// cookies from the request's protocol and Host; taken from the request, a forged Host header would be reflected
// into discovery, and an https issuer behind a TLS-terminating proxy without X-Forwarded-Proto would fail to set
// its Secure cookies. Pinning protocol and host to ISSUER removes both. TRUST_PROXY then only decides whether
// X-Forwarded-For is believed for the client's IP. ISSUER's path, if it has one, is handled by issuer-path.ts.
import type { Middleware } from 'koa';

export function issuerOrigin(issuer: string): Middleware {
  const url = new URL(issuer);
  const protocol = url.protocol.slice(0, -1);
  const host = url.host;
  return async (ctx, next) => {
    Object.defineProperty(ctx.request, 'protocol', { value: protocol, configurable: true });
    Object.defineProperty(ctx.request, 'host', { value: host, configurable: true });
    Object.defineProperty(ctx.request, 'hostname', { value: url.hostname, configurable: true });
    await next();
  };
}
