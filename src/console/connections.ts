// Console: connections, the upstream identity providers people log in with. List, add, edit and remove them, and
// Test one: run its discovery now and say what was found (or what went wrong, in plain words). The form shows the
// fields the chosen kind reads and nothing else; every check is the kind's own (validateConnection, through the
// Connections service), its problems shown next to their fields. A client secret is write-only: never shown, never
// audited; an empty secret on edit keeps the stored one. The environment's connection (UPSTREAM_*, source "env") is
// put back by every start, so the console shows it but refuses to change or remove it; one the configuration file
// manages shows "Managed by <file>" and is refused likewise. Every action is the admin service layer's
// (admin/connections.ts; docs/ARCHITECTURE.md "The admin service layer"), which audits it as `connection.*`.
// A connection's page also says how its people are re-validated at refresh (the kind's own sentence), and makes its
// global logout secret for Okta Universal Logout: shown once, with the endpoint URL to paste (docs/UNIVERSAL-LOGOUT.md).
// A connection goes live (on the sign-in page) only once its Test passes: a failing one is not saved until the admin
// chooses "Save disabled" or "Save and enable anyway" under the failure in words (docs/SECURITY.md, "Connections are
// tested before they go live"); Disable takes one off the sign-in page and Enable tests it again.
import { consoleRouter } from './router.js';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { CALLBACK_PATH } from '../interaction/upstream-leg.js';
import { personActor, type Actor } from '../admin/actor.js';
import { AdminError } from '../admin/admin-error.js';
import { ConnectionAdmin, ConnectionRefused, ConnectionTestFailed, type ConnectionView, type TestBeforeEnabling } from '../admin/connections.js';
import { requestOrigin } from '../audit/writer.js';
import { CONNECTION_KINDS, connectionFields, type ConnectionKindName, type ConnectionSpec, type SpecField } from '../upstream/connection.js';
import { connectionSpec } from '../upstream/connections.js';
import { GITHUB_BASE } from '../upstream/github/index.js';
import { GOOGLE_ISSUER } from '../upstream/google/index.js';
import { KINDS } from '../upstream/kinds.js';
import type { ConsoleDeps } from './deps.js';
import { inLane } from '../admin/serialized.js';
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
  storeTokens: { label: 'Ask the IdP for a refresh token (people are re-validated at every refresh; tokens kept encrypted)', type: 'checkbox' },
  allowPrivateNetwork: { label: 'The identity provider is on a private network', type: 'checkbox', hint: 'Lets this connection\'s requests reach loopback and private (RFC 1918, unique-local) addresses. Off: public addresses only. Link-local and cloud metadata addresses are always refused.' },
  idJag: { label: 'Accept identity assertions (ID-JAG) from this identity provider', type: 'checkbox', hint: 'Enterprise-Managed Authorization (Okta Cross App Access): a confidential client presents an assertion this IdP signed and gets a token for an MCP server without a sign-in page. The IdP decides who may; Gatehouse still applies its sign-in policy and the server\'s access rules.' },
  idJagResource: { label: 'MCP server for assertions that name none', type: 'url', hint: 'The resource URI of a registered MCP server, used when an assertion carries no resource (Okta\'s do not). Empty: such assertions are refused.' },
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
    idJag: form.idJag === 'on' || form.idJag === 'true',
    idJagResource: text(form.idJagResource),
  });
}

/**
 * What the buttons under a form ask for (`decision`): Save (test first when it leaves the connection enabled),
 * "Save disabled", or "Save and enable anyway" once a failed test was shown.
 */
function decisionOf(form: Record<string, string>): { enabled: boolean | undefined; testing: TestBeforeEnabling } {
  if (form.decision === 'disabled') return { enabled: false, testing: 'skipped' };
  if (form.decision === 'enable_anyway') return { enabled: true, testing: 'skipped' };
  return { enabled: undefined, testing: 'required' };
}

/** The values a form shows: what was typed, or what is stored; never a secret. */
function valuesOf(source: Record<string, string> | ConnectionView): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const [field, info] of Object.entries(FIELDS) as Array<[FormField, FieldInfo]>) {
    if (field === 'clientSecret') continue;
    const v = (source as Record<string, unknown>)[field];
    out[field] = info.type === 'checkbox' ? v === true || v === 'on' || v === 'true' : Array.isArray(v) ? v.join(', ') : typeof v === 'string' ? v : '';
  }
  return out;
}

/** The issuer a connection logs in against, its own or the one its kind fixes. */
function issuerOf(c: ConnectionView): string {
  if (c.issuer) return c.issuer;
  if (c.kind === 'entra') return `https://login.microsoftonline.com/${c.tenant ?? '<tenant>'}/v2.0`;
  if (c.kind === 'google') return GOOGLE_ISSUER;
  if (c.kind === 'github') return GITHUB_BASE;
  return '';
}

