// The admin API's MCP servers and policy settings (docs/ADMIN-API.md, "Operations") over real HTTP: every operation's
// success, a validation error naming the field, not found, a stale version (409, audited as the change's failure),
// 401 without a token, 403 for a write with admin:read, 403 for a non-admin person's console session, pagination over
// more than one page, one audit event per change naming the actor, objects the configuration file manages refused
// with 409 naming the file — and every answer checked against the OpenAPI document the server publishes.
import { CONFIG_ACTOR } from '../../src/admin/actor.js';
import { PolicyAdmin } from '../../src/admin/policy.js';
import { ResourceAdmin } from '../../src/admin/resources.js';
import { consoleSignIn, csrfOf, type ConsoleBrowser } from '../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { adminApiClient, adminApiToken, call, OpenApiCheck, type ApiAnswer } from '../helpers/admin-api.js';
import { oneJson, runCli } from '../helpers/cli.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const PERSON = { email: 'person@example.com', password: 'another horse battery staple' };
const URI = 'https://docs.example.test/mcp';
const FILE = 'gatehouse.yaml';

let db: TestDatabase;
let gh: TestServer;
let api: string;
let writer: string;
let reader: string;
let writerId: string;
let writerSecret: string;
let openapi: OpenApiCheck;
let admin: ConsoleBrowser;

const knex = () => gh.services.handle.db;
type Row = Record<string, any>;
const events = async (type: string, where: Record<string, unknown> = {}) => (await knex()('audit_events').where({ type, ...where }).orderBy('id', 'asc')) as Row[];
const details = (row: Row) => (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as Record<string, any>;
const server = (uri: string) => `${api}/mcp-servers/${encodeURIComponent(uri)}`;
const setting = (name: string) => `${api}/policy/${name}`;
const deps = () => ({ config: gh.services.config, resources: gh.services.resources, policy: gh.services.policy, accounts: gh.services.accounts, users: gh.services.users, audit: gh.services.audit });

function checked(operationId: string, answer: ApiAnswer): ApiAnswer {
  openapi.check(operationId, answer);
  return answer;
}

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env });
  api = `${gh.issuer}/admin/api/v1`;
  const w = await adminApiClient(gh, 'admin:read admin:write', 'automation');
  writerId = w.id;
  writerSecret = w.secret;
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

