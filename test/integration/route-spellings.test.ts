// Issue 15, finding 2 and design point 1: every rule holds for every spelling the server answers. The matrix is
// generated from the route table (src/http/route-table.ts), so a route added there is covered here without editing
// this file: each route and method, sent with upper case, mixed case, a trailing slash, a doubled slash,
// percent-encoded letters and dot segments, is refused with 404 at the edge (before any rule, handler or the
// database sees it), at the root and under an ISSUER with a path. The stateful attacks of the review are then
// replayed through those spellings: registration in every mode, approval-gated and disabled clients, rate limits.
import { ROUTE_TABLE, type RouteSpec } from '../../src/http/route-table.js';
import { authorizeUrl, pkcePair } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { rawRequest } from '../helpers/raw-http.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const dbs: TestDatabase[] = [];
const servers: TestServer[] = [];
async function server(env: Record<string, string> = {}, issuerPath = ''): Promise<TestServer> {
  const db = await createTestDatabase();
  dbs.push(db);
  const gh = issuerPath ? await startWithPath(db, env, issuerPath) : await startTestServer({ ...db.env, ...env });
  servers.push(gh);
  return gh;
}
async function startWithPath(db: TestDatabase, env: Record<string, string>, path: string): Promise<TestServer> {
  const { freePort } = await import('../helpers/server.js');
  const port = await freePort();
  return startTestServer({ ...db.env, ...env, ISSUER: `http://127.0.0.1:${port}${path}` }, port);
}
afterAll(async () => {
  for (const s of servers) await s.close();
  for (const d of dbs) await d.drop();
});

/** A concrete path of the route (parameters filled in). */
const concrete = (spec: RouteSpec) => spec.path.replace(/:([A-Za-z]+)/g, (_, name: string) => `sample${name}`);

/** Every other spelling of `path` that a lenient router might take for it. */
export function spellings(path: string): string[] {
  const segments = path.slice(1).split('/');
  const firstLetter = path.search(/[a-z]/);
  const encode = (hexCase: 'upper' | 'lower') => {
    const hex = path.charCodeAt(firstLetter).toString(16);
    return `${path.slice(0, firstLetter)}%${hexCase === 'upper' ? hex.toUpperCase() : hex}${path.slice(firstLetter + 1)}`;
  };
  // The landing page (`/`) has no letter to change the case of or to percent-encode.
  const lettered = firstLetter < 0 ? [] : [
    path.toUpperCase(),
    `${path.slice(0, firstLetter)}${path[firstLetter]!.toUpperCase()}${path.slice(firstLetter + 1)}`,
    encode('upper'),
    encode('lower'),
  ];
  const variants = [
    ...lettered,
    `${path}/`,
    `${path}//`,
    `/${path}`,
    segments.length > 1 ? `/${segments.slice(0, -1).join('/')}//${segments.at(-1)}` : `${path.replace(/^\//, '//')}`,
    `/.${path}`,
    `/x/..${path}`,
    `/%2e${path}`,
  ];
  return [...new Set(variants)].filter((v) => v !== path);
}

const EDGE_REFUSAL = /exact path|no such endpoint/;

