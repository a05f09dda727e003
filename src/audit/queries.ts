// Reading the audit log (this module's table, `audit_events`): a filter parsed from a page's query parameters
// (every value hostile until checked), pages by id descending (keyset: `before`/`after` an id), and an export that
// reads in batches up to a cap, so the whole table is never in memory.
import type { Db } from '../db/connection.js';

export const AUDIT_PAGE_SIZE = 50;
export const EXPORT_CAP = 100_000;
const EXPORT_BATCH = 1000;
const MAX_TEXT = 2048;

export interface AuditFilter {
  /** An exact type, or a prefix when it ends in `*` (`client.*` → every type starting `client.`). */
  type?: string;
  outcome?: 'success' | 'failure';
  /** A part of the actor (email, account id, "cli"…), case-insensitive. */
  actor?: string;
  /** The exact client_id. */
  client?: string;
  /** The exact resource URI. */
  resource?: string;
  /** The exact MCP tool name of a reported tool call (`details.tool`; docs/MCP-SERVER-REPORTING.md). */
  tool?: string;
  /** The exact id of the request that wrote the event (X-Request-Id, an error page's "Request id"; src/request-id.ts). */
  request?: string;
  /** From this instant on (inclusive). */
  from?: Date;
  /** Up to the end of the unit given (a day, a minute, a second): events before `toExclusive`. */
  toExclusive?: Date;
}

export interface AuditQuery {
  filter: AuditFilter;
  /** The form values as given (to show them again), only the known fields. */
  values: Record<FilterField, string>;
  before?: number;
  after?: number;
}

export const FILTER_FIELDS = ['type', 'outcome', 'actor', 'client', 'resource', 'tool', 'request', 'from', 'to'] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];

export class AuditFilterError extends Error {
  constructor(
    readonly problems: Partial<Record<FilterField | 'page', string>>,
    readonly values: Record<FilterField, string>,
  ) {
    super(Object.values(problems).join('; '));
  }
}

export interface AuditRow {
  id: number;
  at: Date;
  type: string;
  outcome: string;
  actor: string | null;
  clientId: string | null;
  resource: string | null;
  ip: string | null;
  userAgent: string | null;
  reason: string | null;
  details: Record<string, unknown> | null;
  requestId: string | null;
  /** The email of the account the actor names, when the actor is an account id (a page's rows only). */
  actorEmail?: string | null;
}

const TYPE = /^[A-Za-z0-9_.:-]{1,100}(\*)?$/;
// 2026-01-31, 2026-01-31T10:00 (datetime-local), …:05, …:05.123, optionally ending in Z: always UTC.
const WHEN = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?Z?$/;

/** A date or datetime-local value as UTC, with the length of the unit it names (for an inclusive end). */
function parseWhen(raw: string): { at: Date; unitMs: number } | undefined {
  const m = WHEN.exec(raw);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms] = m;
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), Number((ms ?? '0').padEnd(3, '0'))] as const;
  const at = new Date(Date.UTC(...parts));
  // Date.UTC rolls 2026-02-31 over to March: refuse what does not round-trip.
  if (Number.isNaN(at.getTime()) || at.getUTCFullYear() !== parts[0] || at.getUTCMonth() !== parts[1] || at.getUTCDate() !== parts[2] || at.getUTCHours() !== parts[3] || at.getUTCMinutes() !== parts[4] || at.getUTCSeconds() !== parts[5]) {
    return undefined;
  }
  const unitMs = ms !== undefined ? 1 : s !== undefined ? 1000 : h !== undefined ? 60_000 : 86_400_000;
  return { at, unitMs };
}

// A tool name as a reporter may send it (docs/MCP-SERVER-REPORTING.md: 1–256 characters); no control characters.
const TOOL_MAX = 256;
const CONTROL = /[\u0000-\u001F\u007F]/;

const KEYSET_ID = /^[1-9]\d{0,15}$/;

