// RFC 8707 + MCP "Canonical Server URI": `https://h` and `https://h/` name the same resource. The `resource`
// parameter is rewritten to its canonical form before oidc-provider sees it, so a grant made for one spelling is
// honoured at /token for the other, and `aud` is always the canonical URI.
//
// A token request naming several resources is refused here, before oidc-provider sees it: a token has exactly one
// audience (DESIGN.md §6), and oidc-provider would only find out after spending the code or rotating the refresh
// token — the client would lose its grant to a malformed request.
import type { Middleware } from 'koa';
import { requestOrigin, type AuditLog } from '../../audit/writer.js';
import { parsedForm } from '../../http/provider-form.js';
import { requestClientId } from '../request-client.js';
import { canonicalOrSame } from '../resources.js';

function rewrite(value: string | string[]): string | string[] {
  return Array.isArray(value) ? value.map(canonicalOrSame) : canonicalOrSame(value);
}

export function canonicalResourceParam(paths: { authorization: string; token: string }, audit: AuditLog): Middleware {
  return async (ctx, next) => {
    if (ctx.path === paths.authorization && ctx.method === 'GET' && ctx.querystring.includes('resource=')) {
      const params = new URLSearchParams(ctx.querystring);
      const values = params.getAll('resource');
      params.delete('resource');
      for (const v of values) params.append('resource', canonicalOrSame(v));
      ctx.querystring = params.toString();
    } else if ((ctx.path === paths.token || ctx.path === paths.authorization) && ctx.method === 'POST') {
      const body = parsedForm(ctx);
      if (body?.resource !== undefined) body.resource = rewrite(body.resource);
      const distinct = Array.isArray(body?.resource) ? [...new Set(body.resource)] : [];
      // One resource named twice is that resource, named once.
      if (body && distinct.length === 1) body.resource = distinct[0]!;
      if (body && ctx.path === paths.token && distinct.length > 1) {
        const reason = 'a token request must name one resource: a token has exactly one audience';
        await audit.record({ type: 'token.refused', outcome: 'failure', clientId: requestClientId(ctx), reason, resource: distinct.join(' ').slice(0, 2048), ...requestOrigin(ctx) });
        ctx.status = 400;
        ctx.set('Cache-Control', 'no-store');
        ctx.body = { error: 'invalid_target', error_description: reason };
        return;
      }
    }
    await next();
  };
}
