// RFC 6750 on the wire: reading the bearer token out of `Authorization`, and writing the `WWW-Authenticate`
// challenge that tells an MCP client where the metadata is (RFC 9728 §5.1) and which scope to ask for.
//
// The challenge is parsed by real clients with simple patterns (the MCP SDK matches `name="([^"]+)"` and takes the
// first hit), so every value is written so that no such pattern can be fooled: RFC 6750 §3 already forbids `"` and
// `\` in scope, error and error_description; anything outside the allowed characters is dropped, never escaped.
// `scope` is written before `resource_metadata`, so a URL that happens to contain `scope=` cannot be read as it.

/** RFC 6750 §2.1: `Bearer` (any case), one or more spaces, a token68. Anything else counts as no token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export function bearerToken(authorization: string | string[] | undefined): string | undefined {
  // Two Authorization headers are ambiguous: treat them as none rather than pick one.
  if (typeof authorization !== 'string') return undefined;
  return BEARER.exec(authorization)?.[1];
}

/** RFC 6749 §3.3 scope-token: NQCHAR, i.e. visible ASCII except `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export const isScopeToken = (s: string): boolean => SCOPE_TOKEN.test(s);

/** Deduplicated, in first-seen order, invalid scope tokens left out. */
export function scopeList(...lists: readonly (readonly string[])[]): string[] {
  return [...new Set(lists.flat())].filter(isScopeToken);
}

export type BearerError = 'invalid_token' | 'insufficient_scope' | 'invalid_request';

export interface Challenge {
  resourceMetadata: string;
  error?: BearerError | undefined;
  errorDescription?: string | undefined;
  scope?: readonly string[] | undefined;
}

/** RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E. */
const description = (s: string) => s.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '').slice(0, 300);

/** A URL in a quoted-string: `"` and `\` percent-encoded, anything invisible dropped. */
const urlValue = (s: string) => s.replace(/"/g, '%22').replace(/\\/g, '%5C').replace(/[^\x21-\x7E]/g, '');

/** The `WWW-Authenticate` value: `Bearer error="…", scope="…", resource_metadata="…", error_description="…"`. */
export function challenge(c: Challenge): string {
  const params: string[] = [];
  if (c.error) params.push(`error="${c.error}"`);
  const scope = scopeList(c.scope ?? []);
  if (scope.length) params.push(`scope="${scope.join(' ')}"`);
  params.push(`resource_metadata="${urlValue(c.resourceMetadata)}"`);
  if (c.errorDescription) params.push(`error_description="${description(c.errorDescription)}"`);
  return `Bearer ${params.join(', ')}`;
}
