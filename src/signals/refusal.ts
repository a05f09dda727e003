// A refused call of an identity provider, and how each endpoint words it (docs/UNIVERSAL-LOGOUT.md, "Answers"). One
// refusal, two wire formats: global token revocation answers in the OAuth error format with the draft's statuses
// (401 with a Bearer challenge for any failed authentication, told alike whatever failed, so a caller learns nothing
// about which connections or keys exist); the Shared Signals receiver answers as RFC 8935 §2.3 asks (400 with
// `err` from its registry, `description`, Content-Language). The audit row keeps the precise reason either way.
import type { Context } from 'koa';

export type RefusalKind =
  | 'no_credential' // nothing to authenticate with
  | 'bad_credential' // an unknown secret, a malformed or unverifiable JWT, a JWT of no connection
  | 'invalid_key' // no key of the IdP matches the JWT's
  | 'invalid_issuer'
  | 'invalid_audience'
  | 'bad_signature'
  | 'replayed' // a single-use JWT presented again
  | 'bad_request'
  | 'too_large'
  | 'unknown_subject'
  | 'unknown_receiver'
  | 'keys_unavailable'; // the IdP's keys could not be fetched: nothing can be verified now

export class SignalRefusal extends Error {
  constructor(
    readonly kind: RefusalKind,
    /** The precise reason: the audit row's, and the caller's unless the kind words it for them. */
    readonly reason: string,
  ) {
    super(reason);
  }
}

export const badRequest = (reason: string) => new SignalRefusal('bad_request', reason);

const AUTHENTICATION: ReadonlySet<RefusalKind> = new Set(['no_credential', 'bad_credential', 'invalid_key', 'invalid_issuer', 'invalid_audience', 'bad_signature', 'replayed']);

/** Whether the refusal is about who called (no act is possible), as opposed to what they asked. */
export const isAuthenticationFailure = (r: SignalRefusal) => AUTHENTICATION.has(r.kind);

const RETRY_AFTER_S = 30;

/** Global token revocation: OAuth error format, the draft's statuses. */
export function answerGlobalLogoutRefusal(ctx: Context, r: SignalRefusal): { status: number; error: string } {
  ctx.set('Cache-Control', 'no-store');
  let status: number;
  let error: string;
  let told = r.reason;
  if (isAuthenticationFailure(r)) {
    status = 401;
    error = 'invalid_token';
    told = r.kind === 'no_credential' ? 'a bearer credential is required' : 'the credential is not valid here';
    // RFC 6750 §3.1: no error code when the request carried no credential at all.
    ctx.set('WWW-Authenticate', r.kind === 'no_credential' ? 'Bearer realm="gatehouse"' : 'Bearer realm="gatehouse", error="invalid_token"');
  } else if (r.kind === 'unknown_subject') {
    status = 404;
    error = 'not_found';
  } else if (r.kind === 'keys_unavailable') {
    status = 503;
    error = 'temporarily_unavailable';
    ctx.set('Retry-After', String(RETRY_AFTER_S));
  } else {
    status = r.kind === 'too_large' ? 413 : r.kind === 'unknown_receiver' ? 404 : 400;
    error = 'invalid_request';
  }
  ctx.status = status;
  ctx.body = { error, error_description: told };
  return { status, error };
}

/** RFC 8935 §2.3–2.4: the SET error codes of the IANA registry. */
const SET_ERR: Partial<Record<RefusalKind, string>> = {
  no_credential: 'authentication_failed',
  bad_credential: 'authentication_failed',
  bad_signature: 'authentication_failed',
  invalid_key: 'invalid_key',
  invalid_issuer: 'invalid_issuer',
  invalid_audience: 'invalid_audience',
  bad_request: 'invalid_request',
  too_large: 'invalid_request',
  unknown_subject: 'invalid_request',
  unknown_receiver: 'invalid_request',
};

/** The Shared Signals receiver: RFC 8935's failure response. */
export function answerSetRefusal(ctx: Context, r: SignalRefusal): { status: number; error: string } {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Content-Language', 'en');
  if (r.kind === 'keys_unavailable') {
    // A general condition (RFC 8935 §2.3), not the SET's fault: the transmitter should retry it unchanged.
    ctx.status = 503;
    ctx.set('Retry-After', String(RETRY_AFTER_S));
    ctx.body = { description: r.reason };
    return { status: 503, error: 'temporarily_unavailable' };
  }
  const status = r.kind === 'too_large' ? 413 : r.kind === 'unknown_receiver' ? 404 : 400;
  const err = SET_ERR[r.kind] ?? 'invalid_request';
  ctx.status = status;
  ctx.body = { err, description: r.reason };
  return { status, error: err };
}
