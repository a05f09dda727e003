// Turns oidc-provider's events into audit events: tokens issued and refreshed, refusals with their reason,
// grants revoked (code replay), refresh-token reuse, registrations.
//
// oidc-provider emits its events synchronously and does not wait for listeners, so a bare `void audit.record(…)`
// let the response (a refusal, a token) reach the client before its audit row was written: on real PostgreSQL the
// event was routinely missing when the client looked. Each write is therefore finished before the response leaves
// (db/response-writes.ts).
import { awaitResponseWrites, finishBeforeResponse } from '../db/response-writes.js';
import Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { requestOrigin, type AuditEvent, type AuditLog } from './writer.js';

function meta(ctx: KoaContextWithOIDC) {
  const resource = ctx.oidc?.params?.resource;
  return {
    clientId: ctx.oidc?.client?.clientId ?? (typeof ctx.oidc?.params?.client_id === 'string' ? ctx.oidc.params.client_id : undefined),
    resource: typeof resource === 'string' ? resource : Array.isArray(resource) ? resource.join(' ') : undefined,
    ...requestOrigin(ctx),
  };
}

function reason(err: unknown): string {
  const e = err as { error?: string; error_description?: string; message?: string };
  return [e.error, e.error_description ?? e.message].filter(Boolean).join(': ');
}

/** The audit type of a refresh token presented again after its rotation (docs/SECURITY.md, refresh-token reuse). */
export const REFRESH_REUSED = 'token.refresh.reused';
const REUSED_DETAIL = 'refresh token already used';

/**
 * Whether this token request presented a refresh token that was already spent: oidc-provider then revokes the grant
 * with every token issued under it (OAuth 2.1 §4.3.1) and refuses with invalid_grant. The spent token is the request's
 * RefreshToken entity, marked consumed; two concurrent refreshes of one unspent token, where the loser is refused
 * with the same words (oauth/refresh-rotation.ts), are not reuse and revoke nothing.
 */
function refreshReuse(ctx: KoaContextWithOIDC | undefined): { grantId?: string; accountId?: string } | undefined {
  if (ctx?.oidc?.route !== 'token' || ctx.oidc.params?.grant_type !== 'refresh_token') return undefined;
  const token = ctx.oidc.entities?.RefreshToken as { consumed?: unknown; grantId?: string; accountId?: string } | undefined;
  return token?.consumed ? token : undefined;
}

export function auditProviderEvents(provider: Provider, audit: AuditLog): void {
  provider.use(awaitResponseWrites);
  // AuditLog.record never rejects: a failed write is logged, not thrown.
  const record = (ctx: KoaContextWithOIDC | undefined, event: AuditEvent) => finishBeforeResponse(ctx, audit.record(event));

  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const grantType = String(ctx.oidc.params?.grant_type ?? '');
    const type = grantType === 'refresh_token' ? 'token.refreshed' : 'token.issued';
    record(ctx, { type, outcome: 'success', actor: ctx.oidc.account?.accountId, details: { grant_type: grantType }, ...meta(ctx) });
  });
  provider.on('grant.error', (ctx: KoaContextWithOIDC, err: unknown) => {
    const reused = (err as { error_detail?: unknown }).error_detail === REUSED_DETAIL ? refreshReuse(ctx) : undefined;
    if (reused) {
      // One row for the refused request, its own type, so reuse (a stolen token, or a client that lost a rotation)
      // is not read as a plain revocation; it stands for the grant.revoked row oidc-provider's revoke also emits.
      record(ctx, {
        type: REFRESH_REUSED,
        outcome: 'failure',
        actor: reused.accountId,
        reason: 'invalid_grant: refresh token reused — grant revoked',
        details: { grant_type: 'refresh_token', grant_id: reused.grantId },
        ...meta(ctx),
      });
      return;
    }
    record(ctx, { type: 'token.refused', outcome: 'failure', reason: reason(err), details: { grant_type: String(ctx.oidc?.params?.grant_type ?? '') }, ...meta(ctx) });
  });
  provider.on('authorization.error', (ctx: KoaContextWithOIDC, err: unknown) => {
    record(ctx, { type: 'authorization.refused', outcome: 'failure', reason: reason(err), ...meta(ctx) });
  });
  provider.on('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
    if (refreshReuse(ctx)) return; // audited as token.refresh.reused by grant.error, which always follows
    record(ctx, { type: 'grant.revoked', outcome: 'success', reason: `revoked during ${ctx.oidc?.route ?? 'request'}`, details: { grant_id: grantId }, ...meta(ctx) });
  });
  provider.on('revocation.error', (ctx: KoaContextWithOIDC, err: unknown) => {
    record(ctx, { type: 'token.revoke_refused', outcome: 'failure', reason: reason(err), ...meta(ctx) });
  });
  provider.on('introspection.error', (ctx: KoaContextWithOIDC, err: unknown) => {
    record(ctx, { type: 'introspection.refused', outcome: 'failure', reason: reason(err), ...meta(ctx) });
  });
  // A revocation is audited when it destroyed a token, not for every 200: RFC 7009 §2.2 answers 200 whatever was
  // presented, so auditing the answer let anyone with a client write one row per request (issue 16's review).
  for (const kind of ['access_token', 'refresh_token', 'client_credentials'] as const) {
    provider.on(`${kind}.destroyed` as 'access_token.destroyed', () => {
      const ctx = Provider.ctx as KoaContextWithOIDC | undefined;
      if (ctx?.oidc?.route !== 'revocation') return;
      record(ctx, { type: 'token.revoked', outcome: 'success', details: { token_type: kind }, ...meta(ctx) });
    });
  }
  // Registrations are audited by oauth/registration.ts, which also knows the rule that refused one.
}
