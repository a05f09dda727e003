// A tool call's arguments as the approval page shows them (docs/TOOL-APPROVALS.md): the whole JSON, pretty-printed
// and never cut off — the page grows with it, so the buttons come after the last argument — with every long string
// value folded behind its first characters (a value cannot push the rest out of sight), and every key that is not
// plain printable ASCII marked, so a look-alike (`іd` with a Cyrillic і) cannot pass for the key the tool reads.
// Text only: the template escapes it (views/views.ts), so arguments holding HTML or script are shown, never run.

export interface ArgumentLine {
  /** The text of the line, or of the line's start when `folded` holds the rest of a long value. */
  text: string;
  folded?: string | undefined;
  size?: number | undefined;
  /** The line's key holds characters other than printable ASCII. */
  unusualKey?: boolean | undefined;
}

export interface ArgumentsView {
  lines: ArgumentLine[];
  /** How many arguments the call has (top-level keys). */
  count: number;
  /** How many keys anywhere are marked. */
  unusualKeys: number;
}

const FOLD_AT = 200;
const KEY = /^\s*"((?:[^"\\]|\\.)*)":/;
const PLAIN = /^[\x20-\x7e]*$/;

export function argumentsView(args: unknown): ArgumentsView {
  const lines: ArgumentLine[] = [];
  let unusualKeys = 0;
  for (const line of JSON.stringify(args ?? {}, null, 2).split('\n')) {
    const key = KEY.exec(line)?.[1];
    // JSON.stringify writes non-ASCII as itself and control characters as \u escapes: both are unusual in a key.
    const unusualKey = key !== undefined && (!PLAIN.test(key) || key.includes('\\u'));
    if (unusualKey) unusualKeys++;
    const mark = unusualKey ? { unusualKey } : {};
    if (line.length <= FOLD_AT + 40) lines.push({ text: line, ...mark });
    else lines.push({ text: line.slice(0, FOLD_AT), folded: line.slice(FOLD_AT), size: line.length, ...mark });
  }
  const count = args && typeof args === 'object' && !Array.isArray(args) ? Object.keys(args).length : 0;
  return { lines, count, unusualKeys };
}