function limitsOf(c: ConnectionView): string {
  return [
    ...(c.hostedDomains.length ? [`domains ${c.hostedDomains.join(', ')}`] : []),
    ...(c.kind === 'entra' && c.tenant ? [`tenant ${c.tenant}`] : []),
    ...(c.allowedTenants.length ? [`tenants ${c.allowedTenants.join(', ')}`] : []),
    ...(c.orgs.length ? [`orgs ${c.orgs.join(', ')}`] : []),
  ].join('; ');
}

const SOURCES: Record<string, string> = { env: 'environment (UPSTREAM_*)', cli: 'CLI', console: 'console', api: 'admin API', config: 'configuration file' };

/** What the page says after a save: whether people now see it on the sign-in page. */
function savedNotice(c: ConnectionView, done: 'added' | 'saved' | 'enabled' | 'disabled'): string {
  return c.enabled
    ? `Connection ${c.id} ${done}: the sign-in page offers ${c.kind === 'local' ? 'the email and password form' : `"Continue with ${c.name}"`}.`
    : `Connection ${c.id} ${done}, disabled: the sign-in page does not offer it. Enable it on its page once its Test passes.`;
}

// The Test page's wording is the service's (admin/connections.ts); re-exported for the pages' tests.
export { TEST_REFUSED, TEST_UNREACHABLE, testProblem } from '../admin/connections.js';

