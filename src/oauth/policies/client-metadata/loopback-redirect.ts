// RFC 8252 §7.3 (and the MCP spec): native apps listen on an ephemeral loopback port, so for http redirect URIs on
// 127.0.0.1, [::1] or localhost the port is ignored when matching. Everything else matches exactly.
// oidc-provider applies this only to clients registered as application_type=native; MCP clients register with the
// default (web) and still open a random local port (Claude Code registers a port-less localhost URI), so the rule
// is applied to every client (patches/loopback-redirect-allowed.ts puts it into oidc-provider's redirect check).

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** The URI without its port, if it is an http loopback URI; undefined otherwise. */
export function loopbackWithoutPort(uri: string): string | undefined {
  const url = URL.parse(uri);
  if (!url || url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  if (url.username || url.password) return undefined;
  url.port = '';
  return url.href;
}

export function loopbackRedirectMatches(requested: string, registered: readonly string[]): boolean {
  const bare = loopbackWithoutPort(requested);
  return bare !== undefined && registered.some((r) => loopbackWithoutPort(r) === bare);
}
