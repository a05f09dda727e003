// The admin API's clients and its common behaviour (docs/ADMIN-API.md) over real HTTP: tokens of admin API clients
// (read and write), every refusal in the one error shape, optimistic updates, pagination, the console-session form
// with its CSRF header, one audit event per change naming the actor, and every answer checked against the OpenAPI
// document the server publishes — which must equal the one checked into docs/.
import { readFileSync } from 'node:fs';
import { consoleSignIn, csrfOf, type ConsoleBrowser } from '../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { postRegistration } from '../helpers/registration.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { adminApiClient, adminApiToken, call, OpenApiCheck, type ApiAnswer } from '../helpers/admin-api.js';
import { adminApiDocument } from '../../src/admin-api/index.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const PERSON = { email: 'person@example.com', password: 'another horse battery staple' };

let db: TestDatabase;
let gh: TestServer;
let api: string;
let writer: string;
let reader: string;
let writerId: string;
let openapi: OpenApiCheck;
let admin: ConsoleBrowser;

const knex = () => gh.services.handle.db;
const events = async (type: string) => (await knex()('audit_events').where({ type }).orderBy('id', 'asc')) as Array<Record<string, any>>;
const details = (row: Record<string, any>) => (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as Record<string, any>;

function checked(operationId: string, answer: ApiAnswer): ApiAnswer {
  openapi.check(operationId, answer);
  return answer;
}

beforeAll(async () => {
  db = await createTestDatabase();
  // A long ACCESS_TOKEN_TTL: admin API tokens are capped at 15 minutes all the same.
  gh = await startTestServer({ ...db.env, ACCESS_TOKEN_TTL: '7200' });
  api = `${gh.issuer}/admin/api/v1`;
  const w = await adminApiClient(gh, 'admin:read admin:write', 'automation');
  writerId = w.id;
  writer = await adminApiToken(gh, w);
  reader = await adminApiToken(gh, await adminApiClient(gh, 'admin:read', 'reporting'), 'admin:read');
  openapi = new OpenApiCheck((await call(`${api}/openapi.json`)).json);
  await gh.services.users.create(ADMIN);
  await gh.services.users.create(PERSON);
  admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

describe('the OpenAPI document', () => {
  it('is served, is OpenAPI 3.1 and equals docs/admin-api.openapi.json (regenerate with npm run openapi)', async () => {
    const served = await call(`${api}/openapi.json`);
    expect(served.status).toBe(200);
    expect(served.json.openapi).toBe('3.1.0');
    expect(served.json).toEqual(adminApiDocument());
    expect(JSON.parse(readFileSync('docs/admin-api.openapi.json', 'utf8'))).toEqual(served.json);
  });
});

describe('tokens', () => {
  it('an admin API client gets a token for the admin API only, with the scopes it was given', async () => {
    const w = await adminApiClient(gh, 'admin:read', 'reader-2');
    const basic = `Basic ${Buffer.from(`${w.id}:${w.secret}`).toString('base64')}`;
    const token = (body: Record<string, string>) => fetch(`${gh.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }, body: new URLSearchParams({ grant_type: 'client_credentials', ...body }) });
    const write = await token({ resource: api, scope: 'admin:read admin:write' });
    expect(write.status).toBe(400); // admin:write was not given to it
    expect(((await write.json()) as { error: string }).error).toBe('invalid_scope');
    const read = (await (await token({ resource: api, scope: 'admin:read' })).json()) as { scope?: string };
    expect(read.scope).toBe('admin:read');
    const noScope = (await (await token({ resource: api })).json()) as { scope?: string };
    expect(noScope.scope).toBe('admin:read'); // none asked: what it was given
    const noResource = (await (await token({})).json()) as { scope?: string; access_token?: string };
    expect(noResource.scope).toBe('admin:read'); // its one audience is the admin API
    expect((await call(`${api}/me`, { token: noResource.access_token! })).status).toBe(200);
    const mcp = await token({ resource: 'https://mcp.example.test/mcp', scope: 'admin:read' });
    expect(mcp.status).toBe(400);
    expect(((await mcp.json()) as { error: string }).error).toBe('invalid_target');
  });

  it('an admin API token lives at most 15 minutes, whatever ACCESS_TOKEN_TTL says', async () => {
    const w = await adminApiClient(gh, 'admin:read', 'ttl');
    const res = await fetch(`${gh.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${w.id}:${w.secret}`).toString('base64')}` }, body: new URLSearchParams({ grant_type: 'client_credentials' }) });
    const json = (await res.json()) as { expires_in: number; access_token: string };
    expect(json.expires_in).toBeLessThanOrEqual(900);
    const claims = JSON.parse(Buffer.from(json.access_token.split('.')[1]!, 'base64url').toString()) as { exp: number; iat: number };
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(900);
  });

  it('asking for a scope the client was not given is invalid_scope, not a token without it', async () => {
    const w = await adminApiClient(gh, 'admin:read', 'asks-too-much');
    const res = await fetch(`${gh.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${w.id}:${w.secret}`).toString('base64')}` }, body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'admin:write' }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_scope');
  });

  it('a token dies with its client: deleted and created again under the same id, the old token is refused', async () => {
    const { CONFIG_ACTOR } = await import('../../src/admin/actor.js');
    const services = gh.services;
    const admin = (await import('../../src/admin/index.js')).adminServices({
      config: services.config, db: services.handle.db, box: services.box, provider: () => gh.holder.provider, registry: services.registry, cimdClients: services.cimdClients, resources: services.resources,
      accounts: services.accounts, users: services.users, connections: services.connections, policy: services.policy, audit: services.audit, log: services.log,
      sessions: { destroyForAccount: async () => undefined }, reloadKeys: async () => undefined,
    });
    await admin.clients.create(CONFIG_ACTOR, { name: 'Reborn', redirectUris: [], confidential: true, adminApi: 'admin:read admin:write', clientId: 'reborn-admin', clientSecret: 'a-secret-of-at-least-thirty-two-characters' });
    const old = await adminApiToken(gh, { id: 'reborn-admin', secret: 'a-secret-of-at-least-thirty-two-characters' });
    expect((await call(`${api}/me`, { token: old })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100)); // a new second: the new client's issued-at is after the old token's
    await admin.clients.remove(CONFIG_ACTOR, 'reborn-admin');
    await admin.clients.create(CONFIG_ACTOR, { name: 'Reborn', redirectUris: [], confidential: true, adminApi: 'admin:read', clientId: 'reborn-admin', clientSecret: 'a-secret-of-at-least-thirty-two-characters' });
    await new Promise((r) => setTimeout(r, 2100)); // the registry's and the adapter's per-instance caches (2 s)
    const refused = await call(`${api}/clients`, { method: 'POST', token: old, body: { name: 'written with an old token', confidential: true } });
    expect(refused.status).toBe(401);
  });

  it('an ordinary machine client cannot get a token for the admin API', async () => {
    const s = gh.services;
    const { addStaticClient } = await import('../../src/oauth/static-clients.js');
    const m = await addStaticClient({ db: s.handle.db, box: s.box, provider: gh.holder.provider, registry: s.registry }, { name: 'machine', redirectUris: [], confidential: true });
    const res = await fetch(`${gh.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${m.client_id}:${m.client_secret}`).toString('base64')}` }, body: new URLSearchParams({ grant_type: 'client_credentials', resource: api, scope: 'admin:read admin:write' }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_target');
  });

  it('a DCR client cannot assert the admin API property', async () => {
    const res = await postRegistration(gh.issuer, { client_name: 'x', redirect_uris: ['http://127.0.0.1:9/cb'], gatehouse_admin_api: 'admin:read admin:write' });
    expect(res.status).toBe(400);
  });
});

describe('authentication and scopes', () => {
  it('401 without a token, with a Bearer challenge; 401 for a token of another audience or an altered one', async () => {
    const none = checked('listClients', await call(`${api}/clients`));
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="gatehouse-admin-api"');
    const altered = checked('listClients', await call(`${api}/clients`, { token: `${writer.slice(0, -4)}AAAA` }));
    expect(altered.status).toBe(401);
    expect(altered.json.error).toBe('invalid_token');
    const basic = checked('listClients', await call(`${api}/clients`, { headers: { authorization: 'Basic YTpi' } }));
    expect(basic.status).toBe(401);
  });

  it('403 insufficient_scope for a write with admin:read; the read itself works', async () => {
    expect(checked('listClients', await call(`${api}/clients`, { token: reader })).status).toBe(200);
    const write = checked('createClient', await call(`${api}/clients`, { method: 'POST', token: reader, body: { name: 'x', redirect_uris: ['http://127.0.0.1:9/cb'] } }));
    expect(write.status).toBe(403);
    expect(write.json.error).toBe('insufficient_scope');
    expect((await events('client.created')).filter((r) => details(r).name === 'x')).toHaveLength(0);
    expect((await events('admin_api.refused')).some((r) => /admin:write/.test(String(r.reason)))).toBe(true);
  });

  it('a token stops working once its client is disabled', async () => {
    const c = await adminApiClient(gh, 'admin:read', 'short-lived');
    const token = await adminApiToken(gh, c, 'admin:read');
    expect((await call(`${api}/me`, { token })).status).toBe(200);
    expect(checked('disableClient', await call(`${api}/clients/${c.id}/disable`, { method: 'POST', token: writer })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100)); // the registry's per-instance gate cache (2 s)
    const after = await call(`${api}/me`, { token });
    expect(after.status).toBe(401);
  });

  it('403 for a non-admin person\'s console session; an admin\'s session reads and, with the CSRF header, writes', async () => {
    const person = await consoleSignIn(gh.issuer, PERSON.email, PERSON.password);
    const denied = await person.request(`${gh.issuer}/console/api/v1/clients`);
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: string }).error).toBe('access_denied');

    const list = await admin.request(`${gh.issuer}/console/api/v1/clients`);
    expect(list.status).toBe(200);
    const me = (await (await admin.request(`${gh.issuer}/console/api/v1/me`)).json()) as { kind: string; label: string };
    expect(me).toMatchObject({ kind: 'person', label: ADMIN.email });

    const body = JSON.stringify({ name: 'from the browser', redirect_uris: ['http://127.0.0.1:9/cb'] });
    const noCsrf = await admin.request(`${gh.issuer}/console/api/v1/clients`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(noCsrf.status).toBe(403);
    const csrf = csrfOf((await admin.page('/clients')).html);
    const crossSite = await admin.request(`${gh.issuer}/console/api/v1/clients`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, origin: 'https://evil.example' }, body });
    expect(crossSite.status).toBe(403);
    const ok = await admin.request(`${gh.issuer}/console/api/v1/clients`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body });
    expect(ok.status).toBe(201);
    const created = (await ok.json()) as { client: { client_id: string } };
    const row = (await events('client.created')).find((r) => r.client_id === created.client.client_id)!;
    expect(row.actor).toBe(ADMIN.email);
    expect(details(row).via).toBe('person');
  });

  it('the console session is not accepted at /admin/api/v1, nor a token at /console/api/v1', async () => {
    expect((await admin.request(`${api}/clients`)).status).toBe(401);
    expect((await call(`${gh.issuer}/console/api/v1/clients`, { token: writer })).status).toBe(401);
  });
});

