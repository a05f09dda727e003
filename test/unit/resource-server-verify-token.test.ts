// The kit's key handling against a JWKS server on loopback: one fetch, a refetch for a new kid (rotation) but not
// for every made-up kid (cooldown), the last good key set kept while the server is down, and "no keys at all"
// told apart from "bad token" (503, not 401).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createTokenVerifier, InvalidTokenError, KeysUnavailableError, protectedResource } from '../../packages/resource-server/src/index.js';

const RESOURCE = 'https://mcp.example.test/mcp';

interface Key {
  privateKey: CryptoKey;
  jwk: JWK;
  kid: string;
}
async function newKey(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { privateKey, jwk: { ...jwk, kid, alg: 'ES256', use: 'sig' }, kid };
}

let server: Server;
let issuer: string;
let published: Key[] = [];
let fetches = 0;
let up = true;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (!up) {
      res.writeHead(503).end();
      return;
    }
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  fetches = 0;
  up = true;
});

const token = (key: Key, kid = key.kid) =>
  new SignJWT({ client_id: 'c', scope: 'a b' }).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).setIssuer(issuer).setAudience(RESOURCE).setSubject('s').setExpirationTime('5m').sign(key.privateKey);

describe('the kit\'s key set', () => {
  it('fetches the JWKS once, refetches for a new kid after rotation, and not for every unknown kid', async () => {
    const [a, b] = [await newKey(), await newKey()];
    published = [a];
    const verify = createTokenVerifier({ issuer, resource: RESOURCE, cooldownMs: 300 });
    expect((await verify(await token(a))).scopes).toEqual(['a', 'b']);
    await verify(await token(a));
    expect(fetches).toBe(1);

    published = [a, b]; // Gatehouse publishes the next key before it signs with it
    await new Promise((r) => setTimeout(r, 350));
    expect((await verify(await token(b))).sub).toBe('s');
    expect(fetches).toBe(2);

    // Made-up kids within the cooldown: refused without asking the server again.
    for (let i = 0; i < 5; i++) await expect(verify(await token(a, `made-up-${i}`))).rejects.toBeInstanceOf(InvalidTokenError);
    expect(fetches).toBe(2);
    expect((await verify(await token(a))).clientId).toBe('c'); // and the known keys still work
  });

  it('stops trusting a key once a refetch shows it is no longer published', async () => {
    const [a, b] = [await newKey(), await newKey()];
    published = [a];
    const verify = createTokenVerifier({ issuer, resource: RESOURCE, cooldownMs: 100 });
    const tokenA = await token(a);
    await verify(tokenA);
    await verify(tokenA); // now served from the kit's own key cache
    published = [b];
    await new Promise((r) => setTimeout(r, 150));
    await verify(await token(b)); // unknown kid: refetch
    await expect(verify(tokenA)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('keeps verifying with the last good set while the JWKS server is down', async () => {
    const a = await newKey();
    published = [a];
    const verify = createTokenVerifier({ issuer, resource: RESOURCE });
    await verify(await token(a));
    up = false;
    expect((await verify(await token(a))).sub).toBe('s');
  });

  it('says "keys unavailable", not "invalid token", when it never got a key set', async () => {
    const a = await newKey();
    up = false;
    const verify = createTokenVerifier({ issuer, resource: RESOURCE });
    await expect(verify(await token(a))).rejects.toBeInstanceOf(KeysUnavailableError);
    const closed = createTokenVerifier({ issuer: 'http://127.0.0.1:9', resource: RESOURCE });
    await expect(closed(await token(a))).rejects.toBeInstanceOf(KeysUnavailableError);
  });

  it('answers 503 with Retry-After for that, and reports it', async () => {
    const a = await newKey();
    up = false;
    const errors: Error[] = [];
    const guard = protectedResource({ issuer, resource: RESOURCE, scopes: [], toolScopes: {}, onError: (e) => errors.push(e) });
    const http = createServer(guard.handler((_req, res) => res.end('{}')));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    try {
      const res = await fetch(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`, { headers: { authorization: `Bearer ${await token(a)}` } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(((await res.json()) as { error: string }).error).toBe('temporarily_unavailable');
      expect(errors[0]).toBeInstanceOf(KeysUnavailableError);
    } finally {
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
    }
  });
});
