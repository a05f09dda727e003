// The digest of a tool call's arguments (docs/MCP-SERVER-REPORTING.md, `arguments_sha256`): SHA-256 of the
// arguments in canonical JSON, so the same arguments always give the same digest whatever order their keys were
// sent in, and an auditor holding a candidate value can check it against the log without the log ever holding it.
//
// Canonical form as RFC 8785 (JCS) defines it for the values JSON.parse produces: object keys sorted by UTF-16 code
// units, no whitespace, strings and numbers as ECMAScript's JSON.stringify writes them (which is what JCS specifies).
// Written here rather than taken from a package because the kit's only dependency is jose (issue 17) and the rule
// is ten lines over JSON.stringify.
import * as crypto from 'node:crypto';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // undefined, functions and symbols have no JSON form; a parsed body never holds them, and `{}` stands for none.
    const text = JSON.stringify(value);
    return text === undefined ? 'null' : text;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** SHA-256 (hex) of the canonical arguments; absent arguments hash as `{}`. */
export function argumentsDigest(args: unknown): string {
  const text = canonicalJson(args ?? {});
  // crypto.hash (Node ≥ 20.12) is the one-shot form, cheaper than a Hash object per call.
  return typeof crypto.hash === 'function' ? crypto.hash('sha256', text, 'hex') : crypto.createHash('sha256').update(text).digest('hex');
}
