// Reading the audit log (docs/ARCHITECTURE.md, "The admin service layer"): a filtered query, newest first, paged by
// event id, and the export of a filter as a stream (at most 100,000 rows a call; the cursor continues below the
// last). An export is itself audited with its actor, whichever door it came through.
import type { AuditLog } from '../audit/writer.js';
import { auditExport, auditPage, AuditFilterError, FILTER_FIELDS, parseAuditQuery, EXPORT_CAP, type AuditFilter, type AuditRow } from '../audit/queries.js';
import type { Db } from '../db/connection.js';
import { auditedBy, type Actor } from './actor.js';
import { AdminError } from './admin-error.js';
import { decodeCursor, encodeCursor, pageLimit, type Page, type PageRequest } from './page.js';

export type AuditFilterInput = Partial<Record<(typeof FILTER_FIELDS)[number], string>>;

/** An audit event as administration shows it (the export's line). */
export function auditRecord(e: AuditRow) {
  return {
    id: e.id,
    at: e.at.toISOString(),
    type: e.type,
    outcome: e.outcome,
    actor: e.actor,
    client_id: e.clientId,
    resource: e.resource,
    ip: e.ip,
    user_agent: e.userAgent,
    reason: e.reason,
    details: e.details,
    request_id: e.requestId,
  };
}

function filterOf(input: AuditFilterInput): AuditFilter {
  try {
    return parseAuditQuery(input).filter;
  } catch (err) {
    if (!(err instanceof AuditFilterError)) throw err;
    const [field, message] = Object.entries(err.problems)[0]!;
    throw new AdminError('invalid_request', message, field);
  }
}

function below(cursor: string | undefined): number | undefined {
  const key = decodeCursor(cursor);
  if (!key) return undefined;
  const id = key[0];
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw new AdminError('invalid_request', 'The cursor is not one this server gave.', 'cursor');
  return id;
}

export class AuditAdmin {
  constructor(private readonly deps: { db: Db; audit: AuditLog }) {}

  /** Events matching the filter, newest first. */
  async query(input: AuditFilterInput, request: PageRequest = {}): Promise<Page<AuditRow>> {
    const filter = filterOf(input);
    const limit = pageLimit(request);
    const { events, older } = await auditPage(this.deps.db, { filter, before: below(request.cursor) }, limit);
    return { items: events, next: older ? encodeCursor([older]) : null };
  }

  /** The filtered set as rows to stream, audited as `audit.exported`; `next` continues when the cap cut it. */
  async export(actor: Actor, input: AuditFilterInput, request: { cursor?: string | undefined; limit?: number | undefined; format: string }): Promise<{ count: number; rows: () => AsyncGenerator<AuditRow>; next: string | null }> {
    const filter = filterOf(input);
    const cap = request.limit ?? EXPORT_CAP;
    if (!Number.isInteger(cap) || cap < 1 || cap > EXPORT_CAP) throw new AdminError('invalid_request', `limit must be a whole number from 1 to ${EXPORT_CAP}.`, 'limit');
    const { count, rows, next } = await auditExport(this.deps.db, filter, cap, below(request.cursor));
    const given = Object.fromEntries(Object.entries(input).filter(([, v]) => v));
    const { via, actorId, ...who } = auditedBy(actor);
    await this.deps.audit.record({ type: 'audit.exported', outcome: 'success', ...who, details: { format: request.format, filter: given, rows: count, via, actorId } });
    return { count, rows, next: next ? encodeCursor([next]) : null };
  }
}