export function connectionsPages(deps: ConsoleDeps): Router {
  const router = consoleRouter();
  const { pages } = deps;
  const admin = inLane(new ConnectionAdmin(deps), deps);
  const actorOf = (ctx: Context): Actor => personActor(consoleState(ctx).account, requestOrigin(ctx));
  const redirectUri = `${deps.config.ISSUER}${CALLBACK_PATH}`;
  const kinds = CONNECTION_KINDS.map((k) => ({ value: k, label: `${k} — ${KINDS[k].displayName}` }));

  async function connectionOf(ctx: Context): Promise<ConnectionView> {
    const found = await admin.find(String(ctx.params.id));
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

  function problemsOf(err: ConnectionRefused): Problems {
    const problems: Problems = {};
    for (const [field, message] of err.problems) (problems[field] ??= []).push(`${field === 'kind' ? 'Kind' : (FIELDS[field as FormField]?.label ?? field)}: ${message}`);
    return problems;
  }

  function showNew(ctx: Context, kind: ConnectionKindName, values: Record<string, string | boolean>, problems: Problems = {}, status = 200, untested?: Untested): void {
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
      untested,
    }, status);
  }

  /**
   * A failed test before going live: the failure in words, and the secret the admin typed, put back in its field so
   * that "Save disabled" or "enable anyway" does not lose it (the page is the admin's own answer, never cached).
   */
  type Untested = { problem: string; secret: string };
  const untestedOf = (err: ConnectionTestFailed, form: Record<string, string>): Untested => ({ problem: err.problem, secret: form.clientSecret ?? '' });

  function detailFacts(c: ConnectionView) {
    return {
      enabled: c.enabled,
      id: c.id,
      kind: c.kind,
      kindName: KINDS[c.kind].displayName,
      name: c.name,
      issuer: issuerOf(c),
      clientId: c.clientId ?? '',
      hasSecret: c.hasClientSecret,
      source: SOURCES[c.source] ?? c.source,
      fromEnvironment: c.source === 'env',
      managedBy: c.managedBy,
      limits: limitsOf(c),
      privateNetwork: c.allowPrivateNetwork,
      idJag: c.idJag ? `accepted${c.idJagResource ? `; without a resource: ${c.idJagResource}` : ''}` : undefined,
      revalidation: KINDS[c.kind].revalidation(c).note,
      hasGlobalLogoutSecret: c.hasGlobalLogoutSecret,
      endpoints: admin.endpoints(c.id),
      path: `/connections/${encodeURIComponent(c.id)}`,
      createdAt: c.createdAt.toISOString(),
      updatedAt: c.updatedAt.toISOString(),
    };
  }

  function showDetail(ctx: Context, c: ConnectionView, form?: { values: Record<string, string | boolean>; problems: Problems; untested?: Untested; enabling?: Untested }, status = 200): void {
    const editable = c.source !== 'env' && !c.managedBy;
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
      untested: form?.untested,
      enabling: form?.enabling,
    }, status);
  }

  router.get('/console/connections', async (ctx) => {
    const listed = listPage(await admin.list(), ctx.query, (c) => `${c.id} ${c.kind} ${c.name} ${issuerOf(c)} ${c.clientId ?? ''}`);
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
    // An unknown kind goes to the service too, whose checks refuse it (and audit the refusal).
    const asked = String(form.kind ?? '').slice(0, 40);
    const kind = isKind(asked) ? asked : 'oidc';
    const spec = specFrom(form, asked as ConnectionKindName, text(form.id) ?? asked);
    const { enabled, testing } = decisionOf(form);
    try {
      const saved = await admin.add(actorOf(ctx), spec, { enabled: enabled ?? true, testing });
      pages.redirect(ctx, `/connections/${encodeURIComponent(saved.id)}`, `${savedNotice(saved, 'added')} Register ${redirectUri} as its redirect URI at the identity provider.`);
    } catch (err) {
      if (err instanceof ConnectionTestFailed) return showNew(ctx, kind, values, {}, err.status, untestedOf(err, form));
      if (!(err instanceof ConnectionRefused)) throw err;
      showNew(ctx, kind, values, problemsOf(err), err.status);
    }
  });

  router.get('/console/connections/:id', async (ctx) => {
    showDetail(ctx, await connectionOf(ctx));
  });

  router.post('/console/connections/:id', async (ctx) => {
    const c = await connectionOf(ctx);
    const { form } = consoleState(ctx);
    const { enabled, testing } = decisionOf(form);
    try {
      const saved = await admin.update(actorOf(ctx), specFrom(form, c.kind, c.id), { keepSecret: !form.clientSecret, enabled, testing });
      pages.redirect(ctx, `/connections/${encodeURIComponent(saved.id)}`, savedNotice(saved, 'saved'));
    } catch (err) {
      if (err instanceof ConnectionTestFailed) return showDetail(ctx, c, { values: valuesOf(form), problems: {}, untested: untestedOf(err, form) }, err.status);
      if (err instanceof ConnectionRefused) return showDetail(ctx, c, { values: valuesOf(form), problems: problemsOf(err) }, err.status);
      if (err instanceof AdminError && err.status !== 404) return showDetail(ctx, c, { values: valuesOf(c), problems: { form: [err.message] } }, err.status);
      if (err instanceof AdminError) ctx.throw(404, err.message);
      throw err;
    }
  });

  router.post('/console/connections/:id/enable', async (ctx) => {
    const c = await connectionOf(ctx);
    const { testing } = decisionOf(consoleState(ctx).form);
    try {
      const saved = await admin.setEnabled(actorOf(ctx), c.id, true, testing);
      pages.redirect(ctx, `/connections/${encodeURIComponent(saved.id)}`, savedNotice(saved, 'enabled'));
    } catch (err) {
      if (err instanceof ConnectionTestFailed) return showDetail(ctx, c, { values: valuesOf(c), problems: {}, enabling: { problem: err.problem, secret: '' } }, err.status);
      if (!(err instanceof AdminError)) throw err;
      if (err.status === 404) ctx.throw(404, err.message);
      showDetail(ctx, c, { values: valuesOf(c), problems: { form: [err.message] } }, err.status);
    }
  });

  router.post('/console/connections/:id/disable', async (ctx) => {
    const c = await connectionOf(ctx);
    try {
      const saved = await admin.setEnabled(actorOf(ctx), c.id, false);
      pages.redirect(ctx, `/connections/${encodeURIComponent(saved.id)}`, savedNotice(saved, 'disabled'));
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      if (err.status === 404) ctx.throw(404, err.message);
      showDetail(ctx, c, { values: valuesOf(c), problems: { form: [err.message] } }, err.status);
    }
  });

  router.get('/console/connections/:id/remove', async (ctx) => {
    const c = await connectionOf(ctx);
    pages.render(ctx, 'connections', 'connection-remove', { title: `Remove ${c.name}`, connection: detailFacts(c) });
  });

  router.post('/console/connections/:id/remove', async (ctx) => {
    const c = await connectionOf(ctx);
    try {
      await admin.remove(actorOf(ctx), c.id);
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      if (err.status === 404) ctx.throw(404, err.message);
      pages.render(ctx, 'connections', 'connection-remove', { title: `Remove ${c.name}`, connection: detailFacts(c), problem: err.message }, err.status);
      return;
    }
    pages.redirect(ctx, '/connections', `Connection ${c.id} removed: the login page no longer offers it. Accounts linked through it stay; its stored upstream tokens are deleted.`);
  });

  router.post('/console/connections/:id/global-logout-secret', async (ctx) => {
    const c = await connectionOf(ctx);
    // Rendered, not redirected: the secret must not travel in a notice cookie, and is shown this once.
    const made = await admin.rotateGlobalLogoutSecret(actorOf(ctx), c.id);
    pages.render(ctx, 'connections', 'connection-global-logout-secret', { title: `Global logout secret of ${c.name}`, connection: detailFacts(made.connection), secret: made.secret, endpoints: made.endpoints });
  });

  router.post('/console/connections/:id/global-logout-secret/clear', async (ctx) => {
    const c = await connectionOf(ctx);
    try {
      await admin.clearGlobalLogoutSecret(actorOf(ctx), c.id);
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      if (err.status === 404) ctx.throw(404, err.message);
      return showDetail(ctx, c, { values: valuesOf(c), problems: { form: [err.message] } }, err.status);
    }
    pages.redirect(ctx, `/connections/${encodeURIComponent(c.id)}`, `The global logout secret of ${c.id} is removed: calls with it are refused.`);
  });

  router.post('/console/connections/:id/test', async (ctx) => {
    const c = await connectionOf(ctx);
    const { report, problem } = await admin.test(actorOf(ctx), c.id);
    pages.render(ctx, 'connections', 'connection-test', { title: `Test of ${c.name}`, connection: detailFacts(c), report, problem, nothing: !report && !problem });
  });

  return router;
}
