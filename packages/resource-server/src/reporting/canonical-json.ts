// The digest of a tool call's arguments (docs/MCP-SERVER-REPORTING.md, `arguments_sha256`; docs/TOOL-APPROVALS.md,
// `arguments_digest`): SHA-256 of the arguments in canonical JSON, so the same arguments always give the same digest
// whatever order their keys were sent in, and an auditor holding a candidate value can check it against the log
// without the log ever holding it.
//
// Canonical form as RFC 8785 (JCS) defines it for the values JSON.parse produces: object keys sorted by UTF-16 code
// units, no whitespace, strings and numbers as ECMAScript's JSON.stringify writes them (which is what JCS specifies).
// Written here rather than taken from a package because the kit's only dependency is jose (issue 17) and the rule
// is ten lines over JSON.stringify.
import * as crypto from 'node:crypto';

/**
 * The arguments come from any token holder, and JSON.parse accepts nesting far deeper than a recursive walk's stack
 * (a 40 kB body of brackets would otherwise crash the server when its call is audited): the usual shallow value is
 * written recursively, and anything nested deeper than MAX_RECURSION is written with an explicit stack.
 */
export function canonicalJson(value: unknown): string {
  const shallow = recursive(value, 0);
  return shallow ?? iterative(value);
}

const MAX_RECURSION = 64;

/** Undefined when the value is nested deeper than MAX_RECURSION. */
function recursive(v: unknown, depth: number): string | undefined {
  // undefined, functions and symbols have no JSON form; a parsed body never holds them.
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (depth >= MAX_RECURSION) return undefined;
  let out: string;
  if (Array.isArray(v)) {
    out = '[';
    for (let i = 0; i < v.length; i++) {
      const item = recursive(v[i], depth + 1);
      if (item === undefined) return undefined;
      out += i ? `,${item}` : item;
    }
    return `${out}]`;
  }
  const record = v as Record<string, unknown>;
  out = '{';
  let first = true;
  for (const k of Object.keys(record).sort()) {
    if (record[k] === undefined) continue;
    const item = recursive(record[k], depth + 1);
    if (item === undefined) return undefined;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${item}`;
    first = false;
  }
  return `${out}}`;
}

function iterative(value: unknown): string {
  type Task = { text: string } | { value: unknown };
  const out: string[] = [];
  const tasks: Task[] = [{ value }];
  while (tasks.length) {
    const task = tasks.pop()!;
    if ('text' in task) {
      out.push(task.text);
      continue;
    }
    const v = task.value;
    if (v === null || typeof v !== 'object') {
      out.push(JSON.stringify(v) ?? 'null');
      continue;
    }
    const parts: Task[] = [];
    if (Array.isArray(v)) {
      parts.push({ text: '[' });
      v.forEach((item, i) => parts.push(...(i ? [{ text: ',' }] : []), { value: item }));
      parts.push({ text: ']' });
    } else {
      const record = v as Record<string, unknown>;
      const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort();
      parts.push({ text: '{' });
      keys.forEach((k, i) => parts.push({ text: `${i ? ',' : ''}${JSON.stringify(k)}:` }, { value: record[k] }));
      parts.push({ text: '}' });
    }
    for (let i = parts.length - 1; i >= 0; i--) tasks.push(parts[i]!);
  }
  return out.join('');
}

/** SHA-256 (hex) of the canonical arguments; absent arguments hash as `{}`. */
export function argumentsDigest(args: unknown): string {
  const text = canonicalJson(args ?? {});
  // crypto.hash (Node ≥ 20.12) is the one-shot form, cheaper than a Hash object per call.
  return typeof crypto.hash === 'function' ? crypto.hash('sha256', text, 'hex') : crypto.createHash('sha256').update(text).digest('hex');
}

/** How deep a call's arguments may nest to be shown for approval (Gatehouse refuses bodies nested deeper than 32). */
export const MAX_APPROVAL_DEPTH = 30;

/**
 * Why these arguments cannot be put before a person for approval, or undefined: nested deeper than
 * MAX_APPROVAL_DEPTH, or holding a number JSON cannot represent (`1e999` parses as Infinity, which JSON.stringify and
 * so the digest write as `null`: the page would show `null` for a call that runs with Infinity; RFC 8785 refuses
 * them). Walked with an explicit stack: the arguments come from any token holder (docs/TOOL-APPROVALS.md).
 */
export function approvalArgumentsProblem(args: unknown): string | undefined {
  const stack: Array<[unknown, number]> = [[args, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v)) return 'hold a number JSON cannot represent (such as 1e999)';
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_APPROVAL_DEPTH) return `are nested deeper than ${MAX_APPROVAL_DEPTH} levels`;
    for (const item of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) stack.push([item, depth + 1]);
  }
  return undefined;
}
