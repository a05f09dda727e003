// Host names and `*.domain` patterns as settings give them (CIMD_ALLOWED_DOMAINS, CIMD_BLOCKED_DOMAINS): parsed
// once into the form the URL parser gives (lower case, IDNs in punycode, no trailing dot), so a comparison cannot be
// walked around by `EVIL.example.com.`. In a bottom layer: config.ts parses the settings with it, and the CIMD
// domain policy (oauth/cimd/domain-policy.ts) compares with it.
import { isIP } from 'node:net';

export interface DomainPattern {
  /** `*.example.com` → suffix ".example.com"; an exact host → the host. */
  readonly wildcard: boolean;
  readonly host: string;
  readonly text: string;
}

export function canonicalHost(host: string): string | undefined {
  const url = URL.parse(`https://${host}/`);
  if (!url || url.username || url.password || url.port || url.pathname !== '/' || url.search || url.hash) return undefined;
  return url.hostname.replace(/\.$/, '');
}

/** Parses one entry of CIMD_ALLOWED_DOMAINS / CIMD_BLOCKED_DOMAINS; undefined when it is not a host or *.domain. */
export function parseDomainPattern(text: string): DomainPattern | undefined {
  const trimmed = text.trim();
  const wildcard = trimmed.startsWith('*.');
  const rest = wildcard ? trimmed.slice(2) : trimmed;
  if (!rest || /[*/:@?#\s]/.test(rest.replace(/^\[[0-9a-f:.]+\]$/i, ''))) return undefined;
  const host = canonicalHost(rest);
  // A wildcard names subdomains of a domain; an IP address has none.
  if (!host || (wildcard && (isIP(host) || host.startsWith('[')))) return undefined;
  return { wildcard, host, text: `${wildcard ? '*.' : ''}${host}` };
}
