// Console: connections, the upstream identity providers people log in with. List, add, edit and remove them, and
// Test one: run its discovery now and say what was found (or what went wrong, in plain words). The form shows the
// fields the chosen kind reads and nothing else; every check is the kind's own (validateConnection, through the
// Connections service), its problems shown next to their fields. A client secret is write-only: never shown, never
// audited; an empty secret on edit keeps the stored one. The environment's connection (UPSTREAM_*, source "env") is
// put back by every start, so the console shows it but refuses to change or remove it.
import { consoleRouter } from './router.js';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { CALLBACK_PATH } from '../interaction/upstream-leg.js';
import { GuardedFetchError } from '../net/guarded-fetch.js';
import { CONNECTION_KINDS, connectionFields, type ConnectionKindName, type ConnectionSpec, type SpecField } from '../upstream/connection.js';
import { ConnectionError, ConnectionExists, connectionSpec, type StoredConnection } from '../upstream/connections.js';
import type { DiscoveryReport } from '../upstream/connector.js';
import { GITHUB_BASE } from '../upstream/github/index.js';
import { GOOGLE_ISSUER } from '../upstream/google/index.js';
import { KINDS } from '../upstream/kinds.js';
import type { ConsoleDeps } from './deps.js';
import { consoleState } from './guard.js';
import { listPage } from './resources.js';

type FormField = Exclude<SpecField, 'kind'>;
type Problems = Partial<Record<SpecField | 'form', string[]>>;

interface FieldInfo {
  label: string;
  type: 'text' | 'url' | 'password' | 'checkbox';
  hint?: string;
  list?: boolean;
}

const FIELDS: Record<FormField, FieldInfo> = {
  id: { label: 'Id', type: 'text', hint: '1-40 lower-case letters, digits or dashes. Part of every identity linked through this connection: it cannot change later. Empty: the kind.' },
  name: { label: 'Name on the login button', type: 'text', hint: 'The login page shows "Continue with <name>". Empty: the kind\'s name.' },
  issuer: { label: 'Issuer URL', type: 'url' },
  clientId: { label: 'Client ID', type: 'text', hint: 'Of the application registered at the identity provider.' },
  clientSecret: { label: 'Client secret', type: 'password' },
  scopes: { label: 'Scopes', type: 'text', list: true, hint: 'Space- or comma-separated. Empty: the kind\'s defaults.' },
  tenant: { label: 'Tenant', type: 'text', hint: 'A tenant id (GUID) or verified domain; organizations or common for several tenants.' },
  allowedTenants: { label: 'Allowed tenants', type: 'text', list: true, hint: 'Multi-tenant only (organizations, common): comma-separated tenant ids (GUIDs) allowed to sign in.' },
  hostedDomains: { label: 'Workspace domains', type: 'text', list: true, hint: 'Comma-separated Google Workspace domains whose accounts may sign in. Empty: any Google account.' },
  groupsClaim: { label: 'Groups claim', type: 'text', hint: 'The ID token claim listing the person\'s groups. Empty: groups.' },
  orgs: { label: 'Organisations', type: 'text', list: true, hint: 'Comma-separated GitHub organisations: only their active members may sign in.' },
  storeTokens: { label: 'Keep the upstream tokens (encrypted) for the token vault', type: 'checkbox' },
  allowPrivateNetwork: { label: 'The identity provider is on a private network', type: 'checkbox', hint: 'Lets this connection\'s requests reach loopback and private (RFC 1918, unique-local) addresses. Off: public addresses only. Link-local and cloud metadata addresses are always refused.' },
};

const ISSUER_HINT: Partial<Record<ConnectionKindName, string>> = {
  oidc: 'The provider\'s issuer, exactly as its discovery document writes it (Gatehouse reads <issuer>/.well-known/openid-configuration).',
  okta: 'https://<org>.okta.com (the org authorization server) or https://<org>.okta.com/oauth2/default (a custom one).',
  github: 'Only for GitHub Enterprise Server: https://<your host>, no path. Empty: github.com.',
};

/** The fields the form shows for a kind: those the kind reads, less an issuer the kind fixes itself. */
function fieldsOf(kind: ConnectionKindName, editing: boolean): FormField[] {
  const used = connectionFields(kind).filter((f): f is FormField => f !== 'kind' && !(f === 'issuer' && (kind === 'entra' || kind === 'google')));
  return [...(editing ? [] : (['id'] as FormField[])), 'name', ...used];
}

const isKind = (v: unknown): v is ConnectionKindName => typeof v === 'string' && (CONNECTION_KINDS as readonly string[]).includes(v);
const csv = (v: string | undefined) => (v ?? '').split(/[\s,]+/).filter(Boolean);
const text = (v: string | undefined) => (v?.trim() ? v.trim() : undefined);

