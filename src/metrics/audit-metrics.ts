// Tokens, refusals and registrations are counted from the audit events (audit/writer.ts), the one place every
// module already reports them, so a counter can never disagree with the audit log about what
// happened. Labels come from fixed sets: an audit type is a constant in code, a grant type or error code outside
// the known lists becomes `other`.
import type { AuditEvent } from '../audit/writer.js';
import type { Metrics } from './registry.js';

const GRANT_TYPES = new Set([
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:openid:params:grant-type:ciba',
  'urn:ietf:params:oauth:grant-type:token-exchange',
]);

/** Error codes of RFC 6749, 6750, 7591, 7592, 8628, 8707, 9449 and OIDC Core. */
const ERROR_CODES = new Set([
  'invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type',
  'invalid_scope', 'access_denied', 'unsupported_response_type', 'server_error', 'temporarily_unavailable',
  'invalid_target', 'invalid_redirect_uri', 'invalid_client_metadata', 'invalid_software_statement',
  'unapproved_software_statement', 'invalid_token', 'insufficient_scope', 'login_required', 'consent_required',
  'interaction_required', 'account_selection_required', 'invalid_request_uri', 'invalid_request_object',
  'request_not_supported', 'request_uri_not_supported', 'registration_not_supported', 'invalid_dpop_proof',
  'use_dpop_nonce', 'unmet_authentication_requirements', 'invalid_authorization_details', 'expired_token',
  'slow_down', 'authorization_pending',
]);

const AUDIT_TYPE = /^[a-z][a-z0-9_.]{0,63}$/;

/** The OAuth error code an audited reason starts with (`invalid_grant: grant request is invalid`), or `other`. */
export function refusalReason(reason: string | undefined): string {
  const code = /^[a-z_]+/.exec(reason ?? '')?.[0];
  return code && ERROR_CODES.has(code) ? code : 'other';
}

const registrationKind = (event: AuditEvent): string | undefined => {
  if (event.outcome !== 'success') return undefined;
  switch (event.type) {
    case 'registration.created':
      return 'dcr';
    case 'cimd.client_seen':
      return 'cimd';
    case 'client.created': // the admin service layer, whichever adapter (the CLI's process serves no /metrics)
      return 'static';
    default:
      return undefined;
  }
};

export function auditMetrics(metrics: Metrics): (event: AuditEvent) => void {
  return (event) => {
    if (event.outcome === 'failure') {
      const type = AUDIT_TYPE.test(event.type) ? event.type : 'other';
      metrics.refusals.inc({ type, reason: refusalReason(event.reason) });
      return;
    }
    if (event.type === 'token.issued' || event.type === 'token.refreshed') {
      const grantType = String(event.details?.grant_type ?? '');
      metrics.tokensIssued.inc({ grant_type: GRANT_TYPES.has(grantType) ? grantType : 'other' });
      return;
    }
    const kind = registrationKind(event);
    if (kind) metrics.registrations.inc({ kind });
  };
}