describe('MCP servers', () => {
  const input = {
    uri: URI,
    name: 'Docs',
    description: 'The documentation',
    scopes: { 'docs:read': { description: 'Read the docs', tools: ['search', 'fetch'] }, 'docs:write': 'Write docs' },
    access: { email_domains: ['Example.com'], groups: [] },
    tool_approval: { purge: 'each-call' },
    default: false,
  };

  it('create: 201 with the version as ETag, the RESOURCES shape back; audited once with the API client as actor', async () => {
    const res = checked('createMcpServer', await call(`${api}/mcp-servers`, { method: 'POST', token: writer, body: input }));
    expect(res.status).toBe(201);
    expect(res.headers.get('etag')).toBe(`"${res.json.version}"`);
    expect(res.json).toEqual({
      uri: URI, name: 'Docs', description: 'The documentation',
      scopes: { 'docs:read': { description: 'Read the docs', tools: ['search', 'fetch'] }, 'docs:write': { description: 'Write docs', tools: [] } },
      access: { email_domains: ['example.com'], groups: [] }, tool_approval: { purge: 'each-call' }, destructive_tools_approval: null, delegation: { connections: {}, resources: {} },
      default: false, managed_by: null, from_environment: false, version: expect.any(String),
    });
    const rows = await events('resource.created', { resource: URI });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: 'success', actor: writerId });
    expect(details(rows[0]!)).toMatchObject({ via: 'api_client', actorId: writerId, name: 'Docs', scopes: ['docs:read', 'docs:write'] });
    // The registry serves it at once: the public catalogue lists its tools.
    const catalogue = (await (await fetch(`${gh.issuer}/catalogue?resource=${encodeURIComponent(URI)}`)).json()) as { scopes: Record<string, { tools: string[] }> };
    expect(catalogue.scopes['docs:read']!.tools).toEqual(['search', 'fetch']);
  });

  it('create: validation is 400 naming the field; an existing URI is 409; a non-canonical URI is refused and audited', async () => {
    const post = (body: unknown) => call(`${api}/mcp-servers`, { method: 'POST', token: writer, body });
    const unknown = checked('createMcpServer', await post({ uri: 'https://new.example.test/mcp', owner: 'me' }));
    expect(unknown).toMatchObject({ status: 400, json: { error: 'invalid_request' } });
    const wrongType = checked('createMcpServer', await post({ uri: 'https://new.example.test/mcp', name: 42 }));
    expect(wrongType).toMatchObject({ status: 400, json: { field: 'name' } });
    const badTool = checked('createMcpServer', await post({ uri: 'https://new.example.test/mcp', scopes: { 'a:b': { tools: ['not a tool!'] } } }));
    expect(badTool).toMatchObject({ status: 400, json: { field: 'scopes.a:b.tools.0' } });
    const badMode = checked('createMcpServer', await post({ uri: 'https://new.example.test/mcp', destructive_tools_approval: 'always' }));
    expect(badMode).toMatchObject({ status: 400, json: { field: 'destructive_tools_approval' } });
    const noUri = checked('createMcpServer', await post({ name: 'x' }));
    expect(noUri).toMatchObject({ status: 400, json: { field: 'uri' } });
    const fragment = checked('createMcpServer', await post({ uri: 'https://new.example.test/mcp#part' }));
    expect(fragment).toMatchObject({ status: 400, json: { error: 'invalid_request', field: 'uri' } });
    expect((await events('resource.created', { resource: 'https://new.example.test/mcp#part' })).map((r) => r.outcome)).toEqual(['failure']);
    const existing = checked('createMcpServer', await post({ uri: 'https://DOCS.example.test:443/mcp' }));
    expect(existing).toMatchObject({ status: 409, json: { error: 'conflict', field: 'uri' } });
    expect(await gh.services.resources.find('https://new.example.test/mcp')).toBeUndefined();
    expect((await events('resource.created', { resource: URI })).map((r) => r.outcome)).toEqual(['success', 'failure']);
  });

  it('get: by its percent-encoded URI (any spelling of it), with the ETag; an unknown one is 404', async () => {
    const res = checked('getMcpServer', await call(server(URI), { token: reader }));
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${res.json.version}"`);
    expect(res.json.uri).toBe(URI);
    expect(checked('getMcpServer', await call(server('https://Docs.Example.test:443/mcp'), { token: reader })).json.uri).toBe(URI);
    expect(checked('getMcpServer', await call(server('https://nowhere.example.test/mcp'), { token: reader }))).toMatchObject({ status: 404, json: { error: 'not_found' } });
    expect(checked('getMcpServer', await call(server('not a uri'), { token: reader })).status).toBe(404);
    const env = checked('getMcpServer', await call(server(TEST_RESOURCE), { token: reader }));
    expect(env.json).toMatchObject({ from_environment: true, default: true });
  });

  it('replace (PUT): If-Match with the current version replaces everything; a stale version is 409, audited, and changes nothing', async () => {
    const current = await call(server(URI), { token: reader });
    const replacement = { name: 'Docs 2', scopes: { 'docs:read': { description: 'Read', tools: ['search'], approval: 'once-per-grant' } }, destructive_tools_approval: 'each-call' };
    const ok = checked('replaceMcpServer', await call(server(URI), { method: 'PUT', token: writer, body: replacement, headers: { 'if-match': current.headers.get('etag')! } }));
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ name: 'Docs 2', description: null, access: null, tool_approval: {}, destructive_tools_approval: 'each-call', scopes: { 'docs:read': { description: 'Read', tools: ['search'], approval: 'once-per-grant' } } });
    expect(Object.keys(ok.json.scopes)).toEqual(['docs:read']);
    expect(ok.json.version).not.toBe(current.json.version);
    const stale = checked('replaceMcpServer', await call(server(URI), { method: 'PUT', token: writer, body: { ...replacement, name: 'Lost update', version: current.json.version } }));
    expect(stale).toMatchObject({ status: 409, json: { error: 'conflict', field: 'version' } });
    expect((await call(server(URI), { token: reader })).json.name).toBe('Docs 2');
    const updates = await events('resource.updated', { resource: URI });
    expect(updates.map((r) => r.outcome)).toEqual(['success', 'failure']);
    expect(updates[1]).toMatchObject({ actor: writerId, reason: expect.stringContaining('changed since you read it') });
    const withUri = checked('replaceMcpServer', await call(server(URI), { method: 'PUT', token: writer, body: { uri: URI, name: 'x' } }));
    expect(withUri.status).toBe(400);
    expect(checked('replaceMcpServer', await call(server('https://nowhere.example.test/mcp'), { method: 'PUT', token: writer, body: { name: 'x' } })).status).toBe(404);
  });

  it('patch: only the fields given; null clears an optional one; a stale version in the body is 409', async () => {
    const before = await call(server(URI), { token: reader });
    const ok = checked('updateMcpServer', await call(server(URI), { method: 'PATCH', token: writer, body: { description: 'Patched', access: { email_domains: [], groups: ['staff'] } } }));
    expect(ok.json).toMatchObject({ name: 'Docs 2', description: 'Patched', access: { email_domains: [], groups: ['staff'] }, destructive_tools_approval: 'each-call' });
    const cleared = checked('updateMcpServer', await call(server(URI), { method: 'PATCH', token: writer, body: { access: null, destructive_tools_approval: null, version: ok.json.version } }));
    expect(cleared.json).toMatchObject({ description: 'Patched', access: null, destructive_tools_approval: null });
    const stale = checked('updateMcpServer', await call(server(URI), { method: 'PATCH', token: writer, body: { name: 'Lost', version: before.json.version } }));
    expect(stale).toMatchObject({ status: 409, json: { field: 'version' } });
    const invalid = checked('updateMcpServer', await call(server(URI), { method: 'PATCH', token: writer, body: { tool_approval: { purge: 'sometimes' } } }));
    expect(invalid).toMatchObject({ status: 400, json: { field: 'tool_approval.purge' } });
  });

  it('delegation (docs/DELEGATION.md): set with downstream URIs made canonical, refused for the server itself, cleared with null', async () => {
    const set = checked('updateMcpServer', await call(server(URI), { method: 'PATCH', token: writer, body: { delegation: { connections: { github: ['repo', 'repo'] }, resources: { 'HTTPS://Files.Example.test/mcp': ['files:read'] } } } }));
    expect(set.status).toBe(200);
    expect(set.json.delegation).toEqual({ connections: { github: ['repo'] }, resources: { 'https://files.example.test/mcp': ['files:read'] } });
    const self = checked('updateMcpServer', await call(server(URI), { method: 'PATCH', token: writer, body: { delegation: { resources: { [URI]: [] } } } }));
    expect(self).toMatchObject({ status: 400, json: { field: 'delegation.resources' } });
    const badId = checked('updateMcpServer', await call(server(URI), { method: 'PATCH', token: writer, body: { delegation: { connections: { 'Not An Id': [] } } } }));
    expect(badId.status).toBe(400);
    const twice = checked('updateMcpServer', await call(server(URI), { method: 'PATCH', token: writer, body: { delegation: { resources: { 'https://files.example.test/mcp': ['a'], 'HTTPS://FILES.example.test/mcp': ['b'] } } } }));
    expect(twice).toMatchObject({ status: 400, json: { field: 'delegation.resources', error_description: expect.stringMatching(/listed twice/) } });
    // A `__proto__` key (an own key once JSON.parse made it) is refused by name, never dropped without a word.
    const raw = await fetch(server(URI), { method: 'PATCH', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' }, body: '{"delegation":{"connections":{"__proto__":["x"]}}}' });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as { error_description: string }).error_description).toMatch(/__proto__/);
    expect((await call(server(URI), { token: reader })).json.delegation).toEqual({ connections: { github: ['repo'] }, resources: { 'https://files.example.test/mcp': ['files:read'] } });
    const cleared = checked('updateMcpServer', await call(server(URI), { method: 'PATCH', token: writer, body: { delegation: null } }));
    expect(cleared.json.delegation).toEqual({ connections: {}, resources: {} });
  });

  it('scopes: set one (description, tools, access rule, approval), refuse a bad name (audited), remove one', async () => {
    const scope = (name: string) => `${server(URI)}/scopes/${encodeURIComponent(name)}`;
    const set = checked('setMcpServerScope', await call(scope('docs:admin'), { method: 'PUT', token: writer, body: { description: 'Administer', tools: ['purge', 'reindex'], access: { email_domains: [], groups: ['admins'] }, approval: 'each-call' } }));
    expect(set.status).toBe(200);
    expect(set.json.scopes['docs:admin']).toEqual({ description: 'Administer', tools: ['purge', 'reindex'], access: { email_domains: [], groups: ['admins'] }, approval: 'each-call' });
    expect(set.json.scopes['docs:read']).toBeDefined();
    const failuresBefore = (await events('resource.updated', { resource: URI, outcome: 'failure' })).length;
    const badName = checked('setMcpServerScope', await call(scope('bad scope'), { method: 'PUT', token: writer, body: { description: 'x' } }));
    expect(badName).toMatchObject({ status: 400, json: { error: 'invalid_request', field: 'scopes.bad scope' } });
    const failures = await events('resource.updated', { resource: URI, outcome: 'failure' });
    expect(failures).toHaveLength(failuresBefore + 1);
    expect(failures[failures.length - 1]).toMatchObject({ reason: 'invalid input', actor: writerId });
    const badBody = checked('setMcpServerScope', await call(scope('docs:x'), { method: 'PUT', token: writer, body: { tools: 'purge' } }));
    expect(badBody).toMatchObject({ status: 400, json: { field: 'tools' } });
    const removed = checked('removeMcpServerScope', await call(scope('docs:admin'), { method: 'DELETE', token: writer }));
    expect(removed.status).toBe(200);
    expect(removed.json.scopes['docs:admin']).toBeUndefined();
    expect(checked('removeMcpServerScope', await call(scope('docs:admin'), { method: 'DELETE', token: writer })).status).toBe(404);
    const stale = checked('removeMcpServerScope', await call(scope('docs:read'), { method: 'DELETE', token: writer, headers: { 'if-match': `"${set.json.version}"` } }));
    expect(stale).toMatchObject({ status: 409, json: { field: 'version' } });
  });

  it('list: filtered by q and paged over more than one page with the cursor; bad paging is 400', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await call(`${api}/mcp-servers`, { method: 'POST', token: writer, body: { uri: `https://paged-${i}.example.test/mcp`, name: `Paged ${i}` } })).status).toBe(201);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = checked('listMcpServers', await call(`${api}/mcp-servers?q=paged&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: reader }));
      expect(res.status).toBe(200);
      expect(res.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.json.items.map((r: { uri: string }) => r.uri));
      cursor = res.json.next;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `https://paged-${i}.example.test/mcp`));
    const all = checked('listMcpServers', await call(`${api}/mcp-servers`, { token: reader }));
    expect(all.json.items.map((r: { uri: string }) => r.uri)).toEqual(expect.arrayContaining([URI, TEST_RESOURCE]));
    expect(checked('listMcpServers', await call(`${api}/mcp-servers?limit=0`, { token: reader }))).toMatchObject({ status: 400, json: { field: 'limit' } });
    expect(checked('listMcpServers', await call(`${api}/mcp-servers?cursor=nonsense`, { token: reader }))).toMatchObject({ status: 400, json: { field: 'cursor' } });
    expect(checked('listMcpServers', await call(`${api}/mcp-servers?colour=red`, { token: reader })).status).toBe(400);
  });

  it('a server the configuration file manages is refused with 409 naming the file, audited, unchanged', async () => {
    const managed = 'https://managed.example.test/mcp';
    const resources = new ResourceAdmin(deps());
    await resources.create(CONFIG_ACTOR, { uri: managed, name: 'Managed', scopes: { 'm:read': 'Read' } });
    expect(await resources.markManaged(managed, FILE)).toBe(true);
    const before = checked('getMcpServer', await call(server(managed), { token: reader }));
    expect(before.json.managed_by).toBe(FILE);
    const refusals: Array<[string, ApiAnswer]> = [
      ['replaceMcpServer', await call(server(managed), { method: 'PUT', token: writer, body: { name: 'Hijack' } })],
      ['updateMcpServer', await call(server(managed), { method: 'PATCH', token: writer, body: { name: 'Hijack' } })],
      ['setMcpServerScope', await call(`${server(managed)}/scopes/m%3Awrite`, { method: 'PUT', token: writer, body: {} })],
      ['deleteMcpServer', await call(server(managed), { method: 'DELETE', token: writer })],
    ];
    for (const [id, res] of refusals) {
      checked(id, res);
      expect({ id, status: res.status, error: res.json.error, field: res.json.field }).toEqual({ id, status: 409, error: 'conflict', field: 'managed_by' });
      expect(res.json.error_description).toContain(`managed by the configuration file ${FILE}`);
    }
    expect((await call(server(managed), { token: reader })).json).toEqual(before.json);
    const failures = (await knex()('audit_events').where({ resource: managed, outcome: 'failure' }).orderBy('id', 'asc')) as Row[];
    expect(failures.map((r) => r.type)).toEqual(['resource.updated', 'resource.updated', 'resource.updated', 'resource.deleted']);
    expect(failures.every((r) => r.actor === writerId && String(r.reason).includes(FILE))).toBe(true);
  });

  it('delete: 200 naming it, audited once; again 404; a stale version is 409', async () => {
    const other = 'https://paged-0.example.test/mcp';
    const current = await call(server(other), { token: reader });
    await call(server(other), { method: 'PATCH', token: writer, body: { name: 'Changed' } });
    expect(checked('deleteMcpServer', await call(server(other), { method: 'DELETE', token: writer, headers: { 'if-match': current.headers.get('etag')! } }))).toMatchObject({ status: 409, json: { field: 'version' } });
    const res = checked('deleteMcpServer', await call(server(URI), { method: 'DELETE', token: writer }));
    expect(res).toMatchObject({ status: 200, json: { uri: URI, name: 'Docs 2', from_environment: false } });
    expect((await events('resource.deleted', { resource: URI })).map((r) => [r.outcome, r.actor])).toEqual([['success', writerId]]);
    expect(checked('deleteMcpServer', await call(server(URI), { method: 'DELETE', token: writer })).status).toBe(404);
    expect(await gh.services.resources.find(URI)).toBeUndefined();
  });
});

