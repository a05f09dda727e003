// Fuzz of token introspection (RFC 7662) and revocation (RFC 7009) against a real server and database: random
// tokens (random, one character off a real access or refresh token, JWT-shaped), token_type_hint values, duplicated
// parameters, and client authentication that is missing, wrong, malformed, or right. Never a 5xx; a refusal is an
// OAuth JSON error; introspection never calls a malformed token active, and revocation of one never revokes the
// real grant (its refresh token still works at the end).
import fc from 'fast-check';
import { addStaticClient } from '../../src/oauth/static-clients.js';
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { encodeLoosely, expectSafe, formBody, FUZZ_ENV, FUZZ_RUNS, fuzzTimeout, inLanes, mutated, send, text, tokenish } from './fuzz-config.js';

const USER = { email: 'fuzz@example.com', password: 'a long random password for the fuzz user 2' };
const REDIRECT = 'http://127.0.0.1:33421/callback';

let db: TestDatabase;
let gh: TestServer;
let real: { clientId: string; accessToken: string; refreshToken: string; rsId: string; rsSecret: string };

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, ...FUZZ_ENV });
  await gh.services.users.create(USER);
  const client = await registerPublicClient(gh.issuer, [REDIRECT]);
  const { verifier, challenge } = pkcePair();
  const cb = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
    client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE, state: 's',
  }, USER);
  const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: cb.searchParams.get('code')!, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT });
  expect(tokens.status).toBe(200);
  // A resource server's confidential client: the one kind that may introspect.
  // Created as `client add --resource` does: the registry records it as an administrator's (introspection.ts).
  const rs = await addStaticClient({ db: gh.services.handle.db, box: gh.services.box, provider: gh.holder.provider, registry: gh.services.registry }, { name: 'Fuzz RS', redirectUris: [], confidential: true, resource: TEST_RESOURCE });
  real = { clientId: client.client_id, accessToken: tokens.body.access_token, refreshToken: tokens.body.refresh_token, rsId: rs.client_id, rsSecret: rs.client_secret! };
}, 60_000);

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

const b64 = (s: string) => Buffer.from(s, 'latin1').toString('base64');

function caseArb() {
  const token = fc.oneof(tokenish, mutated(real.accessToken), mutated(real.refreshToken), text);
  const value = (name: string) => {
    switch (name) {
      case 'token': return token;
      case 'token_type_hint': return fc.oneof(fc.constantFrom('access_token', 'refresh_token', 'id_token', 'ACCESS_TOKEN', ''), text);
      case 'client_id': return fc.oneof(fc.constantFrom(real.clientId, real.rsId), text);
      case 'client_secret': return fc.oneof(mutated(real.rsSecret), text);
      default: return fc.oneof(text, tokenish);
    }
  };
  const NAMES = ['token', 'token', 'token_type_hint', 'client_id', 'client_secret', 'resource', '__proto__'];
  const body = fc.oneof(
    { weight: 8, arbitrary: fc.array(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: text }), { maxLength: 6 })
      .chain((names) => fc.tuple(...names.map((n) => value(n).map((v) => [n, v] as const)))).map(formBody) },
    { weight: 1, arbitrary: fc.oneof(text, fc.constantFrom('', 'token', 'token=&token=', '%', '{"token":"x"}')) },
  );
  const auth = fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    // The right credentials: the request is then well-formed up to the token, which is what is malformed.
    { weight: 2, arbitrary: fc.constant(`Basic ${b64(`${real.rsId}:${real.rsSecret}`)}`) },
    { weight: 2, arbitrary: fc.tuple(fc.oneof(fc.constant(real.rsId), text), fc.oneof(mutated(real.rsSecret), text)).map(([id, s]) => `Basic ${b64(`${encodeLoosely(id)}:${encodeLoosely(s)}`)}`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Basic', 'Bearer', 'basic', ''), fc.oneof(text, tokenish, fc.constant(real.accessToken))).map(([s, t]) => `${s} ${t}`) },
  );
  return fc.tuple(body, auth, fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded', 'application/json', ''));
}

const printable = (v: string | undefined) => (v !== undefined && /^[\t\x20-\x7e\x80-\xff]*$/.test(v) ? v : undefined);

async function post(path: string, [body, auth, type]: [string, string | undefined, string]) {
  const headers: Record<string, string> = {};
  if (type) headers['content-type'] = type;
  if (printable(auth)) headers.authorization = auth!;
  return send(`${gh.issuer}${path}`, { method: 'POST', headers, body });
}

describe('/introspect and /revoke with malformed input', () => {
  it(`POST /introspect: never a 5xx, an OAuth JSON error or {active:false} (${FUZZ_RUNS} cases)`, async () => {
    await inLanes(() =>
      fc.asyncProperty(caseArb(), async (c) => {
        const res = await post('/introspect', c);
        expectSafe(res, { jsonEndpoint: true }, `POST /introspect ${c[0].slice(0, 200)}`);
        if (res.status === 200 && (res.json as { active?: unknown })?.active !== false) throw new Error(`a malformed token was called active: ${res.text.slice(0, 300)}`);
      }),
    );
  }, fuzzTimeout(10));

  it(`POST /revoke: never a 5xx, an OAuth JSON error or an empty 200 (${FUZZ_RUNS} cases)`, async () => {
    await inLanes(() =>
      fc.asyncProperty(caseArb(), async (c) => {
        const res = await post('/revoke', c);
        expectSafe(res, { jsonEndpoint: true }, `POST /revoke ${c[0].slice(0, 200)}`);
        if (res.status === 200 && res.text.trim() !== '') throw new Error(`revocation answered a body: ${res.text.slice(0, 300)}`);
      }),
    );
  }, fuzzTimeout(10));

  it('the real grant survived: its refresh token introspects active and still rotates', async () => {
    const intro = await send(`${gh.issuer}/introspect`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${b64(`${real.rsId}:${real.rsSecret}`)}` }, body: formBody([['token', real.refreshToken]]),
    });
    expect(intro.status).toBe(200);
    expect((intro.json as { active: boolean }).active).toBe(true);
    const refreshed = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: real.refreshToken, client_id: real.clientId });
    expect(refreshed.status).toBe(200);
  });
});
