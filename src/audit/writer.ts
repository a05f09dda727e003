// The one audit writer every module calls (DESIGN.md §7): security-relevant events with who, what client, what
// resource, from where, and why a refusal happened. Never secrets: details are filtered by key name as a backstop.
import type { Db } from '../db/connection.js';
import { scoped, transactionOpen } from '../db/transaction-scope.js';
import { storable } from '../db/storable-text.js';
import type { Logger } from '../log.js';
import { InsertBatch } from '../db/insert-batch.js';

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
}

/** Where a request came from, as every audit event records it. */
export function requestOrigin(ctx: { ip: string; get(header: string): string }): Pick<AuditEvent, 'ip' | 'userAgent'> {
  return { ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined };
}

const SECRET_KEY_NAMES = /secret|password|token|code|verifier|cookie|authorization|assertion/i;

function scrub(details: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (!details) return null;
  return Object.fromEntries(Object.entries(details).filter(([k]) => !SECRET_KEY_NAMES.test(k)));
}

// Audited values quote what a client sent: see db/storable-text.ts for why they are made storable first.

const clip = (v: string | undefined, n: number) => (v === undefined ? null : storable(v.slice(0, n)));

type AuditRow = Record<string, string | null>;

function toRow(event: AuditEvent): AuditRow {
  const details = scrub(event.details);
  return {
    type: event.type,
    outcome: event.outcome,
    actor: clip(event.actor, 320),
    client_id: clip(event.clientId, 2048),
    resource: clip(event.resource, 2048),
    ip: clip(event.ip, 64),
    user_agent: clip(event.userAgent, 512),
    reason: clip(event.reason, 1000),
    details: details === null ? null : JSON.stringify(details, (_k, v: unknown) => (typeof v === 'string' ? storable(v) : v)),
  };
}

export class AuditLog {
  private readonly observers: Array<(event: AuditEvent) => void> = [];
  readonly #batch: InsertBatch<AuditRow>;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {
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

  async record(event: AuditEvent): Promise<void> {
    for (const observer of this.observers) {
      try {
        observer(event);
      } catch (err) {
        this.log.error({ err, auditType: event.type }, 'audit observer failed');
      }
    }
    const row = toRow(event);
    if (transactionOpen()) {
      // Inside a unit of work (consent) the row commits or rolls back with it; a failed insert has aborted the
      // transaction, so the unit must fail rather than commit without its audit row.
      await scoped(this.db)('audit_events').insert(row);
      return;
    }
    await this.#batch.add(row);
  }

  async recent(filter: { type?: string; limit?: number } = {}): Promise<Array<Record<string, unknown>>> {
    const q = this.db('audit_events').orderBy('id', 'desc').limit(Math.min(filter.limit ?? 100, 1000));
    if (filter.type) q.where({ type: filter.type });
    return q;
  }
}
