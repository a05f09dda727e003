// A batch of tool calls an MCP server reports (docs/MCP-SERVER-REPORTING.md, "POST /mcp-server/tool-calls"): the
// whole batch is validated first (report-schemas.ts), then, in one transaction, its id is taken and every event
// becomes one audit row at the event's own time. A batch id accepted before is a duplicate and writes nothing; two
// concurrent replays meet the primary key of `tool_call_batches` (this module's table; per resource, so one server
// cannot spoil another's ids), and the one that loses is answered as a duplicate too, its transaction rolled back.
import type { Knex } from 'knex';
import type { AuditEvent, AuditLog } from '../audit/writer.js';
import { affectedRows } from '../db/affected-rows.js';
import type { Db } from '../db/connection.js';
import type { Reporter } from './reporter-client.js';
import type { CallOutcome, ToolCallEvent, ToolCallsBody } from './report-schemas.js';

/** The contract's table: each outcome's audit type, outcome and reason. */
const OUTCOME_ROWS: Record<CallOutcome, Pick<AuditEvent, 'type' | 'outcome' | 'reason'>> = {
  allowed: { type: 'tool.called', outcome: 'success' },
  tool_error: { type: 'tool.called', outcome: 'failure', reason: 'tool_error' },
  unknown: { type: 'tool.called', outcome: 'failure', reason: 'result_unknown' },
  refused_scope: { type: 'tool.refused', outcome: 'failure', reason: 'insufficient_scope' },
  refused_unmapped: { type: 'tool.refused', outcome: 'failure', reason: 'unmapped_tool' },
  refused_batch: { type: 'tool.refused', outcome: 'failure', reason: 'refused_with_batch' },
  // held for a person's approval (docs/TOOL-APPROVALS.md): not run, or rejected
  approval_required: { type: 'tool.refused', outcome: 'failure', reason: 'approval_required' },
  approval_rejected: { type: 'tool.refused', outcome: 'failure', reason: 'approval_rejected' },
};

/** Batch ids are kept a day longer than the oldest event a batch may carry (7 days). */
const BATCH_ID_DAYS = 8;

function auditRowOf(e: ToolCallEvent, reporter: Reporter): AuditEvent & { at: Date } {
  return {
    ...OUTCOME_ROWS[e.outcome],
    at: new Date(e.at),
    actor: e.sub,
    clientId: e.client_id,
    resource: reporter.resource,
    details: { tool: e.tool, result: e.outcome, scopes: e.scopes, duration_ms: e.duration_ms, arguments_sha256: e.arguments_sha256, reporter: reporter.clientId },
  };
}

// 23505 unique_violation, on PostgreSQL and PGlite alike.
const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

class Duplicate extends Error {}

export async function acceptToolCalls(db: Db, audit: AuditLog, reporter: Reporter, batch: ToolCallsBody, now = new Date()): Promise<{ accepted: number; duplicate: boolean }> {
  const rows = batch.events.map((e) => auditRowOf(e, reporter));
  if (batch.dropped > 0) {
    rows.push({ type: 'tool.calls_dropped', outcome: 'failure', at: now, actor: reporter.clientId, clientId: reporter.clientId, resource: reporter.resource, reason: 'the reporter\'s queue was full', details: { dropped: batch.dropped, reporter: reporter.clientId } });
  }
  try {
    await db.transaction(async (trx: Knex.Transaction) => {
      // A UUID in either case is one id. `on conflict do nothing` rather than a caught error: an error would abort the transaction on PostgreSQL.
      const taken = (await trx('tool_call_batches').insert({ batch_id: batch.batch_id.toLowerCase(), resource: reporter.resource, accepted_at: now }).onConflict(['resource', 'batch_id']).ignore().returning('batch_id')) as unknown[];
      if (!taken.length) throw new Duplicate();
      await audit.insertReported(rows, trx);
    });
  } catch (err) {
    if (err instanceof Duplicate || isUniqueViolation(err)) return { accepted: 0, duplicate: true };
    throw err;
  }
  return { accepted: batch.events.length, duplicate: false };
}

/** Forgets batch ids older than BATCH_ID_DAYS (run with the audit retention purge, gatehouse.ts). */
export async function deleteOldBatchIds(db: Db, days = BATCH_ID_DAYS): Promise<number> {
  return affectedRows(await db.raw('delete from tool_call_batches where accepted_at < ?', [new Date(Date.now() - days * 86_400_000)]));
}
