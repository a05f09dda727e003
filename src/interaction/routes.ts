// The pages a person meets during /authorize: login, consent, and the error page. Every route lives under
// /interaction/<uid>, where oidc-provider's interaction cookie is scoped, and checks that the cookie's interaction
// is the one in the URL: a link to someone else's interaction does nothing.
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import type { PolicyReader } from '../policy/settings.js';
import type { Db } from '../db/connection.js';
import { inTransaction } from '../db/transaction-scope.js';
import { assertSameOrigin, readForm } from '../http/form-body.js';
import { issuerBase } from '../http/issuer-path.js';
import { normaliseAccountKey, waitText, type RateLimits } from '../http/rate-limits.js';
import type { Logger } from '../log.js';
import { RESOURCE_CONSENT_MARKER } from '../oauth/policies/hooks/consent-covers-resource.js';
import { rememberConsent } from '../oauth/remembered-consent.js';
import type { ResourceRegistry } from '../oauth/resources.js';
import type { Accounts } from '../upstream/accounts.js';
import type { Connections } from '../upstream/connections.js';
import type { UpstreamTransactions } from '../upstream/transactions.js';
import type { TokenVaultApi } from '../upstream/token-vault.js';
import { completeLogin } from './login-result.js';
import { interactionPages, type Details } from './pages.js';
import { upstreamLeg } from './upstream-leg.js';
import type { FirstPartyClients } from '../oauth/first-party-clients.js';
import type { UpstreamMetrics } from '../metrics/upstream-metrics.js';
import { cappedScopes } from '../oauth/policies/hooks/dynamic-client-caps.js';
import { requestRefusal, type AccessRefusal } from '../oauth/policies/hooks/resource-access.js';
import { finishInteraction } from './interaction-result.js';
import { clientFacts } from './client-facts.js';
import { OIDC_SCOPE_TEXT } from './oidc-scope-text.js';
import type { Views } from '../views/views.js';

export interface InteractionDeps {
  config: Config;
  db: Db;
  provider: () => Provider;
  resources: ResourceRegistry;
  accounts: Accounts;
  connections: Connections;
  transactions: UpstreamTransactions;
  vault: TokenVaultApi;
  views: Views;
  audit: AuditLog;
  log: Logger;
  policy: PolicyReader;
  rateLimits: RateLimits;
  upstreamMetrics?: UpstreamMetrics | undefined;
  /** Gatehouse's own clients, whose logins are marked fresh (oauth/first-party-clients.ts). */
  firstParty?: FirstPartyClients | undefined;
}

