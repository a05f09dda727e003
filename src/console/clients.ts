// Console: clients. One list over both kinds of client — those in the registry (dynamically registered "DCR", or
// created by an admin "static") and those identified by a metadata-document URL ("CIMD", recorded when first
// used) — with filters and pages; a page per client (its metadata, who consented, its live grants, its recent
// audit events); and the admin's actions: approve, disable, re-enable, delete (everything it holds is revoked),
// block the host of a CIMD client, and create a static client (as `gatehouse client add` does). A static client's
// name and redirect URIs are edited here and a confidential one's secret rotated (shown once, with a copy button:
// views/static/copy.js); dynamic and CIMD clients describe themselves (RFC 7592, their document), so only their
// state is governed here. Every change is ClientAdmin's (admin/clients.ts), which checks, writes and audits.
import { consoleRouter } from './router.js';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { auditPage } from '../audit/queries.js';
import { grantsOfClient } from '../oauth/adapter.js';
import { DomainPolicy } from '../oauth/cimd/domain-policy.js';
import { personActor, type Actor } from '../admin/actor.js';
import { AdminError } from '../admin/admin-error.js';
import { PolicyAdmin } from '../admin/policy.js';
import { applicable, ClientAdmin, clientFromCimd, clientFromRegistry, type AdminClient } from '../admin/clients.js';
import { requestOrigin } from '../audit/writer.js';
import type { ConsoleDeps } from './deps.js';
import { inLane } from '../admin/serialized.js';
import { consoleState } from './guard.js';

export const PAGE_SIZE = 50;
const MAX_PAGE = 200; // an offset list merged from two tables: deeper than 10 000 clients, narrow the filter
const MAX_Q = 200;

type Kind = 'dcr' | 'cimd' | 'static';
type StatusFilter = 'active' | 'waiting' | 'disabled';
type Status = 'active' | 'pending' | 'disabled' | 'blocked';

const KINDS: Record<Kind, string> = { dcr: 'DCR', cimd: 'CIMD', static: 'static' };
const STATUS_FILTERS: Record<StatusFilter, string> = { active: 'active', waiting: 'waiting for approval', disabled: 'disabled or blocked' };
const STATUS_LABELS: Record<Status, string> = { active: 'active', pending: 'waiting', disabled: 'disabled', blocked: 'blocked' };

type Known = AdminClient;
const fromRegistry = clientFromRegistry;
const fromCimd = clientFromCimd;

const when = (d: Date | null | undefined) => (d ? { iso: d.toISOString(), text: `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC` } : null);

/** The actions that apply to a client in its present state. */
/** One query value, or '' when absent, repeated or not text. */
function param(ctx: Context, name: string): string {
  const v = ctx.query[name];
  return typeof v === 'string' ? v : '';
}

function parseListQuery(ctx: Context) {
  const kindRaw = param(ctx, 'kind');
  const statusRaw = param(ctx, 'status');
  const kind = Object.hasOwn(KINDS, kindRaw) ? (kindRaw as Kind) : undefined;
  const status = Object.hasOwn(STATUS_FILTERS, statusRaw) ? (statusRaw as StatusFilter) : undefined;
  const q = param(ctx, 'q').replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, MAX_Q);
  const pageRaw = param(ctx, 'page');
  const page = /^[0-9]{1,6}$/.test(pageRaw) ? Math.min(Math.max(Number(pageRaw), 1), MAX_PAGE) : 1;
  return { kind, status, q, page };
}

/** Two lists each newest first (undated last) merged into one, keeping each list's own order among equals. */
function merge(a: Known[], b: Known[]): Known[] {
  const t = (k: Known) => k.createdAt?.getTime() ?? -Infinity;
  const out: Known[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && t(a[i]!) >= t(b[j]!))) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

