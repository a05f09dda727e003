// The per-instance caches (src/cache/ttl-cache.ts): fresh entries answer without a read, stale ones are read
// again, a deleted entry is read again at once, refused values are not kept, and the size stays bounded.
import { TtlCache } from '../../src/cache/ttl-cache.js';

function counter<V>(value: () => V) {
  let reads = 0;
  return { load: async () => (reads++, value()), reads: () => reads };
}

describe('TtlCache', () => {
  it('answers from memory within the TTL and reads again after it', async () => {
    const cache = new TtlCache<number>(30);
    const src = counter(() => 1);
    await cache.getOrLoad('a', src.load);
    await cache.getOrLoad('a', src.load);
    expect(src.reads()).toBe(1);
    await new Promise((r) => setTimeout(r, 40));
    await cache.getOrLoad('a', src.load);
    expect(src.reads()).toBe(2);
  });

  it('reads again at once after delete (a change made through this instance)', async () => {
    const cache = new TtlCache<string>(60_000);
    let stored = 'old';
    const load = async () => stored;
    expect(await cache.getOrLoad('k', load)).toBe('old');
    stored = 'new';
    cache.delete('k');
    expect(await cache.getOrLoad('k', load)).toBe('new');
  });

  it('does not keep what `keep` refuses (a miss is never remembered)', async () => {
    const cache = new TtlCache<string | undefined>(60_000);
    let stored: string | undefined;
    const load = async () => stored;
    const found = (v: string | undefined) => v !== undefined;
    expect(await cache.getOrLoad('k', load, found)).toBeUndefined();
    stored = 'registered meanwhile';
    expect(await cache.getOrLoad('k', load, found)).toBe('registered meanwhile');
  });

  it('stays bounded under a stream of distinct keys', async () => {
    const cache = new TtlCache<number>(60_000, 3);
    const src = counter(() => 1);
    for (const k of ['a', 'b', 'c', 'd']) await cache.getOrLoad(k, src.load);
    await cache.getOrLoad('a', src.load); // emptied when 'd' arrived
    expect(src.reads()).toBe(5);
    await cache.getOrLoad('d', src.load); // kept after the emptying
    expect(src.reads()).toBe(5);
  });
});
