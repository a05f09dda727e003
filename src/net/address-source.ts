// The source a client address is counted as (docs/SECURITY.md, "Rate limits" and "Issue 16"): rate limits and the
// per-source cap on dynamic clients count sources, not single addresses. An IPv6 host is routinely handed a whole
// /64 and may send from any address in it, so a limit keyed by the full address is one limit per request; the /64
// is the smallest unit a provider assigns to one subscriber. An IPv4-mapped IPv6 address (::ffff:192.0.2.1, how
// a dual-stack socket reports an IPv4 peer) is that IPv4 address. Audit rows keep the full address.
import ipaddr from 'ipaddr.js';
import { memoize } from '../cache/memo.js';

/** `192.0.2.1` → `192.0.2.1`; `2001:db8:1:2:a:b:c:d` → `2001:db8:1:2::/64`; `::ffff:192.0.2.1` → `192.0.2.1`. */
export const addressSource = memoize(sourceOf);

function sourceOf(address: string): string {
  const text = withoutPort(address.trim());
  // Not an address (a proxy writing something else into X-Forwarded-For): counted as written, which is no worse
  // than before and keeps the answer deterministic.
  if (!ipaddr.isValid(text)) return text;
  const parsed = ipaddr.parse(text);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  const network = v6.toByteArray().slice(0, 8).concat([0, 0, 0, 0, 0, 0, 0, 0]);
  return `${ipaddr.fromByteArray(network).toString()}/64`;
}

// Some proxies append `address:port` ([v6]:port for IPv6); the port says nothing about who sent the request.
function withoutPort(text: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) return bracketed[1]!;
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(text);
  return v4WithPort ? v4WithPort[1]! : text;
}
