// docs/SECURITY.md (Protocol, "Exact redirect URIs": in canonical form): a redirect URI is stored verbatim and
// matched as one exact string, so it must mean the same thing to every parser that reads it — Gatehouse's, the
// browser's, the client's. It is therefore in canonical form:
//   - RFC 3986 §2 characters only (no control character, space, backslash — which browsers read as "/" — or
//     non-ASCII), and percent-encoding in RFC 3986 §6.2.2 normal form: every "%" starts an octet in uppercase hex,
//     never one of an unreserved character (`%7E` is `~`);
//   - exactly its WHATWG serialization (`new URL(uri).href`): lowercase scheme and host, no default port, no dot
//     segments, IDNA already applied — a bare origin without the root path's "/" allowed, as clients register it;
//   - for http(s), a host that is an IP literal or an RFC 1123 host name: labels of letters, digits and inner
//     hyphens, none empty (so no "*" wildcard, no "_", no trailing dot).
// A private-use URI (RFC 8252 §7.1) must equally be its own serialization. A refusal names the canonical form when
// the parser's reading is a safe suggestion, and never for a control character, space or backslash, where it is not.

const RFC3986_CHARACTER = /[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]/;
const BROKEN_PERCENT = /%(?![0-9A-Fa-f]{2})/;
const PERCENT_OCTET = /%([0-9A-Fa-f]{2})/g;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** The first character outside RFC 3986, described; undefined when there is none. */
function strayCharacter(uri: string): { text: string; unsafe: boolean } | undefined {
  for (const c of uri) {
    if (RFC3986_CHARACTER.test(c)) continue;
    const code = c.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) return { text: `a control character (${codePoint(c)})`, unsafe: true };
    if (c === ' ') return { text: 'a space', unsafe: true };
    if (c === '\\') return { text: 'a backslash, which some parsers read as "/"', unsafe: true };
    if (code > 0x7e) return { text: `a non-ASCII character (${codePoint(c)})`, unsafe: false };
    return { text: `"${c}", which RFC 3986 allows only percent-encoded`, unsafe: false };
  }
  return undefined;
}

/** RFC 3986 §6.2.2.1-2: hex digits in uppercase, unreserved characters not encoded. */
function normalPercentEncoding(uri: string): string {
  return uri.replace(PERCENT_OCTET, (octet, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : octet.toUpperCase();
  });
}

function isHostName(host: string): boolean {
  if (host.startsWith('[') || IPV4.test(host)) return true; // IP literals, already validated and serialized by WHATWG
  return host.length <= 253 && host.split('.').every((label) => HOST_LABEL.test(label));
}

/**
 * Why `uri` is not in canonical form, or undefined. `name` says which URI it is in the message
 * (`redirect_uris[0]`).
 */
export function canonicalRedirectUriProblem(uri: string, name = 'the redirect URI'): string | undefined {
  const url = URL.parse(uri);
  const shown = JSON.stringify(uri); // control characters stay visible and inert in the message
  const suggestion = url && url.href !== uri && !strayCharacter(url.href) ? `; did you mean ${url.href}` : '';
  const stray = strayCharacter(uri);
  if (stray) return `${name} ${shown} contains ${stray.text}${stray.unsafe ? '' : suggestion}`;
  if (BROKEN_PERCENT.test(uri)) return `${name} ${shown} has a "%" that does not start a percent-encoded octet`;
  const normal = normalPercentEncoding(uri);
  if (normal !== uri) return `${name} ${shown} is not in canonical form (percent-encoding, RFC 3986 §6.2.2); did you mean ${URL.parse(normal)?.href ?? normal}`;
  if (!url) return `${name} ${shown} is not an absolute URI`;
  // A bare origin (`http://127.0.0.1:33418`) is its serialization but for the root path's "/", which every parser
  // adds alike: clients register it that way, and it means one thing.
  const bareOrigin = url.href === `${uri}/` && url.pathname === '/' && !url.search && !url.hash;
  if (url.href !== uri && !bareOrigin) return `${name} ${shown} is not in canonical form${suggestion}`;
  // Credentials before a host (`app://user:pw@host/cb`) are refused for every scheme: a consent page or a person
  // reading the URI may take the user part for the host.
  if (url.username || url.password) return `${name} ${shown} has credentials (user:password@) before its host`;
  if ((url.protocol === 'https:' || url.protocol === 'http:') && !isHostName(url.hostname)) {
    return `${name} ${shown} has host ${url.hostname}, which is not an IP address or a host name (RFC 1123: letters, digits and inner hyphens, no empty label, no "*" or "_")`;
  }
  return undefined;
}
