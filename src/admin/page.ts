// Cursor pagination for every list of the admin service layer (docs/ADMIN-API.md, "Pagination"): a page holds at
// most `limit` items and, when more follow, an opaque cursor naming the last item's sort key. A cursor is not a
// credential; a malformed one is invalid input, not a 500.
import { AdminError } from './admin-error.js';

export interface PageRequest {
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface Page<T> {
  items: T[];
  /** Give it back as `cursor` for the next page; null on the last page. */
  next: string | null;
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

export function pageLimit(request: PageRequest): number {
  const limit = request.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new AdminError('invalid_request', `limit must be a whole number from 1 to ${MAX_LIMIT}.`, 'limit');
  return limit;
}

export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The sort key a cursor names (strings and numbers), or undefined for the first page. */
export function decodeCursor(cursor: string | undefined): (string | number)[] | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length > 0 && key.length <= 4 && key.every((k) => typeof k === 'string' || typeof k === 'number')) return key;
  } catch {
    // fall through
  }
  throw new AdminError('invalid_request', 'The cursor is not one this server gave.', 'cursor');
}

/**
 * A page cut from items already sorted by `keyOf` ascending: those after the cursor, at most `limit`. For the
 * small tables of administration (clients, servers, connections, people) sorting in memory is simpler than SQL.
 */
export function pageOf<T>(sorted: readonly T[], keyOf: (item: T) => (string | number)[], request: PageRequest): Page<T> {
  const limit = pageLimit(request);
  const after = decodeCursor(request.cursor);
  const start = after ? sorted.findIndex((item) => compareKeys(keyOf(item), after) > 0) : 0;
  const rest = start < 0 ? [] : sorted.slice(start);
  const items = rest.slice(0, limit);
  return { items, next: rest.length > limit ? encodeCursor(keyOf(items[items.length - 1]!)) : null };
}

export function compareKeys(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i], y = b[i];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}