/** The spec a form describes; fields the kind does not read are passed on when sent, so its checks refuse them. */
function specFrom(form: Record<string, string>, kind: ConnectionKindName, id: string): ConnectionSpec {
  return connectionSpec({
    id,
    kind,
    name: text(form.name),
    issuer: text(form.issuer),
    clientId: text(form.clientId),
    clientSecret: form.clientSecret || undefined,
    scopes: csv(form.scopes),
    tenant: text(form.tenant),
    allowedTenants: csv(form.allowedTenants),
    hostedDomains: csv(form.hostedDomains).map((d) => d.toLowerCase()),
    groupsClaim: text(form.groupsClaim),
    orgs: csv(form.orgs),
    storeTokens: form.storeTokens === 'on' || form.storeTokens === 'true',
    allowPrivateNetwork: form.allowPrivateNetwork === 'on' || form.allowPrivateNetwork === 'true',
  });
}

/** The values a form shows: what was typed, or what is stored; never a secret. */
function valuesOf(source: Record<string, string> | StoredConnection): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const [field, info] of Object.entries(FIELDS) as Array<[FormField, FieldInfo]>) {
    if (field === 'clientSecret') continue;
    const v = (source as Record<string, unknown>)[field];
    out[field] = info.type === 'checkbox' ? v === true || v === 'on' || v === 'true' : Array.isArray(v) ? v.join(', ') : typeof v === 'string' ? v : '';
  }
  return out;
}

/** The issuer a connection logs in against, its own or the one its kind fixes. */
function issuerOf(c: StoredConnection): string {
  if (c.issuer) return c.issuer;
  if (c.kind === 'entra') return `https://login.microsoftonline.com/${c.tenant ?? '<tenant>'}/v2.0`;
  if (c.kind === 'google') return GOOGLE_ISSUER;
  if (c.kind === 'github') return GITHUB_BASE;
  return '';
}

function limitsOf(c: StoredConnection): string {
  return [
    ...(c.hostedDomains.length ? [`domains ${c.hostedDomains.join(', ')}`] : []),
    ...(c.kind === 'entra' && c.tenant ? [`tenant ${c.tenant}`] : []),
    ...(c.allowedTenants.length ? [`tenants ${c.allowedTenants.join(', ')}`] : []),
    ...(c.orgs.length ? [`orgs ${c.orgs.join(', ')}`] : []),
  ].join('; ');
}

const SOURCES: Record<string, string> = { env: 'environment (UPSTREAM_*)', cli: 'CLI', console: 'console' };

export const TEST_REFUSED = 'Refused before connecting: the issuer\'s host is not a public address, and this connection does not allow a private network. If the identity provider is on your own network, tick "The identity provider is on a private network".';
export const TEST_UNREACHABLE = 'Could not reach the identity provider (no answer over HTTP). Check the issuer URL and that the server can reach it; the server log has the details.';
const TEST_ANSWERED = 'The identity provider answered, but not with a usable discovery document';

/**
 * What the Test page says (docs/SECURITY.md, "Issue 16"): three classes, never a socket error. Refused and closed,
 * reset, silent, TLS-failing or non-HTTP ports all read alike, so the page is not a port scanner; only an HTTP
 * answer is described (its status, or what openid-client found wrong with the document). The full reason goes to
 * the server log.
 */
export function testProblem(err: unknown): string {
  let guarded: GuardedFetchError | undefined;
  for (let e = err, depth = 0; e && depth < 6 && !guarded; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof GuardedFetchError) guarded = e;
  }
  if (guarded?.stage === 'refused') return TEST_REFUSED;
  if (guarded?.stage === 'unreachable') return TEST_UNREACHABLE;
  if (guarded) return `${TEST_ANSWERED}: ${guarded.reason}.`;
  const e = err as { name?: string; code?: string; message?: string };
  // openid-client's own timeout, or a fetch that never got an HTTP answer (a test stub's network error).
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || e?.code === 'OAUTH_TIMEOUT' || e instanceof TypeError) return TEST_UNREACHABLE;
  return `${TEST_ANSWERED}: ${e?.message ?? String(err)}.`;
}

/** The chain of causes, for the server log. */
function detailOf(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const x = e as { message?: string; code?: string };
    parts.push(`${x.message ?? String(e)}${x.code ? ` (${x.code})` : ''}`);
  }
  return parts.join(' <- ');
}

