// Console: MCP servers (RFC 8707 resources). List, create, edit and delete the servers Gatehouse issues tokens for,
// each with its scope catalogue (scope, description, the MCP tools it unlocks, who may get it) and its access rule;
// the detail page shows what the server's owner needs: the RFC 9728 document the server must serve, where, and the
// kit code that does it. Everything goes through the ResourceRegistry (which owns the table and invalidates its
// cache on every change, so an authorization for a server created here works at once on this instance; other
// instances follow within their 2 s cache). The catalogue is entered as text, one scope per line, and checked line
// by line against the same schema as RESOURCES, so a refusal names the line. Changes go through the admin service
// layer (admin/resources.ts; docs/ARCHITECTURE.md, "The admin service layer"), which checks, stores and audits them:
// this page only turns the form into its input and its refusals into the form's problems.
import { consoleRouter } from './router.js';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { APPROVAL_MODES, resourceSeed, type ResourceInput } from '../config.js';
import { canonicalResource, InvalidResourceUri, type AccessRule, type ApprovalMode, type Resource } from '../oauth/resources.js';
import { personActor, type Actor } from '../admin/actor.js';
import { AdminError } from '../admin/admin-error.js';
import { ResourceAdmin } from '../admin/resources.js';
import { requestOrigin } from '../audit/writer.js';
import { metadataDocument } from '../../packages/resource-server/src/metadata.js';
import { metadataPath } from '../../packages/resource-server/src/canonical-resource.js';
import { DOMAIN_NAME } from '../upstream/connection.js';
import type { ConsoleDeps } from './deps.js';
import { inLane } from '../admin/serialized.js';
import { consoleState } from './guard.js';
import { FLAG_LABELS, listBadge, reportFacts } from './tool-reports.js';
import { approvalModes, reportsApprovalEnforcement } from '../approvals/modes.js';

/** The form as typed: every field a string, so a refused form comes back exactly as it was. */
export interface ResourceFormValues {
  uri: string;
  name: string;
  description: string;
  scopes: string;
  emailDomains: string;
  groups: string;
  /** One tool per line, `tool | mode` (mode: each-call, the default, or once-per-grant): docs/TOOL-APPROVALS.md. */
  toolApprovals: string;
  /** '' (none), each-call or once-per-grant: tools the server reports as possibly destructive. */
  destructiveApproval: string;
  /** docs/DELEGATION.md: one per line, `connection id | upstream scope …`. */
  delegateConnections: string;
  /** One per line, `MCP server URI | scope …`. */
  delegateResources: string;
  isDefault: boolean;
}

type Field = keyof ResourceFormValues | 'form';
export type Problems = Partial<Record<Field, string[]>>;

const MAX_SCOPE_LINES = 200;
const list = (raw: string) => raw.split(',').map((v) => v.trim()).filter(Boolean);
const joinRule = (values: string[]) => values.join(', ');

function add(problems: Problems, field: Field, message: string): void {
  (problems[field] ??= []).push(message);
}

/** An access rule from two comma-separated lists; undefined when both are empty (no restriction). */
function accessFrom(domainsRaw: string, groupsRaw: string, where: string, field: Field, problems: Problems): { email_domains: string[]; groups: string[] } | undefined {
  const domains = list(domainsRaw).map((d) => d.toLowerCase().replace(/^@/, ''));
  const groups = list(groupsRaw);
  for (const d of domains) if (!DOMAIN_NAME.test(d)) add(problems, field, `${where}"${d}" is not an email domain (e.g. example.com)`);
  for (const g of groups) if (g.length > 256) add(problems, field, `${where}a group name is longer than 256 characters`);
  if (!domains.length && !groups.length) return undefined;
  return { email_domains: [...new Set(domains)], groups: [...new Set(groups)] };
}

/**
 * Checks a submitted form. The scope catalogue is one scope per line:
 * `scope | description | tool1, tool2 | allowed email domains | allowed groups` (only the scope is required).
 */