export function interactionRoutes(deps: InteractionDeps): Router {
  // Case-sensitive: the edge resolved the canonical path (http/route-resolution.ts), and only the exact
  // spelling of each step below is served.
  const router = new Router({ prefix: '/interaction/:uid', sensitive: true });
  // Routes match the path below ISSUER's (http/issuer-path.ts); URLs sent to the browser carry it.
  const base = issuerBase(deps.config.ISSUER);
  const pages = interactionPages(deps.views, deps.provider);
  const { page, expired, details } = pages;
  const loginDeps = { ...deps, pages };
  const upstream = upstreamLeg({ ...deps, pages });

  const caps = { resources: deps.config.DCR_ALLOWED_RESOURCES, scopes: deps.config.DCR_ALLOWED_SCOPES };

  async function consentView(ctx: Context, d: Details) {
    const clientId = String(d.params.client_id);
    const client = await deps.provider().Client.find(clientId);
    const account = d.session?.accountId ? await deps.accounts.findById(d.session.accountId) : undefined;
    const requested = String(d.params.scope ?? '').split(' ').filter(Boolean);
    const resourceParam = d.params.resource;
    const indicators = [resourceParam].flat().filter((v): v is string => typeof v === 'string');
    const resource = await deps.resources.resolve(indicators);
    // Only what the token can carry: the resource's scopes, after the dynamic-client cap.
    const grantable = new Set(resource ? cappedScopes(caps, clientId, Object.keys(resource.scopes)) : []);
    const scopes = requested
      .filter((s) => s in OIDC_SCOPE_TEXT || grantable.has(s))
      .map((s) => ({ name: s, description: resource?.scopes[s] ?? OIDC_SCOPE_TEXT[s] ?? '', tools: resource?.catalogue[s]?.tools ?? [] }));
    return {
      ...clientFacts({ clientId, clientName: client?.clientName }, String(d.params.redirect_uri)),
      resourceName: resource?.name ?? 'this server',
      resourceUri: resource?.uri ?? '',
      accountEmail: account?.email ?? '',
      scopes,
      action: `${base}/interaction/${d.uid}/confirm`,
    };
  }

  /** The access rule (of the MCP server or a requested scope) that keeps this person from this request, if any. */
  const accessRefusal = (d: Details) => requestRefusal(deps, d.session?.accountId, d.params);

  /** A clear denial: the page says what is not allowed; its one button sends the client access_denied. */
  async function refuseAccess(ctx: Context, d: Details, refusal: AccessRefusal) {
    const clientId = String(d.params.client_id);
    const client = await deps.provider().Client.find(clientId);
    await deps.audit.record({ type: 'authorization.refused', outcome: 'failure', actor: d.session?.accountId, clientId, reason: `access rule: ${refusal.reason}`, resource: [d.params.resource].flat().filter(Boolean).join(' ') || undefined, ...requestOrigin(ctx) });
    return page(ctx, 403, 'denied', {
      title: 'Access not allowed',
      description: refusal.accountDisabled
        ? 'Your account is disabled. Ask an administrator if you need it.'
        : refusal.scope
          ? `Your account may not grant the permission ${refusal.scope}. Ask an administrator if you need it.`
          : 'Your account may not use this MCP server. Ask an administrator if you need it.',
      clientName: client?.clientName ?? clientId,
      action: `${base}/interaction/${d.uid}/confirm`,
    });
  }

  /** The connections people may sign in with: a disabled one is neither listed nor started (docs/ADMIN-API.md, "Connections"). */
  const offered = async () => (await deps.connections.list()).filter((c) => c.enabled);

  router.get('/', async (ctx) => {
    const d = await details(ctx);
    if (!d) return expired(ctx);
    if (d.prompt.name === 'login') {
      const connections = await offered();
      const local = connections.find((c) => c.kind === 'local');
      const redirects = connections.filter((c) => c.kind !== 'local');
      // One IdP and no password form: there is nothing to choose, so go straight to the IdP (an enabled one only).
      if (!local && redirects.length === 1) return upstream.start(ctx, d, redirects[0]!);
      if (!local && !redirects.length) {
        return pages.refuse(ctx, 503, 'Sign-in is not configured', 'No identity provider is configured for this service. Ask its administrator.', 'temporarily_unavailable');
      }
      return page(ctx, 200, 'login', await loginView(d, !!local));
    }
    if (d.prompt.name === 'consent') {
      const refusal = await accessRefusal(d);
      if (refusal) return refuseAccess(ctx, d, refusal);
      return page(ctx, 200, 'consent', await consentView(ctx, d));
    }
    return page(ctx, 400, 'error', { title: 'Unsupported request', error: 'invalid_request', description: `Unknown prompt ${d.prompt.name}.` });
  });

  async function loginView(d: Details, local: boolean, extra: Record<string, unknown> = {}) {
    const client = await deps.provider().Client.find(String(d.params.client_id));
    const connections = (await offered())
      .filter((c) => c.kind !== 'local')
      .map((c) => ({ name: c.name, action: `${base}/interaction/${d.uid}/upstream/${c.id}` }));
    return { action: `${base}/interaction/${d.uid}/login`, clientName: client?.clientName ?? undefined, connections, local, ...extra };
  }

  router.post('/login', async (ctx) => {
    assertSameOrigin(ctx, deps.config.ISSUER);
    const d = await details(ctx);
    if (!d || d.prompt.name !== 'login') return expired(ctx);
    const local = (await offered()).find((c) => c.kind === 'local');
    if (!local) return pages.refuse(ctx, 404, 'Password sign-in is off', 'This service does not accept passwords. Use your organisation\'s sign-in.');
    const form = await readForm(ctx);
    const email = (form.email ?? '').slice(0, 320);
    // Brute force: every attempt is counted before the password is checked, so parallel guesses
    // cannot slip past the limit; a success then gives its points back. Over the limit, even the right password
    // waits for the window to pass.
    const { loginAccount, loginIp } = deps.rateLimits;
    const account = normaliseAccountKey(email);
    const limited = await deps.rateLimits.check(ctx, [[loginAccount, account], [loginIp, ctx.ip]], { actor: email, clientId: String(d.params.client_id) });
    if (limited) {
      ctx.set('Retry-After', String(limited.verdict.retryAfterSeconds));
      return page(ctx, 429, 'login', await loginView(d, true, { error: `Too many failed sign-in attempts. Try again in ${waitText(limited.verdict.retryAfterSeconds)}.`, email }));
    }
    const connector = deps.connections.connector(local);
    const identity = connector.kind === 'password' ? await connector.login(email, (form.password ?? '').slice(0, 1024)) : undefined;
    if (!identity) {
      await deps.audit.record({ type: 'login', outcome: 'failure', actor: email, clientId: String(d.params.client_id), reason: 'invalid email or password', details: { connector: local.id }, ...requestOrigin(ctx) });
      return page(ctx, 401, 'login', await loginView(d, true, { error: 'Invalid email or password.', email }));
    }
    await Promise.all([loginAccount.reset(account), loginIp.refund(ctx.ip)]);
    return completeLogin(loginDeps, ctx, d, identity);
  });

  router.post('/upstream/:connection', async (ctx) => {
    assertSameOrigin(ctx, deps.config.ISSUER);
    const d = await details(ctx);
    if (!d || d.prompt.name !== 'login') return expired(ctx);
    const connection = (await offered()).find((c) => c.id === ctx.params.connection);
    if (!connection || connection.kind === 'local') return pages.refuse(ctx, 404, 'Unknown sign-in option', 'This sign-in option does not exist. Start again from your application.');
    return upstream.start(ctx, d, connection);
  });

  router.get('/upstream/callback', (ctx) => upstream.finish(ctx));

  router.post('/confirm', async (ctx) => {
    assertSameOrigin(ctx, deps.config.ISSUER);
    const d = await details(ctx);
    if (!d || d.prompt.name !== 'consent' || !d.session?.accountId) return expired(ctx);
    const form = await readForm(ctx);
    const provider = deps.provider();
    const accountId = d.session.accountId;
    const clientId = String(d.params.client_id);
    const indicators = [d.params.resource].flat().filter((v): v is string => typeof v === 'string');
    const meta = { actor: accountId, clientId, resource: indicators.join(' ') || undefined, ...requestOrigin(ctx) };

    // The access rules are checked again here: a crafted Allow must not get past the page that refused it.
    const refusal = form.decision === 'allow' ? await accessRefusal(d) : undefined;
    if (refusal) return refuseAccess(ctx, d, refusal);
    if (form.decision !== 'allow') {
      await deps.audit.record({ type: 'consent', outcome: 'failure', reason: 'denied by the user', ...meta });
      const redirectTo = await finishInteraction(d, { error: 'access_denied', error_description: 'The user denied the request' }, { mergeWithLastSubmission: false });
      return ctx.redirect(redirectTo);
    }

    const grant = d.grantId ? await provider.Grant.find(d.grantId) : new provider.Grant({ accountId, clientId });
    if (!grant) return expired(ctx);
    const missing = d.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (missing.missingOIDCScope?.length) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    // Resources the request names, or the default the provider resolved for it.
    const resolved = indicators.length ? indicators : [(await deps.resources.resolve([]))?.uri].filter((v): v is string => !!v);
    for (const indicator of resolved) grant.addResourceScope(indicator, RESOURCE_CONSENT_MARKER);
    // One transaction: the grant (saved by oidc-provider through the adapter), the consent memory and the audit
    // row commit together or not at all (db/transaction-scope.ts). The interaction result is written after it.
    const grantId = await inTransaction(deps.db, async (trx) => {
      const id = await grant.save();
      await rememberConsent(trx, accountId, clientId, id);
      await deps.audit.record({ type: 'consent', outcome: 'success', details: { scope: String(d.params.scope ?? '') }, ...meta });
      return id;
    });
    const redirectTo = await finishInteraction(d, { consent: { grantId } }, { mergeWithLastSubmission: true });
    ctx.redirect(redirectTo);
  });

  return router;
}
