// Gatehouse's rules for client metadata, applied to Dynamic Client Registration (RFC 7591 POST /register) and
// to RFC 7592 updates (PUT /register/<id>) before oidc-provider validates the rest. Each rule is one module in
// policies/, composed in this one list; a refusal is RFC 7591 §3.2.2 `invalid_redirect_uri` or
// `invalid_client_metadata`, and is audited.
import type { Middleware } from 'koa';
import type { AuditLog } from '../audit/writer.js';
import { readRawBody, setParsedBody } from '../http/raw-body.js';
import { registrationGrantTypes } from './policies/registration-grant-types.js';
import { registrationRedirectUris } from './policies/registration-redirect-uris.js';
import { registrationScope } from './policies/registration-scope.js';

export type ClientMetadata = Record<string, unknown>;
/** Returns a refusal reason, or undefined; may normalise the metadata in place. */
export type ClientMetadataRule = (meta: ClientMetadata) => string | undefined;

export function clientMetadataRules(staticScopes: readonly string[]): Array<[ClientMetadataRule, string]> {
  return [
    [registrationRedirectUris, 'invalid_redirect_uri'],
    [registrationGrantTypes, 'invalid_client_metadata'],
    [registrationScope(staticScopes), 'invalid_client_metadata'],
  ];
}

/** Applies the rules; returns the first refusal as an OAuth error, or undefined. */
export function checkClientMetadata(meta: ClientMetadata, staticScopes: readonly string[]): { error: string; error_description: string } | undefined {
  for (const [rule, error] of clientMetadataRules(staticScopes)) {
    const problem = rule(meta);
    if (problem) return { error, error_description: problem };
  }
  return undefined;
}

export function registrationPolicy(options: { registrationPath: string; staticScopes: readonly string[]; audit: AuditLog }): Middleware {
  return async (ctx, next) => {
    const isRegistration =
      (ctx.method === 'POST' && ctx.path === options.registrationPath) ||
      (ctx.method === 'PUT' && ctx.path.startsWith(`${options.registrationPath}/`));
    if (!isRegistration || !ctx.is('application/json')) return next();
    const raw = await readRawBody(ctx);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    const refuse = async (error: string, description: string) => {
      ctx.status = 400;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error, error_description: description };
      await options.audit.record({ type: 'registration.refused', outcome: 'failure', reason: `${error}: ${description}`, ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined });
    };
    if (!body || typeof body !== 'object' || Array.isArray(body)) return refuse('invalid_client_metadata', 'the request body must be a JSON object');
    const refusal = checkClientMetadata(body as ClientMetadata, options.staticScopes);
    if (refusal) return refuse(refusal.error, refusal.error_description);
    setParsedBody(ctx, body);
    await next();
  };
}
