// The canonical form of a resource URI (MCP authorization spec, "Canonical Server URI"; RFC 8707): the one string
// Gatehouse writes into a token's `aud`. Comparing canonical forms is what makes `https://H:443/` and `https://h`
// the same resource, so a token is neither refused for a cosmetic difference nor accepted for another server.
// The kit ships without Gatehouse's src/, so this is the one definition: Gatehouse's registry
// (src/oauth/resources.ts) calls it too.

/**
 * Lower-case scheme and host (the URL parser does it), no default port, no fragment, no credentials, and an empty
 * path written with no slash. Any other path is kept exactly, trailing slash included, and so is the query.
 * Throws a TypeError for anything that is not an absolute http(s) URI.
 */
export function canonicalResource(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`resource must be an absolute URI: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('resource must be an http(s) URI');
  if (value.includes('#')) throw new TypeError('resource must not contain a fragment');
  if (url.username || url.password) throw new TypeError('resource must not contain credentials');
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.protocol}//${url.host}${path}${url.search}`;
}

/** Canonical form, or undefined when `value` is no resource URI at all (a token's `aud` is untrusted input). */
export function tryCanonicalResource(value: string): string | undefined {
  try {
    return canonicalResource(value);
  } catch {
    return undefined;
  }
}

/**
 * Whether a token's `aud` (a string or an array of them, RFC 7519 §4.1.3) names `canonical`. The exact string is
 * the fast path: Gatehouse writes the canonical form, so parsing is only for audiences written otherwise.
 */
export function audienceMatches(aud: unknown, canonical: string): boolean {
  const one = (a: unknown) => typeof a === 'string' && (a === canonical || tryCanonicalResource(a) === canonical);
  return Array.isArray(aud) ? aud.some(one) : one(aud);
}

export const WELL_KNOWN_PRM = '/.well-known/oauth-protected-resource';

/**
 * RFC 9728 §3.1: the metadata lives at the resource's origin, with `/.well-known/oauth-protected-resource` inserted
 * before its path (`https://h/mcp` → `https://h/.well-known/oauth-protected-resource/mcp`). The query, if any,
 * stays at the end.
 */
export function metadataPath(canonical: string): string {
  return `${WELL_KNOWN_PRM}${new URL(canonical).pathname.replace(/^\/$/, '')}`;
}

export function metadataUrl(canonical: string): string {
  const url = new URL(canonical);
  return `${url.origin}${metadataPath(canonical)}${url.search}`;
}
