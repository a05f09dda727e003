// Optimistic updates (docs/ADMIN-API.md, "Versions"): an object's version is a digest of what administration sees
// of it, so any change by anyone gives a new version, with no column to keep in step. An update that names the
// version it was based on is refused with a conflict when the object has changed since.
import { createHash } from 'node:crypto';
import { AdminError } from './admin-error.js';

function canonical(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().filter((k) => (value as Record<string, unknown>)[k] !== undefined).map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}

/** The version of an object as administration shows it (a JSON-able view, dates allowed). */
export function versionOf(view: unknown): string {
  return createHash('sha256').update(JSON.stringify(canonical(view))).digest('base64url').slice(0, 22);
}

/** Refuses a change based on a version that is no longer the object's (nothing to check when none was named). */
export function checkVersion(current: unknown, expected: string | undefined): void {
  if (expected !== undefined && versionOf(current) !== expected) {
    throw new AdminError('conflict', 'The object changed since you read it: read it again and repeat the change.', 'version');
  }
}