describe('clients', () => {
  let created: { client_id: string };
  let firstSecret: string;

  it('create: 201, the secret once, audited once with the API client as actor', async () => {
    const res = checked('createClient', await call(`${api}/clients`, { method: 'POST', token: writer, body: { name: 'Build bot', confidential: true } }));
    expect(res.status).toBe(201);
    expect(res.json.client_secret).toEqual(expect.any(String));
    expect(res.json.client).toMatchObject({ kind: 'static', status: 'active', name: 'Build bot', confidential: true });
    created = res.json.client;
    firstSecret = res.json.client_secret;
    const rows = (await events('client.created')).filter((r) => r.client_id === created.client_id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.actor).toBe(writerId);
    expect(details(rows[0]!)).toMatchObject({ via: 'api_client', actorId: writerId });
    expect(JSON.stringify(rows[0])).not.toContain(res.json.client_secret);
  });

  it('validation: unknown fields, wrong types and bad redirect URIs are 400 naming the field, nothing written', async () => {
    const successes = async () => (await events('client.created')).filter((r) => r.outcome === 'success').length;
    const before = await successes();
    const unknown = checked('createClient', await call(`${api}/clients`, { method: 'POST', token: writer, body: { name: 'x', redirect_uris: ['http://127.0.0.1:9/cb'], gatehouse_resource: 'https://x' } }));
    expect(unknown.status).toBe(400);
    const wrongType = checked('createClient', await call(`${api}/clients`, { method: 'POST', token: writer, body: { name: 42 } }));
    expect(wrongType).toMatchObject({ status: 400, json: { error: 'invalid_request', field: 'name' } });
    const badUri = checked('createClient', await call(`${api}/clients`, { method: 'POST', token: writer, body: { name: 'x', redirect_uris: ['javascript:alert(1)'] } }));
    expect(badUri).toMatchObject({ status: 400, json: { error: 'invalid_request', field: 'redirect_uris' } });
    const notJson = await call(`${api}/clients`, { method: 'POST', token: writer, body: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(notJson.status).toBe(415);
    const badJson = await call(`${api}/clients`, { method: 'POST', token: writer, body: '{"name":', headers: { 'content-type': 'application/json' } });
    expect(badJson.status).toBe(400);
    expect(await successes()).toBe(before);
  });

  it('get: the client with its version as ETag; not found is 404 in the error shape', async () => {
    const res = checked('getClient', await call(`${api}/clients/${created.client_id}`, { token: reader }));
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${res.json.version}"`);
    const missing = checked('getClient', await call(`${api}/clients/gh_nobody`, { token: reader }));
    expect(missing).toMatchObject({ status: 404, json: { error: 'not_found' } });
  });

  it('update: If-Match with the current version changes it; a stale version is 409 and changes nothing', async () => {
    const current = await call(`${api}/clients/${created.client_id}`, { token: reader });
    const ok = checked('updateClient', await call(`${api}/clients/${created.client_id}`, { method: 'PATCH', token: writer, body: { name: 'Build bot 2' }, headers: { 'if-match': current.headers.get('etag')! } }));
    expect(ok.status).toBe(200);
    expect(ok.json.name).toBe('Build bot 2');
    const stale = checked('updateClient', await call(`${api}/clients/${created.client_id}`, { method: 'PATCH', token: writer, body: { name: 'Lost update', version: current.json.version } }));
    expect(stale).toMatchObject({ status: 409, json: { error: 'conflict', field: 'version' } });
    expect((await call(`${api}/clients/${created.client_id}`, { token: reader })).json.name).toBe('Build bot 2');
    expect((await events('client.updated')).filter((r) => r.client_id === created.client_id && r.outcome === 'success')).toHaveLength(1);
  });

  it('an admin API client gets no redirect URIs: a person\'s code must never reach the admin API', async () => {
    const w = await adminApiClient(gh, 'admin:read', 'no-redirects');
    const res = checked('updateClient', await call(`${api}/clients/${w.id}`, { method: 'PATCH', token: writer, body: { redirect_uris: ['http://127.0.0.1/cb'] } }));
    expect(res.status).toBe(400);
    expect(res.json.error_description).toMatch(/gatehouse_admin_api/);
    expect((await call(`${api}/clients/${w.id}`, { token: reader })).json.grant_types).toEqual(['client_credentials']);
  });

  it('concurrent changes run one at a time: of 20 updates based on one version exactly one wins, the rest are 409', async () => {
    const current = await call(`${api}/clients/${created.client_id}`, { token: reader });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => call(`${api}/clients/${created.client_id}`, { method: 'PATCH', token: writer, body: { name: `racer ${i}` }, headers: { 'if-match': current.headers.get('etag')! } })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, ...Array(19).fill(409)]);
    const creates = await Promise.all(Array.from({ length: 5 }, () => call(`${api}/clients/${created.client_id}/disable`, { method: 'POST', token: writer })));
    expect(creates.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409]);
    expect(checked('enableClient', await call(`${api}/clients/${created.client_id}/enable`, { method: 'POST', token: writer })).status).toBe(200);
  });

  it('update: a refused redirect URI or an empty name is 400 naming the field, audited, nothing changed; a dynamic client is 409', async () => {
    const before = (await call(`${api}/clients/${created.client_id}`, { token: reader })).json;
    const since = Number(((await knex()('audit_events').max('id as max').first()) as { max: number | string }).max);
    const badUri = checked('updateClient', await call(`${api}/clients/${created.client_id}`, { method: 'PATCH', token: writer, body: { name: 'Half written', redirect_uris: ['javascript:alert(1)'] } }));
    expect(badUri).toMatchObject({ status: 400, json: { error: 'invalid_request', field: 'redirect_uris' } });
    const blank = checked('updateClient', await call(`${api}/clients/${created.client_id}`, { method: 'PATCH', token: writer, body: { name: '   ' } }));
    expect(blank).toMatchObject({ status: 400, json: { error: 'invalid_request', field: 'name' } });
    expect((await call(`${api}/clients/${created.client_id}`, { token: reader })).json).toEqual(before);
    expect((await events('client.updated')).filter((r) => r.client_id === created.client_id && Number(r.id) > since).map((r) => r.outcome)).toEqual(['failure', 'failure']);
    const dcr = await postRegistration(gh.issuer, { client_name: 'Self-described', redirect_uris: ['http://127.0.0.1:9/cb'] });
    const dynamic = checked('updateClient', await call(`${api}/clients/${String(dcr.body.client_id)}`, { method: 'PATCH', token: writer, body: { name: 'Renamed by an admin' } }));
    expect(dynamic).toMatchObject({ status: 409, json: { error: 'conflict', error_description: expect.stringContaining('RFC 7592') } });
  });

  it('rotate-secret: a new secret once; the old one no longer gets tokens, at once', async () => {
    const token = (secret: string) =>
      fetch(`${gh.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${created.client_id}:${secret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: 'https://mcp.example.test/mcp' }),
      });
    expect((await token(firstSecret)).status).toBe(200); // cached on this instance now
    const res = checked('rotateClientSecret', await call(`${api}/clients/${created.client_id}/rotate-secret`, { method: 'POST', token: writer }));
    expect(res.status).toBe(200);
    expect(res.json.client_secret).toEqual(expect.any(String));
    const old = await token(firstSecret);
    expect(old.status).toBe(401);
    expect(((await old.json()) as { error: string }).error).toBe('invalid_client');
    expect((await token(res.json.client_secret)).status).toBe(200);
    expect((await events('client.secret_rotated')).filter((r) => r.client_id === created.client_id)).toHaveLength(1);
  });

  it('disable / enable / approve: a change that does not apply is 409, audited as a failure', async () => {
    const since = Number(((await knex()('audit_events').max('id as max').first()) as { max: number | string }).max);
    expect(checked('disableClient', await call(`${api}/clients/${created.client_id}/disable`, { method: 'POST', token: writer })).json.status).toBe('disabled');
    const again = checked('disableClient', await call(`${api}/clients/${created.client_id}/disable`, { method: 'POST', token: writer }));
    expect(again).toMatchObject({ status: 409, json: { error: 'conflict' } });
    expect((await events('client.disabled')).filter((r) => r.client_id === created.client_id && Number(r.id) > since).map((r) => r.outcome)).toEqual(['success', 'failure']);
    expect(checked('enableClient', await call(`${api}/clients/${created.client_id}/enable`, { method: 'POST', token: writer })).json.status).toBe('active');
    expect(checked('approveClient', await call(`${api}/clients/${created.client_id}/approve`, { method: 'POST', token: writer })).status).toBe(409);
  });

  it('a CIMD client id is a URL: percent-encoded in the path it is found (404 here: never seen)', async () => {
    const res = checked('getClient', await call(`${api}/clients/${encodeURIComponent('https://app.example.com/client.json')}`, { token: reader }));
    expect(res.status).toBe(404);
  });

  it('list: filtered and paged over more than one page with the cursor', async () => {
    for (let i = 0; i < 5; i++) {
      await postRegistration(gh.issuer, { client_name: `dyn ${i}`, redirect_uris: ['http://127.0.0.1:9/cb'] });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = checked('listClients', await call(`${api}/clients?kind=dcr&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: reader }));
      expect(res.status).toBe(200);
      expect(res.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.json.items.map((c: { client_id: string; kind: string }) => (expect(c.kind).toBe('dcr'), c.client_id)));
      cursor = res.json.next;
      pages++;
    } while (cursor);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBeGreaterThanOrEqual(5);
    const bogus = checked('listClients', await call(`${api}/clients?status=bogus`, { token: reader }));
    expect(bogus).toMatchObject({ status: 400, json: { field: 'status' } });
    const badCursor = checked('listClients', await call(`${api}/clients?cursor=nonsense`, { token: reader }));
    expect(badCursor).toMatchObject({ status: 400, json: { field: 'cursor' } });
    const unknownParam = checked('listClients', await call(`${api}/clients?colour=red`, { token: reader }));
    expect(unknownParam.status).toBe(400);
  });

  it('delete: 200 with the grants revoked, audited; again 404', async () => {
    const res = checked('deleteClient', await call(`${api}/clients/${created.client_id}`, { method: 'DELETE', token: writer }));
    expect(res).toMatchObject({ status: 200, json: { client_id: created.client_id, grants_revoked: 0 } });
    expect((await events('client.deleted')).filter((r) => r.client_id === created.client_id)).toHaveLength(1);
    expect(checked('deleteClient', await call(`${api}/clients/${created.client_id}`, { method: 'DELETE', token: writer })).status).toBe(404);
  });
});