export function parseResourceForm(values: ResourceFormValues, existingUri?: string): { input?: ResourceInput; problems: Problems } {
  const problems: Problems = {};
  let uri = existingUri;
  if (!uri) {
    const typed = values.uri.trim();
    if (!typed) {
      add(problems, 'uri', 'Enter the MCP server\'s URI, e.g. https://mcp.example.com/mcp');
    } else {
      try {
        const canonical = canonicalResource(typed);
        if (canonical !== typed) add(problems, 'uri', `Not in canonical form: tokens name this server ${canonical} — enter it exactly so.`);
        else uri = canonical;
      } catch (err) {
        add(problems, 'uri', err instanceof InvalidResourceUri ? capitalise(err.message) : 'Not a valid URI');
      }
    }
  }
  const name = values.name.trim();
  if (name.length > 200) add(problems, 'name', 'At most 200 characters');
  const description = values.description.trim();
  if (description.length > 1000) add(problems, 'description', 'At most 1000 characters');

  const scopes: NonNullable<ResourceInput['scopes']> = {};
  const lineOf = new Map<string, number>();
  const lines = values.scopes.split(/\r?\n/);
  if (lines.filter((l) => l.trim()).length > MAX_SCOPE_LINES) add(problems, 'scopes', `At most ${MAX_SCOPE_LINES} scopes`);
  lines.forEach((line, i) => {
    const n = i + 1;
    if (!line.trim() || line.trim().startsWith('#')) return;
    const cols = line.split('|').map((c) => c.trim());
    if (cols.length > 6) return add(problems, 'scopes', `Line ${n}: more than 6 columns (scope | description | tools | email domains | groups | approval)`);
    const [scope = '', desc = '', toolsRaw = '', domainsRaw = '', groupsRaw = '', approval = ''] = cols;
    if (!scope) return add(problems, 'scopes', `Line ${n}: the scope is missing before the first |`);
    const before = lineOf.get(scope);
    if (before !== undefined) return add(problems, 'scopes', `Line ${n}: scope ${scope} is already on line ${before}`);
    lineOf.set(scope, n);
    const tools = list(toolsRaw);
    const seen = new Set<string>();
    for (const t of tools) {
      if (seen.has(t)) add(problems, 'scopes', `Line ${n}: tool ${t} is listed twice`);
      seen.add(t);
    }
    const access = accessFrom(domainsRaw, groupsRaw, `Line ${n}: `, 'scopes', problems);
    if (approval && !isMode(approval)) return add(problems, 'scopes', `Line ${n}: the approval must be each-call or once-per-grant`);
    const entry = { ...(desc ? { description: desc } : {}), tools, ...(access ? { access } : {}), ...(approval ? { approval: approval as ApprovalMode } : {}) };
    // The same schema as RESOURCES: one definition of a valid scope token, tool name and description.
    const checked = resourceSeed.shape.scopes.safeParse({ [scope]: entry });
    if (!checked.success) {
      for (const issue of checked.error.issues) {
        const what = issue.path.includes('tools') ? `tool ${JSON.stringify(tools[Number(issue.path[issue.path.length - 1])] ?? '')}` : issue.path.includes('description') ? 'the description' : `"${scope}"`;
        add(problems, 'scopes', `Line ${n}: ${what} ${issue.message.replace(/^Invalid key in record$/, 'is not a valid scope name')}`);
      }
      return;
    }
    scopes[scope] = entry;
  });

  const access = accessFrom(values.emailDomains, values.groups, '', 'emailDomains', problems);
  const toolApproval: Record<string, ApprovalMode> = {};
  values.toolApprovals.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim() || line.trim().startsWith('#')) return;
    const [tool = '', mode = 'each-call', ...rest] = line.split('|').map((c) => c.trim());
    if (rest.length || !TOOL_NAME.test(tool) || !isMode(mode || 'each-call')) return add(problems, 'toolApprovals', `Line ${i + 1}: expected "tool" or "tool | each-call" or "tool | once-per-grant"`);
    toolApproval[tool] = (mode || 'each-call') as ApprovalMode;
  });
  const destructive = values.destructiveApproval.trim();
  if (destructive && !isMode(destructive)) add(problems, 'destructiveApproval', 'Choose none, each-call or once-per-grant');
  const delegation = {
    connections: delegationLines(values.delegateConnections, 'delegateConnections', 'connection id', problems),
    resources: delegationLines(values.delegateResources, 'delegateResources', 'MCP server URI', problems),
  };
  // The same schema as RESOURCES names what is wrong with an entry.
  const checkedDelegation = resourceSeed.shape.delegation.safeParse(delegation);
  if (!checkedDelegation.success) {
    for (const issue of checkedDelegation.error.issues) {
      const inner = issue.code === 'invalid_key' ? issue.issues[0]?.message : issue.message;
      add(problems, issue.path[0] === 'resources' ? 'delegateResources' : 'delegateConnections', `${issue.code === 'invalid_key' ? String(issue.input) : String(issue.path[1] ?? '')} ${inner ?? issue.message}`.trim());
    }
  }
  const delegates = Object.keys(delegation.connections).length > 0 || Object.keys(delegation.resources).length > 0;
  if (Object.keys(problems).length || !uri) return { problems };
  const input: ResourceInput = {
    uri,
    name: name || uri,
    ...(description ? { description } : {}),
    scopes,
    ...(access ? { access } : {}),
    ...(Object.keys(toolApproval).length ? { tool_approval: toolApproval } : {}),
    ...(destructive ? { destructive_tools_approval: destructive as ApprovalMode } : {}),
    ...(delegates ? { delegation } : {}),
    default: values.isDefault,
  };
  const final = resourceSeed.safeParse(input);
  if (!final.success) {
    for (const issue of final.error.issues) add(problems, 'form', `${issue.path.join('.')}: ${issue.message}`);
    return { problems };
  }
  return { input, problems };
}