describe('policy settings', () => {
  it('list: every setting with its value in force, the environment\'s and a version', async () => {
    const res = checked('listPolicySettings', await call(`${api}/policy`, { token: reader }));
    expect(res.status).toBe(200);
    expect(res.json.items.map((e: { name: string }) => e.name)).toEqual(['REGISTRATION', 'CIMD_ALLOWED_DOMAINS', 'CIMD_BLOCKED_DOMAINS', 'ALLOWED_EMAIL_DOMAINS', 'ALLOWED_GROUPS']);
    expect(res.json.items[0]).toEqual({ name: 'REGISTRATION', effective: 'open', environment: 'open', overridden: false, updated_by: null, updated_at: null, managed_by: null, version: expect.any(String) });
  });

  it('get: one setting with its ETag; a name that is not a policy setting is 404', async () => {
    const res = checked('getPolicySetting', await call(setting('CIMD_BLOCKED_DOMAINS'), { token: reader }));
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${res.json.version}"`);
    expect(res.json).toMatchObject({ name: 'CIMD_BLOCKED_DOMAINS', effective: [], overridden: false });
    expect(checked('getPolicySetting', await call(setting('ADMIN_EMAILS'), { token: reader }))).toMatchObject({ status: 404, json: { error: 'not_found' } });
  });

  it('set: a value as the environment writes it, or a list; audited once with the actor', async () => {
    const asText = checked('setPolicySetting', await call(setting('CIMD_BLOCKED_DOMAINS'), { method: 'PUT', token: writer, body: { value: 'Evil.example, *.bad.example' } }));
    expect(asText.status).toBe(200);
    expect(asText.json).toMatchObject({ effective: ['evil.example', '*.bad.example'], environment: [], overridden: true, updated_by: writerId });
    expect(asText.headers.get('etag')).toBe(`"${asText.json.version}"`);
    const asList = checked('setPolicySetting', await call(setting('CIMD_BLOCKED_DOMAINS'), { method: 'PUT', token: writer, body: { value: ['evil.example'] } }));
    expect(asList.json.effective).toEqual(['evil.example']);
    const mode = checked('setPolicySetting', await call(setting('REGISTRATION'), { method: 'PUT', token: writer, body: { value: 'approval' } }));
    expect(mode.json).toMatchObject({ effective: 'approval', environment: 'open' });
    expect(await gh.services.policy.get('REGISTRATION')).toBe('approval');
    const rows = (await events('policy.updated')).filter((r) => details(r).setting === 'CIMD_BLOCKED_DOMAINS');
    expect(rows.map((r) => [r.outcome, r.actor, details(r).via])).toEqual([['success', writerId, 'api_client'], ['success', writerId, 'api_client']]);
  });

  it('set: a value the setting does not take is 400 on `value`, audited as a failure; a bad body is 400; unknown is 404', async () => {
    const before = (await events('policy.updated', { outcome: 'failure' })).length;
    const bad = checked('setPolicySetting', await call(setting('REGISTRATION'), { method: 'PUT', token: writer, body: { value: 'wide-open' } }));
    expect(bad).toMatchObject({ status: 400, json: { error: 'invalid_request', field: 'value' } });
    expect(bad.json.error_description).toMatch(/REGISTRATION/);
    expect((await events('policy.updated', { outcome: 'failure' })).length).toBe(before + 1);
    expect(checked('setPolicySetting', await call(setting('REGISTRATION'), { method: 'PUT', token: writer, body: { value: 'open', extra: 1 } })).status).toBe(400);
    expect(checked('setPolicySetting', await call(setting('REGISTRATION'), { method: 'PUT', token: writer, body: {} }))).toMatchObject({ status: 400, json: { field: 'value' } });
    expect(checked('setPolicySetting', await call(setting('ALLOWED_GROUPS'), { method: 'PUT', token: writer, body: { value: ['a,b'] } }))).toMatchObject({ status: 400, json: { field: 'value.0' } });
    expect(checked('setPolicySetting', await call(setting('ADMIN_EMAILS'), { method: 'PUT', token: writer, body: { value: 'eve@evil.test' } })).status).toBe(404);
    expect(await gh.services.policy.get('REGISTRATION')).toBe('approval');
  });

  it('a stale version is 409, audited as the change\'s failure, and changes nothing', async () => {
    const current = await call(setting('CIMD_ALLOWED_DOMAINS'), { token: reader });
    expect(checked('setPolicySetting', await call(setting('CIMD_ALLOWED_DOMAINS'), { method: 'PUT', token: writer, body: { value: 'staff.example', version: current.json.version } })).status).toBe(200);
    const stale = checked('setPolicySetting', await call(setting('CIMD_ALLOWED_DOMAINS'), { method: 'PUT', token: writer, body: { value: 'others.example' }, headers: { 'if-match': current.headers.get('etag')! } }));
    expect(stale).toMatchObject({ status: 409, json: { error: 'conflict', field: 'version' } });
    const staleReset = checked('resetPolicySetting', await call(setting('CIMD_ALLOWED_DOMAINS'), { method: 'DELETE', token: writer, headers: { 'if-match': current.headers.get('etag')! } }));
    expect(staleReset).toMatchObject({ status: 409, json: { field: 'version' } });
    expect(await gh.services.policy.get('CIMD_ALLOWED_DOMAINS')).toEqual(['staff.example']);
    const rows = (await knex()('audit_events').whereIn('type', ['policy.updated', 'policy.reset']).orderBy('id', 'asc')).filter((r: Row) => details(r).setting === 'CIMD_ALLOWED_DOMAINS') as Row[];
    expect(rows.map((r) => [r.type, r.outcome])).toEqual([['policy.updated', 'success'], ['policy.updated', 'failure'], ['policy.reset', 'failure']]);
  });

  it('reset: back to the environment\'s value, audited once', async () => {
    for (const name of ['ALLOWED_GROUPS', 'CIMD_BLOCKED_DOMAINS', 'REGISTRATION']) {
      const res = checked('resetPolicySetting', await call(setting(name), { method: 'DELETE', token: writer }));
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ name, overridden: false, updated_by: null });
    }
    expect(await gh.services.policy.get('REGISTRATION')).toBe('open');
    expect((await events('policy.reset', { outcome: 'success' })).map((r) => [details(r).setting, r.actor])).toEqual([['ALLOWED_GROUPS', writerId], ['CIMD_BLOCKED_DOMAINS', writerId], ['REGISTRATION', writerId]]);
    expect(checked('resetPolicySetting', await call(setting('ADMIN_GROUPS'), { method: 'DELETE', token: writer })).status).toBe(404);
  });

  it('a setting the configuration file manages is refused with 409 naming the file', async () => {
    const policy = new PolicyAdmin(deps());
    await policy.set(CONFIG_ACTOR, 'CIMD_ALLOWED_DOMAINS', 'trusted.example');
    expect(await policy.markManaged('CIMD_ALLOWED_DOMAINS', FILE)).toBe(true);
    for (const [id, res] of [
      ['setPolicySetting', await call(setting('CIMD_ALLOWED_DOMAINS'), { method: 'PUT', token: writer, body: { value: '' } })],
      ['resetPolicySetting', await call(setting('CIMD_ALLOWED_DOMAINS'), { method: 'DELETE', token: writer })],
    ] as const) {
      checked(id, res);
      expect(res).toMatchObject({ status: 409, json: { error: 'conflict', field: 'managed_by' } });
      expect(res.json.error_description).toContain(FILE);
    }
    expect(checked('getPolicySetting', await call(setting('CIMD_ALLOWED_DOMAINS'), { token: reader })).json).toMatchObject({ effective: ['trusted.example'], managed_by: FILE });
    await policy.markManaged('CIMD_ALLOWED_DOMAINS', null);
    await policy.reset(CONFIG_ACTOR, 'CIMD_ALLOWED_DOMAINS');
  });
});