export function connectionsPages(deps: ConsoleDeps): Router {
  const router = consoleRouter();
  const { pages, connections } = deps;
  const redirectUri = `${deps.config.ISSUER}${CALLBACK_PATH}`;
  const kinds = CONNECTION_KINDS.map((k) => ({ value: k, label: `${k} — ${KINDS[k].displayName}` }));

  async function connectionOf(ctx: Context): Promise<StoredConnection> {
    const found = await connections.find(String(ctx.params.id));
    if (!found) ctx.throw(404, 'no such connection');
    return found;
  }

  function formFor(kind: ConnectionKindName, editing: boolean) {
    return fieldsOf(kind, editing).map((f) => ({
      name: f,
      ...FIELDS[f],
      hint: f === 'issuer' ? ISSUER_HINT[kind] : f === 'clientSecret' ? (editing ? 'Leave empty to keep the stored secret. It is never shown.' : 'Never shown again once saved.') : FIELDS[f].hint,
    }));
  }

  function problemsOf(err: ConnectionError): Problems {
    const problems: Problems = {};
    for (const [field, message] of err.problems) (problems[field] ??= []).push(`${FIELDS[field as FormField]?.label ?? field}: ${message}`);
    return problems;
  }

  function showNew(ctx: Context, kind: ConnectionKindName, values: Record<string, string | boolean>, problems: Problems = {}, status = 200): void {
    // A problem with a field the form does not show for this kind still has to be seen: it goes to the top.
    const shown = new Set<string>(['kind', ...fieldsOf(kind, false)]);
    const other = Object.entries(problems).filter(([f]) => !shown.has(f)).flatMap(([, m]) => m ?? []);
    pages.render(ctx, 'connections', 'connection-new', {
      title: 'Add connection',
      kind,
      kinds,
      fields: formFor(kind, false),
      values,
      problems: { ...problems, form: [...(problems.form ?? []), ...other] },
      redirectUri,
    }, status);
  }

  function detailFacts(c: StoredConnection) {
    return {
      id: c.id,
      kind: c.kind,
      kindName: KINDS[c.kind].displayName,
      name: c.name,
      issuer: issuerOf(c),
      clientId: c.clientId ?? '',
      hasSecret: !!c.clientSecret,
      source: SOURCES[c.source] ?? c.source,
      fromEnvironment: c.source === 'env',
      limits: limitsOf(c),
      privateNetwork: c.allowPrivateNetwork,
      path: `/connections/${encodeURIComponent(c.id)}`,
      createdAt: c.createdAt.toISOString(),
      updatedAt: c.updatedAt.toISOString(),
    };
  }

  function showDetail(ctx: Context, c: StoredConnection, form?: { values: Record<string, string | boolean>; problems: Problems }, status = 200): void {
    const editable = c.source !== 'env';
    const fields = editable ? formFor(c.kind, true) : [];
    const shown = new Set<string>(fields.map((f) => f.name));
    const problems = form?.problems ?? {};
    const other = Object.entries(problems).filter(([f]) => !shown.has(f)).flatMap(([, m]) => m ?? []);
    pages.render(ctx, 'connections', 'connection', {
      title: c.name,
      connection: detailFacts(c),
      editable,
      fields,
      values: form?.values ?? valuesOf(c),
      problems: { ...problems, form: other },
      redirectUri,
    }, status);
  }

  router.get('/console/connections', async (ctx) => {
    const listed = listPage(await connections.list(), ctx.query, (c) => `${c.id} ${c.kind} ${c.name} ${issuerOf(c)} ${c.clientId ?? ''}`);
    pages.render(ctx, 'connections', 'connections', {
      title: 'Connections',
      list: { q: listed.q, total: listed.total, page: listed.page, pages: listed.pages, previous: listed.previous, next: listed.next },
      connections: listed.items.map(detailFacts),
      redirectUri,
    });
  });

  router.get('/console/connections/new', (ctx) => {
    const asked = ctx.query.kind;
    const kind = isKind(asked) ? asked : 'oidc';
    showNew(ctx, kind, { id: '', name: '', storeTokens: false });
  });

  router.post('/console/connections', async (ctx) => {
    const { form } = consoleState(ctx);
    const values = valuesOf(form);
    if (!isKind(form.kind)) {
      await pages.record(ctx, { type: 'console.connection.created', outcome: 'failure', reason: 'invalid kind', details: { kind: String(form.kind ?? '').slice(0, 40) } });
      return showNew(ctx, 'oidc', values, { kind: [`Kind: must be one of ${CONNECTION_KINDS.join(', ')}`] }, 400);
    }
    const kind = form.kind;
    const spec = specFrom(form, kind, text(form.id) ?? kind);
    try {
      const saved = await connections.add(spec, 'console');
      await pages.record(ctx, { type: 'console.connection.created', outcome: 'success', details: { id: saved.id, kind: saved.kind, name: saved.name, issuer: issuerOf(saved), allowPrivateNetwork: saved.allowPrivateNetwork } });
      pages.redirect(ctx, `/connections/${encodeURIComponent(saved.id)}`, `Connection ${saved.id} added: the login page offers "Continue with ${saved.name}". Register ${redirectUri} as its redirect URI at the identity provider.`);
    } catch (err) {
      if (!(err instanceof ConnectionError)) throw err;
      const exists = err instanceof ConnectionExists;
      await pages.record(ctx, { type: 'console.connection.created', outcome: 'failure', reason: exists ? 'connection exists' : 'invalid settings', details: { id: spec.id.slice(0, 60), kind, problems: err.problems.map(([f, m]) => `${f}: ${m}`) } });
      showNew(ctx, kind, values, problemsOf(err), exists ? 409 : 400);
    }
  });

  router.get('/console/connections/:id', async (ctx) => {
    showDetail(ctx, await connectionOf(ctx));
  });

  router.post('/console/connections/:id', async (ctx) => {
    const c = await connectionOf(ctx);
    const { form } = consoleState(ctx);
    if (c.source === 'env') {
      await pages.record(ctx, { type: 'console.connection.updated', outcome: 'failure', reason: 'defined by the environment', details: { id: c.id, kind: c.kind } });
      return showDetail(ctx, c, { values: valuesOf(c), problems: { form: ['This connection comes from the environment (UPSTREAM_*): change the environment and restart instead.'] } }, 409);
    }
    const spec = specFrom(form, c.kind, c.id);
    try {
      const saved = await connections.update(spec, { keepSecret: !form.clientSecret });
      await pages.record(ctx, { type: 'console.connection.updated', outcome: 'success', details: { id: saved.id, kind: saved.kind, name: saved.name, issuer: issuerOf(saved), allowPrivateNetwork: saved.allowPrivateNetwork, credentialReplaced: !!form.clientSecret } });
      pages.redirect(ctx, `/connections/${encodeURIComponent(saved.id)}`, `Connection ${saved.id} saved.`);
    } catch (err) {
      if (!(err instanceof ConnectionError)) throw err;
      await pages.record(ctx, { type: 'console.connection.updated', outcome: 'failure', reason: 'invalid settings', details: { id: c.id, kind: c.kind, problems: err.problems.map(([f, m]) => `${f}: ${m}`) } });
      showDetail(ctx, c, { values: valuesOf(form), problems: problemsOf(err) }, 400);
    }
  });

  router.get('/console/connections/:id/remove', async (ctx) => {
    const c = await connectionOf(ctx);
    pages.render(ctx, 'connections', 'connection-remove', { title: `Remove ${c.name}`, connection: detailFacts(c) });
  });

  router.post('/console/connections/:id/remove', async (ctx) => {
    const c = await connectionOf(ctx);
    if (c.source === 'env') {
      await pages.record(ctx, { type: 'console.connection.removed', outcome: 'failure', reason: 'defined by the environment', details: { id: c.id, kind: c.kind } });
      pages.render(ctx, 'connections', 'connection-remove', { title: `Remove ${c.name}`, connection: detailFacts(c) }, 409);
      return;
    }
    await connections.remove(c.id);
    await pages.record(ctx, { type: 'console.connection.removed', outcome: 'success', details: { id: c.id, kind: c.kind, name: c.name } });
    pages.redirect(ctx, '/connections', `Connection ${c.id} removed: the login page no longer offers it. Accounts linked through it stay; its stored upstream tokens are deleted.`);
  });

  router.post('/console/connections/:id/test', async (ctx) => {
    const c = await connectionOf(ctx);
    let report: DiscoveryReport | undefined;
    let problem: string | undefined;
    try {
      report = await connections.discover(c);
    } catch (err) {
      problem = testProblem(err);
      deps.log.warn({ connection: c.id, reason: detailOf(err) }, 'connection test failed');
    }
    const nothing = !report && !problem;
    await pages.record(ctx, {
      type: 'console.connection.tested',
      outcome: problem ? 'failure' : 'success',
      ...(problem ? { reason: problem.slice(0, 500) } : {}),
      details: { id: c.id, kind: c.kind, ...(report ? { issuer: report.issuer, fetched: report.fetched } : {}) },
    });
    pages.render(ctx, 'connections', 'connection-test', { title: `Test of ${c.name}`, connection: detailFacts(c), report, problem, nothing });
  });

  return router;
}
