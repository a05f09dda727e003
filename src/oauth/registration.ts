// Dynamic Client Registration governance (RFC 7591, RFC 7592, issue #3), around oidc-provider's
// own registration endpoint:
//   before: per-IP rate limit, the maximum number of dynamic clients (in all and per source address), and the
//           client-metadata policy (client-metadata-policy.ts, as source `dynamic` or `update`) for POST /register
//           and PUT /register/<id>;
//   after:  the client is entered in the client registry (pending in approval mode) and every registration,
//           update, deletion and refusal is audited with the rule that refused it.
// REGISTRATION (open | approval | closed) is the policy in force (policy/settings.ts: the console's value, else the
// environment's), read per request, so a change holds on every instance within seconds; closed is enforced here
// (registration-closed.ts), not by oidc-provider.
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import { jsonProblem } from '../http/input-sanity.js';
import { readRawBody, setParsedBody } from '../http/raw-body.js';
import { routeOf } from '../http/route-resolution.js';
import type { PolicyReader } from '../policy/settings.js';
import type { ClientRegistry } from './client-registry.js';
import { applyClientMetadataPolicy, type ClientMetadata, type MetadataPolicy } from './client-metadata-policy.js';
import { initialAccessTokenProblem } from './policies/request/registration-closed.js';
import { answerJson, type RateLimits } from '../http/rate-limits.js';

export interface RegistrationDeps {
  config: Config;
  staticScopes: readonly string[];
  audit: AuditLog;
  registry: ClientRegistry;
  rateLimits: RateLimits;
  policy: PolicyReader;
  /** The provider of the moment: its InitialAccessToken model checks tokens when registration is closed. */
  provider: () => Provider;
}

/**
 * The rule of the registration route (`create`: POST /register) and of the RFC 7592 management route (`manage`:
 * GET, PUT, DELETE /register/<id>), src/policy-table.ts. The client id is the route's parameter, decoded once at
 * the edge (http/route-resolution.ts).
 */
export function registrationPolicy(deps: RegistrationDeps, route: 'create' | 'manage'): Middleware {
  const { config, audit, registry } = deps;
  const policy: MetadataPolicy = { staticScopes: deps.staticScopes, redirectUriSchemes: config.REDIRECT_URI_SCHEMES };

  const refuse = async (ctx: Context, status: number, error: string, description: string, clientId?: string) => {
    ctx.status = status;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { error, error_description: description };
    await audit.record({ type: 'registration.refused', outcome: 'failure', reason: `${error}: ${description}`, clientId, ...requestOrigin(ctx) });
  };

  return async (ctx, next) => {
    const create = route === 'create' && ctx.method === 'POST';
    const manage = route === 'manage' && ['GET', 'HEAD', 'PUT', 'DELETE'].includes(ctx.method);
    if (!create && !manage) return next();
    const clientId = manage ? routeOf(ctx)?.params.clientId : undefined;
    // Read once: the whole registration follows the mode in force when it arrived.
    const mode = create ? await deps.policy.get('REGISTRATION') : undefined;

    if (create) {
      // Audited once per window as rate_limit.exceeded (not per refused request: a flood must not fill the audit log).
      const limited = await deps.rateLimits.check(ctx, [[deps.rateLimits.register, ctx.ip]]);
      if (limited) return answerJson(ctx, limited);
      // Before anything else answers (the client cap, the metadata rules): a closed endpoint tells a caller without
      // a token nothing more than that.
      if (mode === 'closed') {
        const problem = await initialAccessTokenProblem(ctx, deps.provider());
        if (problem) {
          ctx.set('WWW-Authenticate', `Bearer realm="${config.ISSUER}", error="invalid_token", error_description="${problem}"`);
          return refuse(ctx, 401, 'invalid_token', `registration is closed: ${problem}`);
        }
      }
      const registered = await registry.countDynamicWithSource(ctx.ip);
      if (registered.all >= config.DCR_MAX_CLIENTS) {
        return refuse(ctx, 400, 'invalid_client_metadata', 'the maximum number of registered clients has been reached; ask an administrator');
      }
      // One source cannot hold the whole table (docs/SECURITY.md, "Issue 16"): its live clients are capped too.
      if (registered.fromSource >= config.DCR_MAX_CLIENTS_PER_SOURCE) {
        return refuse(ctx, 400, 'invalid_client_metadata', 'the maximum number of clients registered from this address has been reached; ask an administrator');
      }
    }

    // An update writes the client and an audit row: it counts against the registration limit like a registration,
    // or a client's own registration access token could rewrite it in a loop (issue 16's review).
    if (manage && ctx.method === 'PUT') {
      const limited = await deps.rateLimits.check(ctx, [[deps.rateLimits.register, ctx.ip]], { clientId });
      if (limited) return answerJson(ctx, limited);
    }

    if ((create || ctx.method === 'PUT') && ctx.is('application/json')) {
      let body: unknown;
      try {
        body = JSON.parse(await readRawBody(ctx));
      } catch (err) {
        if ((err as { status?: number }).status === 413) throw err;
        body = undefined;
      }
      if (!body || typeof body !== 'object' || Array.isArray(body)) return refuse(ctx, 400, 'invalid_client_metadata', 'the request body must be a JSON object', clientId);
      const badValue = jsonProblem(body);
      if (badValue) return refuse(ctx, 400, 'invalid_client_metadata', `a metadata value ${badValue}`, clientId);
      const decision = applyClientMetadataPolicy(body as ClientMetadata, create ? 'dynamic' : 'update', policy);
      if (!decision.ok) return refuse(ctx, 400, decision.refusal.error, decision.refusal.error_description, clientId);
      setParsedBody(ctx, body);
    }

    await next();

    if (create && ctx.status === 201) {
      const created = ctx.body as { client_id?: string; client_name?: string };
      if (!created?.client_id) return;
      const status = mode === 'approval' ? 'pending' : 'active';
      try {
        await registry.record({ clientId: created.client_id, origin: 'dynamic', status, clientName: created.client_name, ip: ctx.ip });
      } catch (err) {
        // A client without its registry entry would escape approval, the client cap and expiry: undo it.
        await registry.remove(created.client_id);
        throw err;
      }
      await audit.record({ type: 'registration.created', outcome: 'success', clientId: created.client_id, details: { status, client_name: created.client_name }, ...requestOrigin(ctx) });
    } else if (create && ctx.status >= 400) {
      const err = ctx.body as { error?: string; error_description?: string } | undefined;
      await audit.record({ type: 'registration.refused', outcome: 'failure', reason: [err?.error, err?.error_description].filter(Boolean).join(': '), ...requestOrigin(ctx) });
    } else if (ctx.method === 'PUT' && ctx.status === 200) {
      await audit.record({ type: 'registration.updated', outcome: 'success', clientId, ...requestOrigin(ctx) });
    } else if (ctx.method === 'DELETE' && ctx.status === 204 && clientId) {
      await registry.remove(clientId);
      await audit.record({ type: 'registration.deleted', outcome: 'success', clientId, ...requestOrigin(ctx) });
    } else if (manage && ctx.status >= 400) {
      const err = ctx.body as { error?: string; error_description?: string } | undefined;
      await audit.record({ type: 'registration.management_refused', outcome: 'failure', clientId, reason: [err?.error, err?.error_description].filter(Boolean).join(': '), ...requestOrigin(ctx) });
    }
  };
}
