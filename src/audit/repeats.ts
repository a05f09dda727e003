// Repeated refusals from one source are written once a few times, then counted (issue 16, finding 3; docs/SECURITY.md
// "Issue 16: audit log growth and export"). An unauthenticated client could otherwise grow `audit_events` as fast as
// it can send requests. Per (type, source) and fixed window, the first `limit` refusals are written in full; the
// rest are only counted, and one summary row of the same type (`details.repeats`) is written when the window ends.
// Successes are never held back, and every refusal still reaches the observers (metrics count them all).
//
// State is per instance, in bounded memory: with N instances one source gets at most N × (limit + 1) rows per type
// and window, still a bound, and no database round trip is added to the path an attacker floods. At most
// MAX_SOURCES keys are tracked; beyond that new sources share one overflow tally per type, so neither the memory
// nor the rows grow with the number of addresses an attacker can use.
import { addressSource } from '../net/address-source.js';
import type { AuditEvent } from './writer.js';

export interface RepeatOptions {
  /** Refusals of one type from one source written in full per window. */
  limit: number;
  windowMs: number;
  /** Tallies kept at once (memory bound). */
  maxSources?: number;
}

const MAX_SOURCES = 5_000;
const MAX_REASONS = 3;
const REASON_CHARS = 200;
const OVERFLOW = '*';

interface Tally {
  type: string;
  source: string;
  ip: string | undefined;
  windowStart: number;
  written: number;
  suppressed: number;
  lastAt: number;
  reasons: Set<string>;
}

/** The source a refusal is counted under: the one rate limits use (net/address-source.ts), or `none`. */
export function sourceOf(ip: string | undefined): string {
  return ip ? addressSource(ip).slice(0, 64) : 'none';
}

export class RepeatedRefusals {
  readonly #tallies = new Map<string, Tally>();
  readonly #maxSources: number;

  constructor(private readonly options: RepeatOptions) {
    this.#maxSources = options.maxSources ?? MAX_SOURCES;
  }

  /**
   * Whether `event` is written in full, and the summary of an earlier window of its key that has just ended (if
   * anything in it was held back).
   */
  admit(event: AuditEvent, now = Date.now()): { write: boolean; summary?: AuditEvent } {
    if (event.outcome !== 'failure') return { write: true };
    const source = sourceOf(event.ip);
    let key = `${event.type}\u0000${source}`;
    if (!this.#tallies.has(key) && this.#tallies.size >= this.#maxSources) key = `${event.type}\u0000${OVERFLOW}`;
    let tally = this.#tallies.get(key);
    let summary: AuditEvent | undefined;
    if (tally && now - tally.windowStart >= this.options.windowMs) {
      summary = this.#summary(tally);
      tally = undefined;
    }
    if (!tally) {
      const overflow = key.endsWith(`\u0000${OVERFLOW}`);
      tally = { type: event.type, source: overflow ? OVERFLOW : source, ip: overflow ? undefined : event.ip, windowStart: now, written: 0, suppressed: 0, lastAt: now, reasons: new Set() };
      this.#tallies.set(key, tally);
    }
    tally.lastAt = now;
    if (tally.written < this.options.limit) {
      tally.written += 1;
      return { write: true, ...(summary ? { summary } : {}) };
    }
    tally.suppressed += 1;
    if (event.reason && tally.reasons.size < MAX_REASONS) tally.reasons.add(event.reason.slice(0, REASON_CHARS));
    return { write: false, ...(summary ? { summary } : {}) };
  }

  /** The summaries of windows that have ended (all of them with `all`), forgetting those tallies. */
  drain(now = Date.now(), all = false): AuditEvent[] {
    const out: AuditEvent[] = [];
    for (const [key, tally] of this.#tallies) {
      if (!all && now - tally.windowStart < this.options.windowMs) continue;
      this.#tallies.delete(key);
      const summary = this.#summary(tally);
      if (summary) out.push(summary);
    }
    return out;
  }

  get size(): number {
    return this.#tallies.size;
  }

  #summary(t: Tally): AuditEvent | undefined {
    if (!t.suppressed) return undefined;
    const seconds = Math.round(this.options.windowMs / 1000);
    return {
      type: t.type,
      outcome: 'failure',
      ip: t.ip,
      reason: `${t.suppressed} more ${t.type} refusals from ${t.source === OVERFLOW ? 'many sources' : 'this source'} within ${seconds} s were counted, not written one by one`,
      details: {
        repeats: t.suppressed,
        source: t.source,
        first_at: new Date(t.windowStart).toISOString(),
        last_at: new Date(t.lastAt).toISOString(),
        reasons: [...t.reasons],
      },
    };
  }
}
