// The resource-server kit (@gatehouse/resource-server, packages/resource-server) in front of real MCP servers — plain node:http, Express, Koa
// and the official SDK's transport — on loopback ports, with access tokens issued by a real Gatehouse through the
// browser flow, and tokens forged with Gatehouse's own signing key where the attack needs a valid signature.
// What this file proves for docs/COMPATIBILITY.md (scripts/compatibility.ts reads these lines):
// compatibility: client=sdk-v1 covers=dcr,step-up,bearer
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { extractWWWAuthenticateParams, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express from 'express';
import Koa from 'koa';
import { generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { protectedResource, type ProtectedResource } from '../../packages/resource-server/src/index.js';
import { loadKeySet } from '../../src/oauth/keys.js';
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { TestOAuthProvider } from '../helpers/sdk-oauth-provider.js';
import { OTHER_RESOURCE, startTestServer, type TestServer } from '../helpers/server.js';

const USER = { email: 'kit@example.com', password: 'correct horse battery staple' };
const REDIRECT = 'http://127.0.0.1:33419/callback';
const CATALOGUE = {
  'tools:read': { description: 'Read', tools: ['search', 'whoami'] },
  'tools:write': { description: 'Write', tools: ['deploy', 'search'] },
};

let db: TestDatabase;
let gh: TestServer;
const servers: Server[] = [];

async function listen(listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A server whose URL must be known before its guard exists (the guard names its own resource). */
async function listenLater(): Promise<{ base: string; serve: (l: (req: IncomingMessage, res: ServerResponse) => void) => void }> {
  let current: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const base = await listen((req, res) => current(req, res));
  return { base, serve: (l) => (current = l) };
}

async function accessToken(resource: string, scope: string): Promise<string> {
  const client = await registerPublicClient(gh.issuer, [REDIRECT]);
  const { verifier, challenge } = pkcePair();
  const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
    client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope, resource, state: 's',
  }, USER);
  const tokens = await tokenRequest(gh.issuer, {
    grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT, resource,
  });
  if (tokens.status !== 200) throw new Error(`token request failed: ${JSON.stringify(tokens.body)}`);
  return tokens.body.access_token as string;
}

const rpc = (method: string, params: Record<string, unknown> = {}, id: number | string = 1) => ({ jsonrpc: '2.0', id, method, params });
const call = (name: string, id: number | string = 1) => rpc('tools/call', { name, arguments: {} }, id);

async function post(url: string, token: string | undefined, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** What the echo handlers answer: the identity and body the kit handed over. */
interface Echo {
  identity: { sub: string; clientId: string; scopes: string[]; resource: string; email?: string; expiresAt?: number };
  body: unknown;
  auth?: { clientId: string; scopes: string[]; resource: string; extra: Record<string, unknown> };
  via: string;
}

function echo(via: string, identity: Echo['identity'], body: unknown, auth: { resource?: URL } & Record<string, unknown> | undefined) {
  return JSON.stringify({ via, identity: { ...identity, claims: undefined, token: undefined }, body, auth: auth && { ...auth, token: undefined, resource: auth.resource?.href } });
}

// The resource every guard below protects (the node server's /mcp), the catalogue-less Express guard, and a
// resource with an empty path for the trailing-slash rule.
let R: string;
let nodeBase: string;
let rootResource: string;
let kit: ProtectedResource;
let expressBase: string;
let expressRawBase: string;
let koaBase: string;
let sdkBase: string;
let rootBase: string;
let readToken: string;
let writeToken: string;
let rootToken: string;
let otherToken: string;
let gatehouseKey: { key: CryptoKey; kid: string };
let gatehouseRsaKey: { key: CryptoKey; kid: string };

async function forge(overrides: Record<string, unknown> = {}, header: Record<string, unknown> = {}, signer = gatehouseKey, alg = 'ES256'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { iss: gh.issuer, aud: R, sub: 'forged-sub', client_id: 'forged-client', scope: 'tools:read', iat: now, exp: now + 300, jti: `j${Math.random()}`, ...overrides };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg, kid: signer.kid, typ: 'at+jwt', ...header }).sign(signer.key);
}

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  await gh.services.users.create(USER);

  // node:http, with the tool→scope rules from Gatehouse's catalogue (the default).
  const nodeServer = await listenLater();
  nodeBase = nodeServer.base;
  R = `${nodeBase}/mcp`;
  kit = protectedResource({ issuer: gh.issuer, resource: R });
  nodeServer.serve(kit.handler((req, res, identity, body) => {
    res.setHeader('content-type', 'application/json');
    res.end(echo('node', identity, body, (req as IncomingMessage & { auth?: any }).auth));
  }));

  // Express with express.json() before the guard, and with none (the kit reads the body); rules in code.
  const rules = { scopes: ['tools:read', 'tools:write'], toolScopes: { deploy: ['tools:write'], search: ['tools:read'] } };
  const expressApp = (withParser: boolean) => {
    const app = express();
    if (withParser) app.use(express.json());
    app.use(protectedResource({ issuer: gh.issuer, resource: R, ...rules }).express());
    app.post('/mcp', (req, res) => {
      res.type('application/json').send(echo(withParser ? 'express+json' : 'express', res.locals.identity, req.body, (req as any).auth));
    });
    return app;
  };
  expressBase = await listen(expressApp(true));
  expressRawBase = await listen(expressApp(false));

  // Koa, catalogue rules.
  const koa = new Koa();
  koa.use(protectedResource({ issuer: gh.issuer, resource: R }).koa());
  koa.use(async (ctx) => {
    ctx.type = 'application/json';
    ctx.body = echo('koa', ctx.state.identity, (ctx.request as { body?: unknown }).body, (ctx.req as any).auth);
  });
  koaBase = await listen(koa.callback());

  // The official SDK's transport behind the kit: tools read the identity from extra.authInfo.
  const sdkGuard = protectedResource({ issuer: gh.issuer, resource: R });
  sdkBase = await listen(sdkGuard.handler(async (req, res, _identity, body) => {
    const mcp = new McpServer({ name: 'kit-test', version: '1.0.0' });
    mcp.registerTool('whoami', { description: 'who the token says you are' }, async (extra) => ({
      content: [{ type: 'text', text: JSON.stringify({ ...extra.authInfo, token: undefined, resource: extra.authInfo?.resource?.href }) }],
    }));
    mcp.registerTool('deploy', { description: 'changes things' }, async () => ({ content: [{ type: 'text', text: 'deployed' }] }));
    mcp.registerTool('debug_dump', { description: 'registered here, in no catalogue scope' }, async () => ({ content: [{ type: 'text', text: 'secrets' }] }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => void transport.close().then(() => mcp.close()));
    await mcp.connect(transport);
    await transport.handleRequest(req, res, body);
  }));

  // A resource with an empty path, given to the guard with a trailing slash.
  const rootServer = await listenLater();
  rootBase = rootServer.base;
  rootResource = rootBase; // canonical: no slash
  rootServer.serve(protectedResource({ issuer: gh.issuer, resource: `${rootBase}/`, scopes: ['tools:read'], toolScopes: {} })
    .handler((_req, res, identity, body) => res.end(echo('root', identity, body, undefined))));

  await gh.services.resources.upsert({ uri: R, name: 'Kit MCP', scopes: CATALOGUE, default: false });
  await gh.services.resources.upsert({ uri: `${rootBase}/`, name: 'Root MCP', scopes: { 'tools:read': 'Read' }, default: false });

  readToken = await accessToken(R, 'tools:read');
  writeToken = await accessToken(R, 'tools:read tools:write');
  rootToken = await accessToken(`${rootBase}/`, 'tools:read');
  otherToken = await accessToken(OTHER_RESOURCE, 'files:read');

  const keys = await loadKeySet(gh.services.handle.db, gh.services.box);
  const es = keys.signingKey('ES256')!;
  const rs = keys.signingKey('RS256')!;
  gatehouseKey = { key: (await importJWK(es.privateJwk, 'ES256')) as CryptoKey, kid: es.kid };
  gatehouseRsaKey = { key: (await importJWK(rs.privateJwk, 'RS256')) as CryptoKey, kid: rs.kid };
});

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  await gh?.close();
  await db?.drop();
});

