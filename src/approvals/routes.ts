// POST /mcp-server/tool-approvals (docs/TOOL-APPROVALS.md): the MCP server, authenticated as its own confidential
// client exactly like the reporting API (reporting/routes.ts), asks whether one tool call may run. Order: the reporter
// (401/403), the body (413/400), its resource (403), then the service. Refusals are answered in the OAuth error format
// and audited as `tool.approval.refused`.
import type { Middleware } from 'koa';
import { z } from 'zod';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import { readReportJson } from '../reporting/report-body.js';
import { parseReport } from '../reporting/report-schemas.js';
import { checkResource, type ReporterDeps } from '../reporting/reporter-client.js';
import { reportHandler } from '../reporting/routes.js';
import type { ApprovalService } from './service.js';

export const APPROVAL_BODY_LIMIT = 256 * 1024;

const approvalBody = z.object({
  resource: z.string().min(1).max(2048),
  access_token: z.string().min(1).max(16_384),
  tool: z.string().min(1).max(256),
  arguments: z.record(z.string(), z.unknown()).default({}),
  arguments_digest: z.string().regex(/^[0-9a-f]{64}$/, 'is not a SHA-256 digest (64 lower-case hex digits)'),
});

export function toolApprovalsRoute(deps: ReporterDeps & { audit: AuditLog; approvals: ApprovalService }): Middleware {
  return reportHandler(
    deps,
    'tool-approvals',
    async (ctx, reporter) => {
      const body = parseReport(approvalBody, await readReportJson(ctx, APPROVAL_BODY_LIMIT, reporter.clientId), reporter.clientId);
      checkResource(reporter, body.resource);
      return deps.approvals.request(reporter, body, requestOrigin(ctx));
    },
    'tool.approval.refused',
  );
}
