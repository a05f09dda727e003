// The person of a sign-in under way must still be allowed to sign in when it resumes: an account disabled (or
// deprovisioned by its IdP) between the Allow and the resume gets a page and no code. oidc-provider itself would
// meet a session whose account findAccount no longer returns and fail with a 500 (outside attack, issue 22;
// docs/SECURITY.md). A rule of the resume route (src/policy-table.ts).
import type { Context, Middleware } from 'koa';
import { requestOrigin, type AuditLog } from '../../../audit/writer.js';
import type { Views } from '../../../views/views.js';
import type { Accounts } from '../../../upstream/accounts.js';
import type { StepInteraction } from '../../interaction-client.js';

export function signInPersonActive(deps: {
  accounts: Pick<Accounts, 'findById'>;
  views: Views;
  audit: AuditLog;
  interactionOf: (ctx: Context) => Promise<StepInteraction | undefined>;
}): Middleware {
  return async (ctx, next) => {
    const interaction = await deps.interactionOf(ctx);
    const accountId = interaction?.session?.accountId;
    if (!accountId) return next();
    const account = await deps.accounts.findById(accountId);
    if (account && !account.disabled && !account.deprovisionedAt) return next();
    const clientId = typeof interaction.params?.client_id === 'string' ? interaction.params.client_id : undefined;
    await deps.audit.record({ type: 'authorization.refused', outcome: 'failure', actor: accountId, clientId, reason: 'the account is disabled', ...requestOrigin(ctx) });
    ctx.status = 403;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = deps.views.render('error', { title: 'Access not allowed', error: 'access_denied', description: 'Your account is disabled. Ask an administrator if you need it.' });
  };
}