/** `key | scope scope …` lines (a key alone allows no scope but the token as granted). */
function delegationLines(raw: string, field: Field, what: string, problems: Problems): Record<string, string[]> {
  // A Map, then own properties: a line named `__proto__` stays a key the schema refuses, never the object's prototype.
  const out = new Map<string, string[]>();
  raw.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim() || line.trim().startsWith('#')) return;
    const [key = '', scopes = '', ...rest] = line.split('|').map((c) => c.trim());
    if (!key || rest.length) return add(problems, field, `Line ${i + 1}: expected "${what} | scope scope …"`);
    if (out.has(key)) return add(problems, field, `Line ${i + 1}: ${key} is listed twice`);
    out.set(key, scopes.split(/[\s,]+/).filter(Boolean));
  });
  return Object.fromEntries(out);
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const isMode = (v: string): v is ApprovalMode => (APPROVAL_MODES as readonly string[]).includes(v);
const TOOL_NAME = /^[A-Za-z0-9_.\/-]{1,128}$/;

/** The form of a stored resource (edit page). */
export function formOf(r: Resource): ResourceFormValues {
  const rule = (a: AccessRule | undefined) => (a ? [joinRule(a.emailDomains), joinRule(a.groups)] : ['', '']);
  const scopes = Object.entries(r.catalogue).map(([scope, e]) => {
    const cols = [scope, e.description === scope ? '' : e.description, e.tools.join(', '), ...rule(e.access), e.approval ?? ''];
    while (cols.length > 1 && !cols[cols.length - 1]) cols.pop();
    return cols.join(' | ');
  });
  return {
    uri: r.uri,
    name: r.name === r.uri ? '' : r.name,
    description: r.description ?? '',
    scopes: scopes.join('\n'),
    emailDomains: joinRule(r.access?.emailDomains ?? []),
    groups: joinRule(r.access?.groups ?? []),
    toolApprovals: Object.entries(r.toolApproval).sort(([a], [b]) => a.localeCompare(b)).map(([tool, mode]) => `${tool} | ${mode}`).join('\n'),
    destructiveApproval: r.destructiveToolsApproval ?? '',
    delegateConnections: delegationText(r.delegation.connections),
    delegateResources: delegationText(r.delegation.resources),
    isDefault: r.isDefault,
  };
}

const delegationText = (m: Record<string, string[]>) => Object.entries(m).sort(([a], [b]) => a.localeCompare(b)).map(([k, scopes]) => (scopes.length ? `${k} | ${scopes.join(' ')}` : k)).join('\n');

const valuesFrom = (form: Record<string, string>): ResourceFormValues => ({
  uri: form.uri ?? '',
  name: form.name ?? '',
  description: form.description ?? '',
  scopes: form.scopes ?? '',
  emailDomains: form.emailDomains ?? '',
  groups: form.groups ?? '',
  toolApprovals: form.toolApprovals ?? '',
  destructiveApproval: form.destructiveApproval ?? '',
  delegateConnections: form.delegateConnections ?? '',
  delegateResources: form.delegateResources ?? '',
  isDefault: form.isDefault === 'on' || form.isDefault === 'true',
});

/** "anyone who may sign in", or who the rule lets in. */
export function ruleSummary(a: AccessRule | undefined): string {
  if (!a) return 'Anyone who may sign in';
  const parts = [...(a.emailDomains.length ? [`email in ${a.emailDomains.join(', ')}`] : []), ...(a.groups.length ? [`group ${a.groups.join(', ')}`] : [])];
  return parts.length ? parts.join(' or ') : 'Nobody';
}

export const PAGE_SIZE = 50;

/**
 * One page of a short list filtered by a search text, from hostile query parameters: `q` (at most 200 characters,
 * matched case-insensitively against `text` of each item) and `page` (a whole number, clamped to the pages there are).
 */
