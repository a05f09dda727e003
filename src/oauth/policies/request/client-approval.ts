// REGISTRATION=approval (issue #3): a dynamically registered client exists but cannot authorize until an admin
// approves it (`gatehouse client approve`), and a disabled client can do nothing. At /authorize the person sees a
// readable page — never a redirect to the unapproved client; at the token, revocation and introspection endpoints
// the client gets `invalid_client`. Each refusal is audited. A client's last use is recorded only when it is given
// a code or tokens (policies/hooks/client-last-use.ts), never for naming it in a request. The same gate stands on
// the steps of a sign-in already under way (its pages under /interaction/<uid> and the resume at /authorize/<uid>),
// where the client is the interaction's: a client disabled while a person is signing in gets no consent, no
// remembered grant and no code.
import type { Context, Middleware } from 'koa';
import { requestOrigin, type AuditLog } from '../../../audit/writer.js';
import type { Views } from '../../../views/views.js';
import type { ClientRegistry } from '../../client-registry.js';
import { requestClientId } from '../../request-client.js';

/**
 * A rule of the authorization, resume, interaction, token, revocation and introspection routes
 * (src/policy-table.ts). `endpoint` decides the answer: a page for a person's browser, `invalid_client` for a
 * client. `clientIdOf` names the client when the request itself does not (a sign-in step: the interaction's client).
 */
export function clientApproval(deps: {
  endpoint: 'authorization' | 'sign-in step' | 'token' | 'revocation' | 'introspection';
  registry: ClientRegistry;
  views: Views;
  audit: AuditLog;
  clientIdOf?: (ctx: Context) => Promise<string | undefined>;
}): Middleware {
  const authorize = deps.endpoint === 'authorization' || deps.endpoint === 'sign-in step';
  return async (ctx: Context, next) => {
    const clientId = deps.clientIdOf ? await deps.clientIdOf(ctx) : requestClientId(ctx);
    if (!clientId) return next();
    const client = await deps.registry.findForGate(clientId);
    const status = client?.status ?? 'active';
    if (status === 'active') return next();
    const reason = status === 'pending' ? 'client awaiting administrator approval' : 'client disabled by an administrator';
    await deps.audit.record({
      type: authorize ? 'authorization.refused' : 'token.refused',
      outcome: 'failure',
      clientId,
      reason,
      ...requestOrigin(ctx),
    });
    ctx.set('Cache-Control', 'no-store');
    if (authorize) {
      ctx.status = 403;
      ctx.type = 'html';
      ctx.body = deps.views.page(ctx, status === 'pending' ? 'pending' : 'error', {
        title: status === 'pending' ? 'Waiting for approval' : 'This application is disabled',
        clientName: client?.clientName ?? clientId,
        clientId,
        error: 'access_denied',
        description: 'An administrator has disabled this application. Contact your administrator if you need it.',
        // The same authorization request again, so the person can go on once an administrator approved the client.
        retryUrl: deps.endpoint === 'authorization' && ctx.method === 'GET' ? ctx.originalUrl : undefined,
      });
      return;
    }
    ctx.status = 401;
    ctx.body = { error: 'invalid_client', error_description: reason };
  };
}