describe('protected resource metadata (RFC 9728)', () => {
  it('is served at the path-aware location and at the root form, naming Gatehouse byte for byte', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const res = await fetch(`${nodeBase}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const text = await res.text();
      expect(text).toContain(`"authorization_servers":[${JSON.stringify(gh.issuer)}]`);
      expect(JSON.parse(text)).toEqual({
        resource: R,
        authorization_servers: [gh.issuer],
        scopes_supported: ['tools:read', 'tools:write'], // from Gatehouse's catalogue
        bearer_methods_supported: ['header'],
        resource_name: 'Kit MCP',
      });
    }
  });

  it('publishes a pathless resource without a trailing slash, at the root form', async () => {
    const res = await fetch(`${rootBase}/.well-known/oauth-protected-resource`);
    expect(await res.json()).toMatchObject({ resource: rootResource, authorization_servers: [gh.issuer], scopes_supported: ['tools:read'] });
  });

  it('takes the scopes from code when given, and answers only GET/HEAD', async () => {
    const res = await fetch(`${expressBase}/.well-known/oauth-protected-resource/mcp`);
    expect(((await res.json()) as { scopes_supported: string[] }).scopes_supported).toEqual(['tools:read', 'tools:write']);
    expect((await fetch(`${nodeBase}/.well-known/oauth-protected-resource/mcp`, { method: 'POST' })).status).toBe(405);
  });
});

describe('the 401 challenge (RFC 6750 §3, MCP "Authorization Server Location")', () => {
  const metadata = () => `${nodeBase}/.well-known/oauth-protected-resource/mcp`;

  it('answers a request without a token with 401, the metadata URL and the scopes to ask for, and no error code', async () => {
    const res = await post(R, undefined, rpc('initialize'));
    expect(res.status).toBe(401);
    const header = res.headers.get('www-authenticate')!;
    expect(header).toBe(`Bearer scope="tools:read tools:write", resource_metadata="${metadata()}"`);
    expect(extractWWWAuthenticateParams(res)).toEqual({ resourceMetadataUrl: new URL(metadata()), scope: 'tools:read tools:write', error: undefined });
  });

  it.each([
    ['a Basic credential', 'Basic dXNlcjpwYXNz'],
    ['the scheme alone', 'Bearer'],
    ['two tokens', 'Bearer a b'],
    ['a token with a quote', 'Bearer a"b'],
  ])('treats %s as no token', async (_name, authorization) => {
    const res = await post(R, undefined, rpc('initialize'), { authorization });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).not.toContain('error=');
  });

  it('builds the metadata URL from the configured resource, never from the Host header', async () => {
    const forged = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(`${R}`, { method: 'GET', headers: { host: 'evil.example' } }, (res) => {
        res.resume();
        resolve(String(res.headers['www-authenticate']));
      });
      req.on('error', reject).end();
    });
    expect(forged).toContain(`resource_metadata="${metadata()}"`);
    // Express listens elsewhere but protects R: the challenge points at R's origin.
    const res = await post(`${expressBase}/mcp`, undefined, rpc('initialize'));
    expect(res.headers.get('www-authenticate')).toContain(`resource_metadata="${metadata()}"`);
  });
});

describe('token validation: 401 invalid_token, never 400', () => {
  async function expectInvalid(token: string, base = nodeBase) {
    const res = await post(`${base}/mcp`, token, rpc('tools/list'));
    expect(res.status).toBe(401);
    const params = extractWWWAuthenticateParams(res);
    expect(params.error).toBe('invalid_token');
    expect(params.resourceMetadataUrl?.href).toBe(`${nodeBase}/.well-known/oauth-protected-resource/mcp`);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
  }

  it('accepts a real access token for this resource', async () => {
    const res = await post(R, readToken, rpc('tools/list'));
    expect(res.status).toBe(200);
  });

  it('refuses garbage', () => expectInvalid('not.a.jwt'));

  it('refuses a token signed with a key Gatehouse does not publish, even under its kid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    await expectInvalid(await forge({}, {}, { key: privateKey, kid: gatehouseKey.kid }));
    await expectInvalid(await forge({}, {}, { key: privateKey, kid: 'unknown-kid' }));
  });

  it('refuses an expired token signed by Gatehouse', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await forge({ iat: now - 600, exp: now - 60 });
    const res = await post(R, token, rpc('tools/list'));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error_description="the access token expired"');
  });

  it('refuses a token not yet valid (nbf)', async () => expectInvalid(await forge({ nbf: Math.floor(Date.now() / 1000) + 600 })));

  it('refuses a real token issued for another resource', () => expectInvalid(otherToken));

  it('refuses a token whose issuer differs by one byte', async () => expectInvalid(await forge({ iss: `${gh.issuer}/` })));

  it('refuses a Gatehouse-signed JWT that is not an access token (typ JWT, as an ID token)', async () => {
    await expectInvalid(await forge({}, { typ: 'JWT' }));
    await expectInvalid(await forge({}, { typ: undefined }));
  });

  it('refuses tokens without sub or client_id, or without exp', async () => {
    await expectInvalid(await forge({ client_id: undefined }));
    await expectInvalid(await forge({ sub: undefined }));
    await expectInvalid(await forge({ exp: undefined }));
  });

  it('refuses HMAC and unsigned tokens', async () => {
    const hs = await new SignJWT({ iss: gh.issuer, aud: R, sub: 's', client_id: 'c', exp: Math.floor(Date.now() / 1000) + 300 })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(new TextEncoder().encode('x'.repeat(32)));
    await expectInvalid(hs);
    const none = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${hs.split('.')[1]}.`;
    await expectInvalid(none);
  });

  it('accepts typ in any case and with application/, and RS256', async () => {
    for (const typ of ['AT+JWT', 'application/at+jwt']) expect((await post(R, await forge({}, { typ }), rpc('tools/list'))).status).toBe(200);
    expect((await post(R, await forge({}, {}, gatehouseRsaKey, 'RS256'), rpc('tools/list'))).status).toBe(200);
  });
});