describe('authentication and scopes', () => {
  it('401 without a token, for every operation of both areas', async () => {
    const anonymous: Array<[string, string, string, unknown?]> = [
      ['listMcpServers', 'GET', `${api}/mcp-servers`],
      ['getMcpServer', 'GET', server(TEST_RESOURCE)],
      ['createMcpServer', 'POST', `${api}/mcp-servers`, { uri: 'https://x.example.test/mcp' }],
      ['replaceMcpServer', 'PUT', server(TEST_RESOURCE), { name: 'x' }],
      ['updateMcpServer', 'PATCH', server(TEST_RESOURCE), { name: 'x' }],
      ['setMcpServerScope', 'PUT', `${server(TEST_RESOURCE)}/scopes/x`, {}],
      ['removeMcpServerScope', 'DELETE', `${server(TEST_RESOURCE)}/scopes/tools:read`],
      ['deleteMcpServer', 'DELETE', server(TEST_RESOURCE)],
      ['listPolicySettings', 'GET', `${api}/policy`],
      ['getPolicySetting', 'GET', setting('REGISTRATION')],
      ['setPolicySetting', 'PUT', setting('REGISTRATION'), { value: 'closed' }],
      ['resetPolicySetting', 'DELETE', setting('REGISTRATION')],
    ];
    for (const [id, method, url, body] of anonymous) {
      const res = checked(id, await call(url, { method, body }));
      expect({ id, status: res.status, error: res.json.error }).toEqual({ id, status: 401, error: 'invalid_token' });
    }
    expect(await gh.services.resources.find(TEST_RESOURCE)).toBeDefined();
  });

  it('403 insufficient_scope for every write with admin:read; nothing changes', async () => {
    const writes: Array<[string, string, string, unknown?]> = [
      ['createMcpServer', 'POST', `${api}/mcp-servers`, { uri: 'https://x.example.test/mcp' }],
      ['replaceMcpServer', 'PUT', server(TEST_RESOURCE), { name: 'x' }],
      ['updateMcpServer', 'PATCH', server(TEST_RESOURCE), { name: 'x' }],
      ['setMcpServerScope', 'PUT', `${server(TEST_RESOURCE)}/scopes/x`, {}],
      ['removeMcpServerScope', 'DELETE', `${server(TEST_RESOURCE)}/scopes/tools:read`],
      ['deleteMcpServer', 'DELETE', server(TEST_RESOURCE)],
      ['setPolicySetting', 'PUT', setting('REGISTRATION'), { value: 'closed' }],
      ['resetPolicySetting', 'DELETE', setting('REGISTRATION')],
    ];
    for (const [id, method, url, body] of writes) {
      const res = checked(id, await call(url, { method, token: reader, body }));
      expect({ id, status: res.status, error: res.json.error }).toEqual({ id, status: 403, error: 'insufficient_scope' });
    }
    expect(await gh.services.resources.find('https://x.example.test/mcp')).toBeUndefined();
    expect((await gh.services.resources.find(TEST_RESOURCE))!.name).toBe('Example MCP');
    expect(await gh.services.policy.get('REGISTRATION')).toBe('open');
  });

  it('403 for a non-admin person\'s console session; an admin\'s session works, and a person\'s own lockout is refused', async () => {
    const person = await consoleSignIn(gh.issuer, PERSON.email, PERSON.password);
    for (const path of ['/mcp-servers', '/policy']) {
      const denied = await person.request(`${gh.issuer}/console/api/v1${path}`);
      expect(denied.status).toBe(403);
      expect(((await denied.json()) as { error: string }).error).toBe('access_denied');
    }
    const list = await admin.request(`${gh.issuer}/console/api/v1/mcp-servers`);
    expect(list.status).toBe(200);
    const csrf = csrfOf((await admin.page('/resources')).html);
    const headers = { 'content-type': 'application/json', 'x-csrf-token': csrf };
    const created = await admin.request(`${gh.issuer}/console/api/v1/mcp-servers`, { method: 'POST', headers, body: JSON.stringify({ uri: 'https://session.example.test/mcp', name: 'From the browser' }) });
    expect(created.status).toBe(201);
    const row = (await events('resource.created', { resource: 'https://session.example.test/mcp' }))[0]!;
    expect(row.actor).toBe(ADMIN.email);
    expect(details(row).via).toBe('person');
    // A person may not save a sign-in restriction that refuses their own next sign-in (admin/policy.ts).
    const lockout = await admin.request(`${gh.issuer}/console/api/v1/policy/ALLOWED_EMAIL_DOMAINS`, { method: 'PUT', headers, body: JSON.stringify({ value: 'elsewhere.example' }) });
    expect(lockout.status).toBe(400);
    expect(((await lockout.json()) as { field: string }).field).toBe('value');
    expect(await gh.services.policy.get('ALLOWED_EMAIL_DOMAINS')).toEqual([]);
  });
});

