// Turns oidc-provider's events into audit events: tokens issued and refreshed, refusals with their reason,
// grants revoked (code replay, refresh token reuse), registrations.
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditLog } from './writer.js';

function meta(ctx: KoaContextWithOIDC) {
  const resource = ctx.oidc?.params?.resource;
  return {
    clientId: ctx.oidc?.client?.clientId ?? (typeof ctx.oidc?.params?.client_id === 'string' ? ctx.oidc.params.client_id : undefined),
    resource: typeof resource === 'string' ? resource : Array.isArray(resource) ? resource.join(' ') : undefined,
    ip: ctx.ip,
    userAgent: ctx.get('user-agent') || undefined,
  };
}

function reason(err: unknown): string {
  const e = err as { error?: string; error_description?: string; message?: string };
  return [e.error, e.error_description ?? e.message].filter(Boolean).join(': ');
}

export function auditProviderEvents(provider: Provider, audit: AuditLog): void {
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const grantType = String(ctx.oidc.params?.grant_type ?? '');
    const type = grantType === 'refresh_token' ? 'token.refreshed' : 'token.issued';
    void audit.record({ type, outcome: 'success', actor: ctx.oidc.account?.accountId, details: { grant_type: grantType }, ...meta(ctx) });
  });
  provider.on('grant.error', (ctx: KoaContextWithOIDC, err: unknown) => {
    void audit.record({ type: 'token.refused', outcome: 'failure', reason: reason(err), details: { grant_type: String(ctx.oidc?.params?.grant_type ?? '') }, ...meta(ctx) });
  });
  provider.on('authorization.error', (ctx: KoaContextWithOIDC, err: unknown) => {
    void audit.record({ type: 'authorization.refused', outcome: 'failure', reason: reason(err), ...meta(ctx) });
  });
  provider.on('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
    void audit.record({ type: 'grant.revoked', outcome: 'success', reason: `revoked during ${ctx.oidc?.route ?? 'request'}`, details: { grant_id: grantId }, ...meta(ctx) });
  });
  provider.on('revocation.error', (ctx: KoaContextWithOIDC, err: unknown) => {
    void audit.record({ type: 'token.revoke_refused', outcome: 'failure', reason: reason(err), ...meta(ctx) });
  });
  provider.on('introspection.error', (ctx: KoaContextWithOIDC, err: unknown) => {
    void audit.record({ type: 'introspection.refused', outcome: 'failure', reason: reason(err), ...meta(ctx) });
  });
  provider.on('registration_create.error', (ctx: KoaContextWithOIDC, err: unknown) => {
    void audit.record({ type: 'registration.refused', outcome: 'failure', reason: reason(err), ...meta(ctx) });
  });
  provider.on('registration_create.success', (ctx: KoaContextWithOIDC, client: { clientId: string }) => {
    void audit.record({ type: 'registration.created', outcome: 'success', ...meta(ctx), clientId: client.clientId });
  });
}
