// Property tests of Dynamic Client Registration (RFC 7591 §3.2, RFC 7592 §2.2) against a real
// server and database. Whatever JSON anyone sends to the open registration endpoint — wrong types for every known
// field, nulls, nested objects, huge arrays, unicode, weird and dangerous URI schemes, every combination of
// authentication method, grant and response types and application type — the answer is 201 or a 4xx with a JSON
// {error}, never a 5xx; and every client that is accepted keeps the registration policy: its redirect URIs pass
// redirectUriProblem, its grant types are within authorization_code and refresh_token, its response types within
// code, and its answer keeps the response-shape rules. A refused update changes nothing.
//
// Fixed seeds, printed by fast-check on failure (with the shrunk counterexample); no retries. Requests run in a few
// lanes at once, each lane one fc.assert with its own seed.
import fc from 'fast-check';
import { redirectUriProblem } from '../../src/oauth/policies/client-metadata/redirect-uri-rules.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { CONFIDENTIAL_METHODS, emptyValuePaths, manage, postRegistration, type HttpResult, type Json } from '../helpers/registration.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { FUZZ_RUNS, fuzzTimeout } from './fuzz-config.js';

const SEED = 20_261_123;
const LANES = 6;
// 2,100 registrations and 360 updates in `npm test`; at least FUZZ_RUNS of each under `npm run fuzz`.
const POST_RUNS_PER_LANE = Math.max(350, Math.ceil(FUZZ_RUNS / LANES));
const PUT_RUNS_PER_LANE = Math.max(60, Math.ceil(FUZZ_RUNS / LANES));

let db: TestDatabase;
let gh: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  // The per-IP registration limit would answer 429 after 20; this file tests what lies behind it.
  // The client caps out of reach: 10,000 registrations per property would fill DCR_MAX_CLIENTS (10,000 by default).
  gh = await startTestServer({ ...db.env, REGISTRATION_RATE_LIMIT: '1000000', DCR_MAX_CLIENTS: '1000000', DCR_MAX_CLIENTS_PER_SOURCE: '1000000', LOG_LEVEL: 'silent' });
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

// ---------------------------------------------------------------------------------------------------------------
// Arbitraries

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', ' ', '\u0000', '\u202e', '%00', '\r\n', '🙂', 'ä', '..', '../', '${x}', '<script>'),
);

/** Any JSON value: the wrong type for every field. */
const junk = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, '', 0, -1, 1e308, true, false, [], {}, [null], [''], [[]], { '': '' }) },
  { weight: 1, arbitrary: text },
);

const host = fc.oneof(
  fc.domain(),
  fc.constantFrom('127.0.0.1', 'localhost', '[::1]', 'LOCALHOST', '127.0.0.2', '127.1', '0x7f000001', '2130706433', '0.0.0.0', '[::]',
    '[::ffff:127.0.0.1]', 'localhost.evil.example', '127.0.0.1.nip.io', 'evil.example', 'xn--nxasmq6b.example', 'bücher.example',
    'user:pass@app.example.com', 'user@127.0.0.1', 'app.example.com:443', '%6c%6f%63%61%6c%68%6f%73%74', '[fe80::1%25eth0]'),
  fc.ipV4(),
  fc.ipV6().map((ip) => `[${ip}]`),
);

const port = fc.oneof(fc.constant(''), fc.integer({ min: 0, max: 70_000 }).map((p) => `:${p}`), fc.constantFrom(':', ':abc', ':-1', ':080'));
const path = fc.oneof(fc.constantFrom('', '/', '/callback', '/oauth/callback', '/a/../b', '/%2e%2e/', '/cb?x=1', '/cb?', '/cb#', '/cb#frag', '//evil.example'), text.map((t) => `/${t}`));

const scheme = fc.constantFrom(
  'https', 'http', 'HTTP', 'HtTpS', 'javascript', 'JAVASCRIPT', 'java\tscript', ' javascript', 'javascript ', 'data', 'file', 'vbscript',
  'blob', 'about', 'ftp', 'ws', 'wss', 'chrome', 'intent', 'ms-msdt', 'cursor', 'vscode', 'myapp', 'com.example.app', 'com.example', 'app.',
  'a.b.c', 'x-y.z', 'com.example.app+x', '1com.example', 'com..example', 'urn', 'mailto', 'tel', 'jar', 'view-source',
);

