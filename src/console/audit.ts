// Console: the audit log. Filter by type (exact, or a prefix such as client.*), outcome, person (a part of the actor,
// case-insensitive), client and resource (exact) and a time range (UTC); newest first, 50 a page by id (keyset);
// and the filtered set exported as JSON Lines or CSV, streamed in batches (at most 100,000 rows), itself audited.
import { consoleRouter } from './router.js';
import { Readable } from 'node:stream';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { auditPage, auditTypes, AuditFilterError, FILTER_FIELDS, parseAuditQuery, type AuditQuery, type AuditRow, type FilterField } from '../audit/queries.js';
import type { ConsoleDeps } from './deps.js';
import { inLane } from '../admin/serialized.js';
import { personActor } from '../admin/actor.js';
import { AuditAdmin, auditRecord } from '../admin/audit.js';
import { requestOrigin } from '../audit/writer.js';
import { consoleState } from './guard.js';

const COLUMNS = ['id', 'at', 'type', 'outcome', 'actor', 'client_id', 'resource', 'ip', 'user_agent', 'reason', 'details', 'request_id'] as const;

// One shape for an exported event, the admin API's (admin/audit.ts).
const record = (e: AuditRow): Record<(typeof COLUMNS)[number], unknown> => auditRecord(e);

// Formula starts (= + - @) a spreadsheet would evaluate: at the start of a cell, and after any character a
// spreadsheet may split on, since one opening the file in a semicolon (or tab) locale splits `x;=1+2` in a
// User-Agent into a cell of its own (issue 16, finding 9; OWASP "CSV Injection"). Quotes may stand between.
const FORMULA_START = /(^|[;,\t\r\n])(["\s]*)(?=[=+\-@\t\r])/g;

/**
 * One CSV cell (RFC 4180), always quoted; every formula start, at the start of the cell or after a separator, gets
 * an apostrophe so it opens as text.
 */
export function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return `"${text.replace(FORMULA_START, "$1$2'").replace(/"/g, '""')}"`;
}

const csvLine = (cells: unknown[]) => `${cells.map(csvCell).join(',')}\r\n`;

// What a few events mean, in words, beside their type (the type stays the thing to filter by).
const IN_WORDS: Record<string, string> = {
  'token.refresh.reused': 'refresh token reused — grant revoked',
  'token.issued': 'tokens issued',
  'token.refreshed': 'tokens refreshed',
  'token.refused': 'token request refused',
  'token.revoked': 'token revoked by its client',
  'grant.revoked': 'grant revoked',
  'authorization.refused': 'authorization refused',
  'console.refused': 'console request refused',
};

/**
 * The type filter's list: the types the log holds (audit/queries.ts auditTypes, bounded), and for each family of
 * two or more (client.created, client.updated…) its prefix (client.*), which the filter also takes.
 */
function typeChoices(types: string[]): Array<{ value: string; label: string }> {
  const families = new Map<string, number>();
  for (const t of types) {
    const dot = t.indexOf('.');
    if (dot > 0) families.set(t.slice(0, dot), (families.get(t.slice(0, dot)) ?? 0) + 1);
  }
  const prefixes = [...families].filter(([, n]) => n > 1).map(([f]) => ({ value: `${f}.*`, label: `every ${f}.… event` }));
  return [...prefixes, ...types.map((t) => ({ value: t, label: IN_WORDS[t] ?? '' }))].sort((a, b) => a.value.localeCompare(b.value));
}

/** The query string of a filter (only the fields given), with an optional page position. */
function queryString(values: Record<FilterField, string>, extra: Record<string, string | number> = {}): string {
  const q = new URLSearchParams();
  for (const f of FILTER_FIELDS) if (values[f]) q.set(f, values[f]);
  for (const [k, v] of Object.entries(extra)) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function auditPages(deps: ConsoleDeps): Router {
  const router = consoleRouter();
  const { pages, db } = deps;
  const auditLog = inLane(new AuditAdmin({ db, audit: deps.audit }), deps);

  /** The page's filter, or undefined once the 400 page naming the bad values has been rendered. */
  const parsed = async (ctx: Context): Promise<AuditQuery | undefined> => {
    try {
      return parseAuditQuery(ctx.query);
    } catch (err) {
      if (!(err instanceof AuditFilterError)) throw err;
      pages.render(ctx, 'audit', 'audit', { title: 'Audit log', values: err.values, problems: err.problems, events: [], links: {}, types: typeChoices(await auditTypes(db)) }, 400);
      return undefined;
    }
  };

  router.get('/console/audit', async (ctx) => {
    const query = await parsed(ctx);
    if (!query) return;
    const [{ events, older, newer }, types] = await Promise.all([auditPage(db, query), auditTypes(db)]);
    const filterQuery = queryString(query.values);
    pages.render(ctx, 'audit', 'audit', {
      title: 'Audit log',
      values: query.values,
      problems: {},
      types: typeChoices(types),
      // The person by email when the actor is an account id (token events), the id kept for a hover; the details
      // indented, so the page can wrap them between keys and values rather than inside a word.
      events: events.map((e) => ({
        ...e,
        at: e.at.toISOString().slice(0, 19).replace('T', ' '),
        person: e.actorEmail ?? e.actor ?? '',
        actorId: e.actorEmail ? e.actor : undefined,
        inWords: IN_WORDS[e.type],
        details: e.details ? JSON.stringify(e.details, null, 2) : '',
      })),
      links: {
        newer: newer ? pages.url(`/audit${queryString(query.values, { after: newer })}`) : undefined,
        older: older ? pages.url(`/audit${queryString(query.values, { before: older })}`) : undefined,
        newest: query.before || query.after ? pages.url(`/audit${filterQuery}`) : undefined,
        jsonl: pages.url(`/audit/export.jsonl${filterQuery}`),
        csv: pages.url(`/audit/export.csv${filterQuery}`),
      },
    });
  });

  for (const format of ['jsonl', 'csv'] as const) {
    router.get(`/console/audit/export.${format}`, async (ctx) => {
      const query = await parsed(ctx);
      if (!query) return;
      // The service layer exports and audits it (`audit.exported`, the admin as actor), as for the admin API.
      const { rows } = await auditLog.export(personActor(consoleState(ctx).account, requestOrigin(ctx)), query.values, { format });
      async function* lines(): AsyncGenerator<string> {
        if (format === 'csv') yield csvLine([...COLUMNS]);
        for await (const e of rows()) {
          const r = record(e);
          yield format === 'csv' ? csvLine(COLUMNS.map((c) => r[c])) : `${JSON.stringify(r)}\n`;
        }
      }
      const day = new Date().toISOString().slice(0, 10);
      ctx.status = 200;
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Content-Disposition', `attachment; filename="gatehouse-audit-${day}.${format}"`);
      ctx.type = format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8';
      ctx.body = Readable.from(lines());
    });
  }

  return router;
}
