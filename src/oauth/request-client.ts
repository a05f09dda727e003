// Which client a request to an oidc-provider endpoint is from, read the way the provider reads it: the
// client_id parameter, HTTP Basic credentials (RFC 6749 §2.3.1, form-encoded), or a client assertion's `sub`
// (RFC 7523 §3). Used by policies that must act before the provider authenticates the client; they only ever
// refuse, so an unauthenticated claim can do no more than get its own request refused.
import type { Context } from 'koa';
import { decodeJwt } from 'jose';
import { basicCredentials } from '../http/basic-credentials.js';
import { parsedForm } from '../http/provider-form.js';

export function requestClientId(ctx: Context): string | undefined {
  const body = parsedForm(ctx);
  // HEAD is GET without a body: oidc-provider's router answers it exactly like GET, so it is read the same way.
  const fromParam = (ctx.method === 'GET' || ctx.method === 'HEAD' ? ctx.query.client_id : body?.client_id) ?? undefined;
  if (typeof fromParam === 'string' && fromParam) return fromParam;
  const auth = ctx.get('authorization');
  if (/^basic /i.test(auth)) return basicCredentials(auth)?.id;
  const assertion = body?.client_assertion;
  if (typeof assertion === 'string') {
    try {
      const sub = decodeJwt(assertion).sub;
      if (sub) return sub;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
