// A tool call's arguments as the approval page shows them (docs/TOOL-APPROVALS.md): the whole JSON, pretty-printed,
// with every long string value folded behind its first characters so a payload cannot hide below a screenful of
// padding. Text only: the template escapes it (views/views.ts), so arguments holding HTML or script are shown, never run.

export interface ArgumentLine {
  /** The text of the line, or of the line's start when `folded` holds the rest of a long value. */
  text: string;
  folded?: string | undefined;
  size?: number | undefined;
}

const FOLD_AT = 200;

export function argumentsView(args: unknown): ArgumentLine[] {
  const lines: ArgumentLine[] = [];
  for (const line of JSON.stringify(args ?? {}, null, 2).split('\n')) {
    if (line.length <= FOLD_AT + 40) {
      lines.push({ text: line });
      continue;
    }
    lines.push({ text: line.slice(0, FOLD_AT), folded: line.slice(FOLD_AT), size: line.length });
  }
  return lines;
}