describe('preconditions', () => {
  it('If-Match holds on every change that names a version: actions and delete too; weak tags never match; one version only', async () => {
    const c = (await call(`${api}/clients`, { method: 'POST', token: writer, body: { name: 'Preconditioned', confidential: true } })).json.client as { client_id: string };
    const etag = (await call(`${api}/clients/${c.client_id}`, { token: reader })).headers.get('etag')!;
    for (const [method, path] of [['POST', '/disable'], ['POST', '/rotate-secret'], ['DELETE', '']] as const) {
      const stale = checked(path === '' ? 'deleteClient' : path === '/disable' ? 'disableClient' : 'rotateClientSecret', await call(`${api}/clients/${c.client_id}${path}`, { method, token: writer, headers: { 'if-match': '"stale"' } }));
      expect(stale).toMatchObject({ status: 409, json: { error: 'conflict', field: 'version' } });
    }
    expect((await call(`${api}/clients/${c.client_id}/disable`, { method: 'POST', token: writer, headers: { 'if-match': `W/${etag}` } })).status).toBe(409);
    expect((await call(`${api}/clients/${c.client_id}/disable`, { method: 'POST', token: writer, headers: { 'if-match': `${etag}, "other"` } })).status).toBe(400);
    expect((await call(`${api}/clients/${c.client_id}`, { method: 'PATCH', token: writer, body: { name: 'x', version: 'other' }, headers: { 'if-match': etag } })).status).toBe(400);
    expect((await call(`${api}/audit`, { token: writer, headers: { 'if-match': etag } })).status).toBe(400);
    expect((await call(`${api}/clients/${c.client_id}`, { token: reader })).json.status).toBe('active');
    const ok = checked('disableClient', await call(`${api}/clients/${c.client_id}/disable`, { method: 'POST', token: writer, headers: { 'if-match': etag } }));
    expect(ok.json.status).toBe('disabled');
    expect(checked('deleteClient', await call(`${api}/clients/${c.client_id}`, { method: 'DELETE', token: writer, headers: { 'if-match': '*' } })).status).toBe(200);
  });

  it('no MCP server at a URL of Gatehouse\'s own: the admin API, the issuer, the token endpoint', async () => {
    for (const uri of [api, `${api}/`, gh.issuer, `${gh.issuer}/token`, `${gh.issuer}/console`]) {
      const res = checked('createMcpServer', await call(`${api}/mcp-servers`, { method: 'POST', token: writer, body: { uri, name: 'Impostor', scopes: { 'admin:write': 'w' } } }));
      expect(res).toMatchObject({ status: 400, json: { field: 'uri' } });
    }
  });

  it('a program cannot lock every administrator out of the console (the CLI stays the way back in)', async () => {
    const res = await call(`${api}/policy/ALLOWED_EMAIL_DOMAINS`, { method: 'PUT', token: writer, body: { value: 'other.example' } });
    expect(res.status).toBe(400);
    expect(res.json.error_description).toMatch(/every administrator/);
    expect(await gh.services.policy.get('ALLOWED_EMAIL_DOMAINS')).toEqual([]);
    const fine = await call(`${api}/policy/ALLOWED_EMAIL_DOMAINS`, { method: 'PUT', token: writer, body: { value: 'example.com, other.example' } });
    expect(fine.status).toBe(200);
    expect((await call(`${api}/policy/ALLOWED_EMAIL_DOMAINS`, { method: 'DELETE', token: writer })).status).toBe(200);
  });
});