describe('audience: the canonical resource (RFC 8707, MCP "Canonical Server URI")', () => {
  it('accepts a real token for a pathless resource whichever way the slash is written', async () => {
    const res = await post(rootBase, rootToken, rpc('tools/list'));
    expect(res.status).toBe(200);
    expect(((await res.json()) as Echo).identity.resource).toBe(rootResource);
  });

  it('compares canonical forms: case of scheme and host, default port, empty path', async () => {
    const host = new URL(rootBase).host;
    for (const aud of [`${rootBase}/`, `HTTP://${host.toUpperCase()}`, [`https://elsewhere.test`, rootBase]]) {
      const token = await forge({ aud });
      expect((await post(rootBase, token, rpc('tools/list'))).status).toBe(200);
    }
  });

  it('keeps any other path exact: /mcp/ is not /mcp, and a sibling path is not this resource', async () => {
    for (const aud of [`${R}/`, `${nodeBase}/mcp2`, nodeBase, [`https://elsewhere.test`]]) {
      const res = await post(R, await forge({ aud }), rpc('tools/list'));
      expect(res.status).toBe(401);
    }
  });
});

describe('per-tool scopes (MCP "Scope Challenge Handling")', () => {
  it('lets a tool call through when the token has a scope that unlocks the tool', async () => {
    const res = await post(R, readToken, call('search'));
    expect(res.status).toBe(200);
  });

  it.each([
    ['node', () => R],
    ['Express', () => `${expressBase}/mcp`],
    ['Express without a body parser', () => `${expressRawBase}/mcp`],
    ['Koa', () => `${koaBase}/mcp`],
  ])('%s: a tool needing tools:write with only tools:read → 403 insufficient_scope with what to ask for', async (_name, url) => {
    const res = await post(url(), readToken, call('deploy'));
    expect(res.status).toBe(403);
    const header = res.headers.get('www-authenticate')!;
    expect(header).toContain('error="insufficient_scope"');
    expect(header).toContain('scope="tools:write tools:read"');
    expect(header).toContain(`resource_metadata="${nodeBase}/.well-known/oauth-protected-resource/mcp"`);
    // What the MCP SDK client reads before it steps up.
    expect(extractWWWAuthenticateParams(res)).toEqual({
      error: 'insufficient_scope',
      scope: 'tools:write tools:read',
      resourceMetadataUrl: new URL(`${nodeBase}/.well-known/oauth-protected-resource/mcp`),
    });
    expect(await res.json()).toMatchObject({ error: 'insufficient_scope', scope: 'tools:write tools:read' });
    expect(res.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate');
  });

  it('checks every call of a batch', async () => {
    const batch = [call('search', 1), call('deploy', 2)];
    expect((await post(R, readToken, batch)).status).toBe(403);
    const ok = await post(R, writeToken, batch);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as Echo).body).toEqual(batch);
  });

  it('lets other methods through with only the required scopes', async () => {
    expect((await post(R, readToken, rpc('tools/list'))).status).toBe(200);
    expect((await post(R, readToken, rpc('resources/list'))).status).toBe(200);
  });

  it('enforces requiredScopes on every request', async () => {
    const base = await listen(protectedResource({ issuer: gh.issuer, resource: R, scopes: ['tools:read', 'tools:write'], toolScopes: { deploy: ['tools:write'] }, requiredScopes: ['tools:read'] })
      .handler((_req, res) => res.end('{}')));
    const writeOnly = await forge({ scope: 'tools:write' });
    const res = await post(`${base}/mcp`, writeOnly, rpc('tools/list'));
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('scope="tools:read tools:write"');
    // The 401 asks for exactly the required scopes.
    const anonymous = await post(`${base}/mcp`, undefined, rpc('tools/list'));
    expect(anonymous.headers.get('www-authenticate')).toContain('scope="tools:read"');
  });

  it('answers 503 (not 401, not a pass) for a tool call while the catalogue cannot be had', async () => {
    const errors: Error[] = [];
    const base = await listen(protectedResource({ issuer: gh.issuer, resource: R, catalogueUrl: `${gh.issuer}/catalogue?resource=${encodeURIComponent('https://unknown.test/mcp')}`, onError: (e) => errors.push(e) })
      .handler((_req, res) => res.end('{}')));
    const res = await post(`${base}/mcp`, writeToken, call('deploy'));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(errors[0]?.message).toContain('404');
    // A request that calls no tool needs no catalogue.
    expect((await post(`${base}/mcp`, writeToken, rpc('tools/list'))).status).toBe(200);
  });
});

