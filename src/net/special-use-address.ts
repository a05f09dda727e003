// RFC 6890 (Special-Purpose IP Address Registries) and the IANA IPv4/IPv6 special-purpose registries that grew from
// it; CIMD draft (draft-ietf-oauth-client-id-metadata-document), Security Considerations, "Server Side Request
// Forgery": a metadata document is fetched from a URL an anonymous client chose, so the address it resolves to
// must be one anybody on the internet could reach, never this machine, its network or its cloud metadata service.
//
// The rule is an allowlist: an address is acceptable only when it is globally routable unicast. Everything
// ipaddr.js names as special (loopback, RFC 1918 private, link-local incl. 169.254.169.254, CGNAT 100.64/10,
// unspecified, multicast, broadcast, reserved, documentation, benchmarking, ULA fc00::/7, fe80::/10, site-local…) is
// refused, and IPv6 forms that carry an IPv4 address inside (mapped, compatible, translated, NAT64, 6to4, Teredo)
// are judged by the IPv4 address they would actually reach.
import ipaddr from 'ipaddr.js';

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;

const IPV4_NAMES: Record<string, string> = {
  unspecified: 'unspecified (0.0.0.0/8)',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local (169.254.0.0/16, cloud metadata)',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT (100.64.0.0/10)',
  private: 'private (RFC 1918)',
  reserved: 'reserved or documentation',
  as112: 'AS112 sink',
  amt: 'AMT relay anycast',
};

const IPV6_NAMES: Record<string, string> = {
  unspecified: 'unspecified (::)',
  linkLocal: 'link-local (fe80::/10)',
  multicast: 'multicast',
  loopback: 'loopback (::1)',
  uniqueLocal: 'unique local (fc00::/7)',
  deprecatedSiteLocal: 'site-local (fec0::/10)',
  discard: 'discard-only (100::/64)',
  rfc6145: 'IPv4-translated (::ffff:0:0:0/96)',
  benchmarking: 'benchmarking (2001:2::/48)',
  amt: 'AMT (2001:3::/32)',
  as112v6: 'AS112 sink',
  deprecatedOrchid: 'ORCHID',
  orchid2: 'ORCHIDv2',
  droneRemoteIdProtocolEntityTags: 'DRIP entity tags',
  segmentRouting: 'segment routing (5f00::/16)',
  reserved: 'reserved or documentation',
};

// Global unicast is 2000::/3; nothing outside it (apart from the forms handled above) is reachable on the internet.
const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3') as [IPv6, number];
// ::/96, the deprecated IPv4-compatible form (RFC 4291 §2.5.5.1): ::127.0.0.1 is written ::7f00:1.
const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96') as [IPv6, number];
// 64:ff9b::/96 is the well-known NAT64 prefix (RFC 6052); 64:ff9b:1::/48 is for local use only (RFC 8215).
const NAT64_WELL_KNOWN = ipaddr.parseCIDR('64:ff9b::/96') as [IPv6, number];

const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);

function classifyV4(addr: IPv4): string | undefined {
  const range = addr.range();
  return range === 'unicast' ? undefined : (IPV4_NAMES[range] ?? range);
}

/** A special address embedded in an IPv6 transition form reaches that IPv4 host: judge it by that host. */
function embedded(form: string, ...inner: IPv4[]): string | undefined {
  for (const addr of inner) {
    const special = classifyV4(addr);
    if (special) return `${form} embedding ${special} ${addr.toString()}`;
  }
  return undefined;
}

function classifyV6(addr: IPv6): string | undefined {
  const p = addr.parts;
  const range = addr.range();
  switch (range) {
    case 'ipv4Mapped':
      return embedded('IPv4-mapped', addr.toIPv4Address());
    case 'rfc6052':
      return addr.match(NAT64_WELL_KNOWN) ? embedded('NAT64', v4(p[6]!, p[7]!)) : 'local-use NAT64 (64:ff9b:1::/48)';
    case '6to4':
      return embedded('6to4', v4(p[1]!, p[2]!));
    case 'teredo':
      // Teredo carries the relay server's address and the client's address (obfuscated by inverting its bits).
      return embedded('Teredo', v4(p[2]!, p[3]!), v4(p[6]! ^ 0xffff, p[7]! ^ 0xffff));
    case 'unicast':
      if (addr.match(IPV4_COMPATIBLE)) return `IPv4-compatible (deprecated) ${v4(p[6]!, p[7]!).toString()}`;
      return addr.match(GLOBAL_UNICAST) ? undefined : 'outside global unicast (2000::/3)';
    default:
      return IPV6_NAMES[range] ?? range;
  }
}

/**
 * Rewrites an IPv6 address written with a trailing dotted quad (::ffff:127.0.0.1, ::127.0.0.1, 64:ff9b::10.0.0.1)
 * into plain hex groups. ipaddr.js reads every "::a.b.c.d" as IPv4-mapped, which would misfile the deprecated
 * IPv4-compatible form (::a.b.c.d is ::a.b.c.d, not ::ffff:a.b.c.d).
 */
function withoutDottedQuad(address: string): string | undefined {
  const m = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (!m) return address;
  const octets = m.slice(2, 6).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  const [a, b, c, d] = octets as [number, number, number, number];
  return `${m[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

/**
 * Why an address must not be connected to (the special-purpose range it falls in), or undefined for a globally
 * routable unicast address. Anything that does not parse is refused: the caller fails closed. Decimal, octal and
 * hexadecimal IPv4 spellings (2130706433, 0177.0.0.1, 0x7f.0.0.1) are read as the address they denote.
 */
export function specialUseRange(address: string): string | undefined {
  let parsed: IPv4 | IPv6;
  try {
    const bare = address.replace(/^\[|\]$/g, '');
    const text = bare.includes(':') ? withoutDottedQuad(bare) : bare;
    if (text === undefined) return 'not an IP address';
    parsed = ipaddr.parse(text);
  } catch {
    return 'not an IP address';
  }
  return parsed.kind() === 'ipv4' ? classifyV4(parsed as IPv4) : classifyV6(parsed as IPv6);
}

// What a connection's "private network" opt-in admits (docs/SECURITY.md, "Issue 16"): the ranges an organisation's
// own IdP can live in — this machine (loopback), RFC 1918, CGNAT and IPv6 unique-local — written plainly or
// IPv4-mapped. Link-local (the cloud metadata service 169.254.169.254, fe80::/10), unspecified, multicast, broadcast,
// reserved and the transition forms stay refused: no IdP is reached there.
const PRIVATE_NETWORK_V4 = new Set(['loopback', 'private', 'carrierGradeNat']);
const PRIVATE_NETWORK_V6 = new Set(['loopback', 'uniqueLocal']);

/** True for a loopback, RFC 1918, CGNAT or unique-local address: one an organisation's private network uses. */
export function isPrivateNetworkAddress(address: string): boolean {
  try {
    const bare = address.replace(/^\[|\]$/g, '');
    const text = bare.includes(':') ? withoutDottedQuad(bare) : bare;
    if (text === undefined) return false;
    const parsed = ipaddr.parse(text);
    if (parsed.kind() === 'ipv4') return PRIVATE_NETWORK_V4.has(parsed.range());
    const v6 = parsed as IPv6;
    if (v6.range() === 'ipv4Mapped') return PRIVATE_NETWORK_V4.has(v6.toIPv4Address().range());
    return PRIVATE_NETWORK_V6.has(v6.range());
  } catch {
    return false;
  }
}
