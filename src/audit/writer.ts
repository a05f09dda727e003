// The one audit writer every module calls: security-relevant events with who, what client, what
// resource, from where, and why a refusal happened. Never secrets: details are filtered by key name as a backstop.
import type { IncomingMessage } from 'node:http';
import type { Knex } from 'knex';
import { affectedRows } from '../db/affected-rows.js';
import type { Db } from '../db/connection.js';
import { scoped, transactionOpen } from '../db/transaction-scope.js';
import { storable } from '../db/storable-text.js';
import type { Logger } from '../log.js';
import { requestIdOf } from '../request-id.js';
import { InsertBatch } from '../db/insert-batch.js';
import { RepeatedRefusals } from './repeats.js';

export type AuditOutcome = 'success' | 'failure';

export interface AuditEvent {
  type: string; // e.g. login, consent.granted, token.issued, authorization.refused
  outcome: AuditOutcome;
  actor?: string | undefined; // account id or email, "cli", "system"
  clientId?: string | undefined;
  resource?: string | undefined;
  ip?: string | undefined;
  userAgent?: string | undefined;
  reason?: string | undefined;
  details?: Record<string, unknown> | undefined;
  /** The request that caused it (request-id.ts): the same id as its log line and any error page it showed. */
  requestId?: string | undefined;
}

/** Where a request came from, as every audit event records it. */
export function requestOrigin(ctx: { ip: string; get(header: string): string; req?: IncomingMessage }): Pick<AuditEvent, 'ip' | 'userAgent' | 'requestId'> {
  return { ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined, requestId: requestIdOf(ctx) };
}

const SECRET_KEY_NAMES = /secret|password|token|code|verifier|cookie|authorization|assertion/i;

function scrub(details: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (!details) return null;
  return Object.fromEntries(Object.entries(details).filter(([k]) => !SECRET_KEY_NAMES.test(k)));
}

// Audited values quote what a client sent: see db/storable-text.ts for why they are made storable first. Each field
// is clipped, and so is every value in `details` and the details as a whole: an unauthenticated request must not be
// able to store more than a few kilobytes (issue 16, finding 3; docs/SECURITY.md).
export const FIELD_LIMITS = { request_id: 64, actor: 320, client_id: 2048, resource: 2048, ip: 64, user_agent: 512, reason: 1000 } as const;
/** The most a row's `details` may take, as JSON text in UTF-8 bytes. */
export const DETAILS_MAX_BYTES = 4096;
const DETAIL_STRING = 512;
const DETAIL_ITEMS = 100; // array items and object keys
const DETAIL_DEPTH = 4;

const clip = (v: string | undefined, n: number) => (v === undefined ? null : storable(v.slice(0, n)));

