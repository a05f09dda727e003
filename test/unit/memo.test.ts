// Memoized pure functions (src/cache/memo.ts): one computation per distinct value while it is kept, bounded, and a
// refusal (an invalid resource URI) is still a refusal every time it is asked.
import { describe, expect, it } from '@jest/globals';
import { memoize } from '../../src/cache/memo.js';
import { canonicalResource, InvalidResourceUri } from '../../src/oauth/resources.js';
import { addressSource } from '../../src/net/address-source.js';

describe('memoize', () => {
  it('computes a value once while it is kept, and again once evicted', () => {
    const calls: string[] = [];
    const upper = memoize((v) => (calls.push(v), v.toUpperCase()), 2);
    expect([upper('a'), upper('a'), upper('b'), upper('a')]).toEqual(['A', 'A', 'B', 'A']);
    expect(calls).toEqual(['a', 'b']);
    upper('c'); // evicts the least recently used: b
    upper('b');
    expect(calls).toEqual(['a', 'b', 'c', 'b']);
  });

  it('the memoized callers answer as before: a refused resource URI throws every time, sources stay sources', () => {
    for (let i = 0; i < 2; i++) {
      expect(() => canonicalResource('not a uri')).toThrow(InvalidResourceUri);
      expect(() => canonicalResource('ftp://h/x')).toThrow(InvalidResourceUri);
      expect(canonicalResource('HTTPS://Mcp.Example.test/')).toBe('https://mcp.example.test');
      expect(addressSource('2001:db8:1:2:a:b:c:d')).toBe('2001:db8:1:2::/64');
      expect(addressSource('::ffff:192.0.2.1')).toBe('192.0.2.1');
    }
  });
});

describe('memoize is bounded in bytes, not only in entries', () => {
  it('a value longer than MAX_LENGTH is answered every time and never kept', async () => {
    const { MAX_LENGTH } = await import('../../src/cache/memo.js');
    const calls: number[] = [];
    const length = memoize((v) => (calls.push(v.length), v.length));
    const long = 'x'.repeat(MAX_LENGTH + 1);
    expect([length(long), length(long)]).toEqual([MAX_LENGTH + 1, MAX_LENGTH + 1]);
    expect(calls).toEqual([MAX_LENGTH + 1, MAX_LENGTH + 1]);
  });

  it('a short value sliced out of a large request body does not keep the body alive', async () => {
    const { memoryUsage } = await import('node:process');
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const id = memoize((v) => `${v}!`);
    const before = memoryUsage().heapUsed;
    for (let i = 0; i < 2000; i++) {
      // What a form parser hands on: a slice of a 64 KiB body.
      const body = `resource=https://r${i}.example/mcp&pad=${'p'.repeat(64 * 1024)}`;
      id(body.slice(9, body.indexOf('&')));
    }
    gc();
    // 2,000 bodies of 64 KiB would be 125 MiB if each kept slice held its body.
    expect(memoryUsage().heapUsed - before).toBeLessThan(40 * 2 ** 20);
    expect(id('https://r7.example/mcp')).toBe('https://r7.example/mcp!');
  });

  it('lone surrogates survive the copy: the answer is the function of the very value asked', () => {
    const id = memoize((v) => [...v].map((c) => c.codePointAt(0)!.toString(16)).join(','));
    expect(id('a\uD800b')).toBe('61,d800,62');
    expect(id('a\uD800b')).toBe('61,d800,62');
  });
});