/** Parses the filter and page position from query parameters; throws AuditFilterError naming each bad field. */
export function parseAuditQuery(query: Record<string, string | string[] | undefined>): AuditQuery {
  const problems: Partial<Record<FilterField | 'page', string>> = {};
  const one = (name: string): string => {
    const v = query[name];
    if (Array.isArray(v)) {
      problems[name as FilterField] = `${name} was given more than once`;
      return '';
    }
    return (v ?? '').trim();
  };
  const values = Object.fromEntries(FILTER_FIELDS.map((f) => [f, one(f)])) as Record<FilterField, string>;
  for (const f of FILTER_FIELDS) {
    if (values[f].length > MAX_TEXT) {
      problems[f] = `${f} is too long (at most ${MAX_TEXT} characters)`;
      values[f] = values[f].slice(0, MAX_TEXT);
    }
  }
  const filter: AuditFilter = {};
  if (values.type && !problems.type) {
    if (TYPE.test(values.type)) filter.type = values.type;
    else problems.type = 'Type is an event type such as consent.granted, or a prefix ending in * such as client.*';
  }
  if (values.outcome && !problems.outcome) {
    if (values.outcome === 'success' || values.outcome === 'failure') filter.outcome = values.outcome;
    else problems.outcome = 'Outcome is success or failure';
  }
  if (values.actor && !problems.actor) filter.actor = values.actor;
  if (values.client && !problems.client) filter.client = values.client;
  if (values.resource && !problems.resource) filter.resource = values.resource;
  if (values.tool && !problems.tool) {
    if (values.tool.length <= TOOL_MAX && !CONTROL.test(values.tool) && values.tool.isWellFormed()) filter.tool = values.tool;
    else problems.tool = `Tool is an exact tool name: at most ${TOOL_MAX} characters, no control characters`;
  }
  if (values.request && !problems.request) {
    if (REQUEST_ID.test(values.request)) filter.request = values.request.toLowerCase();
    else problems.request = 'Request id is the id an error page or the X-Request-Id header shows (a UUID)';
  }
  if (values.from && !problems.from) {
    const from = parseWhen(values.from);
    if (from) filter.from = from.at;
    else problems.from = 'From is a date (2026-01-31) or a date and time (2026-01-31T09:30), in UTC';
  }
  if (values.to && !problems.to) {
    const to = parseWhen(values.to);
    if (to) filter.toExclusive = new Date(to.at.getTime() + to.unitMs);
    else problems.to = 'To is a date (2026-01-31) or a date and time (2026-01-31T17:00), in UTC';
  }
  if (filter.from && filter.toExclusive && filter.from >= filter.toExclusive) problems.to = 'To is before From';

  const position: { before?: number; after?: number } = {};
  for (const name of ['before', 'after'] as const) {
    const raw = one(name);
    if (!raw) continue;
    if (KEYSET_ID.test(raw)) position[name] = Number(raw);
    else problems.page = 'The page position is not valid: start again from the newest events';
  }
  if (position.before && position.after) problems.page = 'The page position is not valid: start again from the newest events';
  if (Object.keys(problems).length) throw new AuditFilterError(problems, values);
  return { filter, values, ...position };
}

/** A request id as request-id.ts makes them (a UUID), in either letter case. */
const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

function filtered(db: Db, filter: AuditFilter) {
  const q = db('audit_events');
  if (filter.type) {
    if (filter.type.endsWith('*')) q.whereRaw("type like ? escape '\\'", [`${likeEscape(filter.type.slice(0, -1))}%`]);
    else q.where({ type: filter.type });
  }
  if (filter.outcome) q.where({ outcome: filter.outcome });
  if (filter.actor) {
    // A part of the actor as written (an email, "cli"), or of the email of the account an actor id names: token
    // events name the person by account id (oidc-provider's accountId), the page shows their email.
    const part = `%${likeEscape(filter.actor.toLowerCase())}%`;
    q.where((w) => w.whereRaw("lower(actor) like ? escape '\\'", [part]).orWhereRaw("actor in (select accounts.id from accounts where lower(accounts.email) like ? escape '\\')", [part]));
  }
  if (filter.client) q.where({ client_id: filter.client });
  if (filter.resource) q.where({ resource: filter.resource });
  if (filter.tool) q.whereRaw("details->>'tool' = ?", [filter.tool]);
  if (filter.request) q.where({ request_id: filter.request });
  if (filter.from) q.where('at', '>=', filter.from);
  if (filter.toExclusive) q.where('at', '<', filter.toExclusive);
  return q;
}

interface DbRow {
  id: string | number;
  at: Date | string;
  type: string;
  outcome: string;
  actor: string | null;
  client_id: string | null;
  resource: string | null;
  ip: string | null;
  user_agent: string | null;
  reason: string | null;
  details: Record<string, unknown> | string | null;
  request_id?: string | null;
  actor_email?: string | null;
}

const toRow = (r: DbRow): AuditRow => ({
  id: Number(r.id),
  at: new Date(r.at),
  type: r.type,
  outcome: r.outcome,
  actor: r.actor,
  clientId: r.client_id,
  resource: r.resource,
  ip: r.ip,
  userAgent: r.user_agent,
  reason: r.reason,
  details: typeof r.details === 'string' ? (JSON.parse(r.details) as Record<string, unknown>) : r.details,
  requestId: r.request_id ?? null,
  ...(r.actor_email !== undefined ? { actorEmail: r.actor_email } : {}),
});

/**
 * A page's columns: the row, and the email of the account its actor names, read in the same statement (one indexed
 * lookup per row of the page, never a query per row from the caller).
 */
const withActorEmail = (db: Db, q: ReturnType<typeof filtered>) =>
  q.select(
    'audit_events.*',
    // An email an identity provider did not verify is marked, so a person cannot pass for another who has it.
    db.raw("(select case when accounts.email_verified then accounts.email else accounts.email || ' (unverified)' end from accounts where accounts.id = audit_events.actor) as actor_email"),
  );

