// ISSUER is the one authority for Gatehouse's own URLs. oidc-provider builds endpoint URLs and decides on Secure
// cookies from the request's protocol and Host; taken from the request, a forged Host header would be reflected
// into discovery, and an https issuer behind a TLS-terminating proxy without X-Forwarded-Proto would fail to set
// its Secure cookies. Pinning protocol and host to ISSUER removes both. TRUST_PROXY then only decides whether
// X-Forwarded-For is believed for the client's IP. ISSUER's path, if it has one, is handled by issuer-path.ts.
import type Koa from 'koa';

/**
 * Pins `protocol`, `host` and `hostname` of every request of `app` to ISSUER's. They are defined once on the app's
 * request prototype rather than on each request object: a property defined on an object after it was built turns
 * it into a slow dictionary-mode object, and Koa reads ctx.request hundreds of times per request.
 */
export function pinIssuerOrigin(app: Koa, issuer: string): void {
  const url = new URL(issuer);
  const pinned = { protocol: url.protocol.slice(0, -1), host: url.host, hostname: url.hostname };
  for (const [name, value] of Object.entries(pinned)) {
    Object.defineProperty(app.request, name, { get: () => value, configurable: true, enumerable: true });
  }
}
