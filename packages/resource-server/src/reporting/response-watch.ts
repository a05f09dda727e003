// How an allowed tool call ended, read from the response the MCP server writes (docs/MCP-SERVER-REPORTING.md,
// `outcome`): the kit sees the request before the server runs it, but only the response says whether the tool
// returned a result, a result with `isError`, or a JSON-RPC error. The watch copies what the server writes to the
// response, up to a bound, and reads the JSON-RPC messages out of it when the response finishes: a JSON body (one
// message or a batch) or a Server-Sent Events stream (the Streamable HTTP transport's default), whose `data:` lines
// carry the messages.
//
// It never changes what is written nor delays it; past the bound it stops copying, and the calls whose answer it
// did not see end as `unknown` — as do the calls of a response cut before it finished.
import type { ServerResponse } from 'node:http';

export type CallResult = 'allowed' | 'tool_error' | 'unknown';

/** Stops copying a response past this many bytes (the results of big tool calls are not worth holding). */
export const DEFAULT_WATCH_BYTES = 256 * 1024;
/**
 * Longest wait for a response to end before its calls are recorded as `unknown`: a client that stops reading keeps
 * a response open as long as it likes, and its calls must not wait as long to be audited (nor outlive the process).
 */
export const DEFAULT_WATCH_MS = 60_000;

/**
 * Calls `done` once, when the response finishes or is cut, with the result for each of `ids` (JSON-RPC request ids,
 * in order).
 */
export function watchResponse(res: ServerResponse, ids: readonly unknown[], limit: number, done: (results: CallResult[]) => void, maxWaitMs = DEFAULT_WATCH_MS): void {
  // Strings are kept as they are (immutable); a Buffer is copied, as a writer may reuse it once write() returns.
  const chunks: Array<string | Buffer> = [];
  let size = 0;
  let overflow = false;
  const copy = (chunk: unknown, encoding: unknown) => {
    if (overflow || chunk === undefined || chunk === null || typeof chunk === 'function') return;
    let kept: string | Buffer;
    if (typeof chunk === 'string') kept = typeof encoding === 'string' && encoding !== 'utf8' && encoding !== 'utf-8' ? Buffer.from(chunk, encoding as BufferEncoding) : chunk;
    else if (chunk instanceof Uint8Array) kept = Buffer.from(chunk);
    else return;
    size += kept.length; // a string counts its UTF-16 units: a bound on memory all the same
    if (size > limit) {
      overflow = true;
      chunks.length = 0;
      return;
    }
    chunks.push(kept);
  };
  const write = res.write;
  const end = res.end;
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    copy(chunk, rest[0]);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    copy(chunk, rest[0]);
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse['end'];

  let settled = false;
  const settle = (finished: boolean) => {
    if (settled) return;
    settled = true;
    res.write = write;
    res.end = end;
    // The kit set its CORS headers with setHeader before the server ran, so headers given to writeHead later are
    // merged into the ones getHeader reads.
    const type = String(res.getHeader('content-type') ?? '');
    const messages = finished && !overflow ? messagesIn(textOf(chunks), type) : [];
    // An id used twice in one batch cannot say which call its answer belongs to: both are unknown.
    const repeated = ids.length > 1 ? new Set(ids.filter((id, i) => ids.indexOf(id) !== i)) : undefined;
    done(ids.map((id) => (repeated?.has(id) ? 'unknown' : resultFor(id, messages))));
  };
  // A response emits 'close' once, after 'finish' or when it was cut short.
  res.once('close', () => settle(res.writableFinished));
  // The sweeper finds a response still open past its wait through the settle function it registered.
  open.set(settle, Date.now() + maxWaitMs);
  res.once('close', () => open.delete(settle));
  startSweeper();
}

// Responses still open, swept every second for those past their wait: one timer for all of them (unref'd, so it
// never keeps a process alive), not one per response — a timer per tool call is measurable on a busy server.
const open = new Map<(finished: boolean) => void, number>();
let sweeper: NodeJS.Timeout | undefined;
const SWEEP_MS = 1_000;

function startSweeper(): void {
  if (sweeper) return;
  sweeper = setInterval(() => {
    const now = Date.now();
    for (const [settle, deadline] of open) {
      if (deadline > now) continue;
      open.delete(settle);
      settle(false);
    }
  }, SWEEP_MS);
  sweeper.unref();
}

function textOf(chunks: ReadonlyArray<string | Buffer>): string {
  if (chunks.length === 1 && typeof chunks[0] === 'string') return chunks[0];
  return Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))).toString('utf8');
}

/** The JSON-RPC messages of a JSON body or of an event stream; [] when there are none or it cannot be read. */
export function messagesIn(text: string, contentType: string): unknown[] {
  const parse = (json: string): unknown[] => {
    try {
      const value = JSON.parse(json) as unknown;
      return Array.isArray(value) ? value : [value];
    } catch {
      return [];
    }
  };
  if (/^text\/event-stream/i.test(contentType)) {
    // SSE (HTML Living Standard, "Server-sent events"): events are separated by a blank line, each data line adds
    // to the event's data, joined by newlines.
    return text.split(/\r\n\r\n|\n\n|\r\r/).flatMap((event) => {
      const data = event.split(/\r\n|\n|\r/).filter((l) => l.startsWith('data:')).map((l) => l.slice(l.startsWith('data: ') ? 6 : 5));
      return data.length ? parse(data.join('\n')) : [];
    });
  }
  return /json/i.test(contentType) ? parse(text) : [];
}

function resultFor(id: unknown, messages: readonly unknown[]): CallResult {
  if (id === undefined || id === null) return 'unknown';
  const answer = messages.find((m) => typeof m === 'object' && m !== null && (m as { id?: unknown }).id === id && ('result' in m || 'error' in m)) as
    | { result?: { isError?: unknown }; error?: unknown }
    | undefined;
  if (!answer) return 'unknown';
  if (answer.error !== undefined) return 'tool_error';
  return answer.result?.isError === true ? 'tool_error' : 'allowed';
}
