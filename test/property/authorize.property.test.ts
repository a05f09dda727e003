// Fuzz of the authorization endpoint (RFC 6749 §3.1, §4.1.2.1; OAuth 2.1) against a real server and
// database: random query strings for GET /authorize and random form bodies for POST /authorize — random parameter
// names and values, valid-looking ones (a real client_id and its registered redirect URI, S256 challenges, the real
// resources), duplicated parameters, raw undecodable percent sequences. With no signed-in session the answer is
// never a 5xx, never a redirect carrying a code or a token, and a JSON refusal is an OAuth error.
import fc from 'fast-check';
import { pkcePair, registerPublicClient } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { OTHER_RESOURCE, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { encodeLoosely, expectSafe, FUZZ_ENV, formBody, FUZZ_RUNS, fuzzTimeout, inLanes, send, text, tokenish } from './fuzz-config.js';

const REDIRECT = 'http://127.0.0.1:33420/callback';

let db: TestDatabase;
let gh: TestServer;
let clientId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, ...FUZZ_ENV });
  clientId = (await registerPublicClient(gh.issuer, [REDIRECT])).client_id;
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

const { challenge } = pkcePair();

function value(name: string) {
  switch (name) {
    case 'response_type': return fc.oneof(fc.constantFrom('code', 'token', 'id_token', 'code id_token', 'none', 'CODE', ''), text);
    case 'client_id': return fc.oneof({ weight: 4, arbitrary: fc.constant(clientId) }, { weight: 1, arbitrary: fc.constantFrom('https://claude.ai/oauth/x', 'http://127.0.0.1:1/cimd', 'dyn_nope', 'gh_nope') }, { weight: 1, arbitrary: text });
    case 'redirect_uri': return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(REDIRECT, 'http://127.0.0.1:1/callback', 'http://localhost:33420/callback', 'https://evil.example/cb', 'javascript:alert(1)', `${REDIRECT}?x=1`, `${REDIRECT}#f`) }, { weight: 1, arbitrary: text });
    case 'code_challenge': return fc.oneof(fc.constant(challenge), tokenish, text);
    case 'code_challenge_method': return fc.oneof(fc.constantFrom('S256', 'plain', 's256', ''), text);
    case 'scope': return fc.oneof(fc.constantFrom('tools:read', 'tools:read tools:write', 'openid', 'offline_access', 'files:read', 'admin', '"consented"'), text);
    case 'resource': return fc.oneof(fc.constantFrom(TEST_RESOURCE, OTHER_RESOURCE, 'https://evil.example/mcp', 'HTTPS://MCP.EXAMPLE.TEST/mcp', `${TEST_RESOURCE}#x`, 'urn:x', ''), text);
    case 'prompt': return fc.oneof(fc.constantFrom('none', 'login', 'consent', 'select_account', 'create'), text);
    case 'request': case 'request_uri': return fc.oneof(tokenish, fc.constantFrom('urn:ietf:params:oauth:request_uri:x', 'https://evil.example/r'), text);
    case 'max_age': return fc.oneof(fc.integer().map(String), text);
    default: return fc.oneof(text, tokenish);
  }
}

const NAMES = ['response_type', 'client_id', 'redirect_uri', 'code_challenge', 'code_challenge_method', 'scope', 'resource', 'state', 'nonce',
  'prompt', 'request', 'request_uri', 'response_mode', 'max_age', 'login_hint', 'claims', 'ui_locales', 'acr_values', 'id_token_hint', '__proto__'];

/** Mostly a nearly-valid request with a few parameters changed, dropped or repeated; sometimes anything at all. */
const pairs = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.tuple(fc.subarray(['response_type', 'client_id', 'redirect_uri', 'code_challenge', 'code_challenge_method', 'scope', 'resource', 'state']), fc.array(fc.constantFrom(...NAMES), { maxLength: 3 }))
      .chain(([base, extra]) => fc.tuple(...[...base, ...extra].map((n) => value(n).map((v) => [n, v] as const)))),
  },
  { weight: 1, arbitrary: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...NAMES), text), fc.oneof(text, tokenish)), { maxLength: 8 }) },
);

const query = fc.oneof(
  { weight: 8, arbitrary: pairs.map(formBody) },
  { weight: 1, arbitrary: fc.oneof(text.map(encodeLoosely), fc.constantFrom('%', '%zz', 'client_id', '&&&=', 'a=%ED%A0%80', 'client_id=%00', '=x', `scope=${'a'.repeat(20_000)}`)) },
);

const accept = fc.constantFrom(undefined, 'text/html', 'application/json', '*/*', 'text/html;q=0, application/json');

describe('/authorize with malformed input', () => {
  it(`GET: never a 5xx, never a code or token in a redirect (${FUZZ_RUNS} cases)`, async () => {
    await inLanes(() =>
      fc.asyncProperty(query, accept, async (q, acc) => {
        const res = await send(`${gh.issuer}/authorize?${q}`, { headers: acc ? { accept: acc } : {} });
        expectSafe(res, { jsonEndpoint: false }, `GET /authorize?${q.slice(0, 300)}`);
      }),
    );
  }, fuzzTimeout(10));

  it(`POST: never a 5xx, never a code or token in a redirect (${FUZZ_RUNS} cases)`, async () => {
    await inLanes(() =>
      fc.asyncProperty(query, fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain', ''), accept, async (body, type, acc) => {
        const headers: Record<string, string> = {};
        if (type) headers['content-type'] = type;
        if (acc) headers.accept = acc;
        const res = await send(`${gh.issuer}/authorize`, { method: 'POST', headers, body });
        expectSafe(res, { jsonEndpoint: false }, `POST /authorize ${body.slice(0, 300)}`);
      }),
    );
  }, fuzzTimeout(10));

  it('a valid request still reaches the login page afterwards', async () => {
    const q = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE, state: 's' });
    const res = await send(`${gh.issuer}/authorize?${q}`);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/\/interaction\//);
  });
});
