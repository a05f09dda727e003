// The identity assertion itself (docs/ENTERPRISE-MANAGED-AUTHORIZATION.md): which connections may issue one, its
// verification with the IdP's keys (upstream/idp-jwt.ts), and its single use. Everything here is about the JWT;
// what Gatehouse does with the person it names is identity-assertion.ts's.
import type { JWTPayload } from 'jose';
import { affectedRows } from '../../db/affected-rows.js';
import type { Db } from '../../db/connection.js';
import type { Connections, StoredConnection } from '../../upstream/connections.js';
import { CLOCK_SKEW_S, declaredIssuer, IdpJwtRefusal, type IdpKeys, readUnverified } from '../../upstream/idp-jwt.js';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** The `authorization_grant_profiles_supported` value of the identity assertion grant. */
export const ID_JAG_PROFILE = 'urn:ietf:params:oauth:grant-profile:id-jag';
/** The JOSE `typ` of an ID-JAG; RFC 8725 §3.11 lets the `application/` prefix be omitted, and media types ignore case. */
export const ID_JAG_TYP = 'oauth-id-jag+jwt';
/** An ID-JAG is a short-lived credential: one living longer than this (`exp - iat`) is refused. */
export const ID_JAG_MAX_LIFETIME_S = 600;

const typOk = (typ: string | undefined) => !!typ && [ID_JAG_TYP, `application/${ID_JAG_TYP}`].includes(typ.toLowerCase());

/** The connections an administrator lets issue identity assertions (a disabled connection issues none). */
export async function idJagConnections(connections: Pick<Connections, 'list'>): Promise<StoredConnection[]> {
  return (await connections.list()).filter((c) => c.idJag === true && c.enabled);
}

/** Whether any connection accepts identity assertions: the grant and its metadata exist only then. */
export async function idJagEnabled(connections: Pick<Connections, 'list'>): Promise<boolean> {
  return (await idJagConnections(connections)).length > 0;
}

/** A refusal of the assertion: the OAuth error and what failed (the answer's description and the audit row's reason). */
export class AssertionRefusal extends Error {
  constructor(
    readonly error: 'invalid_grant' | 'invalid_request' | 'invalid_scope' | 'invalid_target' | 'unauthorized_client' | 'unsupported_grant_type',
    readonly reason: string,
    /** What is known of the assertion so far, for the audit row. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(reason);
  }
}

export interface VerifiedAssertion {
  connection: StoredConnection;
  payload: JWTPayload & { iss: string; sub: string; jti: string; exp: number; iat: number };
}

/**
 * Verifies an ID-JAG: compact JWS, `typ`, an issuer one enabled connection trusts, its signature with that IdP's
 * keys (asymmetric algorithms only), `aud` = this issuer, `exp`/`iat` with CLOCK_SKEW_S and at most
 * ID_JAG_MAX_LIFETIME_S, and `sub`, `jti`, `client_id` present. Whose client and which resource are the caller's.
 */
export async function verifyAssertion(token: string, deps: { connections: Pick<Connections, 'list'>; keys: IdpKeys; issuer: string }): Promise<VerifiedAssertion> {
  const unverified = readUnverified(token);
  if (!unverified) throw new AssertionRefusal('invalid_grant', 'the assertion is not a signed JWT (compact JWS)');
  const { header, payload } = unverified;
  // Before any key is fetched: an ID token or an access token of the same IdP must not pass for an ID-JAG.
  if (!typOk(header.typ)) throw new AssertionRefusal('invalid_grant', `the assertion's typ is ${String(header.typ ?? '(none)').slice(0, 60)}, not ${ID_JAG_TYP}`);
  const iss = payload.iss;
  if (typeof iss !== 'string' || !iss) throw new AssertionRefusal('invalid_grant', 'the assertion has no iss');
  const trusted = (await idJagConnections(deps.connections)).filter((c) => declaredIssuer(c) === iss);
  if (!trusted.length) throw new AssertionRefusal('invalid_grant', `issuer ${iss.slice(0, 200)} is not trusted for identity assertions`, { issuer: iss.slice(0, 200) });
  // The person is linked through one connection: two enabled ones with the same issuer could not say which.
  if (trusted.length > 1) throw new AssertionRefusal('invalid_grant', `connections ${trusted.map((c) => c.id).join(', ')} share issuer ${iss.slice(0, 200)}: enable identity assertions on one of them only`);
  const connection = trusted[0]!;
  let verified: JWTPayload;
  try {
    verified = await deps.keys.verify(token, connection, {
      audiences: [deps.issuer],
      typ: typOk,
      required: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'],
      maxAgeSeconds: ID_JAG_MAX_LIFETIME_S,
      maxLifetimeSeconds: ID_JAG_MAX_LIFETIME_S,
    });
  } catch (err) {
    if (!(err instanceof IdpJwtRefusal)) throw err;
    throw new AssertionRefusal('invalid_grant', `the assertion is refused: ${err.reason}`, { connection: connection.id, issuer: iss.slice(0, 200) });
  }
  if (typeof verified.sub !== 'string' || !verified.sub || verified.sub.length > 255) throw new AssertionRefusal('invalid_grant', 'the assertion has no usable sub', { connection: connection.id });
  return { connection, payload: verified as VerifiedAssertion['payload'] };
}

/**
 * Spends an assertion: true the first time its (issuer, jti) is presented, on any instance; false for a replay. One
 * insert decides, so two instances given the same assertion at the same moment cannot both accept it. The row is
 * kept until the assertion could no longer pass verification (its exp plus the skew).
 */
export async function spendAssertion(db: Db, issuer: string, jti: string, exp: number): Promise<boolean> {
  // `on conflict do nothing` rather than a caught error: an error would abort an enclosing transaction on PostgreSQL.
  const taken = (await db('assertions_seen')
    .insert({ issuer, jti, expires_at: new Date((exp + CLOCK_SKEW_S) * 1000) })
    .onConflict(['issuer', 'jti'])
    .ignore()
    .returning('jti')) as unknown[];
  return taken.length > 0;
}

/** Deletes the spent assertions that have expired (a periodic job): an expired one is refused by its exp anyway. */
export async function forgetSpentAssertions(db: Db, now = new Date()): Promise<number> {
  // Raw, so PGlite hands back the count too (db/affected-rows.ts).
  return affectedRows(await db.raw('delete from assertions_seen where expires_at < ?', [now]));
}