const uri = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(scheme, fc.constantFrom('://', ':/', ':', ':///', ':\\\\', '://\t'), host, port, path).map(([s, sep, h, p, pa]) => `${s}${sep}${h}${p}${pa}`) },
  { weight: 2, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true, validSchemes: ['https', 'http'] }) },
  { weight: 1, arbitrary: fc.constantFrom('javascript:alert(1)', 'data:text/html,<b>x</b>', 'file:///etc/passwd', 'http://127.0.0.1:8080/cb', 'https://app.example.com/cb', 'com.example.app:/oauth2redirect', 'cursor://anysphere.cursor-mcp/oauth/callback', '//evil.example/cb', '/relative', 'https:', 'http://', 'https://[::1', 'https://a b/') },
  { weight: 1, arbitrary: text },
);

const redirectUris = fc.oneof(
  { weight: 8, arbitrary: fc.array(uri, { minLength: 1, maxLength: 4 }) },
  { weight: 1, arbitrary: fc.array(fc.oneof(uri, junk), { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.tuple(uri, fc.integer({ min: 100, max: 3000 })).map(([u, n]) => Array.from({ length: n }, (_, i) => `${u}${i}`)) },
  { weight: 1, arbitrary: junk },
);

function listOf<T>(values: readonly T[]) {
  return fc.oneof({ weight: 6, arbitrary: fc.array(fc.constantFrom(...values), { maxLength: 4 }) }, { weight: 1, arbitrary: junk });
}

const GRANTS = ['authorization_code', 'refresh_token', 'client_credentials', 'implicit', 'password', 'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:jwt-bearer', 'urn:openid:params:grant-type:ciba', 'urn:ietf:params:oauth:grant-type:token-exchange',
  'AUTHORIZATION_CODE', 'authorization_code ', ''] as const;
const RESPONSE_TYPES = ['code', 'token', 'id_token', 'code id_token', 'code token', 'id_token token', 'none', 'CODE', ' code', ''] as const;
const AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt', 'client_secret_jwt', 'tls_client_auth',
  'self_signed_tls_client_auth', 'NONE', ''] as const;

const knownField = {
  redirect_uris: redirectUris,
  token_endpoint_auth_method: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...AUTH_METHODS) }, { weight: 1, arbitrary: junk }),
  grant_types: listOf(GRANTS),
  response_types: listOf(RESPONSE_TYPES),
  application_type: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('web', 'native', 'browser', 'WEB', '') }, { weight: 1, arbitrary: junk }),
  scope: fc.oneof(fc.array(fc.constantFrom('openid', 'offline_access', 'email', 'profile', 'tools:read', 'claudeai', 'admin', '"consented"', ''), { maxLength: 5 }).map((s) => s.join(' ')), junk),
  client_name: fc.oneof(text, fc.string({ minLength: 1000, maxLength: 5000 }), junk),
  client_uri: fc.oneof(uri, junk),
  logo_uri: fc.oneof(uri, junk),
  tos_uri: fc.oneof(uri, junk),
  policy_uri: fc.oneof(uri, junk),
  jwks_uri: fc.oneof(uri, junk),
  sector_identifier_uri: fc.oneof(uri, junk),
  initiate_login_uri: fc.oneof(uri, junk),
  backchannel_logout_uri: fc.oneof(uri, junk),
  post_logout_redirect_uris: fc.oneof(fc.array(uri, { maxLength: 3 }), junk),
  request_uris: fc.oneof(fc.array(uri, { maxLength: 3 }), junk),
  contacts: fc.oneof(fc.array(text, { maxLength: 3 }), junk),
  software_id: junk,
  software_version: junk,
  software_statement: fc.oneof(text, junk),
  jwks: fc.oneof(fc.constant({ keys: [] }), fc.constant({ keys: [{ kty: 'oct', k: 'AAAA' }] }), junk),
  subject_type: fc.oneof(fc.constantFrom('public', 'pairwise'), junk),
  id_token_signed_response_alg: fc.oneof(fc.constantFrom('ES256', 'RS256', 'none', 'HS256'), junk),
  userinfo_signed_response_alg: fc.oneof(fc.constantFrom('ES256', 'none'), junk),
  token_endpoint_auth_signing_alg: fc.oneof(fc.constantFrom('ES256', 'HS256', 'none'), junk),
  default_max_age: junk,
  require_auth_time: junk,
  default_acr_values: junk,
  dpop_bound_access_tokens: junk,
  require_pushed_authorization_requests: junk,
  tls_client_certificate_bound_access_tokens: junk,
  client_id: fc.oneof(text, fc.constantFrom('https://claude.ai/oauth/claude-code-client-metadata', 'dyn_existing'), junk),
  client_secret: fc.oneof(text, junk),
  client_secret_expires_at: junk,
  client_id_issued_at: junk,
  registration_access_token: fc.oneof(text, junk),
  registration_client_uri: fc.oneof(uri, junk),
  gatehouse_resource: fc.oneof(fc.constant(TEST_RESOURCE), junk),
  // Computed keys: own properties named __proto__ and constructor, as JSON.parse creates them (prototype pollution).
  ['__proto__']: fc.constant({ polluted: true, isAdmin: true }),
  ['constructor']: fc.constant({ prototype: { polluted: true } }),
} as const;

