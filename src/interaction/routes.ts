// The pages a person meets during /authorize: login, consent, and the error page. Every route lives under
// /interaction/<uid>, where oidc-provider's interaction cookie is scoped, and checks that the cookie's interaction
// is the one in the URL (DESIGN.md §10.9): a link to someone else's interaction does nothing.
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import { assertSameOrigin, readForm } from '../http/form-body.js';
import type { Logger } from '../log.js';
import { RESOURCE_CONSENT_MARKER } from '../oauth/policies/consent-covers-resource.js';
import { rememberConsent } from '../oauth/remembered-consent.js';
import type { ResourceRegistry } from '../oauth/resources.js';
import type { LocalAccounts } from '../upstream/local/accounts.js';
import { cappedScopes } from '../oauth/policies/dynamic-client-caps.js';
import { clientFacts } from './client-facts.js';
import type { Views } from './views.js';

const OIDC_SCOPE_TEXT: Record<string, string> = {
  openid: 'Confirm who you are',
  email: 'See your email address',
  profile: 'See your name',
  offline_access: 'Stay connected while you are away',
};

export interface InteractionDeps {
  config: Config;
  db: Db;
  provider: () => Provider;
  resources: ResourceRegistry;
  accounts: LocalAccounts;
  views: Views;
  audit: AuditLog;
  log: Logger;
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;


export function interactionRoutes(deps: InteractionDeps): Router {
  const router = new Router({ prefix: '/interaction/:uid' });

  const page = (ctx: Context, status: number, view: string, data: Record<string, unknown>) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = deps.views.render(view, data);
  };

  const expired = (ctx: Context) =>
    page(ctx, 400, 'error', {
      title: 'This sign-in has expired',
      error: 'invalid_request',
      description: 'The sign-in session was not found or has expired. Start again from your application.',
    });

  /** The interaction bound to this browser, only if it is the one named in the URL. */
  async function details(ctx: Context): Promise<Details | undefined> {
    try {
      const d = await deps.provider().interactionDetails(ctx.req, ctx.res);
      return d.uid === ctx.params.uid ? d : undefined;
    } catch {
      return undefined;
    }
  }

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
      .map((s) => ({ name: s, description: resource?.scopes[s] ?? OIDC_SCOPE_TEXT[s] ?? '' }));
    return {
      ...clientFacts({ clientId, clientName: client?.clientName }, String(d.params.redirect_uri)),
      resourceName: resource?.name ?? 'this server',
      resourceUri: resource?.uri ?? '',
      accountEmail: account?.email ?? '',
      scopes,
      action: `/interaction/${d.uid}/confirm`,
    };
  }

  router.get('/', async (ctx) => {
    const d = await details(ctx);
    if (!d) return expired(ctx);
    if (d.prompt.name === 'login') {
      const client = await deps.provider().Client.find(String(d.params.client_id));
      return page(ctx, 200, 'login', { action: `/interaction/${d.uid}/login`, clientName: client?.clientName ?? undefined });
    }
    if (d.prompt.name === 'consent') return page(ctx, 200, 'consent', await consentView(ctx, d));
    return page(ctx, 400, 'error', { title: 'Unsupported request', error: 'invalid_request', description: `Unknown prompt ${d.prompt.name}.` });
  });

  router.post('/login', async (ctx) => {
    assertSameOrigin(ctx, deps.config.ISSUER);
    const d = await details(ctx);
    if (!d) return expired(ctx);
    if (d.prompt.name !== 'login') return expired(ctx);
    const form = await readForm(ctx);
    const email = (form.email ?? '').slice(0, 320);
    const clientId = String(d.params.client_id);
    const identity = await deps.accounts.connector(deps.config.ISSUER).login(email, (form.password ?? '').slice(0, 1024));
    const meta = requestOrigin(ctx);
    if (!identity) {
      await deps.audit.record({ type: 'login', outcome: 'failure', actor: email, clientId, reason: 'invalid email or password', ...meta });
      return page(ctx, 401, 'login', { action: `/interaction/${d.uid}/login`, error: 'Invalid email or password.', email });
    }
    const domain = identity.email?.split('@')[1] ?? '';
    if (deps.config.ALLOWED_EMAIL_DOMAINS.length && !deps.config.ALLOWED_EMAIL_DOMAINS.includes(domain)) {
      await deps.audit.record({ type: 'login', outcome: 'failure', actor: identity.email, clientId, reason: 'email domain not allowed', ...meta });
      return page(ctx, 403, 'error', { title: 'Access not allowed', error: 'access_denied', description: 'Your account is not allowed to use this service.' });
    }
    const groups = deps.config.ALLOWED_GROUPS;
    if (groups.length && !identity.groups.some((g) => groups.includes(g))) {
      await deps.audit.record({ type: 'login', outcome: 'failure', actor: identity.email, clientId, reason: 'not in an allowed group', ...meta });
      return page(ctx, 403, 'error', { title: 'Access not allowed', error: 'access_denied', description: 'Your account is not allowed to use this service.' });
    }
    await deps.audit.record({ type: 'login', outcome: 'success', actor: identity.email, clientId, details: { connector: identity.connector }, ...meta });
    const redirectTo = await deps.provider().interactionResult(ctx.req, ctx.res, { login: { accountId: identity.subject } }, { mergeWithLastSubmission: false });
    ctx.redirect(redirectTo);
  });

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

    if (form.decision !== 'allow') {
      await deps.audit.record({ type: 'consent', outcome: 'failure', reason: 'denied by the user', ...meta });
      const redirectTo = await provider.interactionResult(
        ctx.req,
        ctx.res,
        { error: 'access_denied', error_description: 'The user denied the request' },
        { mergeWithLastSubmission: false },
      );
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
    const grantId = await grant.save();
    await rememberConsent(deps.db, accountId, clientId, grantId);
    await deps.audit.record({ type: 'consent', outcome: 'success', details: { scope: String(d.params.scope ?? '') }, ...meta });
    const redirectTo = await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    ctx.redirect(redirectTo);
  });

  return router;
}
