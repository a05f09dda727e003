// The admin API's connections (docs/ADMIN-API.md, "Connections") over real HTTP: add, get (versioned), replace with
// If-Match (an omitted client secret kept, a stale version 409), test, remove; validation naming the API's field;
// the environment's connection and one the configuration file manages refused with 409 naming the file; 401, 403 with
// admin:read and for a non-admin person's console session; pagination; one audit event per change naming the API
// client; the client secret in no answer and no audit row; every answer checked against the OpenAPI document.
import { createHash } from 'node:crypto';
import { consoleSignIn } from '../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { adminApiClient, adminApiToken, call, OpenApiCheck, type ApiAnswer } from '../helpers/admin-api.js';

const PERSON = { email: 'person@example.com', password: 'another horse battery staple' };
const SECRET = 'okta-client-secret-that-must-never-show-42';
const NEW_SECRET = 'the-second-secret-that-must-never-show-43';
const ISSUER = 'https://acme.okta.com/oauth2/default';
const FILE = 'gatehouse.yaml';

let db: TestDatabase;
let gh: TestServer;
let api: string;
let writer: string;
let reader: string;
let writerId: string;
let openapi: OpenApiCheck;
const answers: ApiAnswer[] = [];

const knex = () => gh.services.handle.db;
const events = async (type: string) => (await knex()('audit_events').where({ type }).orderBy('id', 'asc')) as Array<Record<string, any>>;
const details = (row: Record<string, any>) => (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as Record<string, any>;
const of = (rows: Array<Record<string, any>>, id: string) => rows.filter((r) => details(r).id === id);

function checked(operationId: string, answer: ApiAnswer): ApiAnswer {
  openapi.check(operationId, answer);
  answers.push(answer);
  return answer;
}

const okta = (id: string, extra: Record<string, unknown> = {}) => ({ id, kind: 'okta', name: 'Acme', issuer: ISSUER, client_id: 'gh-okta', client_secret: SECRET, ...extra });

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env });
  api = `${gh.issuer}/admin/api/v1`;
  const w = await adminApiClient(gh, 'admin:read admin:write', 'automation');
  writerId = w.id;
  writer = await adminApiToken(gh, w);
  reader = await adminApiToken(gh, await adminApiClient(gh, 'admin:read', 'reporting'), 'admin:read');
  openapi = new OpenApiCheck((await call(`${api}/openapi.json`)).json);
  await gh.services.users.create(PERSON);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

