// The admin API's people, grants, signing keys and registration tokens (docs/ADMIN-API.md) over real HTTP: every
// operation's success and refusals (validation 400 naming the field, 404, 409 for a change that does not apply, 401
// without a token, 403 for a write with admin:read and for a non-admin person's console session), pagination over more
// than one page, one audit event per change naming the API client, no password, private key or token value in any
// answer or audit row, and every answer checked against the published OpenAPI document. The CLI beside the server
// answers the same JSON (its --json output is the API's answer) and refuses bad values before anything runs.
import { oneJson, runCli } from '../helpers/cli.js';
import { consoleSignIn } from '../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { authorizeThrough, Browser, pkcePair, registerPublicClient } from '../helpers/browser-flow.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { adminApiClient, adminApiToken, call, OpenApiCheck, type ApiAnswer } from '../helpers/admin-api.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const PERSON = { email: 'person@example.com', password: 'another horse battery staple' };
const REDIRECT = 'http://127.0.0.1:9/cb';

let db: TestDatabase;
let gh: TestServer;
let api: string;
let writer: string;
let reader: string;
let writerId: string;
let openapi: OpenApiCheck;

const knex = () => gh.services.handle.db;
const events = async (type: string) => (await knex()('audit_events').where({ type }).orderBy('id', 'asc')) as Array<Record<string, any>>;
const details = (row: Record<string, any>) => (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as Record<string, any>;

function checked(operationId: string, answer: ApiAnswer): ApiAnswer {
  openapi.check(operationId, answer);
  return answer;
}

/** Every page of a list, `limit` at a time: the items and how many pages it took. */
async function allPages(operationId: string, url: string, limit: number): Promise<{ items: any[]; pages: number }> {
  const items: any[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = checked(operationId, await call(`${url}${url.includes('?') ? '&' : '?'}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: reader }));
    expect(res.status).toBe(200);
    expect(res.json.items.length).toBeLessThanOrEqual(limit);
    items.push(...res.json.items);
    cursor = res.json.next;
    pages++;
  } while (cursor && pages < 50);
  return { items, pages };
}

/** A person consents to a client through the real pages: one grant. */
async function consent(user: { email: string; password: string }, clientId: string): Promise<void> {
  const { challenge } = pkcePair();
  await authorizeThrough(new Browser(gh.issuer), gh.issuer, { client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE }, user);
}

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env });
  api = `${gh.issuer}/admin/api/v1`;
  const w = await adminApiClient(gh, 'admin:read admin:write', 'automation');
  writerId = w.id;
  writer = await adminApiToken(gh, w);
  reader = await adminApiToken(gh, await adminApiClient(gh, 'admin:read', 'reporting'), 'admin:read');
  openapi = new OpenApiCheck((await call(`${api}/openapi.json`)).json);
  await gh.services.users.create(ADMIN);
  await gh.services.users.create(PERSON);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

describe('authentication and scopes', () => {
  it('401 without a token; 403 insufficient_scope for every write with admin:read, nothing changed', async () => {
    for (const [id, path] of [['listPeople', '/people'], ['listKeys', '/keys'], ['listRegistrationTokens', '/registration-tokens'], ['getGrant', '/grants/nothing']] as const) {
      const none = checked(id, await call(`${api}${path}`));
      expect(none).toMatchObject({ status: 401, json: { error: 'invalid_token' } });
    }
    const writes: Array<[string, string, string, unknown]> = [
      ['addPerson', 'POST', '/people', { email: 'never@example.com' }],
      ['disablePerson', 'POST', '/people/x/disable', undefined],
      ['revokePersonGrants', 'POST', '/people/x/revoke-grants', undefined],
      ['revokeGrant', 'DELETE', '/grants/x', undefined],
      ['rotateKeys', 'POST', '/keys/rotate', {}],
      ['createRegistrationToken', 'POST', '/registration-tokens', {}],
      ['revokeRegistrationToken', 'DELETE', '/registration-tokens/x', undefined],
    ];
    for (const [id, method, path, body] of writes) {
      const res = checked(id, await call(`${api}${path}`, { method, token: reader, body }));
      expect(res).toMatchObject({ status: 403, json: { error: 'insufficient_scope' } });
    }
    expect(await gh.services.users.findByEmail('never@example.com')).toBeUndefined();
    expect(await events('keys.rotated')).toHaveLength(0);
    expect(await events('registration_token.created')).toHaveLength(0);
  });

  it('403 for a non-admin person\'s console session; an administrator\'s session reads', async () => {
    const person = await consoleSignIn(gh.issuer, PERSON.email, PERSON.password);
    for (const path of ['/people', '/keys', '/registration-tokens']) {
      const denied = await person.request(`${gh.issuer}/console/api/v1${path}`);
      expect(denied.status).toBe(403);
      expect(((await denied.json()) as { error: string }).error).toBe('access_denied');
    }
    const admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
    expect((await admin.request(`${gh.issuer}/console/api/v1/people`)).status).toBe(200);
  });
});

describe('people', () => {
  let added: { id: string; email: string };

  it('add: 201, an invitation link once (never audited), never a password; a given one is never answered', async () => {
    const res = checked('addPerson', await call(`${api}/people`, { method: 'POST', token: writer, body: { email: 'New.Person@Example.com', name: 'New Person' } }));
    expect(res.status).toBe(201);
    expect(res.json).not.toHaveProperty('password');
    expect(res.json.invitation).toMatchObject({ kind: 'invitation', url: expect.stringMatching(new RegExp(`^${gh.issuer}/welcome/[A-Za-z0-9_-]{43}$`)) });
    expect(res.json.person).toMatchObject({ email: 'new.person@example.com', name: 'New Person', admin: false, local_admin: false, disabled: false, connections: ['local'] });
    expect(res.headers.get('etag')).toBe(`"${res.json.person.version}"`);
    added = res.json.person;
    const rows = (await events('person.added')).filter((r) => details(r).accountId === added.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: 'success', actor: writerId });
    expect(details(rows[0]!)).toMatchObject({ via: 'api_client', actorId: writerId });
    expect(JSON.stringify(rows[0])).not.toContain(res.json.invitation.url.split('/').pop());

    const given = checked('addPerson', await call(`${api}/people`, { method: 'POST', token: writer, body: { email: 'chosen@example.com', password: 'a chosen password long enough', admin: true } }));
    expect(given.status).toBe(201);
    expect(given.json).not.toHaveProperty('password');
    expect(given.json.person).toMatchObject({ admin: true, local_admin: true });
    expect(JSON.stringify(await events('person.added'))).not.toContain('a chosen password long enough');
  });

  it('add: validation names the field; a taken email is 409; nothing written', async () => {
    const count = async () => (await events('person.added')).filter((r) => r.outcome === 'success').length;
    const before = await count();
    expect(checked('addPerson', await call(`${api}/people`, { method: 'POST', token: writer, body: { email: 42 } }))).toMatchObject({ status: 400, json: { error: 'invalid_request', field: 'email' } });
    expect(checked('addPerson', await call(`${api}/people`, { method: 'POST', token: writer, body: { email: 'x@example.com', role: 'admin' } })).status).toBe(400);
    expect(checked('addPerson', await call(`${api}/people`, { method: 'POST', token: writer, body: { email: 'x@example.com', admin: 'yes' } }))).toMatchObject({ status: 400, json: { field: 'admin' } });
    const weak = checked('addPerson', await call(`${api}/people`, { method: 'POST', token: writer, body: { email: 'weak@example.com', password: 'short' } }));
    expect(weak).toMatchObject({ status: 400, json: { error: 'invalid_request', field: 'password' } });
    expect(JSON.stringify(weak.json)).not.toContain('"short"');
    const taken = checked('addPerson', await call(`${api}/people`, { method: 'POST', token: writer, body: { email: 'new.person@example.com' } }));
    expect(taken).toMatchObject({ status: 409, json: { error: 'conflict' } });
    expect(await count()).toBe(before);
  });

  it('get: the person with their version as ETag; an unknown id is 404', async () => {
    const res = checked('getPerson', await call(`${api}/people/${added.id}`, { token: reader }));
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${res.json.version}"`);
    expect(checked('getPerson', await call(`${api}/people/nobody`, { token: reader }))).toMatchObject({ status: 404, json: { error: 'not_found' } });
  });

  it('disable, enable, make-admin, unmake-admin: each once, a change that does not apply is 409 audited as a failure', async () => {
    const post = (action: string, id = added.id) => call(`${api}/people/${id}/${action}`, { method: 'POST', token: writer });
    // The actions take no version: If-Match is refused rather than ignored, and nothing changes.
    const withVersion = checked('disablePerson', await call(`${api}/people/${added.id}/disable`, { method: 'POST', token: writer, headers: { 'if-match': '"anything"' } }));
    expect(withVersion).toMatchObject({ status: 400, json: { field: 'If-Match' } });
    const disabled = checked('disablePerson', await post('disable'));
    expect(disabled).toMatchObject({ status: 200, json: { person: { id: added.id, disabled: true }, grants_revoked: 0 } });
    expect(checked('disablePerson', await post('disable'))).toMatchObject({ status: 409, json: { error: 'conflict' } });
    expect(checked('enablePerson', await post('enable'))).toMatchObject({ status: 200, json: { disabled: false } });
    expect(checked('enablePerson', await post('enable')).status).toBe(409);
    expect(checked('makeAdminPerson', await post('make-admin'))).toMatchObject({ status: 200, json: { admin: true, local_admin: true } });
    expect(checked('makeAdminPerson', await post('make-admin')).status).toBe(409);
    expect(checked('unmakeAdminPerson', await post('unmake-admin'))).toMatchObject({ status: 200, json: { admin: false, local_admin: false } });
    expect(checked('unmakeAdminPerson', await post('unmake-admin')).status).toBe(409);
    const OPERATIONS = { disable: 'disablePerson', enable: 'enablePerson', 'make-admin': 'makeAdminPerson', 'unmake-admin': 'unmakeAdminPerson', 'revoke-grants': 'revokePersonGrants' };
    for (const [action, operationId] of Object.entries(OPERATIONS)) {
      expect(checked(operationId, await post(action, 'nobody'))).toMatchObject({ status: 404, json: { error: 'not_found' } });
    }
    const mine = async (type: string) => (await events(type)).filter((r) => details(r).accountId === added.id).map((r) => [r.outcome, r.actor, details(r).via]);
    for (const type of ['person.disabled', 'person.enabled', 'person.admin_granted', 'person.admin_revoked']) {
      expect(await mine(type)).toEqual([['success', writerId, 'api_client'], ['failure', writerId, 'api_client']]);
    }
    await expect(gh.services.accounts.findById(added.id)).resolves.toMatchObject({ disabled: false });
  });

  it('list: by email, searched and paged over more than one page', async () => {
    for (let i = 0; i < 5; i++) await call(`${api}/people`, { method: 'POST', token: writer, body: { email: `paged-${i}@example.com` } });
    const { items, pages } = await allPages('listPeople', `${api}/people?q=paged-`, 2);
    expect(pages).toBe(3);
    expect(items.map((p) => p.email)).toEqual([0, 1, 2, 3, 4].map((i) => `paged-${i}@example.com`));
    expect(checked('listPeople', await call(`${api}/people?cursor=nonsense`, { token: reader }))).toMatchObject({ status: 400, json: { field: 'cursor' } });
    expect(checked('listPeople', await call(`${api}/people?limit=0`, { token: reader }))).toMatchObject({ status: 400, json: { field: 'limit' } });
  });
});