type Field = keyof typeof knownField;
const FIELDS = Object.keys(knownField) as Field[];

function someFields(min: number, max: number) {
  return fc.subarray(FIELDS, { minLength: min, maxLength: max }).chain((fields) => fc.tuple(...fields.map((f) => knownField[f].map((v) => [f, v] as const))));
}

/** Serialises key/value pairs as a JSON object; keys such as __proto__ stay own properties, as JSON.parse reads them. */
function jsonObject(pairs: ReadonlyArray<readonly [string, unknown]>): string {
  return `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`;
}

function optional<T>(arb: fc.Arbitrary<T>) {
  return fc.option(arb, { nil: undefined, freq: 2 });
}

/** The fields that decide what a client may do, in random combinations: the core of the registration policy. */
const coreBody = fc
  .record({
    redirect_uris: redirectUris,
    token_endpoint_auth_method: optional(knownField.token_endpoint_auth_method),
    grant_types: optional(knownField.grant_types),
    response_types: optional(knownField.response_types),
    application_type: optional(knownField.application_type),
    scope: optional(knownField.scope),
  })
  .map((r) => jsonObject(Object.entries(r).filter(([, v]) => v !== undefined)));

/** Any known fields (redirect_uris usually among them) plus a few unknown keys. */
const fieldsBody = fc
  .tuple(optional(redirectUris), someFields(0, 8), fc.dictionary(text, junk, { maxKeys: 3 }))
  .map(([uris, pairs, extra]) => jsonObject([...Object.entries(extra), ...(uris === undefined ? [] : [['redirect_uris', uris] as const]), ...pairs]));

/** A body that would register, with a few of its fields replaced by random ones: reaches oidc-provider's checks. */
const nearlyValidBody = fc
  .tuple(
    fc.constantFrom<Json>(
      { redirect_uris: ['http://127.0.0.1:43111/callback'], token_endpoint_auth_method: 'none' },
      { redirect_uris: ['https://app.example.com/cb'], token_endpoint_auth_method: 'client_secret_post', grant_types: ['authorization_code'] },
      { redirect_uris: ['com.example.app:/cb'], application_type: 'native', token_endpoint_auth_method: 'none', response_types: ['code'] },
      { redirect_uris: ['http://localhost/callback'], client_name: 'Base', scope: 'tools:read' },
    ),
    someFields(1, 3),
  )
  .map(([base, pairs]) => jsonObject([...Object.entries(base).filter(([k]) => !pairs.some(([f]) => f === k)), ...pairs]));

const anyBody = fc.oneof(
  { weight: 4, arbitrary: coreBody },
  { weight: 3, arbitrary: nearlyValidBody },
  { weight: 2, arbitrary: fieldsBody },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: fc.oneof(text, fc.constantFrom('{', '{"redirect_uris":', '[]', '{}', 'null', '{"a":1}{"b":2}', `${'['.repeat(5000)}${']'.repeat(5000)}`, '\ufeff{}')) },
);

