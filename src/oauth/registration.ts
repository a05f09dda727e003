// Dynamic Client Registration governance (RFC 7591, RFC 7592, DESIGN.md §6, issue #3), around oidc-provider's
// own registration endpoint:
//   before: per-IP rate limit, the maximum number of dynamic clients, and the client-metadata rules (one module
//           each in policies/, composed in `clientMetadataRules`) for POST /register and PUT /register/<id>;
//   after:  the client is entered in the client registry (pending in approval mode) and every registration,
//           update, deletion and refusal is audited with the rule that refused it.
// REGISTRATION (open | approval | closed) is the policy in force (policy/settings.ts: the console's value, else the
// environment's), read per request, so a change holds on every instance within seconds; closed is enforced here
// (registration-closed.ts), not by oidc-provider.
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import { readRawBody, setParsedBody } from '../http/raw-body.js';
import type { PolicyReader } from '../policy/settings.js';
import type { ClientRegistry } from './client-registry.js';
import { registrationApplicationType } from './policies/registration-application-type.js';
import { registrationGrantTypes } from './policies/registration-grant-types.js';
import { initialAccessTokenProblem } from './policies/registration-closed.js';
import { answerJson, type RateLimits } from '../http/rate-limits.js';
import { registrationRedirectUris } from './policies/registration-redirect-uris.js';
import { registrationScope } from './policies/registration-scope.js';

export type ClientMetadata = Record<string, unknown>;
/** Returns a refusal reason, or undefined; may normalise the metadata in place. */
export type ClientMetadataRule = (meta: ClientMetadata) => string | undefined;

export interface MetadataPolicy {
  staticScopes: readonly string[];
  redirectUriSchemes: readonly string[];
}

export function clientMetadataRules(policy: MetadataPolicy): Array<[ClientMetadataRule, string]> {
  return [
    [registrationRedirectUris(policy.redirectUriSchemes), 'invalid_redirect_uri'],
    [registrationGrantTypes, 'invalid_client_metadata'],
    [registrationScope(policy.staticScopes), 'invalid_client_metadata'],
    [registrationApplicationType, 'invalid_client_metadata'],
  ];
}

/** Applies the rules; returns the first refusal as an OAuth error, or undefined. */
export function checkClientMetadata(meta: ClientMetadata, policy: MetadataPolicy): { error: string; error_description: string } | undefined {
  for (const [rule, error] of clientMetadataRules(policy)) {
    const problem = rule(meta);
    if (problem) return { error, error_description: problem };
  }
  return undefined;
}

export interface RegistrationDeps {
  config: Config;
  registrationPath: string;
  staticScopes: readonly string[];
  audit: AuditLog;
  registry: ClientRegistry;
  rateLimits: RateLimits;
  policy: PolicyReader;
  /** The provider of the moment: its InitialAccessToken model checks tokens when registration is closed. */
  provider: () => Provider;
}

export function registrationPolicy(deps: RegistrationDeps): Middleware {
  const { config, registrationPath, audit, registry } = deps;
  const policy: MetadataPolicy = { staticScopes: deps.staticScopes, redirectUriSchemes: config.REDIRECT_URI_SCHEMES };

  const refuse = async (ctx: Context, status: number, error: string, description: string, clientId?: string) => {
    ctx.status = status;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { error, error_description: description };
    await audit.record({ type: 'registration.refused', outcome: 'failure', reason: `${error}: ${description}`, clientId, ...requestOrigin(ctx) });
  };

  return async (ctx, next) => {
    const create = ctx.method === 'POST' && ctx.path === registrationPath;
    const manage = ctx.path.startsWith(`${registrationPath}/`) && ['GET', 'PUT', 'DELETE'].includes(ctx.method);
    if (!create && !manage) return next();
    const clientId = manage ? decodeURIComponent(ctx.path.slice(registrationPath.length + 1)) : undefined;
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
      if ((await registry.countDynamic()) >= config.DCR_MAX_CLIENTS) {
        return refuse(ctx, 400, 'invalid_client_metadata', 'the maximum number of registered clients has been reached; ask an administrator');
      }
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
      const refusal = checkClientMetadata(body as ClientMetadata, policy);
      if (refusal) return refuse(ctx, 400, refusal.error, refusal.error_description, clientId);
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