export function listPage<T>(items: T[], query: Record<string, unknown>, text: (item: T) => string) {
  const q = typeof query.q === 'string' ? query.q.trim().slice(0, 200) : '';
  const needle = q.toLowerCase();
  const matching = needle ? items.filter((i) => text(i).toLowerCase().includes(needle)) : items;
  const pages = Math.max(1, Math.ceil(matching.length / PAGE_SIZE));
  const asked = typeof query.page === 'string' && /^\d{1,6}$/.test(query.page) ? Number(query.page) : 1;
  const page = Math.min(Math.max(asked, 1), pages);
  const link = (n: number) => `?${new URLSearchParams({ ...(q ? { q } : {}), page: String(n) })}`;
  return {
    items: matching.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE),
    q,
    total: matching.length,
    page,
    pages,
    previous: page > 1 ? link(page - 1) : undefined,
    next: page < pages ? link(page + 1) : undefined,
  };
}

const quoted = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The kit code an owner pastes into their server (README, "For MCP server authors"). */
export function kitSnippet(issuer: string, resource: string): string {
  return [
    "import { protectedResource } from '@gatehouse/resource-server';",
    '',
    `const guard = protectedResource({ issuer: ${quoted(issuer)}, resource: ${quoted(resource)} });`,
    '',
    '// Node http (or: app.use(guard.express()) with Express, app.use(guard.koa()) with Koa)',
    'http.createServer(async (req, res) => {',
    '  const auth = await guard.authenticate(req, res); // answered already: metadata, CORS preflight, 401, 403',
    '  if (!auth) return;',
    '  // … your MCP server: transport.handleRequest(req, res, auth.body)',
    '});',
  ].join('\n');
}

