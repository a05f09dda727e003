// Which address a request comes from (docs/SECURITY.md, "Issue 16"). TRUST_PROXY is the number of proxies in front
// of Gatehouse that each append their peer's address to X-Forwarded-For; the socket's peer is the last of them. So
// the last `hops` entries were written by trusted proxies and the first of those is the client; anything further
// left was written by the client itself and is never believed. Koa does exactly that with `maxIpsCount`: it keeps
// the last maxIpsCount entries and ctx.ip is the first kept. The outer app (app.ts) and oidc-provider (itself a Koa
// app, oauth/provider.ts) take the same settings, so both read one client address.

/** Koa's proxy settings for TRUST_PROXY hops; 0 believes no header (ctx.ip is the socket's peer). */
export function proxyOptions(hops: number): { proxy: boolean; maxIpsCount: number } {
  return { proxy: hops > 0, maxIpsCount: hops };
}
