// Verifying a JWT an identity provider signed (docs/UNIVERSAL-LOGOUT.md, "Signed JWT"): the Okta Universal Logout
// bearer, Shared Signals' Security Event Tokens and identity assertions (docs/ENTERPRISE-MANAGED-AUTHORIZATION.md). The keys are the ones the connection already trusts for ID
// tokens: the `jwks_uri` of its discovery document (the connector's, cached as at login), fetched through the
// connection's guarded fetch (docs/SECURITY.md, "Issue 16"). Only asymmetric algorithms: `none` and HMAC (whose
// key would be the client secret Gatehouse itself holds) are refused before anything is fetched. Every failure is an
// IdpJwtRefusal naming what failed, for the audit row; the caller words the answer (signals/idp-jwt.ts turns it into
// a SignalRefusal, the ID-JAG grant into invalid_grant). Here, below both, so the token endpoint can use it.
import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type ProtectedHeaderParameters } from 'jose';
import { GuardedFetchError } from '../net/guarded-fetch.js';
import type { Connections, StoredConnection } from './connections.js';
import { GOOGLE_ISSUER } from './google/index.js';

/** What failed: the kinds of signals/refusal.ts that a JWT's verification can end in. */
export type IdpJwtRefusalKind = 'bad_credential' | 'invalid_key' | 'invalid_issuer' | 'invalid_audience' | 'bad_signature' | 'keys_unavailable';

export class IdpJwtRefusal extends Error {
  constructor(
    readonly kind: IdpJwtRefusalKind,
    /** The precise reason, for the audit row. */
    readonly reason: string,
  ) {
    super(reason);
  }
}

export const IDP_JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** Clock difference tolerated between Gatehouse and the IdP. */
export const CLOCK_SKEW_S = 60;

export interface UnverifiedJwt {
  header: ProtectedHeaderParameters;
  payload: JWTPayload;
}

/** The header and claims of a compact JWS, unverified (to find its issuer); undefined when it is not one. */
export function readUnverified(token: string): UnverifiedJwt | undefined {
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) return undefined;
  try {
    return { header: decodeProtectedHeader(token), payload: decodeJwt(token) };
  } catch {
    return undefined;
  }
}

export interface IdpJwtRules {
  /** Values `aud` may hold (one must match). */
  audiences: string[];
  /** Whether the `typ` header is acceptable (explicit typing keeps one kind of JWT from passing for another). */
  typ: (typ: string | undefined) => boolean;
  /** Claims that must be present. */
  required: string[];
  /** The most a JWT may have lived since its `iat`. */
  maxAgeSeconds: number;
  /** A limit on `exp - iat`, when the JWT is a short-lived credential. */
  maxLifetimeSeconds?: number;
}

/** The issuer a connection's ID tokens carry, as configured (discovery confirms it); undefined for kinds without one. */
export function declaredIssuer(c: StoredConnection): string | undefined {
  if (c.kind === 'local' || c.kind === 'github') return undefined;
  if (c.issuer) return c.issuer;
  if (c.kind === 'google') return GOOGLE_ISSUER;
  if (c.kind === 'entra' && c.tenant && /^[0-9a-f-]{36}$/i.test(c.tenant)) return `https://login.microsoftonline.com/${c.tenant}/v2.0`;
  return undefined;
}

export class IdpKeys {
  readonly #sets = new Map<string, { version: string; keys: JWTVerifyGetKey }>();

  constructor(private readonly connections: Connections) {}

  /** The connections whose IdP issues JWTs with this `iss`. */
  async connectionsOf(iss: string): Promise<StoredConnection[]> {
    return (await this.connections.list()).filter((c) => declaredIssuer(c) === iss);
  }

