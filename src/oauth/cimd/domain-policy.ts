// CIMD trust policy (issue #3; CIMD draft, Security Considerations: an authorization server may
// restrict which hosts it accepts client identifier URLs from). CIMD_ALLOWED_DOMAINS and CIMD_BLOCKED_DOMAINS hold
// exact hosts (`app.example.com`) or `*.example.com`, which means strict subdomains only (not example.com itself).
// A blocked match always wins; when the allow list is non-empty, only hosts on it are accepted.
//
// Host names are compared in the form the URL parser gives (lower case, IDNs in punycode) without a trailing dot,
// so `EVIL.example.com.` cannot slip past a block on `evil.example.com`. Ports are not part of the match.
import { canonicalHost, parseDomainPattern, type DomainPattern } from '../../net/domain-pattern.js';

export { parseDomainPattern, type DomainPattern };

function matches(pattern: DomainPattern, hostname: string): boolean {
  return pattern.wildcard ? hostname.endsWith(`.${pattern.host}`) : hostname === pattern.host;
}

export class DomainPolicy {
  constructor(
    private readonly allowed: readonly DomainPattern[],
    private readonly blocked: readonly DomainPattern[],
  ) {}

  static fromConfig(allowed: readonly string[], blocked: readonly string[]): DomainPolicy {
    // config.ts has already refused entries that do not parse; anything left unparsed here is simply dropped.
    const parse = (list: readonly string[]) => list.map(parseDomainPattern).filter((p): p is DomainPattern => !!p);
    return new DomainPolicy(parse(allowed), parse(blocked));
  }

  /** Why a client_id on this host is refused, or undefined when the host is acceptable. */
  problem(hostname: string): string | undefined {
    const host = hostname.toLowerCase().replace(/\.$/, '');
    const block = this.blocked.find((p) => matches(p, host));
    if (block) return `the host ${host} is blocked (CIMD_BLOCKED_DOMAINS: ${block.text})`;
    if (this.allowed.length && !this.allowed.some((p) => matches(p, host))) {
      return `the host ${host} is not on the list of allowed hosts (CIMD_ALLOWED_DOMAINS)`;
    }
    return undefined;
  }
}
