// How a refused report is answered and audited (docs/MCP-SERVER-REPORTING.md, "Who may report"): the OAuth error
// format, 401 with a Basic challenge for a client that did not authenticate, and one `mcp_server.report.refused`
// event through AuditLog.record, so repeats from one source are counted rather than written one by one
// (docs/SECURITY.md, "Issue 16: audit log growth and export"). Never the secret.
import type { Context } from 'koa';
import { requestOrigin, type AuditLog } from '../audit/writer.js';

type ReportError = 'invalid_client' | 'unauthorized_client' | 'invalid_request';

export class ReportRefusal extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 413,
    readonly error: ReportError,
    /** What the audit row's reason says, and the reporter is told unless `told` is given. */
    readonly description: string,
    readonly clientId?: string,
    /** What the reporter is told instead (one answer for every failed authentication: which ids exist stays unsaid). */
    readonly told?: string,
  ) {
    super(description);
  }
}

export const invalidRequest = (description: string, clientId?: string, status: 400 | 413 = 400) => new ReportRefusal(status, 'invalid_request', description, clientId);

/** `type`: the audit event (the approval endpoint's refusals are `tool.approval.refused`, docs/TOOL-APPROVALS.md). */
export async function answerRefusal(ctx: Context, audit: AuditLog, refusal: ReportRefusal, endpoint: 'inventory' | 'tool-calls' | 'tool-approvals', resource?: string, type = 'mcp_server.report.refused'): Promise<void> {
  await audit.record({
    type,
    outcome: 'failure',
    clientId: refusal.clientId,
    resource,
    reason: refusal.description,
    details: { endpoint, error: refusal.error },
    ...requestOrigin(ctx),
  });
  ctx.status = refusal.status;
  if (refusal.status === 401) ctx.set('WWW-Authenticate', 'Basic realm="gatehouse"');
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: refusal.error, error_description: refusal.told ?? refusal.description };
}