  /** Verifies `token` as signed by the connection's IdP under `rules`; throws an IdpJwtRefusal naming what failed. */
  async verify(token: string, connection: StoredConnection, rules: IdpJwtRules): Promise<JWTPayload> {
    const unverified = readUnverified(token);
    if (!unverified) throw new IdpJwtRefusal('bad_credential', 'not a signed JWT (compact JWS)');
    const { header } = unverified;
    if (typeof header.alg !== 'string' || !IDP_JWT_ALGORITHMS.includes(header.alg)) throw new IdpJwtRefusal('bad_credential', `JWT algorithm ${String(header.alg).slice(0, 20)} is not accepted`);
    if (!rules.typ(header.typ)) throw new IdpJwtRefusal('bad_credential', `JWT type ${String(header.typ ?? '(none)').slice(0, 60)} is not accepted here`);
    const { issuer, keys } = await this.#keysOf(connection);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer,
        audience: rules.audiences,
        algorithms: IDP_JWT_ALGORITHMS,
        clockTolerance: CLOCK_SKEW_S,
        requiredClaims: rules.required,
        maxTokenAge: rules.maxAgeSeconds,
      }));
    } catch (err) {
      throw refusalOf(err, connection.id) ?? err;
    }
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + CLOCK_SKEW_S) throw new IdpJwtRefusal('bad_credential', 'JWT issued in the future (iat)');
    if (rules.maxLifetimeSeconds !== undefined && typeof payload.exp === 'number' && typeof payload.iat === 'number' && payload.exp - payload.iat > rules.maxLifetimeSeconds) {
      throw new IdpJwtRefusal('bad_credential', `JWT lives longer than ${rules.maxLifetimeSeconds} s (exp - iat)`);
    }
    if (typeof payload.jti !== 'string' || !payload.jti || payload.jti.length > 256) throw new IdpJwtRefusal('bad_credential', 'JWT without a usable jti');
    return payload;
  }

  /** The connection's discovered issuer and its key set (one remote key set per connection version and jwks_uri). */
  async #keysOf(c: StoredConnection): Promise<{ issuer: string; keys: JWTVerifyGetKey }> {
    const connector = this.connections.connector(c);
    if (connector.kind !== 'redirect') throw new IdpJwtRefusal('bad_credential', `connection ${c.id} has no identity provider keys`);
    let report;
    try {
      report = await connector.discover();
    } catch (err) {
      throw new IdpJwtRefusal('keys_unavailable', `the discovery document of connection ${c.id} could not be read (${(err as Error).message?.slice(0, 200)})`);
    }
    if (!report.jwksUri) throw new IdpJwtRefusal('bad_credential', `connection ${c.id}'s identity provider publishes no keys (jwks_uri)`);
    const version = `${c.updatedAt.getTime()} ${report.jwksUri}`;
    let entry = this.#sets.get(c.id);
    if (!entry || entry.version !== version) {
      const keys = createRemoteJWKSet(new URL(report.jwksUri), {
        [customFetch]: this.connections.fetchFor(c) as never,
        timeoutDuration: 10_000,
        cooldownDuration: 30_000,
        cacheMaxAge: 600_000,
      });
      entry = { version, keys };
      this.#sets.set(c.id, entry);
    }
    return { issuer: report.issuer, keys: entry.keys };
  }
}

/** What a jose failure means for the caller. */
function refusalOf(err: unknown, connectionId: string): IdpJwtRefusal | undefined {
  const at = `(connection ${connectionId})`;
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return new IdpJwtRefusal('invalid_key', `no single key of the identity provider matches the JWT's ${at}`);
  if (err instanceof errors.JWSSignatureVerificationFailed) return new IdpJwtRefusal('bad_signature', `JWT signature verification failed ${at}`);
  if (err instanceof errors.JWTExpired) return new IdpJwtRefusal('bad_credential', `JWT expired: ${err.message} ${at}`);
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return new IdpJwtRefusal('invalid_issuer', `JWT issuer is not connection ${connectionId}'s`);
    if (err.claim === 'aud') return new IdpJwtRefusal('invalid_audience', `JWT audience is not this endpoint ${at}`);
    return new IdpJwtRefusal('bad_credential', `JWT claim ${err.claim} refused: ${err.message} ${at}`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported || err instanceof errors.JWKInvalid) {
    return new IdpJwtRefusal('bad_credential', `JWT refused: ${(err as Error).message} ${at}`);
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err instanceof errors.JOSEError || err instanceof GuardedFetchError) {
    return new IdpJwtRefusal('keys_unavailable', `the identity provider's keys could not be fetched ${at}: ${(err as Error).message}`);
  }
  return undefined;
}