/** Mostly JSON; sometimes a spelling or type the registration rules might not recognise while oidc-provider does. */
const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  { weight: 1, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=latin1', 'application/json, text/plain',
    'application/merge-patch+json', 'application/jwt', 'text/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', '', ' application/json') },
);

// ---------------------------------------------------------------------------------------------------------------
// The policy an accepted client must keep

const ALLOWED_GRANTS = new Set(['authorization_code', 'refresh_token']);

function policyViolations(client: Json): string[] {
  const problems: string[] = [];
  if (!Array.isArray(client.redirect_uris)) problems.push('redirect_uris missing');
  else for (const u of client.redirect_uris) {
    const problem = typeof u === 'string' ? redirectUriProblem(u) : 'not a string';
    if (problem) problems.push(`redirect URI ${JSON.stringify(u)}: ${problem}`);
  }
  if (!Array.isArray(client.grant_types)) problems.push('grant_types missing');
  else for (const g of client.grant_types) if (!ALLOWED_GRANTS.has(g)) problems.push(`grant type ${JSON.stringify(g)}`);
  if (!Array.isArray(client.response_types)) problems.push('response_types missing');
  else for (const r of client.response_types) if (r !== 'code') problems.push(`response type ${JSON.stringify(r)}`);
  if ('gatehouse_resource' in client) problems.push('gatehouse_resource self-asserted');
  const empty = emptyValuePaths(client);
  if (empty.length) problems.push(`null or "" at ${empty.join(', ')}`);
  const confidential = CONFIDENTIAL_METHODS.has(client.token_endpoint_auth_method);
  if (confidential !== (typeof client.client_secret === 'string')) problems.push(`client_secret ${'client_secret' in client ? 'present' : 'absent'} for ${client.token_endpoint_auth_method}`);
  if (typeof client.registration_access_token !== 'string' || typeof client.registration_client_uri !== 'string') problems.push('management credentials missing');
  if (({} as Json).polluted !== undefined || ({} as Json).isAdmin !== undefined) problems.push('Object.prototype polluted');
  return problems;
}

/** Never a 5xx; a refusal is a 4xx JSON {error}. Returns a description of what is wrong, or undefined. */
function answerProblem(res: HttpResult, success: number): string | undefined {
  if (res.status === success) return undefined;
  if (res.status < 400 || res.status > 499) return `status ${res.status}: ${res.text.slice(0, 300)}`;
  if (typeof res.body.error !== 'string' || !res.body.error) return `refusal without a JSON error: ${res.status} ${res.text.slice(0, 300)}`;
  return undefined;
}

/** Runs one fc.assert per lane, concurrently, each with its own fixed seed. */
async function inLanes<T extends unknown[]>(runsPerLane: number, property: () => fc.IAsyncProperty<T>) {
  await Promise.all(
    Array.from({ length: LANES }, (_, lane) => {
      const seed = SEED + lane;
      return fc.assert(property(), { seed, numRuns: runsPerLane });
    }),
  );
}

describe('POST /register with random metadata (RFC 7591 §3.2)', () => {
  it('never answers 5xx (201, or a 4xx JSON {error}), and every accepted client keeps the registration policy', async () => {
    await inLanes(POST_RUNS_PER_LANE, () =>
      fc.asyncProperty(anyBody, contentType, async (body, type) => {
        const res = await postRegistration(gh.issuer, body, { 'content-type': type });
        const problem = answerProblem(res, 201);
        if (problem) throw new Error(problem);
        if (res.status !== 201) return;
        const violations = policyViolations(res.body);
        if (violations.length) throw new Error(`accepted a client that breaks the policy: ${violations.join('; ')}\n${res.text.slice(0, 1000)}`);
        // What was stored is what the policy was checked against: read it back.
        const stored = await manage('GET', res.body.registration_client_uri, res.body.registration_access_token);
        if (stored.status !== 200) throw new Error(`reading the new registration back: ${stored.status} ${stored.text.slice(0, 300)}`);
        const storedViolations = policyViolations(stored.body);
        if (storedViolations.length) throw new Error(`stored a client that breaks the policy: ${storedViolations.join('; ')}`);
      }),
    );
  }, Math.max(120_000, fuzzTimeout(80, POST_RUNS_PER_LANE * LANES)));
});

