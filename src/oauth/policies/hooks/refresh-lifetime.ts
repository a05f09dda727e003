// A refresh token's life has two bounds (docs/SECURITY.md, "Issue 16: first-admin setup and token lifetimes"):
// REFRESH_TOKEN_TTL, renewed by each rotation (a client that keeps refreshing keeps its token), and
// REFRESH_TOKEN_ABSOLUTE_TTL, counted from the sign-in that started the chain, after which the person signs in
// again. oidc-provider carries that first issue time through every rotation as the token's `iiat`.
//
//   ttl.RefreshToken        a new token never outlives the chain's absolute bound;
//   rotateRefreshToken      a presented token past the bound is refused (invalid_grant) before it is spent, which
//                           also covers tokens issued before the bound existed, whose expiry ignores it.
import { errors, type KoaContextWithOIDC } from 'oidc-provider';

interface ChainedToken {
  iiat?: number;
  iat?: number;
}

const now = () => Math.floor(Date.now() / 1000);
const startOf = (token: ChainedToken): number => token.iiat ?? token.iat ?? now();

export interface RefreshLifetime {
  /** REFRESH_TOKEN_TTL: seconds a token lives from its issue (each rotation issues a new one). */
  ttl: number;
  /** REFRESH_TOKEN_ABSOLUTE_TTL: seconds from the chain's first token after which no token of it refreshes. */
  absoluteTtl: number;
}

/** ttl.RefreshToken: the sliding lifetime, cut to what is left of the absolute one (at least 1 s, as oidc-provider asks). */
export function refreshTokenTtl(lifetime: RefreshLifetime) {
  return (_ctx: KoaContextWithOIDC | undefined, token: ChainedToken): number =>
    Math.max(1, Math.min(lifetime.ttl, startOf(token) + lifetime.absoluteTtl - now()));
}

/** rotateRefreshToken: always rotate (refresh-tokens.ts), but never a token whose chain has outlived its bound. */
export function rotateWithinAbsoluteLifetime(lifetime: RefreshLifetime) {
  return (ctx: KoaContextWithOIDC): boolean => {
    const presented = ctx.oidc.entities.RefreshToken as ChainedToken | undefined;
    if (presented && now() - startOf(presented) >= lifetime.absoluteTtl) {
      throw new errors.InvalidGrant('refresh token reached its absolute lifetime (REFRESH_TOKEN_ABSOLUTE_TTL): sign in again');
    }
    return true;
  };
}