describe('deny by default: a call with no scope rule is refused whatever the token holds', () => {
  const ALL = 'tools:read tools:write notes:read secret summaries admin';
  /** A guard in front of a handler that counts the requests it ran. */
  async function guarded(options: Partial<Parameters<typeof protectedResource>[0]>): Promise<{ url: string; ran: () => number }> {
    let ran = 0;
    const base = await listen(protectedResource({ issuer: gh.issuer, resource: R, scopes: ['tools:read', 'tools:write'], ...options }).handler((_req, res) => {
      ran++;
      res.end('{}');
    }));
    return { url: `${base}/mcp`, ran: () => ran };
  }
  const read = (uri: string, id = 1) => rpc('resources/read', { uri }, id);
  const prompt = (name: string, id = 1) => rpc('prompts/get', { name, arguments: {} }, id);

  async function expectUnmapped(res: Response, named: string): Promise<void> {
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    const body = (await res.json()) as { error: string; error_description: string };
    expect(body.error).toBe('insufficient_scope');
    expect(body.error_description).toContain(named);
    expect(body.error_description).toContain('not mapped to any scope');
  }

  it('an unmapped tool is refused with a token holding every scope (catalogue rules)', async () => {
    await expectUnmapped(await post(R, writeToken, call('not_in_catalogue')), 'calling not_in_catalogue');
    await expectUnmapped(await post(R, await forge({ scope: ALL }), call('not_in_catalogue')), 'calling not_in_catalogue');
  });

  it('an unmapped tool is refused with a token holding every scope (rules in code), and the handler never runs', async () => {
    const server = await guarded({ toolScopes: { deploy: ['tools:write'] } });
    await expectUnmapped(await post(server.url, await forge({ scope: ALL }), call('drop_tables')), 'calling drop_tables');
    // Prototype names are not rules either.
    await expectUnmapped(await post(server.url, await forge({ scope: ALL }), call('constructor')), 'calling constructor');
    expect(server.ran()).toBe(0);
    expect((await post(server.url, await forge({ scope: ALL }), call('deploy'))).status).toBe(200);
  });

  it('a tool mapped to no scope ([]) is open to any token with the required scopes', async () => {
    const server = await guarded({ toolScopes: { ping: [] }, requiredScopes: ['tools:read'] });
    expect((await post(server.url, readToken, call('ping'))).status).toBe(200);
    expect((await post(server.url, await forge({ scope: 'tools:write' }), call('ping'))).status).toBe(403);
  });

  it("unmappedTools: 'allow' lets an unmapped tool through, with requiredScopes still the floor", async () => {
    const server = await guarded({ toolScopes: { deploy: ['tools:write'] }, unmappedTools: 'allow', requiredScopes: ['tools:read'] });
    expect((await post(server.url, readToken, call('anything'))).status).toBe(200);
    const floor = await post(server.url, await forge({ scope: 'tools:write' }), call('anything'));
    expect(floor.status).toBe(403);
    expect(floor.headers.get('www-authenticate')).toContain('scope="tools:read tools:write"');
    // Mapped tools keep their rule.
    expect((await post(server.url, readToken, call('deploy'))).status).toBe(403);
  });

  it('a batch smuggling an unmapped call among allowed ones is refused as a whole (nothing of it runs)', async () => {
    const server = await guarded({ toolScopes: { search: ['tools:read'] }, resourceScopes: [['notes://*', ['tools:read']]], promptScopes: { summarise: ['tools:read'] } });
    const token = await forge({ scope: ALL });
    for (const smuggled of [call('drop_tables', 2), read('file:///etc/passwd', 2), prompt('jailbreak', 2)]) {
      expect((await post(server.url, token, [call('search', 1), smuggled, read('notes://1', 3), prompt('summarise', 4)])).status).toBe(403);
    }
    expect(server.ran()).toBe(0);
    expect((await post(server.url, token, [call('search', 1), read('notes://1', 3), prompt('summarise', 4)])).status).toBe(200);
    expect(server.ran()).toBe(1);
  });

  it('resources/read: allowed with the scope its pattern names, refused without it, an unmapped URI refused', async () => {
    const server = await guarded({ resourceScopes: [['notes://*', ['notes:read']], ['notes://secret/*', ['secret']], ['config://app', ['admin']]] });
    const notesOnly = await forge({ scope: 'notes:read' });
    expect((await post(server.url, notesOnly, read('notes://1'))).status).toBe(200);
    const secret = await post(server.url, notesOnly, read('notes://secret/plans'));
    expect(secret.status).toBe(403); // the broad pattern does not open the narrower one
    expect(secret.headers.get('www-authenticate')).toContain('scope="notes:read secret"');
    expect((await post(server.url, await forge({ scope: 'notes:read secret' }), read('notes://secret/plans'))).status).toBe(200);
    expect((await post(server.url, await forge({ scope: 'tools:read' }), read('notes://1'))).status).toBe(403);
    // Exact patterns are exact: no prefix, no suffix.
    expect((await post(server.url, await forge({ scope: 'admin' }), read('config://app'))).status).toBe(200);
    await expectUnmapped(await post(server.url, await forge({ scope: ALL }), read('config://app/keys')), 'reading config://app/keys');
    await expectUnmapped(await post(server.url, await forge({ scope: ALL }), read('file:///etc/passwd')), 'reading file:///etc/passwd');
  });

  it('resources/read with no resourceScopes at all is refused by default; unmappedResources: \'allow\' opens it above the floor', async () => {
    await expectUnmapped(await post(R, writeToken, read('notes://1')), 'reading notes://1');
    const open = await guarded({ toolScopes: {}, unmappedResources: 'allow', requiredScopes: ['tools:read'] });
    expect((await post(open.url, readToken, read('file:///anything'))).status).toBe(200);
    expect((await post(open.url, await forge({ scope: 'tools:write' }), read('file:///anything'))).status).toBe(403);
  });

  it('prompts/get: allowed with the scope, refused without it, an unmapped prompt refused (configured or not)', async () => {
    const server = await guarded({ promptScopes: { summarise: ['summaries'] } });
    expect((await post(server.url, await forge({ scope: 'summaries' }), prompt('summarise'))).status).toBe(200);
    const without = await post(server.url, await forge({ scope: 'tools:read' }), prompt('summarise'));
    expect(without.status).toBe(403);
    expect(without.headers.get('www-authenticate')).toContain('scope="summaries tools:read"');
    await expectUnmapped(await post(server.url, await forge({ scope: ALL }), prompt('jailbreak')), 'getting the prompt jailbreak');
    await expectUnmapped(await post(R, writeToken, prompt('summarise')), 'getting the prompt summarise');
    const open = await guarded({ toolScopes: {}, unmappedPrompts: 'allow', requiredScopes: ['tools:read'] });
    expect((await post(open.url, readToken, prompt('jailbreak'))).status).toBe(200);
    expect((await post(open.url, await forge({ scope: 'tools:write' }), prompt('jailbreak'))).status).toBe(403);
  });

  it('refuses a misspelt opt-in or a * inside a resource pattern at start-up, rather than guessing', () => {
    expect(() => protectedResource({ issuer: gh.issuer, resource: R, unmappedTools: 'yes' as 'allow' })).toThrow(TypeError);
    expect(() => protectedResource({ issuer: gh.issuer, resource: R, resourceScopes: [['notes://*/private', ['x']]] })).toThrow(TypeError);
  });
});