/** A copy of a details value with each string, array, object and the nesting bounded; storable text only. */
function bounded(value: unknown, chars: number, depth = 0): unknown {
  if (typeof value === 'string') return storable(value.slice(0, chars));
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? String(value) : value;
  if (value instanceof Date) return value.toISOString();
  if (depth >= DETAIL_DEPTH) return '[nested too deep]';
  if (Array.isArray(value)) return value.slice(0, DETAIL_ITEMS).map((v) => bounded(v, chars, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .slice(0, DETAIL_ITEMS)
      .map(([k, v]) => [storable(k.slice(0, 64)), bounded(v, chars, depth + 1)]),
  );
}

/** The details as stored: clipped values, and never more than DETAILS_MAX_BYTES of JSON (shorter clips, then keys). */
export function detailsJson(details: Record<string, unknown> | null): string | null {
  if (!details) return null;
  for (const chars of [DETAIL_STRING, 64]) {
    const json = JSON.stringify(bounded(details, chars));
    if (Buffer.byteLength(json) <= DETAILS_MAX_BYTES) return json;
  }
  const keys = Object.keys(details).slice(0, 40).map((k) => storable(k.slice(0, 64)));
  return JSON.stringify({ truncated: true, keys });
}

type AuditRow = Record<string, string | null>;

export function toRow(event: AuditEvent): AuditRow {
  return {
    type: event.type,
    outcome: event.outcome,
    actor: clip(event.actor, FIELD_LIMITS.actor),
    client_id: clip(event.clientId, FIELD_LIMITS.client_id),
    resource: clip(event.resource, FIELD_LIMITS.resource),
    ip: clip(event.ip, FIELD_LIMITS.ip),
    user_agent: clip(event.userAgent, FIELD_LIMITS.user_agent),
    reason: clip(event.reason, FIELD_LIMITS.reason),
    details: detailsJson(scrub(event.details)),
    request_id: clip(event.requestId, FIELD_LIMITS.request_id),
  };
}

export interface AuditOptions {
  /** Refusals of one type from one source written in full per window; the rest are counted (audit/repeats.ts). */
  repeatLimit?: number;
  repeatWindowMs?: number;
}

export const REPEAT_WINDOW_MS = 60_000;
/** Old rows deleted per statement, so a first purge of years of rows holds no long lock nor meets the timeout. */
export const PURGE_BATCH = 5_000;

export class AuditLog {
  private readonly observers: Array<(event: AuditEvent) => void> = [];
  readonly #batch: InsertBatch<AuditRow>;
  readonly #repeats: RepeatedRefusals;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    options: AuditOptions = {},
  ) {
    this.#repeats = new RepeatedRefusals({ limit: options.repeatLimit ?? 10, windowMs: options.repeatWindowMs ?? REPEAT_WINDOW_MS });
    this.#batch = new InsertBatch<AuditRow>(
      (rows) => this.db('audit_events').insert(rows),
      // An audit failure must be visible to operators but must not turn a user's request into a 500.
      (err, rows) => this.log.error({ err, auditTypes: [...new Set(rows.map((r) => r.type))] }, 'audit event could not be written'),
    );
  }

  /** Calls `observer` with every event as it is recorded (the metrics count tokens, refusals, registrations). */
  observe(observer: (event: AuditEvent) => void): void {
    this.observers.push(observer);
  }

  /**
   * Records one event. Every event reaches the observers; a refusal repeated from one source beyond the window's
   * limit is only counted, and written later as part of one summary row (audit/repeats.ts).
   */
  async record(event: AuditEvent): Promise<void> {
    for (const observer of this.observers) {
      try {
        observer(event);
      } catch (err) {
        this.log.error({ err, auditType: event.type }, 'audit observer failed');
      }
    }
    const { write, summary } = this.#repeats.admit(event);
    if (summary) await this.#batch.add(toRow(summary));
    if (!write) return;
    const row = toRow(event);
    if (transactionOpen()) {
      // Inside a unit of work (consent) the row commits or rolls back with it; a failed insert has aborted the
      // transaction, so the unit must fail rather than commit without its audit row.
      await scoped(this.db)('audit_events').insert(row);
      return;
    }
    await this.#batch.add(row);
  }

  /**
   * Writes rows an authenticated MCP server reports (docs/MCP-SERVER-REPORTING.md, "POST /mcp-server/tool-calls"),
   * each at the time it happened, inside the caller's transaction so they commit with the batch id that makes a
   * replay a no-op. They bypass the repeat limiter on purpose: a server's `tool.refused` rows are its users' calls,
   * not one source's flood, and the batch itself is bounded (500 events, rate-limited per address). Shaped and
   * clipped exactly as `record` shapes its rows.
   */
  async insertReported(events: ReadonlyArray<AuditEvent & { at: Date }>, trx: Knex.Transaction): Promise<void> {
    const rows = events.map((e) => ({ ...toRow(e), at: e.at }));
    // Well under PostgreSQL's 65,535 bind parameters per statement (10 columns a row).
    for (let i = 0; i < rows.length; i += 1000) await trx('audit_events').insert(rows.slice(i, i + 1000));
  }

  /** Writes the summaries of repeat windows that have ended (every window with `all`, at shutdown). */
  async flushRepeats(all = false): Promise<void> {
    await Promise.all(this.#repeats.drain(Date.now(), all).map((summary) => this.#batch.add(toRow(summary))));
  }

  /**
   * Deletes the events older than `days` (AUDIT_RETENTION_DAYS), `batchSize` rows per statement, until none is
   * left; several instances may run it at once (each deletes what the others have not).
   */
  async deleteOlderThan(days: number, batchSize = PURGE_BATCH): Promise<{ deleted: number; batches: number; before: Date }> {
    const before = new Date(Date.now() - days * 86_400_000);
    let deleted = 0;
    let batches = 0;
    for (;;) {
      const n = affectedRows(await this.db.raw('delete from audit_events where id in (select id from audit_events where at < ? order by id limit ?)', [before, batchSize]));
      batches += 1;
      deleted += n;
      if (n < batchSize) return { deleted, batches, before };
    }
  }

  async recent(filter: { type?: string; limit?: number } = {}): Promise<Array<Record<string, unknown>>> {
    const q = this.db('audit_events').orderBy('id', 'desc').limit(Math.min(filter.limit ?? 100, 1000));
    if (filter.type) q.where({ type: filter.type });
    return q;
  }
}