describe('a client the configuration file manages', () => {
  it('is refused to the API and the console with a 409 naming the file; the console shows whose it is', async () => {
    const res = await call(`${api}/clients`, { method: 'POST', token: writer, body: { name: 'Managed one', redirect_uris: ['http://127.0.0.1:9/cb'] } });
    const id = res.json.client.client_id as string;
    await gh.services.registry.setManagedBy(id, 'gatehouse.yaml');
    const refused = checked('disableClient', await call(`${api}/clients/${id}/disable`, { method: 'POST', token: writer }));
    expect(refused).toMatchObject({ status: 409, json: { error: 'conflict', field: 'managed_by' } });
    expect(refused.json.error_description).toContain('gatehouse.yaml');
    expect(checked('getClient', await call(`${api}/clients/${id}`, { token: reader })).json.managed_by).toBe('gatehouse.yaml');
    const page = await admin.page(`/clients/${encodeURIComponent(id)}`);
    expect(page.html).toContain('data-managed-by="gatehouse.yaml"');
    expect(page.html).not.toContain(`aria-label="Disable Managed one"`);
    const posted = await admin.submit(`/clients/${encodeURIComponent(id)}/disable`, '/clients', {});
    expect(posted.status).toBe(409);
    expect(await posted.text()).toContain('gatehouse.yaml');
    expect((await call(`${api}/clients/${id}`, { token: reader })).json.status).toBe('active');
    const failures = (await events('client.disabled')).filter((r) => r.client_id === id);
    expect(failures.map((r) => [r.outcome, details(r).via])).toEqual([['failure', 'api_client'], ['failure', 'person']]);
  });
});

