// The admin API's audit log (docs/ADMIN-API.md, "Audit"): a filtered query paged by cursor, and the export of a
// filter as a JSON Lines stream (at most 100,000 lines a call; `Gatehouse-Next-Cursor` continues below the last).
import { Readable } from 'node:stream';
import { z } from 'zod';
import { auditRecord } from '../../admin/audit.js';
import { EXPORT_CAP } from '../../audit/queries.js';
import { operation, type Operation } from '../operation.js';
import { PageQuery, pageOf, text } from '../schemas.js';

const AuditEvent = z
  .object({
    id: z.number().int(),
    at: z.string(),
    type: z.string(),
    outcome: z.string(),
    actor: z.string().nullable(),
    client_id: z.string().nullable(),
    resource: z.string().nullable(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    reason: z.string().nullable(),
    details: z.record(z.string(), z.unknown()).nullable(),
    request_id: z.string().nullable().meta({ description: 'The request that wrote the event: its X-Request-Id, shown on any error page it answered with.' }),
  })
  .meta({ id: 'AuditEvent' });

const Filter = z.object({
  type: text(101).optional().meta({ description: 'An exact type, or a prefix ending in * (client.*).' }),
  outcome: z.enum(['success', 'failure']).optional(),
  actor: text(2048).optional().meta({ description: 'Part of the actor, case-insensitive.' }),
  client: text(2048).optional().meta({ description: 'The exact client_id.' }),
  resource: text(2048).optional().meta({ description: 'The exact resource URI.' }),
  tool: text(256).optional().meta({ description: 'The exact tool name of a reported tool call.' }),
  request: text(36).optional().meta({ description: 'The exact request id (X-Request-Id; the "Request id" of an error page).' }),
  from: text(30).optional().meta({ description: 'From this UTC date or date-time on (2026-01-31, 2026-01-31T10:00).' }),
  to: text(30).optional().meta({ description: 'Up to the end of this UTC date or date-time.' }),
});

const filterOf = (q: z.output<typeof Filter>) => Object.fromEntries(Object.entries(q).filter(([k, v]) => k in Filter.shape && v !== undefined)) as Record<string, string>;

export const auditOperations: Operation[] = [
  operation(
    { id: 'queryAudit', method: 'get', path: '/audit', tag: 'Audit', summary: 'Audit events matching a filter, newest first', scope: 'admin:read', status: 200, query: PageQuery.extend(Filter.shape), response: pageOf(AuditEvent, 'AuditEventPage') },
    async ({ query, services }) => {
      const page = await services.audit.query(filterOf(query), { limit: query.limit, cursor: query.cursor });
      return { body: { items: page.items.map(auditRecord), next: page.next } };
    },
  ),
  operation(
    {
      id: 'exportAudit', method: 'get', path: '/audit/export', tag: 'Audit', summary: 'The events matching a filter as JSON Lines, newest first (audited)', scope: 'admin:read', status: 200,
      query: Filter.extend({ limit: z.coerce.number().int().min(1).max(EXPORT_CAP).optional(), cursor: z.string().max(2000).optional() }),
      produces: 'application/x-ndjson',
    },
    async ({ query, actor, services, ctx }) => {
      const { rows, next } = await services.audit.export(actor, filterOf(query), { cursor: query.cursor, limit: query.limit, format: 'jsonl' });
      async function* lines(): AsyncGenerator<string> {
        for await (const e of rows()) yield `${JSON.stringify(auditRecord(e))}\n`;
      }
      if (!ctx) {
        // In-process (the CLI on the database): the lines themselves.
        const out: string[] = [];
        for await (const line of lines()) out.push(line);
        return { body: { lines: out.join(''), next } };
      }
      ctx.status = 200;
      ctx.set('Cache-Control', 'no-store');
      if (next) ctx.set('Gatehouse-Next-Cursor', next);
      ctx.type = 'application/x-ndjson; charset=utf-8';
      ctx.body = Readable.from(lines());
      return {};
    },
  ),
];
