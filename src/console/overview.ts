// The console's first page: how many clients (by kind and status), MCP servers, people and live grants there are;
// tokens issued and refusals in the last 24 hours; clients waiting for approval; the latest refusals; and
// registration churn (dynamic registrations per day, and the same software registering again and again, the
// signature of a client that loses its registration or of someone filling the table).
import { consoleRouter } from './router.js';
import type Router from '@koa/router';
import { auditCount, auditCountsByResource, auditPage } from '../audit/queries.js';
import { countLiveGrants } from '../oauth/adapter.js';
import type { Resource } from '../oauth/resources.js';
import type { ConsoleDeps } from './deps.js';
import { listBadge, reportFacts } from './tool-reports.js';

const DAY_MS = 86_400_000;
const CHURN_DAYS = 14;

/** Every figure comes from the module that owns it (registry, CIMD clients, accounts, adapter, audit log). */
export async function overviewFacts(deps: ConsoleDeps) {
  const since = new Date(Date.now() - DAY_MS);
  const [counts, cimd, churn] = await Promise.all([deps.registry.counts(), deps.cimdClients.counts(), deps.registry.churn(new Date(Date.now() - CHURN_DAYS * DAY_MS))]);
  const byKind = { dynamic: { active: 0, pending: 0, disabled: 0 }, static: { active: 0, pending: 0, disabled: 0 }, cimd: { active: cimd.active, pending: 0, disabled: cimd.blocked } };
  for (const c of counts) byKind[c.origin][c.status] += c.count;
  const maxPerDay = Math.max(1, ...churn.perDay.map((d) => d.count));
  const [issued, refreshed, refusals, latestRefusals] = await Promise.all([
    auditCount(deps.db, { type: 'token.issued', from: since }),
    auditCount(deps.db, { type: 'token.refreshed', from: since }),
    auditCount(deps.db, { outcome: 'failure', from: since }),
    auditPage(deps.db, { filter: { outcome: 'failure' } }, 10),
  ]);
  const resources = await deps.resources.list();
  return {
    clients: byKind,
    resources: resources.length,
    mcpServers: await mcpServerActivity(deps, resources, since),
    people: await deps.accounts.count(),
    activeGrants: await countLiveGrants(deps.db),
    tokensIssued: issued + refreshed,
    refusals,
    waiting: await deps.registry.list({ status: 'pending' }),
    latestRefusals: latestRefusals.events,
    perDay: churn.perDay.map((d) => ({ ...d, width: Math.round((d.count / maxPerDay) * 100) })),
    repeated: churn.repeated.map((r) => ({ ...r, name: r.name ?? '(no name)' })),
  };
}

/** Per registered MCP server: tool calls and refusals it reported in the last 24 hours, and its flags. */
async function mcpServerActivity(deps: ConsoleDeps, resources: Resource[], since: Date) {
  const [counts, inventories] = await Promise.all([auditCountsByResource(deps.db, ['tool.called', 'tool.refused'], since), deps.inventories.all()]);
  const of = (uri: string, type: string) => counts.find((c) => c.resource === uri && c.type === type)?.count ?? 0;
  return resources.map((r) => {
    // The same badge as the server list: silent shown as such, the other flags counted.
    const badge = listBadge(reportFacts(r, inventories.get(r.uri)));
    return { uri: r.uri, name: r.name, path: `/resources/${encodeURIComponent(r.uri)}`, calls: of(r.uri, 'tool.called'), refusals: of(r.uri, 'tool.refused'), ...badge };
  });
}

export function overviewPages(deps: ConsoleDeps): Router {
  const router = consoleRouter();
  router.get('/console', async (ctx) => {
    deps.pages.render(ctx, 'overview', 'overview', { title: 'Overview', ...(await overviewFacts(deps)) });
  });
  return router;
}
