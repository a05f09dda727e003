// /metrics (Prometheus, prom-client): what a real flow counts, bounded labels whatever paths a client invents, the
// bearer token that guards the scrape, and the route's absence when no METRICS_TOKEN is configured.
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { authorizeThrough, authorizeUrl, Browser, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { ROUTE_NAMES, routeName } from '../../src/metrics/routes.js';
import { RouteResolver } from '../../src/http/route-resolution.js';

const USER = { email: 'metrics@example.com', password: 'a long and careful passphrase' };
const REDIRECT = 'http://127.0.0.1:33418/callback';
const METRICS_TOKEN = 'scrape-me-0123456789abcdef';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format: one sample per non-comment line. */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);

async function scrape(issuer: string, token = METRICS_TOKEN): Promise<Sample[]> {
  const res = await fetch(`${issuer}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parse(await res.text());
}

let db: TestDatabase;
let gh: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, METRICS_TOKEN });
  await gh.services.users.create(USER);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

describe('a full flow is counted: requests by route, tokens by grant type, registrations by kind', () => {
  it('counts DCR, the authorization-code exchange and a refresh, with latency histograms per route', async () => {
    const before = await scrape(gh.issuer);
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { verifier, challenge } = pkcePair();
    const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE, state: 's',
    }, USER);
    const tokens = await tokenRequest(gh.issuer, {
      grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT, resource: TEST_RESOURCE,
    });
    expect(tokens.status).toBe(200);
    const refreshed = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: client.client_id });
    expect(refreshed.status).toBe(200);
    // The spent refresh token again: reuse, counted once, under its own audit type (not also as token.refused).
    const reused = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: client.client_id });
    expect(reused.body.error).toBe('invalid_grant');

    const after = await scrape(gh.issuer);
    const delta = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    expect(delta('gatehouse_refusals_total', { type: 'token.refresh.reused', reason: 'invalid_grant' })).toBe(1);
    expect(delta('gatehouse_refusals_total', { type: 'token.refused' })).toBe(0);

    expect(delta('gatehouse_registrations_total', { kind: 'dcr' })).toBe(1);
    expect(delta('gatehouse_tokens_issued_total', { grant_type: 'authorization_code' })).toBe(1);
    expect(delta('gatehouse_tokens_issued_total', { grant_type: 'refresh_token' })).toBe(1);
    expect(delta('http_requests_total', { route: 'register', method: 'POST', status: '201' })).toBe(1);
    expect(delta('http_requests_total', { route: 'token', method: 'POST', status: '200' })).toBe(2);
    // GET /authorize (303), the resume after login and after consent (303), login and consent pages and posts.
    expect(delta('http_requests_total', { route: 'authorize', method: 'GET', status: '303' })).toBe(3);
    expect(delta('http_requests_total', { route: 'interaction', method: 'POST' })).toBe(2);
    expect(delta('http_requests_total', { route: 'interaction', method: 'GET', status: '200' })).toBe(2);

    // Histogram: cumulative buckets up to +Inf, whose count equals the request count.
    const buckets = after.filter((s) => s.name === 'http_request_duration_seconds_bucket' && s.labels.route === 'token' && s.labels.method === 'POST');
    expect(buckets.map((b) => b.labels.le)).toEqual(['0.001', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(buckets.at(-1)!.value).toBe(value(after, 'http_request_duration_seconds_count', { route: 'token', method: 'POST' }));
    expect(value(after, 'http_request_duration_seconds_count', { route: 'token', method: 'POST' })).toBe(value(after, 'http_requests_total', { route: 'token', method: 'POST' }));
    expect(value(after, 'http_request_duration_seconds_sum', { route: 'token', method: 'POST' })).toBeGreaterThan(0);
  });

  it('reports the database pool and the process (RSS, heap, event loop)', async () => {
    const samples = await scrape(gh.issuer);
    const names = new Set(samples.map((s) => s.name));
    for (const n of ['gatehouse_db_pool_total', 'gatehouse_db_pool_used', 'gatehouse_db_pool_idle', 'gatehouse_db_pool_waiting', 'gatehouse_db_pool_max']) expect(names).toContain(n);
    expect(value(samples, 'gatehouse_db_pool_max')).toBe(db.realPostgres ? 10 : 1);
    expect(value(samples, 'gatehouse_db_pool_total')).toBeGreaterThanOrEqual(1);
    expect(value(samples, 'gatehouse_db_pool_total')).toBeLessThanOrEqual(value(samples, 'gatehouse_db_pool_max'));
    expect(value(samples, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(names).toContain('nodejs_heap_size_used_bytes');
    expect(names).toContain('nodejs_eventloop_lag_seconds');
  });
});

describe('refusals are counted by audit type and OAuth error code', () => {
  it('counts a token request with an invented code as token.refused / invalid_grant, and a wrong password as a login refusal', async () => {
    const before = await scrape(gh.issuer);
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const refused = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: 'made-up-code', code_verifier: 'x'.repeat(43), client_id: client.client_id, redirect_uri: REDIRECT });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');

    const { challenge } = pkcePair();
    const browser = new Browser(gh.issuer);
    const page = await browser.follow(await browser.get(authorizeUrl(gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE })));
    if (!(page instanceof Response)) throw new Error('expected the login page');
    const action = /<form[^>]*action="([^"]+)"/.exec(await page.text())![1]!.replace(/&amp;/g, '&');
    const wrong = await browser.postForm(new URL(action, gh.issuer).href, { email: USER.email, password: 'not the password' });
    expect(wrong.status).toBeGreaterThanOrEqual(400);

    const after = await scrape(gh.issuer);
    const delta = (labels: Record<string, string>) => value(after, 'gatehouse_refusals_total', labels) - value(before, 'gatehouse_refusals_total', labels);
    expect(delta({ type: 'token.refused', reason: 'invalid_grant' })).toBe(1);
    expect(delta({ type: 'login', reason: 'other' })).toBe(1);
    expect(value(after, 'gatehouse_tokens_issued_total') - value(before, 'gatehouse_tokens_issued_total')).toBe(0);
    expect(value(after, 'http_requests_total', { route: 'token', status: '400' }) - value(before, 'http_requests_total', { route: 'token', status: '400' })).toBe(1);
  });
});

describe('labels are a fixed set: invented paths and methods cannot create time series', () => {
  const junk = (n: number, tag: string) =>
    Array.from({ length: n }, (_, i) => [`/${tag}-${i}`, `/authorize/${tag}-${i}/x`, `/interaction/${tag}${i}`, `/.well-known/${tag}-${i}`, `/static/${tag}-${i}.css`, `/%2e%2e/${tag}${i}?q=${tag}`][i % 6]!);

  it('maps every junk path to a known route name, and a second batch of new junk adds no series', async () => {
    const hit = (paths: string[]) => Promise.all(paths.map((p) => fetch(`${gh.issuer}${p}`, { method: ['GET', 'POST', 'DELETE', 'PROPFIND'][p.length % 4] }).then((r) => r.arrayBuffer())));
    await hit(junk(60, 'alpha'));
    const first = await scrape(gh.issuer);
    await hit(junk(60, 'bravo'));
    const second = await scrape(gh.issuer);

    const series = (samples: Sample[]) => samples.filter((s) => s.name === 'http_requests_total' || s.name === 'http_request_duration_seconds_bucket').map((s) => JSON.stringify(s.labels)).sort();
    expect(series(second)).toEqual(series(first));
    for (const s of second.filter((x) => x.name.startsWith('http_request'))) {
      expect(ROUTE_NAMES).toContain(s.labels.route);
      expect(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'other']).toContain(s.labels.method);
      expect(JSON.stringify(s.labels)).not.toMatch(/alpha|bravo/);
    }
    expect(value(second, 'http_requests_total', { route: 'other' }) - value(first, 'http_requests_total', { route: 'other' })).toBeGreaterThanOrEqual(10);
    expect(value(second, 'http_requests_total', { method: 'other' })).toBeGreaterThan(0); // PROPFIND
  });

  it('labels a request by the route the edge resolved it to, and a request that resolved to none as other', () => {
    const resolver = new RouteResolver();
    const label = (method: string, path: string) => {
      const r = resolver.resolve(method, path);
      return routeName(r.kind === 'route' ? r.route.id : undefined);
    };
    expect(label('POST', '/token')).toBe('token');
    expect(label('GET', '/authorize/abc')).toBe('authorize');
    expect(label('GET', '/register/dyn_x')).toBe('register');
    expect(label('GET', '/.well-known/oauth-authorization-server')).toBe('metadata');
    expect(label('GET', '/.well-known/oauth-authorization-server/tenant1')).toBe('other');
    expect(label('GET', '/metrics')).toBe('metrics');
    expect(label('POST', '/Token')).toBe('other');
    expect(label('POST', '/token/')).toBe('other');
    expect(label('GET', '/tokenx')).toBe('other');
  });
});

describe('the scrape is not public', () => {
  it('refuses a scrape without the token, or with a wrong one: 401, OAuth error body, audited', async () => {
    const bare = await fetch(`${gh.issuer}/metrics`);
    expect(bare.status).toBe(401);
    expect(bare.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(await bare.json()).toEqual({ error: 'invalid_token', error_description: expect.any(String) });
    const wrong = await fetch(`${gh.issuer}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain('http_requests_total');
    const basic = await fetch(`${gh.issuer}/metrics`, { headers: { authorization: `Basic ${Buffer.from(`x:${METRICS_TOKEN}`).toString('base64')}` } });
    expect(basic.status).toBe(401);
    const events = await gh.services.audit.recent({ type: 'metrics.refused' });
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(value(await scrape(gh.issuer), 'gatehouse_refusals_total', { type: 'metrics.refused', reason: 'invalid_token' })).toBeGreaterThanOrEqual(3);
  });

  it('has no /metrics without METRICS_TOKEN (404, at the root and under the ISSUER path); upstream failures are counted by kind', async () => {
    const other = await createTestDatabase();
    const port = await freePort();
    const idpPort = await freePort(); // nothing listens there: the IdP is unreachable
    const server = await startTestServer({
      ...other.env,
      ISSUER: `http://127.0.0.1:${port}/tenant1`,
      UPSTREAM_PROVIDER: 'oidc',
      UPSTREAM_ISSUER: `http://127.0.0.1:${idpPort}`,
      UPSTREAM_CLIENT_ID: 'gatehouse',
      UPSTREAM_CLIENT_SECRET: 'upstream-secret',
    }, port);
    try {
      const origin = `http://127.0.0.1:${port}`;
      expect((await fetch(`${origin}/metrics`)).status).toBe(404);
      expect((await fetch(`${origin}/tenant1/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(404);

      const client = await registerPublicClient(server.issuer, [REDIRECT]);
      const { challenge } = pkcePair();
      const browser = new Browser(origin);
      const page = await browser.follow(await browser.get(authorizeUrl(server.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE })));
      expect(page instanceof Response && page.status).toBe(502);

      // Read in-process: this instance has no /metrics route.
      const samples = parse(await server.metrics.scrape());
      expect(value(samples, 'gatehouse_upstream_login_failures_total', { kind: 'oidc', stage: 'start', reason: 'unreachable' })).toBe(1);
      expect(value(samples, 'gatehouse_upstream_login_duration_seconds_count', { kind: 'oidc', stage: 'start' })).toBe(1);
      expect(value(samples, 'http_requests_total', { route: 'interaction', status: '502' })).toBe(1);
      expect(value(samples, 'http_requests_total', { route: 'register', status: '201' })).toBe(1);
    } finally {
      await server.close();
      await other.drop();
    }
  });
});