describe('the CLI with GATEHOUSE_URL (docs/ADMIN-API.md, "The CLI")', () => {
  const remote = () => ({ ...db.env, GATEHOUSE_URL: gh.issuer, GATEHOUSE_CLIENT_ID: writerId, GATEHOUSE_CLIENT_SECRET: writerSecret });
  const cli = async (args: string[]) => {
    const run = await runCli([...args, '--json'], remote());
    return run.code === 0 ? { ok: true as const, json: oneJson(run.stdout) } : { ok: false as const, json: JSON.parse(run.stderr.trim().split('\n').pop()!) as Record<string, any> };
  };
  const uri = 'https://cli-remote.example.test/mcp';

  it('resource and policy commands print the API\'s answers, refuse as the API does, and are audited as the API client', async () => {
    const added = await cli(['resource', 'add', '--uri', uri, '--name', 'Remote', '--scope', 'r:read=Read', '--tool', 'r:read=list']);
    expect(added).toMatchObject({ ok: true, json: { uri, name: 'Remote', scopes: { 'r:read': { description: 'Read', tools: ['list'] } } } });
    const shown = await cli(['resource', 'show', uri]);
    expect(shown.json).toEqual((await call(server(uri), { token: reader })).json);
    const scoped = await cli(['resource', 'set-scope', uri, 'r:write', '--tool', 'put', '--approval', 'each-call', '--if-version', shown.json.version]);
    expect(scoped.json.scopes['r:write']).toEqual({ description: 'r:write', tools: ['put'], approval: 'each-call' });
    const stale = await cli(['resource', 'update', uri, '--name', 'Lost', '--if-version', shown.json.version]);
    expect(stale).toMatchObject({ ok: false, json: { error: 'conflict', field: 'version', status: 409 } });
    // The delegation policy (docs/DELEGATION.md): a URI keeps its own `=`; the scopes follow the last one.
    const delegated = await cli(['resource', 'update', uri, '--delegate-connection', 'github=repo,read:user', '--delegate-connection', 'entra', '--delegate-resource', 'https://files.example.test/mcp?v=2=files:read']);
    expect(delegated.json.delegation).toEqual({ connections: { github: ['repo', 'read:user'], entra: [] }, resources: { 'https://files.example.test/mcp?v=2': ['files:read'] } });
    const text = await runCli(['resource', 'show', uri], remote());
    expect(text.stdout).toContain('may obtain tokens at connection github [scopes: repo read:user]');
    expect((await cli(['resource', 'update', uri, '--clear-delegation'])).json.delegation).toEqual({ connections: {}, resources: {} });
    const listed = await cli(['resource', 'list', '--search', 'cli-remote']);
    expect(listed.json).toEqual({ items: [(await call(server(uri), { token: reader })).json], next: null });
    expect((await cli(['resource', 'remove-scope', uri, 'r:write'])).json.scopes['r:write']).toBeUndefined();
    expect((await cli(['resource', 'remove', uri])).json).toEqual({ uri, name: 'Remote', from_environment: false });
    expect(await cli(['resource', 'show', uri])).toMatchObject({ ok: false, json: { error: 'not_found', status: 404 } });

    expect((await cli(['policy', 'set', 'CIMD_ALLOWED_DOMAINS', 'staff.example, ops.example'])).json).toMatchObject({ name: 'CIMD_ALLOWED_DOMAINS', effective: ['staff.example', 'ops.example'], updated_by: writerId });
    expect((await cli(['policy', 'show'])).json).toEqual((await call(`${api}/policy`, { token: reader })).json);
    expect(await cli(['policy', 'set', 'REGISTRATION', 'wide-open'])).toMatchObject({ ok: false, json: { error: 'invalid_request', field: 'value', status: 400 } });
    expect((await cli(['policy', 'reset', 'CIMD_ALLOWED_DOMAINS'])).json).toMatchObject({ effective: [], overridden: false });

    const mine = (await knex()('audit_events').where({ resource: uri }).orderBy('id', 'asc')) as Row[];
    expect(mine.map((r) => [r.type, r.outcome])).toEqual([
      ['resource.created', 'success'], ['resource.updated', 'success'], ['resource.updated', 'failure'], ['resource.updated', 'success'], ['resource.updated', 'success'], ['resource.updated', 'success'], ['resource.deleted', 'success'],
    ]);
    expect(mine.every((r) => r.actor === writerId && details(r).via === 'api_client')).toBe(true);
  }, 240_000);
});