describe('audit', () => {
  it('query: filtered, newest first, paged by cursor over more than one page; a bad filter names the field', async () => {
    const ids: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = checked('queryAudit', await call(`${api}/audit?type=client.*&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: reader }));
      expect(res.status).toBe(200);
      for (const e of res.json.items) expect(e.type.startsWith('client.')).toBe(true);
      ids.push(...res.json.items.map((e: { id: number }) => e.id));
      cursor = res.json.next;
      pages++;
    } while (cursor && pages < 50);
    expect(pages).toBeGreaterThan(1);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(ids.length);
    const bad = checked('queryAudit', await call(`${api}/audit?from=yesterday`, { token: reader }));
    expect(bad).toMatchObject({ status: 400, json: { error: 'invalid_request', field: 'from' } });
  });

  it('export: JSON Lines of the filter, cut at limit with a cursor that continues below; audited with the actor', async () => {
    const all = await call(`${api}/audit/export?type=client.*`, { token: reader });
    expect(all.status).toBe(200);
    expect(all.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const everything = String(all.json ?? '').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: number; type: string });
    expect(everything.length).toBeGreaterThan(4);
    const first = await fetch(`${api}/audit/export?type=client.*&limit=2`, { headers: { authorization: `Bearer ${reader}` } });
    const next = first.headers.get('gatehouse-next-cursor');
    expect(next).toBeTruthy();
    const firstLines = (await first.text()).trim().split('\n').map((l) => JSON.parse(l) as { id: number });
    const second = await fetch(`${api}/audit/export?type=client.*&limit=2&cursor=${encodeURIComponent(next!)}`, { headers: { authorization: `Bearer ${reader}` } });
    const secondLines = (await second.text()).trim().split('\n').map((l) => JSON.parse(l) as { id: number });
    expect([...firstLines, ...secondLines].map((l) => l.id)).toEqual(everything.slice(0, 4).map((l) => l.id));
    const exported = await events('audit.exported');
    expect(exported.length).toBeGreaterThanOrEqual(3);
    expect(details(exported[exported.length - 1]!)).toMatchObject({ via: 'api_client', format: 'jsonl' });
  });
});

describe('the edge', () => {
  it('other spellings of the API path are 404; an unknown operation is 404 and a wrong method 405, in the error shape', async () => {
    for (const spelling of ['/Admin/api/v1/clients', '/admin/api/v1//clients', '/admin/api/v1/%63lients', '/admin/api/v1/clients/', '/admin/api/v1/CLIENTS']) {
      expect((await call(`${gh.issuer}${spelling}`, { token: writer })).status).toBe(404);
    }
    expect((await call(`${api}/nothing`, { token: writer })).json.error).toBe('not_found');
    const wrong = await call(`${api}/clients`, { method: 'PUT', token: writer, body: {} });
    expect(wrong.status).toBe(405);
  });
});
