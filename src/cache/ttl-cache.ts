// The per-instance caches with short TTLs that keep a database read off every request: each entry
// lives `ttlMs`; a change made through this instance deletes its entry at once, and other instances see it within
// the TTL. Bounded: an endless stream of distinct keys (client ids anyone can invent) empties the cache rather
// than growing it.
export class TtlCache<V> {
  readonly #entries = new Map<string, { at: number; value: V }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** The cached value while fresh; otherwise `load()`'s, kept when `keep` accepts it (default: always). */
  async getOrLoad(key: string, load: () => Promise<V>, keep: (value: V) => boolean = () => true): Promise<V> {
    const hit = this.#entries.get(key);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.value;
    const value = await load();
    if (!keep(value)) {
      this.#entries.delete(key);
      return value;
    }
    this.set(key, value);
    return value;
  }

  /** The cached value while fresh, without loading. */
  peek(key: string): V | undefined {
    const hit = this.#entries.get(key);
    return hit && Date.now() - hit.at < this.ttlMs ? hit.value : undefined;
  }

  /** Keeps `value` for `key` from now on. */
  set(key: string, value: V): void {
    if (this.#entries.size >= this.maxEntries && !this.#entries.has(key)) this.#entries.clear();
    this.#entries.set(key, { at: Date.now(), value });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}