describe('every route of the table, in every other spelling, is refused at the edge with 404', () => {
  let gh: TestServer;
  beforeAll(async () => {
    gh = await server({ METRICS_TOKEN: 'metrics-token-for-tests' });
  });

  const cases = ROUTE_TABLE.flatMap((spec) => spec.methods.filter((m) => m !== 'HEAD').flatMap((method) => spellings(concrete(spec)).map((variant) => [spec.id, method, variant] as const)));

  it.each(cases)('%s %s %s → 404 before any rule runs', async (_id, method, variant) => {
    const res = await rawRequest(gh.issuer, variant, {
      method,
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Bearer metrics-token-for-tests' },
      body: method === 'POST' || method === 'PUT' ? 'grant_type=client_credentials&client_id=x' : undefined,
    });
    expect(res.status).toBe(404);
    expect(res.json().error_description ?? res.text).toMatch(EDGE_REFUSAL);
  });

  it('answers the canonical spelling of every route (nothing in the table is a dead entry)', async () => {
    for (const spec of ROUTE_TABLE) {
      const method = spec.methods[0]!;
      const res = await rawRequest(gh.issuer, concrete(spec), { method, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Bearer metrics-token-for-tests' }, body: method === 'POST' ? 'x=1' : undefined });
      expect([spec.id, res.json().error_description ?? '']).not.toEqual([spec.id, expect.stringMatching(EDGE_REFUSAL)]);
    }
  });

  it('refuses a path the table does not list, and a listed path with a method it does not list (405 with Allow)', async () => {
    expect((await rawRequest(gh.issuer, '/logout/confirm', { method: 'POST' })).status).toBe(404); // oidc-provider's, never served
    const wrong = await rawRequest(gh.issuer, '/token', { method: 'GET' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('POST, OPTIONS');
    expect(wrong.json().error).toBe('invalid_request');
  });

  it('audits a refused spelling of a real route, but not a path nobody serves', async () => {
    await rawRequest(gh.issuer, '/Register', { method: 'POST', body: '{}' });
    await rawRequest(gh.issuer, '/nothing-here');
    const rows = (await gh.services.handle.db('audit_events').where({ type: 'request.refused' }).orderBy('id')) as Array<{ reason: string }>;
    expect(rows.some((r) => /exact path/.test(r.reason))).toBe(true);
    expect(rows.some((r) => /nothing-here/.test(JSON.stringify(r)))).toBe(false);
  });
});

describe('under an ISSUER with a path, every spelling but the canonical one is a 404', () => {
  let gh: TestServer;
  beforeAll(async () => {
    gh = await server({}, '/tenant1');
  });

  const inner = ROUTE_TABLE.filter((s) => !s.root).map((s) => [s.id, s.methods.find((m) => m !== 'HEAD')!, concrete(s)] as const);
  const cases = inner.flatMap(([id, method, path]) =>
    [...spellings(`/tenant1${path}`), `/TENANT1${path}`, `/Tenant1${path}`, `/%74enant1${path}`, `//tenant1${path}`, `/tenant1/${path}`].map((v) => [id, method, v] as const),
  );
  it.each(cases)('%s %s %s → 404', async (_id, method, variant) => {
    const res = await rawRequest(gh.issuer, variant, { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: method === 'POST' ? 'x=1' : undefined });
    expect(res.status).toBe(404);
  });

  it('serves the canonical spelling under the path', async () => {
    const res = await rawRequest(gh.issuer, '/tenant1/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    expect(res.status).toBe(400);
    expect(res.json().error).toBe('invalid_request');
  });
});

const REDIRECT = 'http://127.0.0.1:45454/cb';
const CLIENT = { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: 'Spelling test', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] };
const REGISTRATION_SPELLINGS = ['/REGISTER', '/Register', '/register/', '//register', '/%72egister', '/./register'];

async function dynamicCount(gh: TestServer): Promise<number> {
  return (await gh.services.registry.countDynamicWithSource('127.0.0.1')).all;
}
async function storedClients(gh: TestServer): Promise<number> {
  const row = (await gh.services.handle.db('oidc_payloads').where({ model: 'Client' }).count('id as n').first()) as { n: string | number };
  return Number(row.n);
}

describe('registration through other spellings creates nothing, in every mode', () => {
  it.each(['open', 'approval', 'closed'])('REGISTRATION=%s: the other spellings are 404 and store no client; the canonical one follows the mode', async (mode) => {
    const gh = await server({ REGISTRATION: mode });
    const before = [await dynamicCount(gh), await storedClients(gh)];
    for (const path of REGISTRATION_SPELLINGS) {
      for (const body of [CLIENT, { ...CLIENT, redirect_uris: ['http://evil.example.com/cb'] }, { ...CLIENT, grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' }]) {
        const res = await rawRequest(gh.issuer, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        expect([path, res.status]).toEqual([path, 404]);
      }
    }
    expect([await dynamicCount(gh), await storedClients(gh)]).toEqual(before);
    const canonical = await rawRequest(gh.issuer, '/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CLIENT) });
    expect(canonical.status).toBe(mode === 'closed' ? 401 : 201);
    if (mode !== 'closed') expect(await dynamicCount(gh)).toBe(before[0]! + 1);
  });

  it('the registration rate limit counts the canonical spelling and no other spelling gets past it', async () => {
    const gh = await server({ REGISTRATION_RATE_LIMIT: '1' });
    const post = (path: string) => rawRequest(gh.issuer, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CLIENT) });
    expect((await post('/register')).status).toBe(201);
    expect((await post('/register')).status).toBe(429);
    for (const path of REGISTRATION_SPELLINGS) expect((await post(path)).status).toBe(404);
    expect(await dynamicCount(gh)).toBe(1);
  });
});

describe('approval-gated and disabled clients stay stopped whatever the spelling', () => {
  let gh: TestServer;
  let pending: string;
  let disabled: string;
  beforeAll(async () => {
    gh = await server({ REGISTRATION: 'approval' });
    const register = async () => (await rawRequest(gh.issuer, '/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CLIENT) })).json().client_id as string;
    pending = await register();
    disabled = await register();
    await gh.services.registry.setStatus(disabled, 'disabled', 'test');
  });

  it.each(['/authorize', '/Authorize', '/AUTHORIZE', '/authorize/', '//authorize', '/%61uthorize'])('%s starts no sign-in for a pending or disabled client', async (path) => {
    for (const clientId of [pending, disabled]) {
      const { challenge } = pkcePair();
      const query = new URL(authorizeUrl('http://x', { client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read' })).search;
      const res = await rawRequest(gh.issuer, `${path}${query}`, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(path === '/authorize' ? 403 : 404);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['set-cookie'] ?? []).not.toEqual(expect.arrayContaining([expect.stringMatching(/^_interaction=/)]));
    }
  });

  it('HEAD /authorize meets the rules of GET: a pending or disabled client gets the page, no interaction, no code', async () => {
    for (const clientId of [pending, disabled]) {
      const { challenge } = pkcePair();
      const query = new URL(authorizeUrl('http://x', { client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read' })).search;
      const res = await rawRequest(gh.issuer, `/authorize${query}`, { method: 'HEAD', headers: { accept: 'text/html' } });
      expect(res.status).toBe(403);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['set-cookie'] ?? []).not.toEqual(expect.arrayContaining([expect.stringMatching(/^_interaction=/)]));
    }
  });

  it.each(['/token', '/Token', '/TOKEN', '/token/', '//token', '/%74oken', '/Revoke', '/Introspect'])('%s gives a pending or disabled client nothing', async (path) => {
    for (const clientId of [pending, disabled]) {
      const res = await rawRequest(gh.issuer, path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=refresh_token&refresh_token=x&token=x&client_id=${clientId}` });
      expect(res.status).toBe(path === '/token' ? 401 : 404);
      if (path === '/token') expect(res.json().error).toBe('invalid_client');
    }
  });
});

describe('bad input in any path, query or form field is a 400, never a 5xx', () => {
  let gh: TestServer;
  beforeAll(async () => {
    gh = await server({ METRICS_TOKEN: 'metrics-token-for-tests' });
  });
  const BAD = ['%00', '%ZZ', '%', '%ED%A0%80', '%C0%AF'];
  const cases = ROUTE_TABLE.flatMap((spec) => BAD.map((bad) => [spec.id, concrete(spec), bad] as const));

  it.each(cases)('%s %s?q=%s → 400 invalid_request', async (_id, path, bad) => {
    const res = await rawRequest(gh.issuer, `${path}?q=${bad}&client_id=${bad}`, { method: ROUTE_TABLE.find((s) => concrete(s) === path)!.methods[0] });
    expect(res.status).toBe(400);
    expect(res.json().error).toBe('invalid_request');
    // One sentence naming where the problem is (not "the request the query string: …").
    expect(res.json().error_description).toMatch(/^the (query string|path): /);
  });

  it.each(BAD)('a path segment with %s is a 400 (RFC 7592 management, interaction, setup, console, the Shared Signals receiver)', async (bad) => {
    for (const [method, path] of [['GET', `/register/${bad}`], ['PUT', `/register/${bad}`], ['DELETE', `/register/${bad}`], ['GET', `/interaction/${bad}`], ['GET', `/setup/${bad}`], ['GET', `/console/people/${bad}`], ['GET', `/authorize/${bad}`], ['POST', `/ssf/events/${bad}`]] as const) {
      const res = await rawRequest(gh.issuer, path, { method });
      expect([method, path, res.status]).toEqual([method, path, 400]);
    }
  });

  it.each(BAD)('a form field with %s at the provider endpoints is a 400', async (bad) => {
    for (const path of ['/token', '/revoke', '/introspect']) {
      const res = await rawRequest(gh.issuer, path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=authorization_code&code=${bad}&client_id=abc` });
      expect([path, res.status, res.json().error]).toEqual([path, 400, 'invalid_request']);
    }
  });

  it('a registration with a NUL or a lone surrogate in a metadata value is a 400 and stores nothing', async () => {
    const before = await storedClients(gh);
    for (const body of ['{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"a\\u0000b","token_endpoint_auth_method":"none"}', '{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"\\ud800","token_endpoint_auth_method":"none"}']) {
      const res = await rawRequest(gh.issuer, '/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(res.status).toBe(400);
      expect(res.json().error).toBe('invalid_client_metadata');
    }
    expect(await storedClients(gh)).toBe(before);
  });
});

describe('HEAD is GET for every rule', () => {
  it('counts a HEAD /authorize naming a never-seen metadata-document URL against the CIMD first-use limit', async () => {
    const gh = await server({ CIMD_RATE_LIMIT: '1' });
    const head = (n: number) => rawRequest(gh.issuer, `/authorize?response_type=code&client_id=${encodeURIComponent(`https://cimd-${n}.example/client.json`)}&redirect_uri=https%3A%2F%2Fx.example%2Fcb`, { method: 'HEAD', headers: { accept: 'text/html' } });
    expect((await head(1)).status).not.toBe(429);
    expect((await head(2)).status).toBe(429);
    const limited = await rawRequest(gh.issuer, `/authorize?response_type=code&client_id=${encodeURIComponent('https://cimd-3.example/client.json')}`, { headers: { accept: 'text/html' } });
    expect(limited.status).toBe(429);
  });
});
