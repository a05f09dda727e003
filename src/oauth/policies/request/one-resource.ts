// docs/SECURITY.md (threat 3) and RFC 8707 §2: a token has exactly one audience, so an authorization or token request
// names at most one resource; two or more get `invalid_target` before anything else reads the request. At /authorize
// this is what keeps the consent page, the access rules and remembered consent (which each read one resource)
// covering exactly what the grant would hold: naming an allowed resource first and a refused one second used to get
// both. At /token it keeps oidc-provider from spending a code or rotating a refresh token for a malformed request.
// The authorization endpoint answers with the error page, never a redirect: the client is not authenticated yet.
import type { Middleware } from 'koa';
import { requestOrigin, type AuditLog } from '../../../audit/writer.js';
import type { Views } from '../../../views/views.js';
import { requestClientId } from '../../request-client.js';
import { requestedResources } from './canonical-resource-param.js';

const REASON = 'a request must name one resource: a token has exactly one audience';

export function oneResource(deps: { audit: AuditLog; views?: Views; endpoint: 'authorization' | 'token' }): Middleware {
  return async (ctx, next) => {
    const distinct = requestedResources(ctx);
    if (distinct.length <= 1) return next();
    await deps.audit.record({
      type: deps.endpoint === 'token' ? 'token.refused' : 'authorization.refused',
      outcome: 'failure',
      clientId: requestClientId(ctx),
      reason: REASON,
      resource: distinct.join(' ').slice(0, 2048),
      ...requestOrigin(ctx),
    });
    ctx.status = 400;
    ctx.set('Cache-Control', 'no-store');
    if (deps.views) {
      ctx.type = 'html';
      ctx.body = deps.views.errorPage(ctx, { title: 'This request names several MCP servers', error: 'invalid_target', description: `${REASON}. Ask the application to request access to one server at a time.` });
    } else {
      ctx.body = { error: 'invalid_target', error_description: REASON };
    }
  };
}