export function resourcesPages(deps: ConsoleDeps): Router {
  const router = consoleRouter();
  const { pages, resources } = deps;
  const issuer = deps.config.ISSUER;
  const admin = inLane(new ResourceAdmin(deps), deps);
  const fromEnvironment = (uri: string) => admin.fromEnvironment(uri);
  const path = (uri: string) => `/resources/${encodeURIComponent(uri)}`;
  const actorOf = (ctx: Context): Actor => personActor(consoleState(ctx).account, requestOrigin(ctx));
  /** A service refusal as the form's problem: next to its field when it names one the form has. */
  const problemsOf = (err: AdminError): Problems => {
    const field = err.field?.split('.')[0];
    const onForm: Record<string, Field> = { uri: 'uri', name: 'name', description: 'description', scopes: 'scopes', access: 'emailDomains', tool_approval: 'toolApprovals', destructive_tools_approval: 'destructiveApproval', delegation: 'delegateConnections' };
    if (err.field === 'delegation.resources') return { delegateResources: [err.message] };
    return { [field && Object.hasOwn(onForm, field) ? onForm[field]! : 'form']: [err.message] };
  };

  async function resourceOf(ctx: Context): Promise<Resource> {
    const found = await admin.find(String(ctx.params.id));
    // find() canonicalises: only the exact stored URI names a page, so every link has one address.
    if (!found || found.uri !== String(ctx.params.id)) ctx.throw(404, 'no such MCP server');
    return found;
  }

  async function showForm(ctx: Context, data: { values: ResourceFormValues; problems?: Problems; existing?: Resource }, status = 200): Promise<void> {
    const existing = data.existing;
    const inventory = existing ? await deps.inventories.find(existing.uri) : undefined;
    const report = existing ? reportFacts(existing, inventory) : undefined;
    const approvals = existing ? Object.entries(approvalModes(existing, inventory)).sort(([a], [b]) => a.localeCompare(b)).map(([tool, mode]) => ({ tool, mode })) : [];
    pages.render(
      ctx,
      'resources',
      existing ? 'resource' : 'resource-new',
      {
        title: existing ? existing.name : 'New MCP server',
        values: data.values,
        problems: data.problems ?? {},
        ...(existing ? detailFacts(existing) : {}),
        ...(report ? { report, flagLabels: FLAG_LABELS } : {}),
        approvals,
        approvalsEnforced: reportsApprovalEnforcement(inventory),
      },
      status,
    );
  }

  function detailFacts(r: Resource) {
    const prm = metadataDocument({ resource: r.uri, issuer, scopes: Object.keys(r.scopes) });
    return {
      resource: {
        uri: r.uri,
        name: r.name,
        path: path(r.uri),
        isDefault: r.isDefault,
        access: ruleSummary(r.access),
        scopes: Object.entries(r.catalogue).map(([scope, e]) => ({ scope, description: e.description, tools: e.tools, access: e.access ? ruleSummary(e.access) : '' })),
        fromEnvironment: fromEnvironment(r.uri),
        managedBy: r.managedBy,
      },
      version: admin.version(r),
      prm: JSON.stringify(prm, null, 2),
      prmUrl: `${new URL(r.uri).origin}${metadataPath(r.uri)}${new URL(r.uri).search}`,
      prmPath: metadataPath(r.uri),
      kit: kitSnippet(issuer, r.uri),
    };
  }

  router.get('/console/resources', async (ctx) => {
    const listed = listPage(await resources.list(), ctx.query, (r) => `${r.name} ${r.uri} ${Object.keys(r.scopes).join(' ')}`);
    const inventories = await deps.inventories.all();
    pages.render(ctx, 'resources', 'resources', {
      title: 'MCP servers',
      list: { q: listed.q, total: listed.total, page: listed.page, pages: listed.pages, previous: listed.previous, next: listed.next },
      resources: listed.items.map((r) => ({
        uri: r.uri,
        name: r.name,
        path: path(r.uri),
        scopes: Object.keys(r.scopes),
        access: ruleSummary(r.access),
        scopeRules: Object.values(r.catalogue).filter((e) => e.access).length,
        isDefault: r.isDefault,
        fromEnvironment: fromEnvironment(r.uri),
        managedBy: r.managedBy,
        report: listBadge(reportFacts(r, inventories.get(r.uri))),
      })),
    });
  });

  router.get('/console/resources/new', async (ctx) => {
    await showForm(ctx, { values: { uri: '', name: '', description: '', scopes: '', emailDomains: '', groups: '', toolApprovals: '', destructiveApproval: '', delegateConnections: '', delegateResources: '', isDefault: false } });
  });

  router.post('/console/resources', async (ctx) => {
    const values = valuesFrom(consoleState(ctx).form);
    const { input, problems } = parseResourceForm(values);
    if (!input) {
      await admin.refused(actorOf(ctx), 'created', values.uri, problems);
      return await showForm(ctx, { values, problems }, 400);
    }
    let saved: Resource;
    try {
      saved = await admin.create(actorOf(ctx), input);
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      return await showForm(ctx, { values, problems: problemsOf(err) }, err.status);
    }
    pages.redirect(ctx, path(saved.uri), `MCP server ${saved.name} (${saved.uri}) created.`);
  });

  router.get('/console/resources/:id', async (ctx) => {
    const r = await resourceOf(ctx);
    await showForm(ctx, { values: formOf(r), existing: r });
  });

  router.post('/console/resources/:id', async (ctx) => {
    const r = await resourceOf(ctx);
    const values = { ...valuesFrom(consoleState(ctx).form), uri: r.uri };
    const { input, problems } = parseResourceForm(values, r.uri);
    if (!input) {
      await admin.refused(actorOf(ctx), 'updated', r.uri, problems);
      return await showForm(ctx, { values, problems, existing: r }, 400);
    }
    const { uri: _uri, ...change } = input;
    // The version the form was read at: a change made meanwhile by anyone is not silently overwritten.
    const version = consoleState(ctx).form.version || undefined;
    let saved: Resource;
    try {
      saved = await admin.update(actorOf(ctx), r.uri, change, version);
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      const now = (await admin.find(r.uri)) ?? r;
      return await showForm(ctx, { values, problems: problemsOf(err), existing: now }, err.status);
    }
    const note = fromEnvironment(saved.uri) ? ' It is defined in RESOURCES: the next start puts the environment\'s version back.' : '';
    pages.redirect(ctx, path(saved.uri), `MCP server ${saved.name} (${saved.uri}) saved.${note}`);
  });

  router.get('/console/resources/:id/delete', async (ctx) => {
    const r = await resourceOf(ctx);
    pages.render(ctx, 'resources', 'resource-delete', { title: `Delete ${r.name}`, resource: { uri: r.uri, name: r.name, path: path(r.uri), fromEnvironment: fromEnvironment(r.uri), managedBy: r.managedBy } });
  });

  router.post('/console/resources/:id/delete', async (ctx) => {
    const r = await resourceOf(ctx);
    try {
      await admin.remove(actorOf(ctx), r.uri);
    } catch (err) {
      if (err instanceof AdminError) ctx.throw(err.status, err.message);
      throw err;
    }
    const note = fromEnvironment(r.uri) ? ' It is defined in RESOURCES: it returns at the next start.' : '';
    pages.redirect(ctx, '/resources', `MCP server ${r.uri} deleted: no new token can be issued for it (issued ones expire).${note}`);
  });

  return router;
}
