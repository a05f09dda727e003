// CIMD draft (draft-ietf-oauth-client-id-metadata-document), "Client Identifier": a client identifier URL MUST use
// the https scheme, MUST contain a path component, MUST NOT contain single-dot or double-dot path segments, a
// fragment, or a username or password. oidc-provider checks most of this (isValidClientIdUrl) but accepts a URL
// whose path is only "/" (https://example.com), which identifies a whole site rather than one client; this module
// states every rule once, with the reason the person and the audit log are given.

// Raw characters a URL parser would silently drop or rewrite (whitespace, controls, backslash): the identifier
// must be compared byte for byte with the document's client_id, so nothing may be normalised away.
const FORBIDDEN_RAW = /[\u0000-\u0020\u005c\u007f]/;
const MAX_LENGTH = 2048;

/** Why `clientId` is not an acceptable client identifier URL, or undefined when it is. */
export function clientIdUrlProblem(clientId: string): string | undefined {
  if (clientId.length > MAX_LENGTH) return `the client_id URL is longer than ${MAX_LENGTH} characters`;
  if (!/^https:\/\//i.test(clientId)) return 'the client_id must be an https URL';
  if (FORBIDDEN_RAW.test(clientId)) return 'the client_id URL contains spaces, control characters or backslashes';
  const url = URL.parse(clientId);
  if (!url || !url.hostname) return 'the client_id is not a valid URL';
  if (clientId.includes('#')) return 'the client_id URL must not have a fragment';
  // Read the authority and path from the raw string: the parser resolves dot segments and decodes before we look.
  const afterScheme = clientId.slice('https://'.length);
  const authorityEnd = afterScheme.search(/[/?#]/);
  const authority = authorityEnd === -1 ? afterScheme : afterScheme.slice(0, authorityEnd);
  if (authority.includes('@')) return 'the client_id URL must not contain a user name or password';
  const rawPath = authorityEnd === -1 || afterScheme[authorityEnd] !== '/' ? '' : afterScheme.slice(authorityEnd).split('?')[0]!;
  if (rawPath === '' || rawPath === '/') return 'the client_id URL must have a path (the document of one client, not a whole site)';
  if (rawPath.split('/').some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment))) {
    return 'the client_id URL must not contain "." or ".." path segments';
  }
  return undefined;
}

/** The host shown to people for a client identifier URL (host and port, as the consent page does). */
export function clientIdHost(clientId: string): string {
  return URL.parse(clientId)?.host ?? clientId;
}

/** A client_id that was meant as a metadata document URL (so a refusal should explain URL rules). */
export function looksLikeClientIdUrl(clientId: string): boolean {
  return /^https?:\/\//i.test(clientId);
}
