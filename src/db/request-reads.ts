// Rows a sign-in step reads more than once (docs/PERFORMANCE.md, "Reads kept for one request"). A step of a
// browser sign-in (/authorize, its resume, each /interaction page) reads its interaction, session and account in
// several places — the client-approval rule, oidc-provider's interactionDetails and resume, the page itself, the
// resource rules — each a round trip for the same row. Inside `withRequestReads` the first read of a key is kept for
// the rest of that request, and any write of that kind of row in the request forgets what was kept, so a request
// still reads its own writes. Nothing outlives the request or is seen by another one (AsyncLocalStorage).
import { AsyncLocalStorage } from 'node:async_hooks';

const scope = new AsyncLocalStorage<Map<string, Promise<unknown>>>();

/** Runs one request with its own kept reads. */
export function withRequestReads<T>(work: () => Promise<T>): Promise<T> {
  return scope.run(new Map(), work);
}

/** `load()` once per request for `key` (every read of the request shares it); outside a request, every time. */
export function readOnce<T>(key: string, load: () => Promise<T>): Promise<T> {
  const kept = scope.getStore();
  if (!kept) return load();
  let read = kept.get(key) as Promise<T> | undefined;
  if (!read) {
    read = load();
    kept.set(key, read);
    // A failed read is not kept: the next one asks again.
    read.catch(() => kept.get(key) === read && kept.delete(key));
  }
  return read;
}

/** Forgets the kept reads whose key starts with `prefix` (a write of that kind of row). */
export function forgetReads(prefix: string): void {
  const kept = scope.getStore();
  if (!kept) return;
  for (const key of kept.keys()) if (key.startsWith(prefix)) kept.delete(key);
}
