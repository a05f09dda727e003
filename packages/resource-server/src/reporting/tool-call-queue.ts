// The tool-call audit's way to Gatehouse (docs/MCP-SERVER-REPORTING.md, POST /mcp-server/tool-calls): a bounded
// queue sent in batches in the background. A tool call only ever pushes onto an array: it is never delayed nor
// failed by the audit. When Gatehouse cannot be reached the queue keeps what it holds and retries with backoff;
// when it is full, new events are dropped and counted, and the count travels with the next batch Gatehouse accepts
// (which audits it). Each batch keeps its batch_id across retries, so a batch Gatehouse wrote but whose answer was
// lost is not written twice. `close()` flushes what is left, within a deadline.
//
// A batch is bounded in bytes as well as in events (long client ids and escaped names make some events large), and
// one Gatehouse still finds too large (413) is split in two rather than dropped; an event older than Gatehouse
// accepts (7 days: a long outage) is dropped and counted instead of making its whole batch refused.
import { randomUUID } from 'node:crypto';
import { backoffMs, type GatehouseApi } from './gatehouse-api.js';
import type { RefusedOutcome } from './tool-call-recorder.js';

export interface ToolCallEvent {
  /** ISO 8601, UTC. */
  at: string;
  tool: string;
  sub: string;
  client_id: string;
  scopes: string[];
  outcome: 'allowed' | 'tool_error' | 'unknown' | RefusedOutcome;
  duration_ms: number;
  arguments_sha256: string;
}

export interface QueueOptions {
  /** Most events held; default 10,000 (a few MB at most). */
  limit?: number | undefined;
  /** Events per batch; default and most 500 (Gatehouse's limit): fewer, larger batches cost the server less. */
  batchSize?: number | undefined;
  /** How long an event may wait for a batch to fill; default 1 s. */
  flushIntervalMs?: number | undefined;
}

export interface QueueStats {
  /** Events waiting to be sent. */
  queued: number;
  /** Events Gatehouse has accepted. */
  sent: number;
  /** Events dropped since start: the queue was full, or Gatehouse refused a batch as malformed. */
  dropped: number;
  /** Sends that failed (each is retried, but a refused batch). */
  failures: number;
  lastError?: string | undefined;
}

/** Under Gatehouse's 1 MiB body limit, with room for the envelope. */
export const MAX_BATCH_BYTES = 768 * 1024;
/** Gatehouse accepts events of the last 7 days; an hour's margin for clocks and the send itself. */
const MAX_EVENT_AGE_MS = 7 * 86_400_000 - 3_600_000;

/** An upper bound on an event's JSON size: every character of its free text escaped at worst (\u00XX). */
export function eventBytes(e: ToolCallEvent): number {
  let text = e.tool.length + e.sub.length + e.client_id.length;
  for (const s of e.scopes) text += s.length + 3;
  return 256 + 6 * text;
}

export class ToolCallQueue {
  readonly #events: ToolCallEvent[] = [];
  readonly #limit: number;
  readonly #batchSize: number;
  readonly #flushMs: number;
  #batch: { id: string; size: number } | undefined;
  /** Dropped and not yet told to Gatehouse. */
  #untold = 0;
  #stats: QueueStats = { queued: 0, sent: 0, dropped: 0, failures: 0 };
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> | undefined;
  #closed = false;

  constructor(
    private readonly api: GatehouseApi,
    options: QueueOptions = {},
    private readonly onError?: (err: Error) => void,
  ) {
    this.#limit = positive(options.limit, 10_000, 'limit');
    this.#batchSize = Math.min(500, positive(options.batchSize, 500, 'batchSize'));
    this.#flushMs = positive(options.flushIntervalMs, 1000, 'flushIntervalMs');
  }