describe('PUT /register/<id> with random metadata (RFC 7592 §2.2)', () => {
  it('never answers 5xx; an accepted update keeps the policy, a refused one leaves the registration as it was', async () => {
    await inLanes(PUT_RUNS_PER_LANE, () =>
      fc.asyncProperty(anyBody, async (body) => {
        const created = await postRegistration(gh.issuer, { redirect_uris: ['http://127.0.0.1:43112/cb'], token_endpoint_auth_method: 'client_secret_basic', client_name: 'Before' });
        if (created.status !== 201) throw new Error(`setup registration failed: ${created.status} ${created.text}`);
        const { registration_client_uri: uri, registration_access_token: token } = created.body;
        const before = await manage('GET', uri, token);
        // The client_id must name the client being updated (RFC 7592 §2.2); keep it when the random body is an object.
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch {
          parsed = undefined;
        }
        const payload = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? JSON.stringify({ ...parsed, client_id: created.body.client_id }) : body;
        const res = await fetch(uri, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: payload });
        const text = await res.text();
        let json: Json = {};
        try {
          json = JSON.parse(text) as Json;
        } catch {
          json = {};
        }
        const answer: HttpResult = { status: res.status, headers: res.headers, body: json, text };
        const problem = answerProblem(answer, 200);
        if (problem) throw new Error(problem);
        if (res.status === 200) {
          const violations = policyViolations(json);
          if (violations.length) throw new Error(`accepted an update that breaks the policy: ${violations.join('; ')}\n${text.slice(0, 1000)}`);
          return;
        }
        const after = await manage('GET', uri, token);
        if (after.status !== 200 || JSON.stringify(after.body) !== JSON.stringify(before.body)) {
          throw new Error(`a refused update (${res.status} ${text.slice(0, 200)}) changed the registration: ${after.status} ${after.text.slice(0, 500)}`);
        }
      }),
    );
  }, Math.max(120_000, fuzzTimeout(150, PUT_RUNS_PER_LANE * LANES)));
});

// ---------------------------------------------------------------------------------------------------------------
// Counterexamples the properties found, kept as plain examples

describe('metadata holding characters PostgreSQL cannot store (U+0000, unpaired surrogates)', () => {
  const countClients = async () => Number((await gh.services.handle.db('oidc_payloads').where({ model: 'Client' }).count({ n: '*' }))[0]!.n);

  it('a client_name holding U+0000 is answered 201 or 400, never 500, and a refusal leaves no half-registered client', async () => {
    const before = await countClients();
    const res = await postRegistration(gh.issuer, { redirect_uris: ['http://127.0.0.1:43111/callback'], token_endpoint_auth_method: 'none', client_name: 'Evil\u0000Client' });
    expect([201, 400]).toContain(res.status);
    if (res.status === 400) {
      expect(res.body.error).toBe('invalid_client_metadata');
      expect(await countClients()).toBe(before);
    } else {
      expect((await manage('GET', res.body.registration_client_uri, res.body.registration_access_token)).status).toBe(200);
    }
  });

  it('a refusal of a value holding U+0000 is audited with its reason (one character must not keep a refusal out of the log)', async () => {
    const before = (await gh.services.audit.recent({ type: 'registration.refused', limit: 1 }))[0]?.id ?? 0;
    const res = await postRegistration(gh.issuer, { redirect_uris: [`http://nul.example/\u0000cb`], token_endpoint_auth_method: 'none' });
    expect(res.status).toBe(400);
    const events = await gh.services.audit.recent({ type: 'registration.refused', limit: 50 });
    expect(events.some((e) => Number(e.id) > Number(before) && /NUL/.test(String(e.reason)))).toBe(true);
  });

  it('a registration whose client_name holds an unpaired surrogate is refused (invalid_client_metadata), audited, and stores nothing', async () => {
    const before = await countClients();
    const res = await postRegistration(gh.issuer, { redirect_uris: ['http://127.0.0.1:43111/callback'], token_endpoint_auth_method: 'none', client_name: 'half \ud800 pair' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_client_metadata');
    expect(await countClients()).toBe(before);
    const events = await gh.services.audit.recent({ type: 'registration.refused', limit: 50 });
    expect(events.some((e) => /lone surrogate/.test(String(e.reason)))).toBe(true);
  });
});
