// One event per `tools/call` the guard decides on (docs/MCP-SERVER-REPORTING.md, POST /mcp-server/tool-calls): who
// (`sub`, client), which tool, the scopes it was checked against, how it ended and how long it took, and a digest
// of its arguments — never the arguments. A refused call is recorded at once; an allowed one when its response
// finishes (response-watch.ts). Events go to the queue that ships them to Gatehouse and to `onToolCall`, if given.
//
// Every field is made acceptable to Gatehouse before it is queued (bounded, well-formed text, valid scope tokens):
// a hostile tool name must not make Gatehouse refuse the batch it travels in, and with it other people's calls.
import type { ServerResponse } from 'node:http';
import type { Identity } from '../identity.js';
import type { Call } from '../tool-scopes.js';
import { argumentsDigest } from './canonical-json.js';
import { watchResponse } from './response-watch.js';
import type { ToolCallEvent, ToolCallQueue } from './tool-call-queue.js';

/** `approval_*`: the call waits for, could not get, or was refused a person's approval (docs/TOOL-APPROVALS.md). */
export type RefusedOutcome = 'refused_scope' | 'refused_unmapped' | 'refused_batch' | 'approval_required' | 'approval_rejected';

export interface DecidedCall {
  call: Call;
  /** The scopes the call was checked against (required + its rule); [] when it has no rule. */
  scopes: readonly string[];
}

export interface RecorderOptions {
  queue?: ToolCallQueue | undefined;
  onToolCall?: ((event: ToolCallEvent) => void) | undefined;
  watchBytes: number;
  onError?: ((err: Error) => void) | undefined;
}

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;

/** Well-formed text without NUL (what Gatehouse stores), at most `max` UTF-16 units; `fallback` when empty. */
export function storableText(value: string, max: number, fallback: string): string {
  if (value && value.length <= max && value.isWellFormed() && !value.includes('\u0000')) return value; // the usual case
  const text = value.toWellFormed().replace(/\u0000/g, '\uFFFD').slice(0, max).toWellFormed();
  return text || fallback;
}

export class ToolCallRecorder {
  constructor(private readonly options: RecorderOptions) {}

  refused(identity: Identity, calls: readonly (DecidedCall & { outcome: RefusedOutcome })[]): void {
    const at = new Date().toISOString();
    for (const c of calls) this.#record(() => event(identity, c, c.outcome, at, 0));
  }

  /** Watches `res` and records each call when the response has finished (or was cut). */
  allowed(identity: Identity, calls: readonly DecidedCall[], res: ServerResponse): void {
    if (!calls.length) return;
    const at = new Date().toISOString();
    const start = performance.now();
    watchResponse(res, calls.map((c) => c.call.id), this.options.watchBytes, (results) => {
      const duration = Math.round(performance.now() - start);
      calls.forEach((c, i) => this.#record(() => event(identity, c, results[i] ?? 'unknown', at, duration)));
    });
  }

  /** Builds and emits one event; runs in a response's 'close' listener, so it must never throw. */
  #record(build: () => ToolCallEvent): void {
    try {
      this.#emit(build());
    } catch (err) {
      this.options.onError?.(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #emit(e: ToolCallEvent): void {
    this.options.queue?.push(e);
    if (this.options.onToolCall) {
      try {
        this.options.onToolCall(e);
      } catch (err) {
        this.options.onError?.(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }
}

/** At most 50 distinct valid scope tokens; the list as it is when it already is that (the usual case). */
function acceptableScopes(scopes: readonly string[]): string[] {
  if (scopes.length <= 50 && scopes.every((s) => SCOPE_TOKEN.test(s)) && new Set(scopes).size === scopes.length) return scopes as string[];
  return [...new Set(scopes)].filter((s) => SCOPE_TOKEN.test(s)).slice(0, 50);
}

function event(identity: Identity, c: DecidedCall, outcome: ToolCallEvent['outcome'], at: string, duration: number): ToolCallEvent {
  return {
    at,
    tool: storableText(c.call.name, 256, '(empty name)'),
    sub: storableText(identity.sub, 320, '(no subject)'),
    client_id: storableText(identity.clientId, 2048, '(no client)'),
    scopes: acceptableScopes(c.scopes),
    outcome,
    duration_ms: Math.min(86_400_000, Math.max(0, duration)),
    arguments_sha256: argumentsDigest(c.call.args),
  };
}
