// RFC 8252 §7: a redirect URI is https, or http on a loopback address (the native-app pattern),
// or a private-use scheme named after a domain the app owns (reverse-domain, RFC 8252 §7.1, e.g.
// com.example.app:/callback). Plain http to any other host would hand codes to whoever is on the network path.
// Schemes that run code or read local data are never allowed. Clients whose private-use scheme is not a reverse
// domain (Cursor's `cursor://…`, `vscode://…`) are allowed only when an admin lists the scheme in
// REDIRECT_URI_SCHEMES. Whatever its scheme, a redirect URI must also be in canonical form (canonical-redirect-uri.ts).
import { canonicalRedirectUriProblem } from './canonical-redirect-uri.js';
import { loopbackWithoutPort } from './loopback-redirect.js';

const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:', 'ftp:', 'ws:', 'wss:']);

/** Returns why the URI is refused, or undefined when it is acceptable; `name` (`redirect_uris[0]`) names it. */
export function redirectUriProblem(uri: string, allowedSchemes: readonly string[] = [], name?: string): string | undefined {
  return schemeProblem(uri, allowedSchemes) ?? canonicalRedirectUriProblem(uri, name);
}

function schemeProblem(uri: string, allowedSchemes: readonly string[]): string | undefined {
  const url = URL.parse(uri);
  if (!url) return `${uri} is not an absolute URI`;
  if (url.hash || uri.includes('#')) return `${uri} must not contain a fragment`;
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `${url.protocol} redirect URIs are not allowed`;
  if (url.protocol === 'https:') return url.username || url.password ? `${uri} must not contain credentials` : undefined;
  if (url.protocol === 'http:') return loopbackWithoutPort(uri) !== undefined ? undefined : `http redirect URIs are only allowed on loopback addresses (127.0.0.1, [::1], localhost): ${uri}`;
  const scheme = url.protocol.slice(0, -1);
  if (/^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$/.test(scheme)) return undefined;
  if (allowedSchemes.includes(scheme)) return undefined;
  return `private-use scheme ${scheme}: must be a reverse domain name such as com.example.app, or listed in REDIRECT_URI_SCHEMES`;
}
