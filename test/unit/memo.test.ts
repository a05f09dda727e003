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