describe('connections', () => {
  it('401 without a token; 403 with admin:read for every write; 403 for a non-admin person\'s session', async () => {
    expect(checked('listConnections', await call(`${api}/connections`))).toMatchObject({ status: 401, json: { error: 'invalid_token' } });
    for (const [id, method, path, body] of [
      ['addConnection', 'POST', '/connections', okta('nope')],
      ['replaceConnection', 'PUT', '/connections/local', { name: 'x' }],
      ['testConnection', 'POST', '/connections/local/test', undefined],
      ['removeConnection', 'DELETE', '/connections/local', undefined],
    ] as const) {
      expect(checked(id, await call(`${api}${path}`, { method, token: reader, body }))).toMatchObject({ status: 403, json: { error: 'insufficient_scope' } });
    }
    expect(await gh.services.connections.find('nope')).toBeUndefined();
    const person = await consoleSignIn(gh.issuer, PERSON.email, PERSON.password);
    const denied = await person.request(`${gh.issuer}/console/api/v1/connections`);
    expect(denied.status).toBe(403);
  });

  it('add: 201 without the secret (has_client_secret), audited once without it; a taken id is 409', async () => {
    const res = checked('addConnection', await call(`${api}/connections`, { method: 'POST', token: writer, body: okta('okta-api', { groups_claim: 'groups' }) }));
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ id: 'okta-api', kind: 'okta', name: 'Acme', issuer: ISSUER, client_id: 'gh-okta', has_client_secret: true, groups_claim: 'groups', source: 'api', managed_by: null });
    expect(res.json).not.toHaveProperty('client_secret');
    expect(res.headers.get('etag')).toBe(`"${res.json.version}"`);
    expect((await gh.services.connections.find('okta-api'))?.clientSecret).toBe(SECRET);
    const taken = checked('addConnection', await call(`${api}/connections`, { method: 'POST', token: writer, body: okta('okta-api') }));
    expect(taken).toMatchObject({ status: 409, json: { error: 'conflict', field: 'id' } });
    expect(of(await events('connection.added'), 'okta-api').map((r) => [r.outcome, r.actor, details(r).via])).toEqual([['success', writerId, 'api_client'], ['failure', writerId, 'api_client']]);
  });

  it('validation: a bad kind, an unknown field, a setting the kind does not read, a missing client id: 400 naming the field', async () => {
    const before = (await gh.services.connections.list()).length;
    const post = (body: unknown) => call(`${api}/connections`, { method: 'POST', token: writer, body });
    expect(checked('addConnection', await post({ kind: 'bogus' }))).toMatchObject({ status: 400, json: { error: 'invalid_request', field: 'kind' } });
    expect(checked('addConnection', await post({ ...okta('x1'), clientSecret: 'camel' })).status).toBe(400);
    expect(checked('addConnection', await post({ ...okta('x2'), hosted_domains: ['example.com'] }))).toMatchObject({ status: 400, json: { field: 'hosted_domains' } });
    const noClient = checked('addConnection', await post({ id: 'x3', kind: 'okta', issuer: ISSUER }));
    expect(noClient).toMatchObject({ status: 400, json: { field: 'client_id' } });
    expect(noClient.json.error_description).toMatch(/^client_id: /);
    expect(checked('addConnection', await post({ ...okta('x4'), store_tokens: 'yes' }))).toMatchObject({ status: 400, json: { field: 'store_tokens' } });
    expect((await gh.services.connections.list()).length).toBe(before);
  });

  it('get: versioned; 404 for an unknown id', async () => {
    const res = checked('getConnection', await call(`${api}/connections/okta-api`, { token: reader }));
    expect(res).toMatchObject({ status: 200, json: { id: 'okta-api', has_client_secret: true } });
    expect(res.headers.get('etag')).toBe(`"${res.json.version}"`);
    expect(checked('getConnection', await call(`${api}/connections/nobody`, { token: reader }))).toMatchObject({ status: 404, json: { error: 'not_found' } });
  });

  it('replace: If-Match with the current version; an omitted secret is kept, a given one replaces it; a stale version is 409 and changes nothing', async () => {
    const current = await call(`${api}/connections/okta-api`, { token: reader });
    const put = (body: unknown, headers: Record<string, string> = {}, id = 'okta-api') => call(`${api}/connections/${id}`, { method: 'PUT', token: writer, body, headers });
    const kept = checked('replaceConnection', await put({ name: 'Acme Okta', issuer: ISSUER, client_id: 'gh-okta-2' }, { 'if-match': current.headers.get('etag')! }));
    expect(kept).toMatchObject({ status: 200, json: { name: 'Acme Okta', client_id: 'gh-okta-2', groups_claim: null, has_client_secret: true } });
    expect((await gh.services.connections.find('okta-api'))?.clientSecret).toBe(SECRET);
    const stale = checked('replaceConnection', await put({ name: 'Lost update', issuer: ISSUER, client_id: 'gh-okta-2', version: current.json.version }));
    expect(stale).toMatchObject({ status: 409, json: { error: 'conflict', field: 'version' } });
    expect((await call(`${api}/connections/okta-api`, { token: reader })).json.name).toBe('Acme Okta');
    const replaced = checked('replaceConnection', await put({ name: 'Acme Okta', issuer: ISSUER, client_id: 'gh-okta-2', client_secret: NEW_SECRET, version: kept.json.version }));
    expect(replaced).toMatchObject({ status: 200, json: { has_client_secret: true } });
    expect((await gh.services.connections.find('okta-api'))?.clientSecret).toBe(NEW_SECRET);
    const removedSecret = checked('replaceConnection', await put({ name: 'Acme Okta', issuer: ISSUER, client_id: 'gh-okta-2', client_secret: null }));
    expect(removedSecret).toMatchObject({ status: 200, json: { has_client_secret: false } });
    expect(checked('replaceConnection', await put({ name: 'Acme Okta', issuer: ISSUER, client_id: 'gh-okta-2', client_secret: NEW_SECRET })).json.has_client_secret).toBe(true);
    expect(checked('replaceConnection', await put({ kind: 'github', client_id: 'x' }))).toMatchObject({ status: 400, json: { field: 'kind' } });
    expect(checked('replaceConnection', await put({ name: 'x' }, {}, 'nobody')).status).toBe(404);
    const updated = of(await events('connection.updated'), 'okta-api');
    expect(updated.map((r) => [r.outcome, r.actor, details(r).via, r.reason])).toEqual([
      ['success', writerId, 'api_client', null],
      ['failure', writerId, 'api_client', 'stale version'],
      ['success', writerId, 'api_client', null],
      ['success', writerId, 'api_client', null],
      ['success', writerId, 'api_client', null],
      ['failure', writerId, 'api_client', 'invalid settings'],
    ]);
    expect(updated.map((r) => details(r).credentialReplaced ?? null)).toEqual([false, null, true, false, true, null]);
  });

  it('test: what discovery found, or the problem in plain words; audited', async () => {
    const local = checked('testConnection', await call(`${api}/connections/local/test`, { method: 'POST', token: writer }));
    expect(local).toMatchObject({ status: 200, json: { connection: { id: 'local' }, ok: true, problem: null, report: null } });
    // A loopback issuer without allow_private_network is refused before any connection is made (docs/SECURITY.md).
    expect(checked('addConnection', await call(`${api}/connections`, { method: 'POST', token: writer, body: { id: 'loopback', kind: 'oidc', issuer: 'http://127.0.0.1:9/', client_id: 'x' } })).status).toBe(201);
    const refused = checked('testConnection', await call(`${api}/connections/loopback/test`, { method: 'POST', token: writer }));
    expect(refused).toMatchObject({ status: 200, json: { ok: false, problem: expect.stringMatching(/^Refused before connecting/), report: null } });
    expect(checked('testConnection', await call(`${api}/connections/nobody/test`, { method: 'POST', token: writer })).status).toBe(404);
    const tested = await events('connection.tested');
    expect(tested.map((r) => [details(r).id, r.outcome, r.actor, details(r).via])).toEqual([['local', 'success', writerId, 'api_client'], ['loopback', 'failure', writerId, 'api_client']]);
  });

  it('enabled: added disabled it is off the sign-in page; enable tests it first (a failure is 409 naming it, nothing changed), anyway=true enables it; disable; audited', async () => {
    const added = checked('addConnection', await call(`${api}/connections`, { method: 'POST', token: writer, body: { id: 'off', kind: 'oidc', name: 'Off IdP', issuer: 'http://127.0.0.1:9/', client_id: 'x', enabled: false } }));
    expect(added).toMatchObject({ status: 201, json: { id: 'off', enabled: false } });
    expect((await gh.services.connections.find('off'))!.enabled).toBe(false);
    // A loopback issuer without allow_private_network fails its test before any connection is made.
    const untested = checked('enableConnection', await call(`${api}/connections/off/enable`, { method: 'POST', token: writer }));
    expect(untested).toMatchObject({ status: 409, json: { error: 'conflict', field: 'enabled', error_description: expect.stringContaining('Refused before connecting') } });
    expect(checked('getConnection', await call(`${api}/connections/off`, { token: reader })).json.enabled).toBe(false);
    expect(checked('enableConnection', await call(`${api}/connections/off/enable?anyway=true`, { method: 'POST', token: writer }))).toMatchObject({ status: 200, json: { enabled: true } });
    expect(checked('enableConnection', await call(`${api}/connections/off/enable`, { method: 'POST', token: writer })).status).toBe(409); // already enabled
    expect(checked('disableConnection', await call(`${api}/connections/off/disable`, { method: 'POST', token: writer }))).toMatchObject({ status: 200, json: { enabled: false } });
    // Replacing the settings keeps the state: a disabled connection stays off the sign-in page.
    expect(checked('replaceConnection', await call(`${api}/connections/off`, { method: 'PUT', token: writer, body: { name: 'Still off', issuer: 'http://127.0.0.1:9/', client_id: 'x' } })).json).toMatchObject({ name: 'Still off', enabled: false });
    expect(checked('disableConnection', await call(`${api}/connections/local/disable`, { method: 'POST', token: writer })).status).toBe(409); // the environment's
    expect(of(await events('connection.enabled'), 'off').map((r) => [r.outcome, r.reason?.slice(0, 30) ?? null])).toEqual([['failure', 'test failed: Refused before co'], ['success', null], ['failure', 'already enabled']]);
    expect(of(await events('connection.disabled'), 'off').map((r) => r.outcome)).toEqual(['success']);
    expect(checked('removeConnection', await call(`${api}/connections/off`, { method: 'DELETE', token: writer })).status).toBe(200);
  });

  it('the environment\'s connection and one the configuration file manages are refused with 409, naming why', async () => {
    const env = checked('removeConnection', await call(`${api}/connections/local`, { method: 'DELETE', token: writer }));
    expect(env).toMatchObject({ status: 409, json: { error: 'conflict' } });
    expect(env.json.error_description).toContain('environment');
    expect(checked('addConnection', await call(`${api}/connections`, { method: 'POST', token: writer, body: okta('managed') })).status).toBe(201);
    await gh.services.connections.setManagedBy('managed', FILE);
    const shown = checked('getConnection', await call(`${api}/connections/managed`, { token: reader }));
    expect(shown.json.managed_by).toBe(FILE);
    const put = checked('replaceConnection', await call(`${api}/connections/managed`, { method: 'PUT', token: writer, body: { name: 'Hijacked', issuer: ISSUER, client_id: 'gh-okta' } }));
    expect(put).toMatchObject({ status: 409, json: { error: 'conflict', field: 'managed_by' } });
    expect(put.json.error_description).toContain(FILE);
    const del = checked('removeConnection', await call(`${api}/connections/managed`, { method: 'DELETE', token: writer }));
    expect(del).toMatchObject({ status: 409, json: { field: 'managed_by' } });
    expect((await gh.services.connections.find('managed'))?.name).toBe('Acme');
    expect(of([...(await events('connection.updated')), ...(await events('connection.removed'))], 'managed').map((r) => [r.type, r.outcome, r.reason])).toEqual([
      ['connection.updated', 'failure', `managed by ${FILE}`],
      ['connection.removed', 'failure', `managed by ${FILE}`],
    ]);
  });

  it('list: the environment\'s first, then by addition, paged over more than one page', async () => {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = checked('listConnections', await call(`${api}/connections?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: reader }));
      expect(res.status).toBe(200);
      ids.push(...res.json.items.map((c: { id: string }) => c.id));
      cursor = res.json.next;
      pages++;
    } while (cursor && pages < 10);
    expect(ids).toEqual(['local', 'okta-api', 'loopback', 'managed']);
    expect(pages).toBe(2);
  });

  it('global logout secret (docs/UNIVERSAL-LOGOUT.md): answered once with the endpoints, only its digest kept, the version moves; removed (again: 409); the environment\'s connection may have one; audited without it', async () => {
    const path = (id: string) => `${api}/connections/${id}/global-logout-secret`;
    const before = checked('getConnection', await call(`${api}/connections/okta-api`, { token: reader }));
    expect(before.json.has_global_logout_secret).toBe(false);
    expect(checked('rotateConnectionGlobalLogoutSecret', await call(path('okta-api'), { method: 'POST', token: reader })).status).toBe(403);
    const made = checked('rotateConnectionGlobalLogoutSecret', await call(path('okta-api'), { method: 'POST', token: writer }));
    expect(made).toMatchObject({
      status: 200,
      json: {
        connection: { id: 'okta-api', has_global_logout_secret: true },
        secret: expect.stringMatching(/^ghgl_[A-Za-z0-9_-]{43}$/),
        global_token_revocation_endpoint: `${gh.issuer}/global-token-revocation`,
        security_events_endpoint: `${gh.issuer}/ssf/events/okta-api`,
      },
    });
    expect(made.json.connection.version).not.toBe(before.json.version);
    const stored = (await knex()('upstream_connections').where({ id: 'okta-api' }).first('global_logout_secret_hash')) as { global_logout_secret_hash: string };
    expect(stored.global_logout_secret_hash).toBe(createHash('sha256').update(made.json.secret).digest('base64url'));
    expect(checked('getConnection', await call(`${api}/connections/okta-api`, { token: reader })).json).not.toHaveProperty('secret');
    expect(checked('clearConnectionGlobalLogoutSecret', await call(path('okta-api'), { method: 'DELETE', token: writer }))).toMatchObject({ status: 200, json: { id: 'okta-api', has_global_logout_secret: false } });
    expect(checked('clearConnectionGlobalLogoutSecret', await call(path('okta-api'), { method: 'DELETE', token: writer }))).toMatchObject({ status: 409, json: { error: 'conflict' } });
    expect(checked('rotateConnectionGlobalLogoutSecret', await call(path('nope'), { method: 'POST', token: writer })).status).toBe(404);
    const env = checked('rotateConnectionGlobalLogoutSecret', await call(path('local'), { method: 'POST', token: writer }));
    expect(env).toMatchObject({ status: 200, json: { connection: { id: 'local', source: 'env', has_global_logout_secret: true } } });
    expect(checked('clearConnectionGlobalLogoutSecret', await call(path('local'), { method: 'DELETE', token: writer })).status).toBe(200);
    expect(of(await events('connection.global_logout_secret_rotated'), 'okta-api').map((r) => [r.outcome, r.actor, details(r).via])).toEqual([['success', writerId, 'api_client']]);
    expect(of(await events('connection.global_logout_secret_cleared'), 'okta-api').map((r) => r.outcome)).toEqual(['success', 'failure']);
    const audited = JSON.stringify(await knex()('audit_events').select('*'));
    expect(audited).not.toContain(made.json.secret);
    expect(audited).not.toContain(env.json.secret);
  });

  it('remove: 200 with what was removed, audited once; again 404', async () => {
    const res = checked('removeConnection', await call(`${api}/connections/okta-api`, { method: 'DELETE', token: writer }));
    expect(res).toMatchObject({ status: 200, json: { id: 'okta-api', kind: 'okta' } });
    expect(checked('removeConnection', await call(`${api}/connections/okta-api`, { method: 'DELETE', token: writer })).status).toBe(404);
    expect(of(await events('connection.removed'), 'okta-api').map((r) => [r.outcome, r.actor, details(r).via])).toEqual([['success', writerId, 'api_client']]);
  });

  it('no answer and no audit row holds a client secret', async () => {
    const all = JSON.stringify(answers.map((a) => a.json)) + JSON.stringify(await knex()('audit_events').select('*'));
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(NEW_SECRET);
  });
});
