// The server side of bench/child.ts's protocol, in plain JavaScript so the servers run under plain node (no
// TypeScript loader in their memory): one marked JSON line for the parent, then one JSON line per command on stdin.
import { createInterface } from 'node:readline';

const MARK = '@@bench '; // the same marker as bench/child.ts

/** Prints one line for the parent. */
export function tellParent(value) {
  process.stdout.write(`${MARK}${JSON.stringify(value)}\n`);
}

/** Answers the parent's commands (one per line) with the handler's JSON. */
export function serveCommands(handler) {
  createInterface({ input: process.stdin }).on('line', async (line) => {
    tellParent(await handler(line.trim()));
  });
}
