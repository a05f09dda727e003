// The console's first page: how many clients (by kind and status), MCP servers, people and live grants there are;
// tokens issued and refusals in the last 24 hours; clients waiting for approval; the latest refusals; and
// registration churn (dynamic registrations per day, and the same software registering again and again, the
// signature of a client that loses its registration or of someone filling the table).
import Router from '@koa/router';
import type { ConsoleDeps } from './deps.js';

const DAY_MS = 86_400_000;
const CHURN_DAYS = 14;

const num = (row: unknown) => Number((row as { count?: string | number } | undefined)?.count ?? 0);

export async function overviewFacts(deps: ConsoleDeps) {
  const { db } = deps;
  const since = new Date(Date.now() - DAY_MS);
  const registryCounts = (await db('client_registry').select('origin', 'status').count('client_id as count').groupBy('origin', 'status')) as Array<{ origin: string; status: string; count: string | number }>;
  const byKind = { dynamic: { active: 0, pending: 0, disabled: 0 }, static: { active: 0, pending: 0, disabled: 0 }, cimd: { active: 0, pending: 0, disabled: 0 } };
  for (const r of registryCounts) {
    const kind = byKind[r.origin as 'dynamic' | 'static'];
    if (kind && r.status in kind) kind[r.status as 'active'] += Number(r.count);
  }
  byKind.cimd.active = num(await db('cimd_clients').whereNull('blocked_at').count('client_id as count').first());
  byKind.cimd.disabled = num(await db('cimd_clients').whereNotNull('blocked_at').count('client_id as count').first());

  const churnSince = new Date(Date.now() - CHURN_DAYS * DAY_MS);
  const perDay = (await db('client_registry')
    .where({ origin: 'dynamic' })
    .where('created_at', '>=', churnSince)
    .select(db.raw("to_char(date_trunc('day', created_at at time zone 'UTC'), 'YYYY-MM-DD') as day"))
    .count('client_id as count')
    .groupByRaw('1')
    .orderBy('day', 'desc')) as Array<{ day: string; count: string | number }>;
  const maxPerDay = Math.max(1, ...perDay.map((d) => Number(d.count)));
  const repeated = (await db('client_registry')
    .where({ origin: 'dynamic' })
    .where('created_at', '>=', churnSince)
    .select('client_name')
    .count('client_id as count')
    .countDistinct('registered_ip as ips')
    .max('created_at as latest')
    .groupBy('client_name')
    .havingRaw('count(client_id) > 1')
    .orderBy('count', 'desc')
    .limit(10)) as Array<{ client_name: string | null; count: string | number; ips: string | number; latest: Date | string }>;

  return {
    clients: byKind,
    resources: (await deps.resources.list()).length,
    people: num(await db('accounts').count('id as count').first()),
    activeGrants: num(await db('oidc_payloads').where({ model: 'Grant' }).where((q) => q.whereNull('expires_at').orWhere('expires_at', '>', new Date())).count('id as count').first()),
    tokensIssued: num(await db('audit_events').where('at', '>=', since).whereIn('type', ['token.issued', 'token.refreshed']).count('id as count').first()),
    refusals: num(await db('audit_events').where('at', '>=', since).where({ outcome: 'failure' }).count('id as count').first()),
    waiting: await deps.registry.list({ status: 'pending' }),
    latestRefusals: (await db('audit_events').where({ outcome: 'failure' }).orderBy('id', 'desc').limit(10)) as Array<Record<string, unknown>>,
    perDay: perDay.map((d) => ({ day: d.day, count: Number(d.count), width: Math.round((Number(d.count) / maxPerDay) * 100) })),
    repeated: repeated.map((r) => ({ name: r.client_name ?? '(no name)', count: Number(r.count), ips: Number(r.ips), latest: new Date(r.latest) })),
  };
}

export function overviewPages(deps: ConsoleDeps): Router {
  const router = new Router();
  router.get('/console', async (ctx) => {
    deps.pages.render(ctx, 'overview', 'overview', { title: 'Overview', ...(await overviewFacts(deps)) });
  });
  return router;
}