/** At most this many distinct event types are offered as the type filter's list. */
export const TYPE_LIST_CAP = 300;

/**
 * The event types the log holds, in order, at most `cap`: a skip scan over the (type, at) index, one index probe
 * per distinct type, so its cost follows the number of types, not of rows (a plain `select distinct` reads every
 * row). The list is what the log can be filtered by, including types written by versions since gone.
 */
export async function auditTypes(db: Db, cap = TYPE_LIST_CAP): Promise<string[]> {
  const result = (await db.raw(
    `with recursive types(type) as (
       (select type from audit_events order by type limit 1)
       union all
       select (select a.type from audit_events a where a.type > types.type order by a.type limit 1) from types where types.type is not null
     )
     select type from types where type is not null limit ?`,
    [cap],
  )) as { rows: Array<{ type: string }> };
  return result.rows.map((r) => r.type);
}

/** How many events match a filter. */
export async function auditCount(db: Db, filter: AuditFilter): Promise<number> {
  const row = (await filtered(db, filter).count('id as count').first()) as { count: string | number } | undefined;
  return Number(row?.count ?? 0);
}

/** How many events of each of `types` each resource has since `since` (the Overview's MCP servers table). */
export async function auditCountsByResource(db: Db, types: readonly string[], since: Date): Promise<Array<{ resource: string; type: string; count: number }>> {
  const rows = (await db('audit_events')
    .select('resource', 'type')
    .count('id as count')
    .whereIn('type', [...types])
    .where('at', '>=', since)
    .whereNotNull('resource')
    .groupBy('resource', 'type')) as Array<{ resource: string; type: string; count: string | number }>;
  return rows.map((r) => ({ resource: r.resource, type: r.type, count: Number(r.count) }));
}

/**
 * One page of events, newest first: the newest ones, those older than `before`, or those newer than `after`.
 * `older`/`newer` give the keyset of the next and previous pages when there are any.
 */
export async function auditPage(db: Db, query: Pick<AuditQuery, 'filter' | 'before' | 'after'>, size = AUDIT_PAGE_SIZE): Promise<{ events: AuditRow[]; older?: number; newer?: number }> {
  let rows: DbRow[];
  let moreOlder = false;
  let moreNewer = false;
  if (query.after) {
    rows = (await withActorEmail(db, filtered(db, query.filter)).where('id', '>', query.after).orderBy('id', 'asc').limit(size + 1)) as DbRow[];
    moreNewer = rows.length > size;
    rows = rows.slice(0, size).reverse();
    moreOlder = true; // the page we came from
  } else {
    const q = withActorEmail(db, filtered(db, query.filter)).orderBy('id', 'desc').limit(size + 1);
    if (query.before) q.where('id', '<', query.before);
    rows = (await q) as DbRow[];
    moreOlder = rows.length > size;
    rows = rows.slice(0, size);
    moreNewer = !!query.before;
  }
  const events = rows.map(toRow);
  if (!events.length) return { events };
  return { events, ...(moreOlder ? { older: events[events.length - 1]!.id } : {}), ...(moreNewer ? { newer: events[0]!.id } : {}) };
}

/**
 * The export of a filter, newest first, fixed at the moment it starts (events written meanwhile, such as the
 * export's own audit event, are not in it): how many rows it will yield (at most EXPORT_CAP), and the rows, read
 * EXPORT_BATCH at a time.
 */
export async function auditExport(db: Db, filter: AuditFilter, cap = EXPORT_CAP, below?: number): Promise<{ count: number; rows: () => AsyncGenerator<AuditRow>; next?: number }> {
  const top = (await db('audit_events').max('id as max').first()) as { max: string | number | null } | undefined;
  const upTo = Math.min(Number(top?.max ?? 0), below === undefined ? Infinity : below - 1);
  const counted = (await filtered(db, filter).where('id', '<=', upTo).count('id as count').first()) as { count: string | number } | undefined;
  const total = Number(counted?.count ?? 0);
  const count = Math.min(total, cap);
  // When the cap cuts the set, the next export starts below the last row of this one (docs/ADMIN-API.md, "Audit").
  const last = total > cap ? ((await filtered(db, filter).where('id', '<=', upTo).orderBy('id', 'desc').offset(cap - 1).limit(1).first()) as DbRow | undefined) : undefined;
  async function* rows(): AsyncGenerator<AuditRow> {
    let under = upTo + 1;
    let left = count;
    while (left > 0) {
      const batch = (await filtered(db, filter).where('id', '<', under).orderBy('id', 'desc').limit(Math.min(EXPORT_BATCH, left))) as DbRow[];
      if (!batch.length) return;
      for (const r of batch) yield toRow(r);
      left -= batch.length;
      under = Number(batch[batch.length - 1]!.id);
    }
  }
  return { count, rows, ...(last ? { next: Number(last.id) } : {}) };
}
