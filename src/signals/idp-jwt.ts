// The IdP JWT verification of upstream/idp-jwt.ts, for the signal receivers: the same checks and key cache, each
// failure a SignalRefusal, which the receivers word (refusal.ts). Kept here so their imports stay as they were.
import type { JWTPayload } from 'jose';
import { IdpJwtRefusal, IdpKeys as UpstreamIdpKeys, type IdpJwtRules } from '../upstream/idp-jwt.js';
import type { StoredConnection } from '../upstream/connections.js';
import { SignalRefusal } from './refusal.js';

export { CLOCK_SKEW_S, IDP_JWT_ALGORITHMS, readUnverified, type IdpJwtRules, type UnverifiedJwt } from '../upstream/idp-jwt.js';

export class IdpKeys extends UpstreamIdpKeys {
  override async verify(token: string, connection: StoredConnection, rules: IdpJwtRules): Promise<JWTPayload> {
    try {
      return await super.verify(token, connection, rules);
    } catch (err) {
      throw err instanceof IdpJwtRefusal ? new SignalRefusal(err.kind, err.reason) : err;
    }
  }
}