describe('grants', () => {
  const ALICE = { email: 'alice@example.com', password: 'alice has a long password' };
  const BOB = { email: 'bob@example.com', password: 'bob has a long password too' };
  let aliceId: string;
  let clients: string[];

  beforeAll(async () => {
    aliceId = (await gh.services.users.create(ALICE)).id;
    await gh.services.users.create(BOB);
    clients = [];
    for (let i = 0; i < 3; i++) clients.push((await registerPublicClient(gh.issuer, [REDIRECT])).client_id as string);
    for (const c of clients) await consent(ALICE, c);
    await consent(BOB, clients[0]!);
  }, 120_000);

  it('of a person and of a client, newest first, paged over more than one page; unknown owners are 404', async () => {
    const ofAlice = await allPages('listPersonGrants', `${api}/people/${aliceId}/grants`, 2);
    expect(ofAlice.pages).toBe(2);
    expect(ofAlice.items.map((g) => g.client_id).sort()).toEqual([...clients].sort());
    const times = ofAlice.items.map((g) => Date.parse(g.granted_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(ofAlice.items[0]).toMatchObject({ account_id: aliceId, resources: { [TEST_RESOURCE]: ['tools:read'] } });
    const ofClient = await allPages('listClientGrants', `${api}/clients/${clients[0]}/grants`, 1);
    expect(ofClient.pages).toBe(2);
    expect(ofClient.items.map((g) => g.client_id)).toEqual([clients[0], clients[0]]);
    expect(checked('listPersonGrants', await call(`${api}/people/nobody/grants`, { token: reader })).status).toBe(404);
    expect(checked('listClientGrants', await call(`${api}/clients/nobody/grants`, { token: reader })).status).toBe(404);
  });

  it('get and revoke one grant: audited once with the API client; again 404', async () => {
    const grant = (await call(`${api}/people/${aliceId}/grants?limit=1`, { token: reader })).json.items[0];
    const got = checked('getGrant', await call(`${api}/grants/${grant.grant_id}`, { token: reader }));
    expect(got).toMatchObject({ status: 200, json: grant });
    const revoked = checked('revokeGrant', await call(`${api}/grants/${grant.grant_id}`, { method: 'DELETE', token: writer }));
    expect(revoked).toMatchObject({ status: 200, json: { grant_id: grant.grant_id } });
    expect(checked('getGrant', await call(`${api}/grants/${grant.grant_id}`, { token: reader })).status).toBe(404);
    expect(checked('revokeGrant', await call(`${api}/grants/${grant.grant_id}`, { method: 'DELETE', token: writer }))).toMatchObject({ status: 404, json: { error: 'not_found' } });
    const rows = (await events('grant.revoked')).filter((r) => details(r).grantId === grant.grant_id);
    expect(rows.map((r) => [r.actor, details(r).via])).toEqual([[writerId, 'api_client']]);
  });

  it('revoke-grants: every grant of a person, audited once', async () => {
    const res = checked('revokePersonGrants', await call(`${api}/people/${aliceId}/revoke-grants`, { method: 'POST', token: writer }));
    expect(res).toMatchObject({ status: 200, json: { person: { id: aliceId }, grants_revoked: 2 } });
    expect(res.json.grant_ids).toHaveLength(2);
    expect((await call(`${api}/people/${aliceId}/grants`, { token: reader })).json.items).toEqual([]);
    expect((await events('grants.revoked_all')).filter((r) => details(r).accountId === aliceId).map((r) => [r.actor, details(r).via, details(r).count])).toEqual([[writerId, 'api_client', 2]]);
  });
});

describe('signing keys', () => {
  it('list: public facts only, paged; rotate: new keys signing after the delay, audited once; a bad delay is 400', async () => {
    const before = checked('listKeys', await call(`${api}/keys`, { token: reader }));
    expect(before.status).toBe(200);
    expect(before.json.items.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(before.json)).not.toMatch(/"(d|p|q|dp|dq|qi|privateJwk|private_jwk)"/);
    const rotated = checked('rotateKeys', await call(`${api}/keys/rotate`, { method: 'POST', token: writer, body: { activate_in_seconds: 3600 } }));
    expect(rotated.status).toBe(200);
    expect(rotated.json.kids).toHaveLength(2);
    expect(Date.parse(rotated.json.activates_at)).toBeGreaterThan(Date.now() + 3000 * 1000);
    const { items, pages } = await allPages('listKeys', `${api}/keys`, 1);
    expect(pages).toBe(items.length);
    expect(items.filter((k) => rotated.json.kids.includes(k.kid)).map((k) => k.state)).toEqual(['next', 'next']);
    expect(items.slice(0, 2).map((k) => k.kid).sort()).toEqual([...rotated.json.kids].sort());
    for (const bad of [{ activate_in_seconds: -1 }, { activate_in_seconds: 1.5 }, { activate_in_seconds: 86_401 }]) {
      expect(checked('rotateKeys', await call(`${api}/keys/rotate`, { method: 'POST', token: writer, body: bad }))).toMatchObject({ status: 400, json: { field: 'activate_in_seconds' } });
    }
    const rows = await events('keys.rotated');
    expect(rows.map((r) => [r.actor, details(r).via, details(r).kids])).toEqual([[writerId, 'api_client', rotated.json.kids]]);
  });
});

describe('registration tokens', () => {
  it('create (the value once), list without values over more than one page, revoke (again 404); audited without the value', async () => {
    const created: Array<{ id: string; initial_access_token: string; expires_at: string }> = [];
    for (let i = 0; i < 3; i++) {
      const res = checked('createRegistrationToken', await call(`${api}/registration-tokens`, { method: 'POST', token: writer, body: { expires_in: 600 } }));
      expect(res.status).toBe(201);
      expect(res.json).toEqual({ id: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/), initial_access_token: expect.any(String), created_at: expect.any(String), expires_at: expect.any(String) });
      created.push(res.json);
    }
    expect(await gh.holder.provider.InitialAccessToken.find(created[0]!.initial_access_token)).toBeDefined();
    const { items, pages } = await allPages('listRegistrationTokens', `${api}/registration-tokens`, 2);
    expect(pages).toBe(2);
    expect(items.map((t) => t.id)).toEqual(created.map((t) => t.id));
    expect(JSON.stringify(items)).not.toContain(created[0]!.initial_access_token);
    const revoked = checked('revokeRegistrationToken', await call(`${api}/registration-tokens/${created[0]!.id}`, { method: 'DELETE', token: writer }));
    expect(revoked).toMatchObject({ status: 200, json: { id: created[0]!.id } });
    expect(checked('revokeRegistrationToken', await call(`${api}/registration-tokens/${created[0]!.id}`, { method: 'DELETE', token: writer })).status).toBe(404);
    expect(await gh.holder.provider.InitialAccessToken.find(created[0]!.initial_access_token)).toBeUndefined();
    for (const bad of [{ expires_in: 0 }, { expires_in: 'soon' }, { expires_in: 366 * 86_400 }]) {
      expect(checked('createRegistrationToken', await call(`${api}/registration-tokens`, { method: 'POST', token: writer, body: bad }))).toMatchObject({ status: 400, json: { field: 'expires_in' } });
    }
    const rows = [...(await events('registration_token.created')), ...(await events('registration_token.revoked'))];
    expect(rows.map((r) => [r.type, r.actor, details(r).via])).toEqual([...created.map(() => ['registration_token.created', writerId, 'api_client']), ['registration_token.revoked', writerId, 'api_client']]);
    for (const t of created) expect(JSON.stringify(rows)).not.toContain(t.initial_access_token);
  });
});

describe('the CLI beside the server: the same operations, the same answers', () => {
  const lastJson = (stderr: string) => JSON.parse(stderr.trim().split('\n').pop()!) as Record<string, unknown>;

  it('user show, grant list / revoke, keys list, registration-token list: the API\'s answers; audited as the CLI', async () => {
    const bob = (await call(`${api}/people?q=bob@example.com`, { token: reader })).json.items[0];
    const shown = await runCli(['user', 'show', 'bob@example.com', '--json'], db.env);
    expect(oneJson(shown.stdout)).toEqual((await call(`${api}/people/${bob.id}`, { token: reader })).json);
    const viaApi = (await call(`${api}/people/${bob.id}/grants`, { token: reader })).json;
    expect(viaApi.items).toHaveLength(1);
    const listed = await runCli(['grant', 'list', '--person', 'bob@example.com', '--json'], db.env);
    expect(oneJson(listed.stdout)).toEqual(viaApi);
    // The text line says what the API's expires_at does: this consent's code was never redeemed, so no refresh token.
    expect(viaApi.items[0].expires_at).toBeNull();
    expect((await runCli(['grant', 'list', '--person', 'bob@example.com'], db.env)).stdout).toContain('granted ' + viaApi.items[0].granted_at + '  no live refresh token');
    const ofClient = await runCli(['grant', 'list', '--client', viaApi.items[0].client_id, '--limit', '1', '--json'], db.env);
    expect(oneJson(ofClient.stdout).items).toHaveLength(1);
    const revoked = await runCli(['grant', 'revoke', viaApi.items[0].grant_id, '--json'], db.env);
    expect(oneJson(revoked.stdout)).toEqual(viaApi.items[0]);
    expect((await events('grant.revoked')).filter((r) => details(r).grantId === viaApi.items[0].grant_id).map((r) => [r.actor, details(r).via])).toEqual([['cli', 'cli']]);
    const again = await runCli(['grant', 'revoke', viaApi.items[0].grant_id, '--json'], db.env);
    expect(again.code).toBe(1);
    expect(lastJson(again.stderr)).toMatchObject({ error: 'not_found', status: 404 });
    expect(oneJson((await runCli(['keys', 'list', '--json'], db.env)).stdout)).toEqual((await call(`${api}/keys`, { token: reader })).json);
    expect(oneJson((await runCli(['registration-token', 'list', '--json'], db.env)).stdout)).toEqual((await call(`${api}/registration-tokens`, { token: reader })).json);
  }, 300_000);

  it('bad values and missing choices are refused before anything runs', async () => {
    for (const args of [
      ['grant', 'list', '--json'],
      ['grant', 'list', '--person', 'bob@example.com', '--client', 'x', '--json'],
      ['keys', 'rotate', '--activate-in', '-1', '--json'],
      ['registration-token', 'create', '--expires-in', '0', '--json'],
      ['user', 'list', '--limit', 'many', '--json'],
    ]) {
      const res = await runCli(args, db.env);
      expect({ args, code: res.code, stdout: res.stdout }).toEqual({ args, code: 1, stdout: '' });
      expect(lastJson(res.stderr)).toMatchObject({ error: 'invalid_request' });
    }
    expect(await events('registration_token.created')).toHaveLength(3);
  }, 300_000);
});
