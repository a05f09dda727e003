// Local validation of Gatehouse's JWT access tokens (RFC 9068), with no call to Gatehouse per request: signature
// against its published keys, then every claim that makes the token this server's. Each check below is one way a
// token could be accepted by the wrong server or after its time; none of them may be skipped.
//
// Keys come from `${issuer}/jwks` through jose's remote key set: fetched once, fetched again when a token names an
// unknown `kid` (Gatehouse publishes a key before it signs with it) but at most every 5 s, so a flood of made-up
// kids cannot turn into a flood of requests to Gatehouse. (jose's default, 30 s, is longer than the delay between
// Gatehouse publishing a rotated key and signing with it, so a token signed with the new key could be refused
// for up to 30 s after the kit last fetched; 5 s is shorter than that delay.) The set is also refreshed in the background every
// 10 minutes, so a key Gatehouse stopped publishing stops being trusted; while Gatehouse is unreachable the last
// good set keeps working (stale-while-error). With no key set at all, verification fails with
// KeysUnavailableError (the caller answers 503): that is no fault of the token.
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type CryptoKey, type JWTVerifyGetKey } from 'jose';
import { audienceMatches, canonicalResource } from './canonical-resource.js';
import type { Identity } from './identity.js';

/** The token is not good for this server: answer 401 `invalid_token` (RFC 6750 §3.1). */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

/** Gatehouse's key set could not be fetched and none is cached: answer 503, not 401. */
export class KeysUnavailableError extends Error {
  override name = 'KeysUnavailableError';
}

export interface VerifierOptions {
  /** Gatehouse's ISSUER, byte for byte (the `iss` claim is compared exactly). */
  issuer: string;
  /** This server's resource URI; the token's `aud` must name it (compared in canonical form). */
  resource: string;
  /** Default `${issuer}/jwks`. */
  jwksUri?: string | undefined;
  fetch?: typeof fetch | undefined;
  /** Seconds of clock skew allowed on `exp` and `nbf`; default 0. */
  clockTolerance?: number | undefined;
  /** Least time between two JWKS fetches caused by unknown kids, in ms; default 5000. */
  cooldownMs?: number | undefined;
}

/** Gatehouse signs access tokens with ES256 (RS256 keys exist for clients that need them). Never `none`, never HMAC. */
const ALGORITHMS = ['ES256', 'RS256'];
const KEY_REFRESH_MS = 10 * 60_000;

/** jose errors that mean "the key set could not be had", as opposed to "this token has no key in it". */
function keysUnreachable(err: unknown): boolean {
  if (!(err instanceof errors.JOSEError)) return true; // fetch's own TypeError, an abort
  return err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err.code === 'ERR_JOSE_GENERIC';
}

function reason(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'the access token expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `the access token has an unexpected "${err.claim}"`;
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey) return 'the access token signature is not valid';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the access token is signed with an algorithm this server does not accept';
  return 'the access token is malformed';
}

export type TokenVerifier = (token: string) => Promise<Identity>;

export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  const resource = canonicalResource(options.resource);
  const issuer = options.issuer;
  const remote = createRemoteJWKSet(new URL(options.jwksUri ?? `${issuer.replace(/\/+$/, '')}/jwks`), {
    cacheMaxAge: Infinity, // refreshed below, in the background, instead of blocking a request when it is due
    cooldownDuration: options.cooldownMs ?? 5_000,
    timeoutDuration: 5_000,
    ...(options.fetch ? { [customFetch]: options.fetch } : {}),
  });
  let loadedAt = 0;
  // Keys by the token's first segment (its encoded protected header: alg, kid, typ), so a token whose header was
  // seen before goes straight to the signature check, skipping jose's key-function path and key-set walk (≈ 8 µs
  // of a 130 µs verification here; bench/kit-verify.ts). Filled only once a signature verified with that key, so
  // forged headers cannot grow it; bounded; emptied whenever the key set may have changed (the background refresh,
  // and any call to jose's key set, which is what refetches it for an unknown kid).
  const known = new Map<string, CryptoKey | Uint8Array>();

  const keys: JWTVerifyGetKey = async (header, token) => {
    try {
      const key = await remote(header, token);
      if (!loadedAt) loadedAt = Date.now();
      known.clear();
      return key;
    } catch (err) {
      if (keysUnreachable(err)) throw new KeysUnavailableError(`cannot fetch the key set: ${(err as Error).message}`, { cause: err });
      throw err;
    }
  };

  const refreshIfDue = () => {
    if (loadedAt && Date.now() - loadedAt > KEY_REFRESH_MS && !remote.reloading) {
      loadedAt = Date.now();
      // Keep the last good set if this fails; try again at the next interval.
      remote.reload().then(() => known.clear(), () => undefined);
    }
  };

  const verifyOptions = {
    issuer,
    typ: 'at+jwt', // RFC 9068 §4: jose compares it case-insensitively, with or without "application/"
    algorithms: ALGORITHMS,
    requiredClaims: ['exp', 'sub'],
    clockTolerance: options.clockTolerance ?? 0,
  };

  return async (token) => {
    refreshIfDue();
    const header = token.slice(0, token.indexOf('.') >>> 0);
    const key = known.get(header);
    let payload;
    try {
      if (key) ({ payload } = await jwtVerify(token, key, verifyOptions));
      else {
        const result = await jwtVerify(token, keys, verifyOptions);
        payload = result.payload;
        if (known.size < 32) known.set(header, result.key as CryptoKey | Uint8Array);
      }
    } catch (err) {
      if (err instanceof KeysUnavailableError) throw err;
      throw new InvalidTokenError(reason(err), { cause: err });
    }
    // RFC 8707 / MCP spec "Token Audience Binding": a token for another MCP server must not work here.
    if (!audienceMatches(payload.aud, resource)) throw new InvalidTokenError('the access token is for another resource');
    // RFC 9068 §2.2: sub and client_id are required; a token without them is no access token of Gatehouse's.
    if (typeof payload.sub !== 'string' || typeof payload.client_id !== 'string') throw new InvalidTokenError('the access token lacks sub or client_id');
    const identity: Identity = {
      token,
      sub: payload.sub,
      clientId: payload.client_id,
      scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
      resource,
      claims: payload,
    };
    if (typeof payload.email === 'string') identity.email = payload.email;
    if (typeof payload.exp === 'number') identity.expiresAt = payload.exp;
    return identity;
  };
}
