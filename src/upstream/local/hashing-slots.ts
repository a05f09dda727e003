// At most a fixed number of password hashes run at once; the rest wait in arrival order. Each argon2id hash at the
// production cost holds 64 MiB and one libuv pool thread for ~200 ms: twenty logins at once would otherwise hold
// 1.25 GiB, and four would take every pool thread, stalling the token signatures (WebCrypto) that share the pool.
// With one slot per core, logins queue instead, at the same throughput (hashing is CPU-bound either way).
export class HashingSlots {
  #free: number;
  readonly #waiting: Array<() => void> = [];
  #peak = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error('HashingSlots needs at least one slot');
    this.#free = size;
  }

  /** Runs `work` in a slot, once one is free; the slot is given back however `work` ends. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#peak = Math.max(this.#peak, this.size - this.#free);
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      // A waiter inherits the slot directly, so a newcomer can never overtake it.
      if (next) next();
      else this.#free++;
    }
  }

  /** The most slots ever in use at once (for tests and metrics). */
  get peak(): number {
    return this.#peak;
  }

  get waiting(): number {
    return this.#waiting.length;
  }
}
