// One issuer for the benchmark: an ES256 key, its JWKS served over loopback HTTP (so the kit fetches it the way it
// fetches Gatehouse's), and a valid RFC 9068 access token for one resource.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';

export interface Fixture {
  issuer: string;
  resource: string;
  publicKey: CryptoKey;
  token: string;
  close(): Promise<void>;
}

export const RESOURCE = 'https://mcp.bench.test/mcp';

export async function makeFixture(): Promise<Fixture> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const jwks = JSON.stringify({ keys: [{ ...jwk, kid, alg: 'ES256', use: 'sig' }] });
  const server: Server = createServer((req, res) => {
    res.writeHead(req.url === '/jwks' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(req.url === '/jwks' ? jwks : '{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ client_id: 'bench-client', scope: 'tools:read tools:write' })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
    .setIssuer(issuer)
    .setAudience(RESOURCE)
    .setSubject('bench-user')
    .setIssuedAt(now)
    .setExpirationTime(now + 24 * 3600)
    .setJti('bench')
    .sign(privateKey);
  return {
    issuer,
    resource: RESOURCE,
    publicKey,
    token,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
