// Issue 16 (docs/SECURITY.md, "Issue 16"): rate limits and the per-source client cap count sources. An attacker
// holding an IPv6 /64 must not get a fresh budget per address, and an IPv4 peer must not count twice by being
// reported in its IPv4-mapped IPv6 form.
import { addressSource } from '../../src/net/address-source.js';
import { proxyOptions } from '../../src/http/client-address.js';

describe('addressSource', () => {
  it('an IPv6 attacker rotating addresses inside one /64 stays one source', () => {
    const sources = ['2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:DB8:1:2:0:0:0:9', '[2001:db8:1:2::7]:443'].map(addressSource);
    expect(new Set(sources)).toEqual(new Set(['2001:db8:1:2::/64']));
    expect(addressSource('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
  });

  it('an IPv4 peer seen as IPv4-mapped IPv6 is the same source as its IPv4 address', () => {
    expect(addressSource('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressSource('192.0.2.7')).toBe('192.0.2.7');
    expect(addressSource('192.0.2.7:5555')).toBe('192.0.2.7');
  });

  it('something that is not an address is counted as written', () => {
    expect(addressSource('unknown')).toBe('unknown');
    expect(addressSource('')).toBe('');
  });
});

describe('proxyOptions', () => {
  it('0 hops believes no X-Forwarded-For; n hops keep the last n entries (Koa maxIpsCount)', () => {
    expect(proxyOptions(0)).toEqual({ proxy: false, maxIpsCount: 0 });
    expect(proxyOptions(2)).toEqual({ proxy: true, maxIpsCount: 2 });
  });
});