  push(event: ToolCallEvent): void {
    if (this.#closed || this.#events.length >= this.#limit) {
      this.#stats.dropped += 1;
      this.#untold += 1;
      return;
    }
    this.#events.push(event);
    if (this.#events.length >= this.#batchSize && !this.#sending && this.#attempt === 0) this.#schedule(0);
    else this.#schedule(this.#flushMs);
  }

  stats(): QueueStats {
    return { ...this.#stats, queued: this.#events.length };
  }

  /** Sends what is queued until it is empty, Gatehouse refuses, or `timeoutMs` passes; then stops. */
  async close(timeoutMs = 5000): Promise<QueueStats> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const deadline = Date.now() + timeoutMs;
    while ((this.#events.length || this.#untold) && Date.now() < deadline) {
      await this.#sending;
      const ok = await this.#sendOne();
      if (!ok) await sleep(Math.min(backoffMs(this.#attempt, 100, 1000), Math.max(0, deadline - Date.now())));
    }
    return this.stats();
  }

  /** One timer at a time: an earlier wake-up replaces a later one. */
  #schedule(delayMs: number): void {
    if (this.#closed) return;
    if (this.#timer && delayMs > 0) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#drain();
    }, delayMs);
    this.#timer.unref();
  }

  async #drain(): Promise<void> {
    if (this.#sending) return;
    while (!this.#closed && (this.#events.length || this.#untold)) {
      if (!(await this.#sendOne())) {
        this.#schedule(backoffMs(this.#attempt));
        return;
      }
      if (this.#events.length < this.#batchSize) {
        if (this.#events.length) this.#schedule(this.#flushMs);
        return;
      }
    }
  }

  /** The head batch: at most batchSize events and MAX_BATCH_BYTES, and at least one. */
  #headBatch(): number {
    let bytes = 0;
    let n = 0;
    while (n < this.#events.length && n < this.#batchSize) {
      bytes += eventBytes(this.#events[n]!);
      if (n > 0 && bytes > MAX_BATCH_BYTES) break;
      n += 1;
    }
    return n;
  }

  /** Drops (and counts) the head events too old for Gatehouse to accept. */
  #dropStale(): void {
    const oldest = Date.now() - MAX_EVENT_AGE_MS;
    let n = 0;
    while (n < this.#events.length && Date.parse(this.#events[n]!.at) < oldest) n += 1;
    if (!n) return;
    this.#events.splice(0, n);
    this.#stats.dropped += n;
    this.#untold += n;
  }

  /** Sends the head batch once; true when Gatehouse took it (or refused it for good, and it was dropped). */
  async #sendOne(): Promise<boolean> {
    let done!: () => void;
    this.#sending = new Promise((resolve) => (done = resolve));
    try {
      if (!this.#batch) {
        this.#dropStale();
        this.#batch = { id: randomUUID(), size: this.#headBatch() };
      }
      const { id, size } = this.#batch;
      const dropped = this.#untold;
      const result = await this.api.postToolCalls({ batch_id: id, dropped, events: this.#events.slice(0, size) });
      if (result.ok) {
        this.#events.splice(0, size);
        this.#untold -= dropped;
        this.#stats.sent += size;
        this.#batch = undefined;
        this.#attempt = 0;
        return true;
      }
      this.#stats.failures += 1;
      this.#stats.lastError = result.error.message;
      this.onError?.(result.error);
      if (result.status === 413 && size > 1) {
        // Too large after all: the first half goes again at once, under a new id (the refused one wrote nothing).
        this.#batch = { id: randomUUID(), size: Math.ceil(size / 2) };
        return true;
      }
      if (!result.retry) {
        // Malformed for Gatehouse: the same batch would be refused forever and hold back every later one.
        this.#events.splice(0, size);
        this.#stats.dropped += size;
        this.#untold += size;
        this.#batch = undefined;
        return true;
      }
      this.#attempt += 1;
      return false;
    } finally {
      this.#sending = undefined;
      done();
    }
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`report.${name} must be a positive integer`);
  return value;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
