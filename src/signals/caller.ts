// Who calls global token revocation (docs/UNIVERSAL-LOGOUT.md, "Authentication"): one connection, proved one of two
// ways in `Authorization: Bearer …`. Either the connection's own global logout secret (`ghgl_…`, matched by digest:
// global-logout-secret.ts), or a JWT its identity provider signed, as Okta Universal Logout sends: `iss` the
// connection's issuer and `sub` its client id at the IdP (together they name one connection; Okta signs one org's
// JWTs for every app with the same keys, so the client id is what keeps one app's JWT from logging people out of
// another), `aud` this endpoint or Gatehouse's issuer, short-lived, each `jti` accepted once. A caller is never
// more than one connection: the subject is then looked up among that connection's people only.
import type { StoredConnection } from '../upstream/connections.js';
import type { SignalsDeps } from './deps.js';
import { connectionOfSecret, isGlobalLogoutSecret } from './global-logout-secret.js';
import { readUnverified } from './idp-jwt.js';
import { SignalRefusal } from './refusal.js';
import { firstSight } from './seen-events.js';

export interface GlobalLogoutCaller {
  connection: StoredConnection;
  method: 'secret' | 'jwt';
  jti?: string | undefined;
}

/** Okta's JWT carries `typ: global-token-revocation+jwt`; a plain JWT is accepted, any other type (a SET, an access token) is not. */
const ACCEPTED_TYP = new Set(['jwt', 'global-token-revocation+jwt']);
export const normalisedTyp = (typ: string | undefined) => typ?.toLowerCase().replace(/^application\//, '');

/** Okta's JWT lives five minutes; one made longer, or used later, is refused. */
const JWT_MAX_AGE_S = 600;
const JWT_MAX_LIFETIME_S = 900;
const CREDENTIAL_MAX = 16 * 1024;

export async function authenticateCaller(authorization: string, deps: SignalsDeps, endpointUrl: string): Promise<GlobalLogoutCaller> {
  const header = authorization.trim();
  if (!header) throw new SignalRefusal('no_credential', 'no Authorization header');
  const m = /^Bearer +(\S+)$/i.exec(header);
  if (!m) throw new SignalRefusal('bad_credential', 'the Authorization header is not a Bearer credential');
  const credential = m[1]!;
  if (credential.length > CREDENTIAL_MAX) throw new SignalRefusal('bad_credential', 'the bearer credential is too long');

  if (isGlobalLogoutSecret(credential)) {
    const id = connectionOfSecret(credential, await deps.connections.globalLogoutSecretHashes());
    const connection = id ? await deps.connections.find(id) : undefined;
    if (!connection) throw new SignalRefusal('bad_credential', 'no connection has this global logout secret');
    return { connection, method: 'secret' };
  }

  const unverified = readUnverified(credential);
  if (!unverified) throw new SignalRefusal('bad_credential', 'the bearer credential is neither a global logout secret nor a JWT');
  const { iss, sub } = unverified.payload;
  if (typeof iss !== 'string' || !iss) throw new SignalRefusal('bad_credential', 'JWT without iss');
  if (typeof sub !== 'string' || !sub) throw new SignalRefusal('bad_credential', 'JWT without sub (the client id of the connection at its identity provider)');
  const candidates = (await deps.idpKeys.connectionsOf(iss)).filter((c) => c.clientId === sub);
  if (!candidates.length) throw new SignalRefusal('invalid_issuer', `no connection has issuer ${iss.slice(0, 200)} and client id ${sub.slice(0, 100)}`);
  if (candidates.length > 1) throw new SignalRefusal('bad_credential', `connections ${candidates.map((c) => c.id).join(', ')} share issuer and client id: a JWT cannot name one of them`);
  const connection = candidates[0]!;
  const payload = await deps.idpKeys.verify(credential, connection, {
    audiences: [endpointUrl, deps.config.ISSUER],
    typ: (typ) => typ === undefined || ACCEPTED_TYP.has(normalisedTyp(typ)!),
    required: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'],
    maxAgeSeconds: JWT_MAX_AGE_S,
    maxLifetimeSeconds: JWT_MAX_LIFETIME_S,
  });
  // The SET claim marks a Security Event Token: never a logout credential, whatever its typ says.
  if (payload.events !== undefined) throw new SignalRefusal('bad_credential', 'a Security Event Token is not a global logout credential');
  if (!(await firstSight(deps.db, connection.id, 'gtr', payload.jti!))) throw new SignalRefusal('replayed', `JWT ${payload.jti!.slice(0, 100)} was already used (connection ${connection.id})`);
  return { connection, method: 'jwt', jti: payload.jti };
}
