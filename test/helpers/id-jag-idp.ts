// A small enterprise IdP that issues identity assertions (ID-JAG, docs/ENTERPRISE-MANAGED-AUTHORIZATION.md): a node
// http server with an OpenID Connect discovery document (issuer, jwks_uri) and its JWKS, and a signer for ID-JAGs
// with its key, so a test can make each claim right or wrong. It does the IdP's first step (the token exchange of an
// ID token for an ID-JAG) only as far as a test needs: `assertion()` mints what that exchange would answer.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

export interface IdJagClaims {
  sub?: string;
  aud?: string | string[];
  client_id?: string;
  jti?: string;
  iat?: number;
  exp?: number;
  resource?: string | string[];
  scope?: string;
  email?: string;
  email_verified?: boolean;
  [claim: string]: unknown;
}

export interface IdJagIdp {
  issuer: string;
  /** Signs an ID-JAG: typ oauth-id-jag+jwt, iss this IdP, a fresh jti, iat now, exp in 5 minutes, unless overridden. */
  assertion(claims: IdJagClaims, header?: { typ?: string; alg?: 'ES256' }): Promise<string>;
  close(): Promise<void>;
}

export async function startIdJagIdp(): Promise<IdJagIdp> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = randomUUID();
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  let issuer = '';
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', issuer).pathname;
    const json = (body: unknown) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    };
    if (path === '/.well-known/openid-configuration') {
      return json({
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        code_challenge_methods_supported: ['S256'],
        // What an IdP that issues ID-JAGs says of itself (draft-ietf-oauth-identity-assertion-authz-grant).
        identity_chaining_requested_token_types_supported: ['urn:ietf:params:oauth:token-type:id-jag'],
      });
    }
    if (path === '/jwks') return json({ keys: [jwk] });
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const assertion = async (claims: IdJagClaims, header: { typ?: string; alg?: 'ES256' } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: issuer, jti: randomUUID(), iat: now, exp: now + 300, ...claims };
    return new SignJWT(payload).setProtectedHeader({ alg: header.alg ?? 'ES256', kid, typ: header.typ ?? 'oauth-id-jag+jwt' }).sign(privateKey);
  };
  return {
    issuer,
    assertion,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
