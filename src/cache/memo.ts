// Pure functions of a string that every request calls with the same few values (its client's address, its client
// id's digest, its resource URI): their answers kept in a small LRU, so a busy instance computes each once
// (docs/PERFORMANCE.md, "Per-request work kept"). Bounded in entries and in bytes, since the values come from
// requests before anyone is authenticated: a value longer than MAX_LENGTH is computed every time and never kept, and
// a kept value is a copy — a string sliced out of a request body would otherwise hold the whole body alive.
import { LRUCache } from 'lru-cache';

/** Longer values (a URI, an address, a client id are shorter in any real request) are not kept. */
export const MAX_LENGTH = 256;

export function memoize<R extends NonNullable<unknown>>(fn: (value: string) => R, max = 4096): (value: string) => R {
  const answers = new LRUCache<string, R>({ max });
  return (value) => {
    if (value.length > MAX_LENGTH) return fn(value);
    let answer = answers.get(value);
    if (answer === undefined) {
      // The answer is computed from the copy, so whatever it keeps of its input is that short copy too.
      const own = detached(value);
      answer = fn(own);
      answers.set(own, answer);
    }
    return answer;
  };
}

/** The same text (lone surrogates included) in a string of its own, sharing no memory with the one it came from. */
function detached(value: string): string {
  return JSON.parse(JSON.stringify(value)) as string;
}
