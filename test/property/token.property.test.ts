// Fuzz of POST /token (RFC 6749 §3.2, §5.2; OAuth 2.1) against a real server and database. Random
// grant types, codes (random, and one character off a real one), PKCE verifiers, redirect URIs, resources, refresh
// tokens, duplicated parameters, client authentication headers (Basic with wrong or malformed credentials, other
// schemes) and content types: the answer is never a 5xx, always an OAuth error in JSON, and never a token.
import fc from 'fast-check';
import { createStaticClient } from '../../src/oauth/static-clients.js';
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { OTHER_RESOURCE, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { encodeLoosely, expectSafe, FUZZ_ENV, formBody, FUZZ_RUNS, fuzzTimeout, inLanes, mutated, send, text, tokenish } from './fuzz-config.js';

const USER = { email: 'fuzz@example.com', password: 'a long random password for the fuzz user 1' };
const REDIRECT = 'http://127.0.0.1:33419/callback';

let db: TestDatabase;
let gh: TestServer;
let real: { clientId: string; code: string; refreshToken: string; machineId: string; machineSecret: string };

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, ...FUZZ_ENV });
  await gh.services.users.create(USER);
  const client = await registerPublicClient(gh.issuer, [REDIRECT]);
  // One code redeemed (for a real refresh token) and one left unredeemed: the fuzz offers both, with wrong verifiers.
  const flow = async () => {
    const { verifier, challenge } = pkcePair();
    const cb = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE, state: 's',
    }, USER);
    return { code: cb.searchParams.get('code')!, verifier };
  };
  const first = await flow();
  const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: first.code, code_verifier: first.verifier, client_id: client.client_id, redirect_uri: REDIRECT });
  expect(tokens.status).toBe(200);
  const second = await flow();
  const machine = await createStaticClient(gh.services.handle.db, gh.services.box, gh.holder.provider, { name: 'Fuzz agent', redirectUris: [], confidential: true });
  real = { clientId: client.client_id, code: second.code, refreshToken: tokens.body.refresh_token, machineId: machine.client_id, machineSecret: machine.client_secret! };
}, 60_000);

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

const GRANTS = ['authorization_code', 'refresh_token', 'client_credentials', 'password', 'implicit', 'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:jwt-bearer', 'urn:ietf:params:oauth:grant-type:token-exchange', 'urn:openid:params:grant-type:ciba',
  'AUTHORIZATION_CODE', 'authorization_code ', '', 'refresh_token\u0000'];

const b64 = (s: string) => Buffer.from(s, 'latin1').toString('base64');

function tokenCase() {
  const value = (name: string) => {
    switch (name) {
      case 'grant_type': return fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...GRANTS) }, { weight: 1, arbitrary: text });
      case 'code': return fc.oneof(tokenish, mutated(real.code), fc.constant(real.code), text);
      case 'code_verifier': return fc.oneof(tokenish, fc.stringMatching(/^[A-Za-z0-9._~-]{43,128}$/), text);
      case 'client_id': return fc.oneof(fc.constantFrom(real.clientId, real.machineId, 'https://claude.ai/oauth/client-metadata', 'dyn_x', 'gh_x'), mutated(real.clientId), text);
      case 'client_secret': return fc.oneof(tokenish, mutated(real.machineSecret), text);
      case 'redirect_uri': return fc.oneof(fc.constantFrom(REDIRECT, 'http://127.0.0.1:1/callback', 'https://evil.example/cb', 'javascript:alert(1)'), text);
      case 'refresh_token': return fc.oneof(tokenish, mutated(real.refreshToken), text);
      case 'resource': return fc.oneof(fc.constantFrom(TEST_RESOURCE, OTHER_RESOURCE, `${TEST_RESOURCE}/`, 'HTTPS://MCP.EXAMPLE.TEST/mcp', 'https://evil.example/mcp', 'urn:x', 'https://mcp.example.test/mcp#f'), text);
      case 'scope': return fc.oneof(fc.constantFrom('tools:read', 'tools:write', 'openid offline_access', 'admin', '"consented"'), text);
      case 'client_assertion_type': return fc.oneof(fc.constant('urn:ietf:params:oauth:client-assertion-type:jwt-bearer'), text);
      case 'client_assertion': return fc.oneof(tokenish, text);
      default: return fc.oneof(text, tokenish);
    }
  };
  const NAMES = ['grant_type', 'code', 'code_verifier', 'client_id', 'client_secret', 'redirect_uri', 'refresh_token', 'resource', 'scope',
    'client_assertion_type', 'client_assertion', 'audience', 'username', 'password', 'device_code', 'subject_token', '__proto__', 'constructor'];
  const pairs = fc.array(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: text }), { maxLength: 9 })
    .chain((names) => fc.tuple(...names.map((n) => value(n).map((v) => [n, v] as const))));
  const body = fc.oneof(
    { weight: 8, arbitrary: pairs.map(formBody) },
    { weight: 1, arbitrary: fc.oneof(text, fc.constantFrom('', '&&&', '=', 'grant_type', 'grant_type=&grant_type=', '%', 'a=%zz', '{"grant_type":"client_credentials"}')) },
  );
  const auth = fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.tuple(fc.oneof(fc.constant(real.machineId), text), fc.oneof(mutated(real.machineSecret), text)).map(([id, s]) => `Basic ${b64(`${encodeLoosely(id)}:${encodeLoosely(s)}`)}`) },
    { weight: 1, arbitrary: fc.oneof(text, tokenish).map((t) => `Basic ${b64(t)}`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Basic', 'basic', 'Bearer', 'DPoP', 'Digest', ''), fc.oneof(text, tokenish)).map(([s, t]) => `${s} ${t}`) },
  );
  const type = fc.oneof({ weight: 8, arbitrary: fc.constant('application/x-www-form-urlencoded') },
    { weight: 1, arbitrary: fc.constantFrom('application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded; charset=latin1', '') });
  return fc.tuple(body, auth, type);
}

/** Header values fetch refuses to send (control characters, non-latin1) are dropped: what a client can send. */
function headerSafe(value: string | undefined): string | undefined {
  return value !== undefined && /^[\t\x20-\x7e\x80-\xff]*$/.test(value) ? value : undefined;
}

describe('POST /token with malformed input', () => {
  it(`never answers 5xx, always an OAuth JSON error, never a token (${FUZZ_RUNS} cases)`, async () => {
    await inLanes(() =>
      fc.asyncProperty(tokenCase(), async ([body, auth, type]) => {
        const headers: Record<string, string> = {};
        if (type) headers['content-type'] = type;
        const a = headerSafe(auth);
        if (a) headers.authorization = a;
        const res = await send(`${gh.issuer}/token`, { method: 'POST', headers, body });
        expectSafe(res, { jsonEndpoint: true }, `POST /token ${body.slice(0, 200)}`);
        if (res.status < 400) throw new Error(`malformed input answered ${res.status}: ${res.text.slice(0, 200)}`);
      }),
    );
    // Still answering normally after the storm.
    const after = await send(`${gh.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    expect(after.status).toBe(400);
  }, fuzzTimeout(15));

  it('a real confidential client still gets a token afterwards (the fuzz broke nothing)', async () => {
    const res = await send(`${gh.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${b64(`${real.machineId}:${real.machineSecret}`)}` },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(200);
    expect(typeof (res.json as Record<string, unknown>).access_token).toBe('string');
  });
});
