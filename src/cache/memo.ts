// Pure functions of a string that every request calls with the same few values (its client's address, its client
// id's digest, its resource URI): their answers kept in a small LRU, so a busy instance computes each once
// (docs/PERFORMANCE.md, "Per-request work kept"). Bounded, so values anyone can invent only evict each other.
import { LRUCache } from 'lru-cache';

export function memoize<R extends NonNullable<unknown>>(fn: (value: string) => R, max = 4096): (value: string) => R {
  const answers = new LRUCache<string, R>({ max });
  return (value) => {
    let answer = answers.get(value);
    if (answer === undefined) {
      answer = fn(value);
      answers.set(value, answer);
    }
    return answer;
  };
}