describe('the verified identity, handed to the handler', () => {
  it.each([
    ['node', () => R, 'node'],
    ['Express (req.body parsed by express.json)', () => `${expressBase}/mcp`, 'express+json'],
    ['Express (body read by the kit, left in req.body)', () => `${expressRawBase}/mcp`, 'express'],
    ['Koa (ctx.state.identity, ctx.request.body)', () => `${koaBase}/mcp`, 'koa'],
  ])('%s', async (_name, url, via) => {
    const body = call('search', 7);
    const res = await post(url(), writeToken, body);
    expect(res.status).toBe(200);
    const got = (await res.json()) as Echo;
    expect(got.via).toBe(via);
    expect(got.body).toEqual(body);
    expect(got.identity).toMatchObject({ clientId: expect.stringMatching(/./), scopes: ['tools:read', 'tools:write'], resource: R });
    expect(typeof got.identity.sub).toBe('string');
    expect(got.identity.expiresAt).toBeGreaterThan(Date.now() / 1000);
    // The MCP SDK's AuthInfo, as req.auth.
    expect(got.auth).toMatchObject({ clientId: got.identity.clientId, scopes: got.identity.scopes, resource: R, extra: { sub: got.identity.sub } });
  });

  it('reaches MCP SDK tool handlers as extra.authInfo, and the SDK client sees the 403', async () => {
    const client = new Client({ name: 'kit-test-client', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${sdkBase}/mcp`), { requestInit: { headers: { authorization: `Bearer ${readToken}` } } }));
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    const info = JSON.parse((result.content as { text: string }[])[0]!.text);
    expect(info).toMatchObject({ scopes: ['tools:read'], resource: R, extra: { sub: expect.any(String) } });
    expect(typeof info.clientId).toBe('string');
    await expect(client.callTool({ name: 'deploy', arguments: {} })).rejects.toMatchObject({ code: 403, message: expect.stringContaining('insufficient_scope') });
    // A tool the server registered but no catalogue scope lists: refused before the SDK runs it.
    await expect(client.callTool({ name: 'debug_dump', arguments: {} })).rejects.toMatchObject({ code: 403, message: expect.stringContaining('insufficient_scope') });
    await client.close();
  });
});

describe('request bodies', () => {
  const big = JSON.stringify({ ...call('search'), padding: 'x'.repeat(1024 * 1024 + 10) });

  it.each([
    ['node', () => R],
    ['Express without a parser', () => `${expressRawBase}/mcp`],
    ['Koa', () => `${koaBase}/mcp`],
  ])('%s: a body over 1 MiB gets 413', async (_name, url) => {
    const res = await post(url(), readToken, big);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32600);
  });

  it('stops a chunked body at the limit too', async () => {
    const chunks = (async function* () {
      for (let i = 0; i < 40; i++) yield new TextEncoder().encode('x'.repeat(64 * 1024));
    })();
    const res = await fetch(R, { method: 'POST', headers: { authorization: `Bearer ${readToken}`, 'content-type': 'application/json' }, body: chunks as unknown as RequestInit['body'], duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
  });

  it('answers a body that is not JSON with 415, and broken JSON with a JSON-RPC parse error', async () => {
    const text = await post(R, readToken, 'tools/call', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    const broken = await post(R, readToken, '{"jsonrpc":');
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: { code: number } }).error.code).toBe(-32700);
  });

  it('does not take a placeholder req.body for the body (Express 4 json() sets {} and leaves other types unread)', async () => {
    const app = express();
    app.use((req, _res, next) => {
      req.body = req.body ?? {};
      next();
    });
    app.use(protectedResource({ issuer: gh.issuer, resource: R, scopes: ['tools:read'], toolScopes: { deploy: ['tools:write'] } }).express());
    app.post('/mcp', (_req, res) => res.send('ran'));
    const base = await listen(app);
    expect((await post(`${base}/mcp`, readToken, JSON.stringify(call('deploy')), { 'content-type': 'text/plain' })).status).toBe(415);
  });

  it('parses a body a text parser left as a string, so the check reads what the handler reads', async () => {
    const koa = new Koa();
    koa.use(async (ctx, next) => {
      const chunks: Buffer[] = [];
      for await (const c of ctx.req) chunks.push(c as Buffer);
      (ctx.request as { body?: unknown }).body = Buffer.concat(chunks).toString();
      await next();
    });
    koa.use(protectedResource({ issuer: gh.issuer, resource: R, scopes: ['tools:read'], toolScopes: { deploy: ['tools:write'], search: ['tools:read'] } }).koa());
    koa.use((ctx) => {
      ctx.body = 'ran';
    });
    const base = await listen(koa.callback());
    expect((await post(`${base}/mcp`, readToken, call('deploy'))).status).toBe(403);
    expect((await post(`${base}/mcp`, readToken, call('search'))).status).toBe(200);
  });

  it('reads no body before the token is checked', async () => {
    const res = await post(R, undefined, big);
    expect(res.status).toBe(401);
  });
});

describe('CORS', () => {
  it.each([['node', () => R], ['Express', () => `${expressBase}/mcp`], ['Koa', () => `${koaBase}/mcp`]])('%s: answers the preflight without a token', async (_n, url) => {
    const res = await fetch(url(), { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, mcp-protocol-version' } });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE, OPTIONS');
    expect(res.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID');
  });

  it('exposes WWW-Authenticate and Mcp-Session-Id on refusals and on responses it lets through', async () => {
    for (const res of [await post(R, undefined, rpc('tools/list')), await post(R, readToken, rpc('tools/list')), await post(`${koaBase}/mcp`, readToken, rpc('tools/list'))]) {
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-expose-headers')).toBe('WWW-Authenticate, Mcp-Session-Id');
    }
  });
});

describe('step-up with the MCP SDK client (403 insufficient_scope → a new authorization for the scopes named)', () => {
  async function logIn(at: URL): Promise<string> {
    const params = Object.fromEntries([...at.searchParams].filter(([k]) => k !== 'response_type')) as { client_id: string; redirect_uri: string };
    const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, params, USER);
    return callback.searchParams.get('code')!;
  }

  it('asks for the required scope first, then for the tool\'s scope plus the granted one, and the call goes through', async () => {
    const server = await listenLater();
    const resource = `${server.base}/mcp`;
    await gh.services.resources.upsert({ uri: resource, name: 'Step-up MCP', scopes: CATALOGUE, default: false });
    server.serve(protectedResource({ issuer: gh.issuer, resource, requiredScopes: ['tools:read'] }).handler(async (req, res, _identity, body) => {
      const mcp = new McpServer({ name: 'step-up', version: '1.0.0' });
      mcp.registerTool('deploy', { description: 'changes things' }, async (extra) => ({ content: [{ type: 'text', text: `deployed with ${extra.authInfo?.scopes.join(' ')}` }] }));
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => void transport.close().then(() => mcp.close()));
      await mcp.connect(transport);
      await transport.handleRequest(req, res, body);
    }));

    const provider = new TestOAuthProvider(REDIRECT, { clientName: 'Kit step-up', keepRefreshToken: false });
    const client = new Client({ name: 'kit-step-up', version: '1.0.0' });
    let transport = new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider });
    await expect(client.connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.authorizationUrl!.searchParams.get('scope')).toBe('tools:read');
    expect(provider.authorizationUrl!.searchParams.get('resource')).toBe(resource);
    await transport.finishAuth(await logIn(provider.authorizationUrl!));

    transport = new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider });
    await client.connect(transport);
    provider.authorizationUrl = undefined;
    await expect(client.callTool({ name: 'deploy', arguments: {} })).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.authorizationUrl!.searchParams.get('scope')).toBe('tools:read tools:write'); // required first, then the tool's
    await transport.finishAuth(await logIn(provider.authorizationUrl!));

    const result = await client.callTool({ name: 'deploy', arguments: {} });
    expect((result.content as { text: string }[])[0]!.text).toBe('deployed with tools:read tools:write');
    await client.close();
  });
});
