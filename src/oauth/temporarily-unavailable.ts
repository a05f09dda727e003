// RFC 6749 §5.2's temporarily_unavailable as a 503 the client reads: the upstream identity provider could not answer
// (docs/IDENTITY-LIFECYCLE.md, docs/DELEGATION.md). Nothing is revoked; the client tries again after Retry-After.
import { errors } from 'oidc-provider';

export class TemporarilyUnavailable extends errors.OIDCProviderError {
  constructor(description: string) {
    super(503, 'temporarily_unavailable');
    // oidc-provider hides a 5xx behind server_error; this one is the answer RFC 6749 §5.2 names, meant to be read.
    this.expose = true;
    Object.assign(this, { error_description: description });
  }
  declare expose: boolean;
}