export function clientsPages(deps: ConsoleDeps): Router {
  const router = consoleRouter();
  const { pages, registry, cimdClients } = deps;
  const href = (clientId: string, suffix = '') => pages.url(`/clients/${encodeURIComponent(clientId)}${suffix}`);
  const admin = inLane(new ClientAdmin(deps), deps);
  const policyAdmin = inLane(new PolicyAdmin(deps), deps);
  const adminActor = (ctx: Context): Actor => personActor(consoleState(ctx).account, requestOrigin(ctx));
  /** Runs a service action; its refusal is the page's (404, 409, 400 with the message). */
  async function act<T>(ctx: Context, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (err) {
      if (err instanceof AdminError) ctx.throw(err.status, err.message);
      throw err;
    }
  }

  /** The client named by the route (its URL-encoded client_id); a 404 page when there is none. */
  async function known(ctx: Context): Promise<Known> {
    const found = await admin.find(String(ctx.params.id ?? ''));
    if (!found) ctx.throw(404, 'There is no such client.');
    return found;
  }

  const display = (c: Known) => c.name || c.clientId;

  // ---- the list ---------------------------------------------------------------------------------------------------

  router.get('/console/clients', async (ctx) => {
    const { kind, status, q, page } = parseListQuery(ctx);
    const wanted = page * PAGE_SIZE + 1;
    const registryStatus = status === 'waiting' ? 'pending' : status;
    const fromReg =
      kind === 'cimd'
        ? { clients: [], total: 0 }
        : await registry.search({ origin: kind === 'dcr' ? 'dynamic' : kind === 'static' ? 'static' : undefined, status: registryStatus, q: q || undefined }, wanted);
    const fromDocs =
      kind === 'dcr' || kind === 'static' || status === 'waiting'
        ? { clients: [], total: 0 }
        : await cimdClients.search({ blocked: status === 'disabled' ? true : status === 'active' ? false : undefined, q: q || undefined }, wanted);
    const all = merge(fromReg.clients.map(fromRegistry), fromDocs.clients.map(fromCimd));
    const shown = all.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
    const total = fromReg.total + fromDocs.total;
    const link = (p: number) => {
      const sp = new URLSearchParams();
      if (kind) sp.set('kind', kind);
      if (status) sp.set('status', status);
      if (q) sp.set('q', q);
      if (p > 1) sp.set('page', String(p));
      const s = sp.toString();
      return pages.url(`/clients${s ? `?${s}` : ''}`);
    };
    pages.render(ctx, 'clients', 'clients', {
      title: 'Clients',
      filter: { kind: kind ?? '', status: status ?? '', q },
      kinds: Object.entries(KINDS).map(([value, label]) => ({ value, label })),
      statuses: Object.entries(STATUS_FILTERS).map(([value, label]) => ({ value, label })),
      total,
      page,
      from: shown.length ? (page - 1) * PAGE_SIZE + 1 : 0,
      to: (page - 1) * PAGE_SIZE + shown.length,
      previous: page > 1 ? link(page - 1) : undefined,
      next: all.length > page * PAGE_SIZE && page < MAX_PAGE ? link(page + 1) : undefined,
      newHref: pages.url('/clients/new'),
      clients: shown.map((c) => ({
        clientId: c.clientId,
        name: display(c),
        href: href(c.clientId),
        actionBase: href(c.clientId),
        kind: KINDS[c.kind],
        status: c.status,
        statusLabel: STATUS_LABELS[c.status],
        host: c.host,
        hostIsAddress: c.kind !== 'cimd',
        created: when(c.createdAt),
        lastUsed: when(c.lastUsedAt),
        actions: applicable(c),
        managedBy: c.managedBy,
      })),
    });
  });

  // ---- creating a static client (before /:id, which would take "new") ---------------------------------------------

  interface NewForm {
    name: string;
    redirectUris: string;
    confidential: boolean;
    scope: string;
    resource: string;
  }
  type Field = 'name' | 'redirectUris' | 'scope' | 'resource' | 'form';

  async function showNew(ctx: Context, form: NewForm, problem?: { field: Field; text: string }): Promise<void> {
    const resources = (await deps.resources.list()).map((r) => ({ uri: r.uri, name: r.name }));
    pages.render(ctx, 'clients', 'client-new', { title: 'New static client', form, resources, problem, action: pages.url('/clients') }, problem ? 400 : 200);
  }

  router.get('/console/clients/new', (ctx) => showNew(ctx, { name: '', redirectUris: '', confidential: false, scope: '', resource: '' }));

  router.post('/console/clients', async (ctx) => {
    const { form: raw } = consoleState(ctx);
    const form: NewForm = {
      name: (raw.name ?? '').trim(),
      redirectUris: (raw.redirect_uris ?? '').slice(0, 20_000),
      confidential: raw.confidential === 'on' || raw.confidential === 'true',
      scope: (raw.scope ?? '').trim().slice(0, 2000),
      resource: (raw.resource ?? '').trim(),
    };
    const redirectUris = form.redirectUris.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    try {
      const created = await admin.create(adminActor(ctx), { name: form.name, redirectUris, confidential: form.confidential, scope: form.scope || undefined, resource: form.resource || undefined });
      // Shown once, never stored readable again: a page of its own (201, no-store), not a redirect.
      pages.render(ctx, 'clients', 'client-created', { title: 'Client created', created, href: href(created.client_id), listHref: pages.url('/clients') }, 201);
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      const field: Field = err.field === 'name' || err.field === 'resource' || err.field === 'scope' ? err.field : err.field === 'redirect_uris' ? 'redirectUris' : 'form';
      await showNew(ctx, form, { field, text: err.message });
    }
  });

  // ---- one client -------------------------------------------------------------------------------------------------

  /** The stored registration of a registry client, without any secret; undefined when it cannot be read. */
  async function metadataOf(clientId: string): Promise<Array<{ name: string; value: string }> | undefined> {
    let client;
    try {
      client = await deps.provider().Client.find(clientId);
    } catch {
      return undefined;
    }
    if (!client) return undefined;
    const m = client.metadata() as Record<string, unknown>;
    const fields = ['client_name', 'redirect_uris', 'grant_types', 'response_types', 'token_endpoint_auth_method', 'scope', 'application_type', 'client_uri', 'logo_uri', 'policy_uri', 'tos_uri', 'contacts', 'software_id', 'software_version', 'gatehouse_resource'];
    return fields
      .filter((f) => m[f] !== undefined && m[f] !== null && m[f] !== '' && !(Array.isArray(m[f]) && (m[f] as unknown[]).length === 0))
      .map((f) => ({ name: f, value: Array.isArray(m[f]) ? (m[f] as unknown[]).map(String).join('\n') : String(m[f]) }));
  }

  /** Whether CIMD_BLOCKED_DOMAINS already refuses this CIMD client's host (the reason, if so). */
  async function hostBlock(c: Known): Promise<string | undefined> {
    if (c.kind !== 'cimd') return undefined;
    const hostname = new URL(c.clientId).hostname;
    return DomainPolicy.fromConfig([], await deps.policy.get('CIMD_BLOCKED_DOMAINS')).problem(hostname);
  }

  interface EditForm {
    name: string;
    redirectUris: string;
    version: string;
  }

  /** The client's page; `edit` carries what was typed and the refusal when an edit was refused. */
  async function showClient(ctx: Context, c: Known, edit?: { form: EditForm; problem: { field: 'name' | 'redirectUris' | 'form'; text: string } }, status = 200): Promise<void> {
    const [metadata, consents, grants, audit, hostBlocked] = await Promise.all([
      c.kind === 'cimd' ? Promise.resolve(undefined) : metadataOf(c.clientId),
      registry.consents(c.clientId),
      grantsOfClient(deps.db, c.clientId),
      auditPage(deps.db, { filter: { client: c.clientId } }, 20),
      hostBlock(c),
    ]);
    const people = new Map<string, { email: string | null; name: string | null } | undefined>();
    for (const id of [...consents.map((x) => x.accountId), ...grants.map((g) => g.accountId ?? '')].slice(0, 200)) {
      if (id && !people.has(id)) people.set(id, await deps.accounts.findById(id));
    }
    const person = (id: string | null) => {
      const a = id ? people.get(id) : undefined;
      return { label: a ? (a.email ?? a.name ?? id!) : (id ?? 'unknown'), name: a?.email && a.name ? a.name : null };
    };
    const view = c.kind === 'static' ? await admin.view(c) : undefined;
    const editable = c.kind === 'static' && !c.managedBy;
    pages.render(ctx, 'clients', 'client', {
      title: `Client ${display(c)}`,
      edit: editable
        ? {
            action: href(c.clientId, '/edit'),
            form: edit?.form ?? { name: c.name ?? '', redirectUris: view!.redirect_uris.join('\n'), version: await admin.version(c) },
            problem: edit?.problem,
            confidential: view!.confidential,
            adminApi: !!view!.admin_api_scopes,
            rotateAction: href(c.clientId, '/rotate-secret'),
          }
        : undefined,
      selfDescribed: c.kind === 'dcr' ? 'dcr' : c.kind === 'cimd' ? 'cimd' : undefined,
      client: {
        clientId: c.clientId,
        name: display(c),
        kind: KINDS[c.kind],
        isCimd: c.kind === 'cimd',
        status: c.status,
        statusLabel: STATUS_LABELS[c.status],
        host: c.host,
        created: when(c.createdAt),
        lastUsed: when(c.lastUsedAt),
        blockedAt: when(c.cimd?.blockedAt),
        actionBase: href(c.clientId),
        actions: applicable(c),
        managedBy: c.managedBy,
      },
      hostBlocked,
      hostname: c.kind === 'cimd' ? new URL(c.clientId).hostname : undefined,
      metadata,
      consents: consents.slice(0, 100).map((x) => ({ person: person(x.accountId), updated: when(x.updatedAt) })),
      grants: grants.slice(0, 100).map((g) => ({
        person: person(g.accountId),
        resources: Object.entries(g.resources).map(([uri, scopes]) => ({ uri, scopes: scopes.join(' ') })),
        openid: g.openidScope ?? '',
        issued: when(g.grantedAt),
        expires: when(g.expiresAt),
      })),
      events: audit.events.map((e) => ({ at: when(e.at), type: e.type, outcome: e.outcome, actor: e.actor, reason: e.reason })),
      auditHref: pages.url(`/audit?client=${encodeURIComponent(c.clientId)}`),
      deleteHref: href(c.clientId, '/delete'),
      listHref: pages.url('/clients'),
    }, status);
  }

  router.get('/console/clients/:id', async (ctx) => showClient(ctx, await known(ctx)));

  router.get('/console/clients/:id/delete', async (ctx) => {
    const c = await known(ctx);
    const grants = await grantsOfClient(deps.db, c.clientId);
    pages.render(ctx, 'clients', 'client-delete', {
      title: `Delete ${display(c)}`,
      client: { clientId: c.clientId, name: display(c), kind: KINDS[c.kind], isCimd: c.kind === 'cimd', blocked: c.status === 'blocked', href: href(c.clientId), action: href(c.clientId, '/delete') },
      grantCount: grants.length,
    });
  });

  // ---- the actions ------------------------------------------------------------------------------------------------

  /** Where to go after an action: the list when it was used there, else the client's page. */
  const back = (ctx: Context, clientId: string) => (consoleState(ctx).form.from === 'list' ? '/clients' : `/clients/${encodeURIComponent(clientId)}`);

  router.post('/console/clients/:id/edit', async (ctx) => {
    const c = await known(ctx);
    const { form: raw } = consoleState(ctx);
    const form: EditForm = { name: (raw.name ?? '').slice(0, 1000), redirectUris: (raw.redirect_uris ?? '').slice(0, 20_000), version: raw.version ?? '' };
    const redirectUris = form.redirectUris.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    try {
      // The version the form was read at: an edit made meanwhile by someone else is refused, not overwritten.
      const changed = await admin.update(adminActor(ctx), c.clientId, { name: form.name, redirectUris }, form.version || undefined);
      pages.redirect(ctx, `/clients/${encodeURIComponent(changed.clientId)}`, `${display(changed)} is saved: its name and redirect URIs apply from the next authorization.`);
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      if (err.status === 404) ctx.throw(404, err.message);
      const field = err.field === 'name' ? 'name' : err.field === 'redirect_uris' ? 'redirectUris' : 'form';
      // A stale version: the form starts again from the client as it is now.
      const current = err.field === 'version' ? { ...form, version: await admin.version(c) } : form;
      await showClient(ctx, c, { form: current, problem: { field, text: err.message } }, err.status);
    }
  });

  router.post('/console/clients/:id/rotate-secret', async (ctx) => {
    const { client: c, clientSecret } = await act(ctx, () => admin.rotateSecret(adminActor(ctx), String(ctx.params.id)));
    // Shown once, never stored readable again: a page of its own (no-store), not a redirect with a notice cookie.
    pages.render(ctx, 'clients', 'client-secret', { title: `New secret of ${display(c)}`, client: { clientId: c.clientId, name: display(c) }, clientSecret, href: href(c.clientId) });
  });

  router.post('/console/clients/:id/approve', async (ctx) => {
    const c = await act(ctx, () => admin.approve(adminActor(ctx), String(ctx.params.id)));
    pages.redirect(ctx, back(ctx, c.clientId), `${display(c)} is approved: it may now ask people for authorization.`);
  });

  router.post('/console/clients/:id/disable', async (ctx) => {
    const c = await act(ctx, () => admin.disable(adminActor(ctx), String(ctx.params.id)));
    pages.redirect(ctx, back(ctx, c.clientId), `${display(c)} is disabled: it can no longer authorize or use its tokens.`);
  });

  router.post('/console/clients/:id/enable', async (ctx) => {
    const c = await act(ctx, () => admin.enable(adminActor(ctx), String(ctx.params.id)));
    pages.redirect(ctx, back(ctx, c.clientId), `${display(c)} is enabled again.`);
  });

  router.post('/console/clients/:id/delete', async (ctx) => {
    const { client: c, grantsRevoked: revoked } = await act(ctx, () => admin.remove(adminActor(ctx), String(ctx.params.id)));
    const comeBack =
      c.kind === 'cimd'
        ? ' A metadata-document client comes back when it is used again: to keep it out, block it (Disable) or its host instead.'
        : c.kind === 'dcr'
          ? ' It may register again (as a new client).'
          : '';
    pages.redirect(ctx, '/clients', `${display(c)} is deleted; ${revoked} grant(s) and every token issued under them are revoked.${comeBack}`);
  });

  /** A post that does not apply to the client as it is now: audited, 409, nothing changed. */
  async function conflict(ctx: Context, type: string, c: Known, reason: string): Promise<never> {
    await pages.record(ctx, { type, outcome: 'failure', clientId: c.clientId, reason, details: { status: c.status } });
    ctx.throw(409, reason);
  }

  router.post('/console/clients/:id/block-host', async (ctx) => {
    const c = await known(ctx);
    if (c.kind !== 'cimd') return conflict(ctx, 'policy.updated', c, 'Only a metadata-document (CIMD) client has a host to block.');
    const hostname = new URL(c.clientId).hostname;
    // The service layer adds it to CIMD_BLOCKED_DOMAINS and audits `policy.updated` (docs/ARCHITECTURE.md, "The admin service layer").
    await act(ctx, () => policyAdmin.blockCimdHost(adminActor(ctx), hostname));
    pages.redirect(ctx, back(ctx, c.clientId), `The host ${hostname} is blocked: every client_id URL on it is refused from now on (CIMD_BLOCKED_DOMAINS, on the Policy page).`);
  });

  return router;
}
