// The two reporting endpoints (docs/MCP-SERVER-REPORTING.md), each behind the per-address rate limit of the policy
// table (src/policy-table.ts). Order: authenticate the reporter (401/403), read and check the whole body (413/400),
// check the body's resource is the reporter's (403), then write. A refusal at any step writes nothing but its
// `mcp_server.report.refused` audit row (report-refusal.ts).
import type { Context, Middleware } from 'koa';
import { answerJson, type RateLimits } from '../http/rate-limits.js';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import type { Db } from '../db/connection.js';
import type { McpServerInventories } from './inventory.js';
import { INVENTORY_BODY_LIMIT, readReportJson, TOOL_CALLS_BODY_LIMIT } from './report-body.js';
import { answerRefusal, ReportRefusal } from './report-refusal.js';
import { inventoryBody, parseReport, toolCallsBody } from './report-schemas.js';
import { authenticateReporter, checkResource, type ReporterDeps } from './reporter-client.js';
import { acceptToolCalls } from './tool-calls.js';

export interface ReportingDeps extends ReporterDeps {
  db: Db;
  audit: AuditLog;
  inventories: McpServerInventories;
}

/**
 * A report costs its source one point of the token endpoint's per-address budget (TOKEN_RATE_LIMIT_IP per
 * TOKEN_RATE_WINDOW), counted before the secret is checked, so guessing secrets here and at /token shares one
 * bound (docs/SECURITY.md, "Rate limits"). A report whose reporter authenticated gets its point back: a busy MCP
 * server ships a batch a second and must never starve itself, or the clients behind its address, of /token.
 */
export function reportRateLimit(limits: RateLimits): Middleware {
  return async (ctx, next) => {
    const refusal = await limits.check(ctx, [[limits.tokenIp, ctx.ip]]);
    if (refusal) return answerJson(ctx, refusal);
    await next();
    if (ctx.state.reporterAuthenticated === true) await limits.tokenIp.refund(ctx.ip);
  };
}

/**
 * One endpoint an MCP server calls as its own client: authenticate it, run `work` (which reads the body), answer its
 * result, or answer and audit the refusal (`refusalType`: the approval endpoint's are `tool.approval.refused`).
 */
export function reportHandler(
  deps: ReporterDeps & { audit: AuditLog },
  endpoint: 'inventory' | 'tool-calls' | 'tool-approvals',
  work: (ctx: Context, reporter: Awaited<ReturnType<typeof authenticateReporter>>) => Promise<unknown>,
  refusalType?: string,
): Middleware {
  return async (ctx) => {
    let resource: string | undefined;
    try {
      const reporter = await authenticateReporter(ctx.get('authorization'), deps);
      ctx.state.reporterAuthenticated = true;
      resource = reporter.resource;
      ctx.status = 200;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await work(ctx, reporter);
    } catch (err) {
      if (!(err instanceof ReportRefusal)) throw err;
      await answerRefusal(ctx, deps.audit, err, endpoint, resource, refusalType);
    }
  };
}

export function inventoryRoute(deps: ReportingDeps): Middleware {
  return reportHandler(deps, 'inventory', async (ctx, reporter) => {
    const body = parseReport(inventoryBody, await readReportJson(ctx, INVENTORY_BODY_LIMIT, reporter.clientId), reporter.clientId);
    checkResource(reporter, body.resource);
    const { changed, tools, reportedAt } = await deps.inventories.replace(reporter, body, requestOrigin(ctx));
    return { resource: reporter.resource, tools, changed, reported_at: reportedAt.toISOString() };
  });
}

export function toolCallsRoute(deps: ReportingDeps): Middleware {
  return reportHandler(deps, 'tool-calls', async (ctx, reporter) => {
    const now = new Date();
    const body = parseReport(toolCallsBody(now.getTime()), await readReportJson(ctx, TOOL_CALLS_BODY_LIMIT, reporter.clientId), reporter.clientId);
    checkResource(reporter, body.resource);
    return acceptToolCalls(deps.db, deps.audit, reporter, body, now);
  });
}
