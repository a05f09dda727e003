// Client ID Metadata Documents (CIMD draft): a client whose client_id is the https URL of its
// metadata document signs a person in with no registration, and every way that URL or document can be wrong or
// hostile is refused with a page that names the host and the reason, an audit event, and no redirect.
//
// Network rule of this file: traffic only ever goes to loopback. The documents are served by a local HTTPS server
// on 127.0.0.1 with a throwaway CA; host names are mapped by an injected resolver (never real DNS); and a connect
// spy fails any attempt to open a socket to anything but loopback, so even a broken guard could not reach 10.x or
// 169.254.x from here.
// What this file proves for docs/COMPATIBILITY.md (scripts/compatibility.ts reads these lines):
// compatibility: registration=claude-code covers=cimd,refresh
import { decodeJwt } from 'jose';
import type { ResolvedAddress } from '../../src/net/guarded-fetch.js';
import { authorizeThrough, authorizeUrl, Browser, login, pkcePair, tokenRequest } from '../helpers/browser-flow.js';
import { DocumentHost, makeTestPki, type TestPki } from '../helpers/cimd-fixture.js';
import { loadConfig } from '../../src/config.js';
import { openServices } from '../../src/gatehouse.js';
import { oneJson, runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const USER = { email: 'grace@example.com', password: 'hopper compiler pioneer' };
const REDIRECT = 'http://localhost:53123/callback'; // a random port, as Claude Code sends it

// Test host names and what the injected resolver answers for them. Names not listed (other *.cimd.test names)
// resolve to 127.0.0.1; anything else does not resolve at all.
const SPECIAL_HOSTS: Record<string, string> = {
  'loopback.cimd.test': '127.0.0.1',
  'private.cimd.test': '10.0.0.1',
  'metadata.cimd.test': '169.254.169.254',
  'v6loopback.cimd.test': '::1',
};

async function resolve(hostname: string): Promise<ResolvedAddress[]> {
  const special = SPECIAL_HOSTS[hostname];
  if (special) return [{ address: special, family: special.includes(':') ? 6 : 4 }];
  if (hostname.endsWith('.cimd.test')) return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
}

const connects: string[] = [];
function beforeConnect(address: string): void {
  connects.push(address);
  if (!/^127\./.test(address) && address !== '::1') throw new Error(`test attempted a connection to ${address}`);
}

let pki: TestPki;
let host: DocumentHost;
let dbOpen: TestDatabase;
let dbStrict: TestDatabase;
let open: TestServer; // CIMD_ALLOW_PRIVATE_ADDRESSES=true (the local fixture is on 127.0.0.1), with domain lists
let strict: TestServer; // the production setting: private addresses refused

const url = (hostname: string, path: string) => `https://${hostname}:${host.port}${path}`;

function documentFor(clientId: string, extra: Record<string, unknown> = {}) {
  return {
    client_id: clientId,
    client_name: 'Claude Code (test)',
    redirect_uris: ['http://localhost/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...extra,
  };
}

/** Serves a valid document for `path` on app.cimd.test and returns its client_id. */
function serveClient(path: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): string {
  const clientId = url('app.cimd.test', path);
  host.json(path, documentFor(clientId, extra), headers);
  return clientId;
}

/** One authorization request as a browser makes it; does not follow the answer. */
async function authorize(server: TestServer, clientId: string, redirectUri = REDIRECT) {
  const { challenge } = pkcePair();
  const res = await fetch(
    authorizeUrl(server.issuer, { client_id: clientId, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read', state: 'st' }),
    { redirect: 'manual' },
  );
  return { status: res.status, location: res.headers.get('location'), type: res.headers.get('content-type') ?? '', html: await res.text() };
}

/** The authorization was accepted: the browser is sent to Gatehouse's own login page. */
function expectAccepted(res: Awaited<ReturnType<typeof authorize>>) {
  expect(res.status).toBe(303);
  expect(res.location).toMatch(/^\/interaction\//);
}

/** The person sees Gatehouse's error page naming the host and the reason; nothing is sent to the redirect URI. */
function expectRefusalPage(res: Awaited<ReturnType<typeof authorize>>, hostText: string, reason: RegExp | string) {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(res.location).toBeNull();
  expect(res.type).toMatch(/text\/html/);
  expect(res.html).toContain('This application could not be verified');
  expect(res.html).toContain(hostText);
  const text = res.html.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
  if (typeof reason === 'string') expect(text).toContain(reason);
  else expect(text).toMatch(reason);
  expect(res.html).toMatch(/Error code: <code>invalid_(client|request|client_metadata|redirect_uri)<\/code>/);
}

async function lastRefusal(server: TestServer, clientId: string) {
  const events = await server.services.audit.recent({ type: 'cimd.refused', limit: 50 });
  return events.find((e) => e.client_id === clientId);
}

beforeAll(async () => {
  pki = makeTestPki();
  host = new DocumentHost(pki);
  await host.start();
  [dbOpen, dbStrict] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  const cimdFetch = { ca: pki.ca, resolve, beforeConnect };
  open = await startTestServer(
    {
      ...dbOpen.env,
      CIMD_ALLOW_PRIVATE_ADDRESSES: 'true',
      CIMD_ALLOWED_DOMAINS: 'app.cimd.test, blocked.cimd.test, *.wild.cimd.test',
      CIMD_BLOCKED_DOMAINS: 'blocked.cimd.test',
    },
    undefined,
    { cimdFetch },
  );
  strict = await startTestServer({ ...dbStrict.env }, undefined, { cimdFetch });
  await open.services.users.create(USER);
});

afterAll(async () => {
  await open?.close();
  await strict?.close();
  await host?.close();
  await dbOpen?.drop();
  await dbStrict?.drop();
});

beforeEach(() => {
  connects.length = 0;
});

describe('a client identified by its metadata document URL completes a flow', () => {
  it('authorizes with the URL client_id, gets tokens for the resource, and refreshes them (rotating)', async () => {
    const clientId = serveClient('/flow/claude-code.json', {}, { 'cache-control': 'max-age=300' });
    const { verifier, challenge } = pkcePair();
    const callback = await authorizeThrough(new Browser(open.issuer), open.issuer, {
      client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read', state: 'xyz',
    }, USER);
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT);
    expect(callback.searchParams.get('state')).toBe('xyz');
    expect(callback.searchParams.get('iss')).toBe(open.issuer);

    const tokens = await tokenRequest(open.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: clientId, redirect_uri: REDIRECT });
    expect(tokens.status).toBe(200);
    expect(typeof tokens.body.refresh_token).toBe('string'); // CIMD clients get refresh tokens without offline_access
    const claims = decodeJwt(tokens.body.access_token);
    expect(claims.aud).toBe(TEST_RESOURCE);
    expect(claims.client_id).toBe(clientId);
    expect(claims.scope).toBe('tools:read');

    const refreshed = await tokenRequest(open.issuer, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: clientId });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(tokens.body.refresh_token);
    expect(decodeJwt(refreshed.body.access_token).aud).toBe(TEST_RESOURCE);

    // Authorization, the resumed steps, the token and the refresh all used the one cached document.
    expect(host.hits.get('/flow/claude-code.json')).toBe(1);
    // The socket went to the checked address; the request still named the host (Host header, TLS name).
    expect(connects).toEqual(['127.0.0.1']);
    expect(host.hostHeaders.get('/flow/claude-code.json')).toBe(`app.cimd.test:${host.port}`);
  });

  it('verifies the TLS certificate against the client_id host name, not the address it connected to', async () => {
    // The certificate covers *.wild.cimd.test and 127.0.0.1, but not a.b.wild.cimd.test (a wildcard is one label).
    const clientId = url('a.b.wild.cimd.test', '/tls/client.json');
    host.json('/tls/client.json', documentFor(clientId));
    const res = await authorize(open, clientId);
    expectRefusalPage(res, `a.b.wild.cimd.test:${host.port}`, /could not be fetched: the connection failed \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
    expect(connects).toEqual(['127.0.0.1']);
  });

  it('shows the client_id host as the verified domain on the consent page', async () => {
    const clientId = serveClient('/flow/consent.json', { client_name: 'Consent Check' });
    const { challenge } = pkcePair();
    const browser = new Browser(open.issuer);
    const page = await browser.follow(await browser.get(authorizeUrl(open.issuer, {
      client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read',
    })));
    const consentPage = await login(browser, page as Response, USER.email, USER.password);
    const html = await (consentPage as Response).text();
    expect(html).toContain('Consent Check');
    expect(html).toContain(`verified domain: app.cimd.test:${host.port}`);
    expect(html).toContain('localhost:53123');
  });

  it('records the client the first time it is used, once, and audits it', async () => {
    const clientId = serveClient('/flow/recorded.json', { client_name: 'Recorded Client' });
    expectAccepted(await authorize(open, clientId));
    expectAccepted(await authorize(open, clientId));
    const row = await open.services.cimdClients.find(clientId);
    expect(row).toMatchObject({ clientId, host: `app.cimd.test:${host.port}`, clientName: 'Recorded Client', blockedAt: null });
    expect(row!.firstSeenAt).toBeInstanceOf(Date);
    expect(row!.lastSeenAt).toBeInstanceOf(Date);
    const seen = (await open.services.audit.recent({ type: 'cimd.client_seen', limit: 100 })).filter((e) => e.client_id === clientId);
    expect(seen).toHaveLength(1);
  });
});

describe('a document is data from anyone', () => {
  it('a client_name holding U+0000 or an unpaired surrogate is recorded (as U+FFFD), never a 5xx', async () => {
    const clientId = serveClient('/data/nul-name.json', { client_name: 'Evil\u0000Client \uD800' });
    expectAccepted(await authorize(open, clientId));
    expect((await open.services.cimdClients.find(clientId))?.clientName).toBe('Evil\uFFFDClient \uFFFD');
  });
});

describe('loopback redirect URIs in the document match on any port (RFC 8252 §7.3)', () => {
  it('accepts http://localhost:53123/callback for a document listing port-less http://localhost/callback', async () => {
    const clientId = serveClient('/loopback/client.json');
    expectAccepted(await authorize(open, clientId, 'http://localhost:53123/callback'));
    expectAccepted(await authorize(open, clientId, 'http://localhost:8/callback'));
  });

  it.each([
    ['http://localhost:53123/other', 'another path'],
    ['http://127.0.0.1:53123/callback', 'another loopback host'],
    ['https://localhost:53123/callback', 'another scheme'],
    ['http://attacker.example:53123/callback', 'a remote host'],
  ])('refuses %s (%s) with an error page, never a redirect', async (redirectUri) => {
    const clientId = serveClient('/loopback/client.json');
    const res = await authorize(open, clientId, redirectUri);
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
    expect(res.html).toContain('invalid_redirect_uri');
  });
});

describe('the client_id URL must be an https URL with a path, no fragment, no credentials (CIMD "Client Identifier")', () => {
  it.each([
    ['http URL', () => `http://app.cimd.test:${host.port}/client.json`, 'the client_id must be an https URL'],
    ['URL without a path', () => `https://app.cimd.test:${host.port}`, 'the client_id URL must have a path'],
    ['URL whose path is only /', () => `https://app.cimd.test:${host.port}/`, 'the client_id URL must have a path'],
    ['fragment', () => `https://app.cimd.test:${host.port}/client.json#frag`, 'the client_id URL must not have a fragment'],
    ['credentials in the URL', () => `https://user:pass@app.cimd.test:${host.port}/client.json`, 'must not contain a user name or password'],
    ['dot segments', () => `https://app.cimd.test:${host.port}/a/../client.json`, 'must not contain "." or ".." path segments'],
    ['encoded dot segments', () => `https://app.cimd.test:${host.port}/a/%2e%2e/client.json`, 'must not contain "." or ".." path segments'],
  ])('refuses a %s before fetching anything', async (_name, clientIdFor, reason) => {
    host.json('/client.json', documentFor('whatever'));
    const before = host.hits.get('/client.json') ?? 0;
    const clientId = clientIdFor();
    const res = await authorize(open, clientId);
    expectRefusalPage(res, clientId.replace(/&/g, '&amp;'), reason);
    expect(host.hits.get('/client.json') ?? 0).toBe(before);
    expect(connects).toEqual([]);
    expect((await lastRefusal(open, clientId))?.reason).toContain(reason);
  });
});

describe('the document must describe this client and carry no shared secret (CIMD "Client Metadata")', () => {
  it('refuses a document whose client_id is not the URL it was fetched from', async () => {
    const clientId = url('app.cimd.test', '/doc/mismatch.json');
    host.json('/doc/mismatch.json', documentFor(url('app.cimd.test', '/doc/someone-else.json')));
    const res = await authorize(open, clientId);
    expectRefusalPage(res, `app.cimd.test:${host.port}`, /The metadata document at app\.cimd\.test:\d+ was refused: .*client_id does not match/);
    expect((await lastRefusal(open, clientId))?.reason).toMatch(/client_id does not match/);
  });

  it.each([['client_secret_basic'], ['client_secret_post'], ['client_secret_jwt']])('refuses token_endpoint_auth_method %s', async (method) => {
    const clientId = serveClient(`/doc/${method}.json`, { token_endpoint_auth_method: method });
    const res = await authorize(open, clientId);
    expectRefusalPage(res, `app.cimd.test:${host.port}`, /was refused: .*shared-secret/);
  });

  it('refuses a document that names no token_endpoint_auth_method (RFC 7591 would default it to client_secret_basic)', async () => {
    const clientId = url('app.cimd.test', '/doc/no-auth-method.json');
    const { token_endpoint_auth_method: _omitted, ...document } = documentFor(clientId);
    host.json('/doc/no-auth-method.json', document);
    const res = await authorize(open, clientId);
    expectRefusalPage(res, `app.cimd.test:${host.port}`, /was refused: it names no token_endpoint_auth_method.*use "none"/);
  });

  it('refuses a document that carries a client_secret', async () => {
    const clientId = serveClient('/doc/with-secret.json', { client_secret: 'not-so-secret-after-all' });
    const res = await authorize(open, clientId);
    expectRefusalPage(res, `app.cimd.test:${host.port}`, /was refused: .*client_secret/);
    expect(res.html).not.toContain('not-so-secret-after-all');
  });
});

describe('the fetch: 200, JSON, at most 5 KB, no redirects, a short timeout (CIMD "Client Information Discovery")', () => {
  it('refuses a document larger than 5 KB', async () => {
    const clientId = serveClient('/fetch/large.json', { client_name: 'x'.repeat(6 * 1024) });
    expectRefusalPage(await authorize(open, clientId), `app.cimd.test:${host.port}`, 'could not be fetched: the document is larger than 5 KB');
  });

  it('refuses a document larger than 5 KB sent without a Content-Length (chunked)', async () => {
    const clientId = url('app.cimd.test', '/fetch/chunked.json');
    const body = JSON.stringify(documentFor(clientId, { client_name: 'y'.repeat(6 * 1024) }));
    host.handlers.set('/fetch/chunked.json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      for (let i = 0; i < body.length; i += 1000) res.write(body.slice(i, i + 1000));
      res.end();
    });
    expectRefusalPage(await authorize(open, clientId), `app.cimd.test:${host.port}`, 'could not be fetched: the document is larger than 5 KB');
  });

  it.each([[301], [302], [303], [307], [308]])('refuses a %s redirect and does not follow it', async (status) => {
    const clientId = url('app.cimd.test', `/fetch/redirect-${status}.json`);
    serveClient('/fetch/redirect-target.json');
    const before = host.hits.get('/fetch/redirect-target.json') ?? 0;
    host.handlers.set(`/fetch/redirect-${status}.json`, (_req, res) => {
      res.writeHead(status, { location: url('app.cimd.test', '/fetch/redirect-target.json') }).end();
    });
    const res = await authorize(open, clientId);
    expectRefusalPage(res, `app.cimd.test:${host.port}`, `could not be fetched: redirect not allowed (HTTP ${status} to app.cimd.test:${host.port})`);
    expect(host.hits.get('/fetch/redirect-target.json') ?? 0).toBe(before);
  });

  it.each([[404], [500], [204], [201]])('refuses HTTP status %s', async (status) => {
    const clientId = url('app.cimd.test', `/fetch/status-${status}.json`);
    host.handlers.set(`/fetch/status-${status}.json`, (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 204 ? undefined : JSON.stringify(documentFor(clientId)));
    });
    expectRefusalPage(await authorize(open, clientId), `app.cimd.test:${host.port}`, `could not be fetched: unexpected HTTP status ${status}`);
  });

  it('refuses a response that is not JSON (HTML)', async () => {
    const clientId = url('app.cimd.test', '/fetch/page.html');
    host.handlers.set('/fetch/page.html', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'));
    expectRefusalPage(await authorize(open, clientId), `app.cimd.test:${host.port}`, 'could not be fetched: not a JSON document (content-type text/html)');
  });

  it('refuses a JSON-typed response whose body is not JSON', async () => {
    const clientId = url('app.cimd.test', '/fetch/broken.json');
    host.handlers.set('/fetch/broken.json', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"client_id": '));
    expectRefusalPage(await authorize(open, clientId), `app.cimd.test:${host.port}`, 'was refused: it is not valid JSON');
  });

  it('refuses a JSON array', async () => {
    const clientId = url('app.cimd.test', '/fetch/array.json');
    host.json('/fetch/array.json', [documentFor(clientId)]);
    expectRefusalPage(await authorize(open, clientId), `app.cimd.test:${host.port}`, /was refused: .*not a JSON object/);
  });

  it('gives up on a server that does not answer within the timeout', async () => {
    const clientId = url('app.cimd.test', '/fetch/slow.json');
    host.handlers.set('/fetch/slow.json', () => undefined); // never answers; closed with the host at the end
    const started = Date.now();
    const res = await authorize(open, clientId);
    const elapsed = Date.now() - started;
    expectRefusalPage(res, `app.cimd.test:${host.port}`, 'could not be fetched: the server did not answer in time');
    expect(elapsed).toBeLessThan(4000); // one attempt of at most 3 s, not one per lookup
    expect(host.hits.get('/fetch/slow.json')).toBe(1);
  });

  it('accepts application/<something>+json', async () => {
    const clientId = url('app.cimd.test', '/fetch/plus-json');
    host.json('/fetch/plus-json', documentFor(clientId), { 'content-type': 'application/oauth-client-metadata+json; charset=utf-8' });
    expectAccepted(await authorize(open, clientId));
  });
});

describe('only public addresses are fetched when CIMD_ALLOW_PRIVATE_ADDRESSES is off (SSRF, RFC 6890)', () => {
  it.each([
    ['loopback.cimd.test', 'loopback: 127.0.0.1'],
    ['private.cimd.test', 'private (RFC 1918): 10.0.0.1'],
    ['metadata.cimd.test', 'link-local (169.254.0.0/16, cloud metadata): 169.254.169.254'],
    ['v6loopback.cimd.test', 'loopback (::1): ::1'],
  ])('refuses %s before any connection is opened', async (hostname, range) => {
    const clientId = url(hostname, '/client.json');
    const res = await authorize(strict, clientId);
    expectRefusalPage(res, `${hostname}:${host.port}`, `could not be fetched: ${hostname} resolves to a non-public address (${range})`);
    expect(connects).toEqual([]);
    const event = await lastRefusal(strict, clientId);
    expect(event?.reason).toContain('non-public address');
    expect(event?.details).toMatchObject({ host: `${hostname}:${host.port}`, stage: 'fetch' });
  });

  it('refuses an address literal (https://127.0.0.1:port/…) the same way', async () => {
    const clientId = `https://127.0.0.1:${host.port}/client.json`;
    expectRefusalPage(await authorize(strict, clientId), `127.0.0.1:${host.port}`, 'resolves to a non-public address (loopback: 127.0.0.1)');
    expect(connects).toEqual([]);
  });

  it('refuses a host name that does not resolve, without trying anything else', async () => {
    const clientId = 'https://unknown.example/client.json';
    expectRefusalPage(await authorize(strict, clientId), 'unknown.example', 'could not be fetched: the host name unknown.example could not be resolved');
    expect(connects).toEqual([]);
  });
});

describe('domain policy: CIMD_ALLOWED_DOMAINS and CIMD_BLOCKED_DOMAINS', () => {
  it('refuses a blocked domain even when it is also allowed (blocked wins), without fetching', async () => {
    const clientId = url('blocked.cimd.test', '/client.json');
    host.json('/client.json', documentFor(clientId));
    const before = host.hits.get('/client.json') ?? 0;
    expectRefusalPage(await authorize(open, clientId), `blocked.cimd.test:${host.port}`, 'the host blocked.cimd.test is blocked (CIMD_BLOCKED_DOMAINS: blocked.cimd.test)');
    expect(host.hits.get('/client.json') ?? 0).toBe(before);
    expect(connects).toEqual([]);
  });

  it('refuses a host that is not on the allow list', async () => {
    const clientId = url('other.cimd.test', '/client.json');
    expectRefusalPage(await authorize(open, clientId), `other.cimd.test:${host.port}`, 'the host other.cimd.test is not on the list of allowed hosts (CIMD_ALLOWED_DOMAINS)');
    expect(connects).toEqual([]);
  });

  it('*.domain allows strict subdomains only', async () => {
    const sub = url('tool.wild.cimd.test', '/wild.json');
    host.json('/wild.json', documentFor(sub));
    expectAccepted(await authorize(open, sub));
    const apex = url('wild.cimd.test', '/wild.json');
    expectRefusalPage(await authorize(open, apex), `wild.cimd.test:${host.port}`, 'is not on the list of allowed hosts');
  });

  it('a trailing dot or upper case does not get around the block', async () => {
    const clientId = `https://BLOCKED.cimd.test.:${host.port}/client.json`;
    const res = await authorize(open, clientId);
    expectRefusalPage(res, 'blocked.cimd.test', 'is blocked');
    expect(connects).toEqual([]);
  });
});

describe('administrators block a client_id URL', () => {
  it('refuses a blocked client even while its document is cached, and accepts it again once unblocked', async () => {
    const clientId = serveClient('/admin/blockme.json', {}, { 'cache-control': 'max-age=600' });
    expectAccepted(await authorize(open, clientId));
    await open.services.cimdClients.block(clientId, 'test');
    expectRefusalPage(await authorize(open, clientId), `app.cimd.test:${host.port}`, 'an administrator blocked this client');
    expect((await lastRefusal(open, clientId))?.reason).toContain('an administrator blocked this client');
    await open.services.cimdClients.unblock(clientId);
    expectAccepted(await authorize(open, clientId));
    expect(host.hits.get('/admin/blockme.json')).toBe(1);
  });

  it('a block made elsewhere (another instance, the CLI) takes effect within seconds', async () => {
    const clientId = serveClient('/admin/elsewhere.json');
    expectAccepted(await authorize(open, clientId));
    const { CimdClients } = await import('../../src/oauth/cimd/cimd-clients.js');
    await new CimdClients(open.services.handle.db).block(clientId, 'another instance');
    await new Promise((r) => setTimeout(r, 2100));
    expectRefusalPage(await authorize(open, clientId), `app.cimd.test:${host.port}`, 'an administrator blocked this client');
  });

  it('a URL blocked before its first use is never fetched', async () => {
    const clientId = serveClient('/admin/preblocked.json');
    await open.services.cimdClients.block(clientId, 'test');
    expectRefusalPage(await authorize(open, clientId), `app.cimd.test:${host.port}`, 'an administrator blocked this client');
    expect(host.hits.get('/admin/preblocked.json') ?? 0).toBe(0);
  });
});

describe('caching: within Cache-Control, at most 24 h, failures never cached', () => {
  it('does not cache a failure: once the server is fixed the next attempt succeeds at once', async () => {
    const clientId = url('app.cimd.test', '/cache/flaky.json');
    host.handlers.set('/cache/flaky.json', (_req, res) => res.writeHead(500).end());
    expectRefusalPage(await authorize(open, clientId), `app.cimd.test:${host.port}`, 'unexpected HTTP status 500');
    serveClient('/cache/flaky.json', {}, { 'cache-control': 'max-age=600' });
    expectAccepted(await authorize(open, clientId));
    expect(host.hits.get('/cache/flaky.json')).toBe(2);
  });

  it('reuses a document within its max-age', async () => {
    const clientId = serveClient('/cache/long.json', {}, { 'cache-control': 'public, max-age=600' });
    expectAccepted(await authorize(open, clientId));
    expectAccepted(await authorize(open, clientId));
    expectAccepted(await authorize(open, clientId));
    expect(host.hits.get('/cache/long.json')).toBe(1);
  });

  it('fetches again once max-age has passed', async () => {
    const clientId = serveClient('/cache/short.json', {}, { 'cache-control': 'max-age=1' });
    expectAccepted(await authorize(open, clientId));
    expectAccepted(await authorize(open, clientId));
    expect(host.hits.get('/cache/short.json')).toBe(1);
    await new Promise((r) => setTimeout(r, 1100));
    expectAccepted(await authorize(open, clientId));
    expect(host.hits.get('/cache/short.json')).toBe(2);
  });

  it('does not reuse a document served with no-store', async () => {
    const clientId = serveClient('/cache/no-store.json', {}, { 'cache-control': 'no-store' });
    expectAccepted(await authorize(open, clientId));
    expectAccepted(await authorize(open, clientId));
    expect(host.hits.get('/cache/no-store.json')).toBe(2);
  });
});

describe('gatehouse cimd (CLI)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });


  it('block, list and unblock print one JSON object each with --json', async () => {
    const target = 'https://tools.example.com/oauth/client.json';
    const blocked = await runCli(['cimd', 'block', target, '--json'], db.env);
    expect(blocked.code).toBe(0);
    // The admin API's client (docs/ADMIN-API.md): a URL never used yet is blocked before its first use.
    expect(oneJson(blocked.stdout)).toMatchObject({ client_id: target, kind: 'cimd', host: 'tools.example.com', status: 'blocked', last_used_at: null });

    const listed = await runCli(['cimd', 'list', '--json'], db.env);
    expect(listed.code).toBe(0);
    expect(oneJson(listed.stdout).items).toEqual([expect.objectContaining({ client_id: target, status: 'blocked' })]);

    const unblocked = await runCli(['cimd', 'unblock', target, '--json'], db.env);
    expect(unblocked.code).toBe(0);
    expect(oneJson(unblocked.stdout)).toMatchObject({ client_id: target, status: 'active' });

    const services = await openServices(loadConfig({ ...db.env, NODE_ENV: 'test', LOG_LEVEL: 'silent' }), { migrate: false });
    try {
      const events = (await services.audit.recent({ limit: 10 })).filter((e) => e.client_id === target);
      expect(events.map((e) => [e.type, e.actor])).toEqual([['client.enabled', 'cli'], ['client.disabled', 'cli']]);
    } finally {
      await services.handle.close();
    }
  });

  it('refuses to block something that is not a client_id URL, and to unblock an unknown one', async () => {
    const bad = await runCli(['cimd', 'block', 'http://tools.example.com/client.json', '--json'], db.env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('the client_id must be an https URL');
    const unknown = await runCli(['cimd', 'unblock', 'https://never.example.com/client.json'], db.env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('There is no such client');
  });
});

describe('CIMD=off', () => {
  it('treats a URL client_id as an unknown client and fetches nothing', async () => {
    const db = await createTestDatabase();
    const off = await startTestServer({ ...db.env, CIMD: 'off', CIMD_ALLOW_PRIVATE_ADDRESSES: 'true' }, undefined, { cimdFetch: { ca: pki.ca, resolve, beforeConnect } });
    try {
      const clientId = serveClient('/off/client.json');
      const res = await authorize(off, clientId);
      expect(res.status).toBe(400);
      expect(res.location).toBeNull();
      expect(res.html).toContain('invalid_client');
      expect(host.hits.get('/off/client.json') ?? 0).toBe(0);
      const discovery = (await (await fetch(`${off.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      expect(discovery.client_id_metadata_document_supported).not.toBe(true);
    } finally {
      await off.close();
      await db.drop();
    }
  });
});
