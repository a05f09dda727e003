// RFC 6749 §3.3 at the token endpoint, for the admin API (docs/ADMIN-API.md, "Tokens"): an admin API client that
// asks client_credentials without `scope` means "what I was given", so its admin scopes are filled in; one that asks
// for an admin scope it was not given is refused with invalid_scope rather than handed a token without it. What the
// token carries is still decided after the provider authenticated the client (policies/hooks/resource-indicators.ts
// gives an admin API client exactly the scopes an administrator gave it), so a claimed client_id can only fill in or
// refuse a request that then fails authentication anyway.
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { parsedForm } from '../../../http/provider-form.js';
import { requestClientId } from '../../request-client.js';
import { ADMIN_API_PROPERTY, ADMIN_API_SCOPES } from '../client-metadata/client-admin-properties.js';

/** A rule of the token route (src/policy-table.ts), after the form is parsed. */
export function adminApiDefaultScope(provider: () => Provider): Middleware {
  return async (ctx, next) => {
    const body = parsedForm(ctx);
    if (body?.grant_type !== 'client_credentials') return next();
    const clientId = requestClientId(ctx);
    const client = clientId ? await provider().Client.find(clientId).catch(() => undefined) : undefined;
    const given = client ? (client as unknown as Record<string, unknown>)[ADMIN_API_PROPERTY] : undefined;
    if (typeof given !== 'string' || !given) return next();
    if (typeof body.scope !== 'string' || body.scope === '') {
      body.scope = given;
      return next();
    }
    const allowed = new Set(given.split(' '));
    const refused = body.scope.split(' ').find((s) => (ADMIN_API_SCOPES as readonly string[]).includes(s) && !allowed.has(s));
    if (refused) {
      ctx.status = 400;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'invalid_scope', error_description: `this client was not given ${refused}` };
      return;
    }
    return next();
  };
}
