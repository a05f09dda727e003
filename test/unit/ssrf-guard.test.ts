// The SSRF guard of CIMD fetches: which addresses are special-use (RFC 6890 and the IANA registries), and the fetch
// that refuses them before any socket is opened. Nothing here sends traffic off this machine: resolvers are
// injected, and the connect spy throws for anything but loopback.
import { guardedFetch, GuardedFetchError, type Resolver } from '../../src/net/guarded-fetch.js';
import { isPrivateNetworkAddress, specialUseRange } from '../../src/net/special-use-address.js';

describe('special-use addresses are refused (RFC 6890)', () => {
  it.each([
    // IPv4 loopback, in every spelling a resolver or a URL could produce
    ['127.0.0.1', /loopback/],
    ['127.255.255.254', /loopback/],
    ['2130706433', /loopback/], // decimal
    ['0177.0.0.1', /loopback/], // octal
    ['0x7f.0.0.1', /loopback/], // hexadecimal
    ['0x7f000001', /loopback/],
    // private, shared, link-local, cloud metadata
    ['10.0.0.1', /private/],
    ['172.16.0.1', /private/],
    ['172.31.255.255', /private/],
    ['192.168.1.1', /private/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['100.127.255.254', /carrier-grade NAT/],
    ['169.254.169.254', /link-local/],
    ['2852039166', /link-local/], // 169.254.169.254 as one decimal number
    // unspecified, broadcast, multicast, reserved, documentation, benchmarking
    ['0.0.0.0', /unspecified/],
    ['0.1.2.3', /unspecified/],
    ['255.255.255.255', /broadcast/],
    ['224.0.0.1', /multicast/],
    ['239.255.255.250', /multicast/],
    ['240.0.0.1', /reserved/],
    ['192.0.0.8', /reserved/],
    ['192.0.2.1', /reserved/],
    ['198.18.0.1', /reserved/],
    ['198.51.100.7', /reserved/],
    ['203.0.113.9', /reserved/],
    ['192.88.99.1', /reserved/],
    // IPv6 loopback, unspecified, link-local, unique local, site-local, multicast, documentation
    ['::1', /loopback/],
    ['0:0:0:0:0:0:0:1', /loopback/],
    ['[::1]', /loopback/],
    ['::', /unspecified/],
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['febf::1', /link-local/],
    ['fc00::1', /unique local/],
    ['fd00::1', /unique local/],
    ['fd12:3456:789a::1', /unique local/],
    ['fec0::1', /site-local/],
    ['ff02::1', /multicast/],
    ['2001:db8::1', /reserved/],
    ['100::1', /discard/],
    // IPv4-mapped, -compatible and -translated forms of special IPv4 addresses
    ['::ffff:127.0.0.1', /IPv4-mapped embedding loopback/],
    ['::ffff:7f00:1', /IPv4-mapped embedding loopback/],
    ['::ffff:a9fe:a9fe', /IPv4-mapped embedding link-local/],
    ['::ffff:169.254.169.254', /IPv4-mapped embedding link-local/],
    ['::ffff:10.0.0.1', /IPv4-mapped embedding private/],
    ['::ffff:0.0.0.0', /IPv4-mapped embedding unspecified/],
    ['::127.0.0.1', /IPv4-compatible/],
    ['::7f00:1', /IPv4-compatible/],
    ['::8.8.8.8', /IPv4-compatible/], // deprecated form: refused whatever it embeds
    ['::ffff:0:7f00:1', /IPv4-translated/],
    // transition mechanisms that would deliver to a special IPv4 address
    ['2002:7f00:1::', /6to4 embedding loopback/],
    ['2002:a9fe:a9fe::1', /6to4 embedding link-local/],
    ['2002:0a00:0001::1', /6to4 embedding private/],
    ['64:ff9b::a9fe:a9fe', /NAT64 embedding link-local/],
    ['64:ff9b::127.0.0.1', /NAT64 embedding loopback/],
    ['64:ff9b::10.1.2.3', /NAT64 embedding private/],
    ['64:ff9b:1::808:808', /local-use NAT64/],
    ['2001:0:7f00:1::', /Teredo embedding loopback/], // Teredo server 127.0.0.1
    ['2001:0:0808:0808::f5ff:fffe', /Teredo embedding private/], // client 10.0.0.1, inverted
    // outside global unicast, and things that are not addresses at all
    ['4000::1', /outside global unicast/],
    ['3fff::1', /reserved/],
    ['5f00::1', /segment routing/],
    ['localhost', /not an IP address/],
    ['', /not an IP address/],
    ['127.0.0.1.nip.io', /not an IP address/],
  ])('%s is refused', (address, why) => {
    expect(specialUseRange(address)).toMatch(why);
  });

  it.each([
    ['8.8.8.8'],
    ['1.1.1.1'],
    ['93.184.215.14'],
    ['100.63.255.255'], // just below CGNAT
    ['100.128.0.0'], // just above CGNAT
    ['172.15.255.255'], // just below 172.16/12
    ['172.32.0.0'], // just above 172.16/12
    ['169.253.255.255'],
    ['2606:4700:4700::1111'],
    ['2a00:1450:4001:80b::200e'],
    ['::ffff:8.8.8.8'], // mapped public address reaches the public host
    ['2002:0808:0808::1'], // 6to4 for a public address
    ['64:ff9b::808:808'], // NAT64 of a public address
  ])('%s (a public unicast address) is accepted', (address) => {
    expect(specialUseRange(address)).toBeUndefined();
  });
});

describe('the guarded fetch refuses before connecting', () => {
  const connects: string[] = [];
  // Fails loudly if the guard ever lets a socket open towards anything but loopback.
  const beforeConnect = (address: string) => {
    connects.push(address);
    if (!/^127\./.test(address) && address !== '::1') throw new Error(`test attempted a connection to ${address}`);
  };
  const resolverFor = (answers: Record<string, string[]>): Resolver => async (hostname) => {
    const found = answers[hostname];
    if (!found) throw Object.assign(new Error(`no test answer for ${hostname}`), { code: 'ENOTFOUND' });
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

  beforeEach(() => {
    connects.length = 0;
  });

  it.each([
    ['internal.test', ['10.0.0.1'], /private/],
    ['metadata.test', ['169.254.169.254'], /link-local/],
    ['loopback.test', ['127.0.0.1'], /loopback/],
    ['v6.test', ['::1'], /loopback/],
    ['mapped.test', ['::ffff:169.254.169.254'], /IPv4-mapped/],
    // A name that mixes answers is refused as a whole: the connection could go to either.
    ['mixed.test', ['8.8.8.8', '10.0.0.1'], /private/],
  ])('a host resolving to %s %j is refused without any connection', async (host, addresses, why) => {
    const fetch = guardedFetch({ allowPrivateAddresses: false, resolve: resolverFor({ [host]: addresses }), beforeConnect });
    const err = await fetch(`https://${host}/client.json`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuardedFetchError);
    expect((err as GuardedFetchError).reason).toMatch(why);
    expect(connects).toEqual([]);
  });

  it.each([['https://127.0.0.1/c.json'], ['https://[::1]/c.json'], ['https://[::ffff:7f00:1]/c.json'], ['https://2130706433/c.json'], ['https://0x7f.1/c.json']])(
    'an address literal in the URL (%s) is checked too',
    async (url) => {
      const fetch = guardedFetch({ allowPrivateAddresses: false, resolve: resolverFor({}), beforeConnect });
      const err = await fetch(url).catch((e: unknown) => e);
      expect((err as GuardedFetchError).reason).toMatch(/non-public address/);
      expect(connects).toEqual([]);
    },
  );

  it('an unresolvable host is a failure with a reason, and nothing else is tried', async () => {
    const fetch = guardedFetch({ allowPrivateAddresses: false, resolve: resolverFor({}), beforeConnect });
    const err = await fetch('https://nowhere.test/c.json').catch((e: unknown) => e);
    expect((err as GuardedFetchError).reason).toBe('the host name nowhere.test could not be resolved');
    expect(connects).toEqual([]);
  });

  it('a resolver that never answers is cut off by the timeout', async () => {
    const fetch = guardedFetch({ allowPrivateAddresses: false, timeoutMs: 200, resolve: () => new Promise(() => undefined), beforeConnect });
    const started = Date.now();
    const err = await fetch('https://slow-dns.test/c.json').catch((e: unknown) => e);
    expect((err as GuardedFetchError).reason).toBe('the server did not answer in time');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('connects to the very address it checked (no second resolution), and the connect spy stops anything off loopback', async () => {
    // With the address check lifted, the socket would go to what the resolver said: the spy sees 10.0.0.1 and
    // refuses to let the connection happen, so this test itself never leaves the machine.
    const fetch = guardedFetch({ allowPrivateAddresses: true, resolve: resolverFor({ 'pinned.test': ['10.0.0.1'] }), beforeConnect });
    const err = await fetch('https://pinned.test/c.json').catch((e: unknown) => e);
    expect(connects).toEqual(['10.0.0.1']);
    expect((err as GuardedFetchError).reason).toMatch(/the connection failed/);
  });

  it('only http and https are fetched', async () => {
    const fetch = guardedFetch({ allowPrivateAddresses: true, resolve: resolverFor({}), beforeConnect });
    await expect(fetch('file:///etc/passwd')).rejects.toThrow(/file: URLs are not fetched/);
    expect(connects).toEqual([]);
  });
});

// Issue 16 (docs/SECURITY.md): what a connection's private-network opt-in admits, and what it never does.
describe('isPrivateNetworkAddress (a connection opted in to its private network)', () => {
  it.each(['127.0.0.1', '127.0.0.2', '10.0.0.5', '172.16.3.4', '192.168.1.20', '100.64.0.1', '::1', '[::1]', 'fd00::5', '::ffff:10.0.0.5'])('admits %s', (address) => {
    expect(isPrivateNetworkAddress(address)).toBe(true);
  });
  it.each(['169.254.169.254', 'fe80::1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '192.0.2.1', '::', '::ffff:169.254.169.254', '64:ff9b::a00:5', 'not-an-ip'])('never admits %s', (address) => {
    expect(isPrivateNetworkAddress(address)).toBe(false);
  });
});
