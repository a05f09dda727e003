// The identity assertion grant (Enterprise-Managed Authorization, docs/ENTERPRISE-MANAGED-AUTHORIZATION.md) over real
// HTTP: an enterprise IdP (test/helpers/id-jag-idp.ts) signs ID-JAGs; an administrator trusts it through a connection
// with id_jag on (the admin API); a confidential client trades an assertion for an access token at /token, and the
// MCP SDK client calls a tool of the notes server (protected by the kit) with it. Every refusal the draft and the
// issue name is one invalid_grant (or invalid_scope / invalid_target) answer naming what failed, and one audit row.
// What this file proves for docs/COMPATIBILITY.md (scripts/compatibility.ts reads these lines):
// compatibility: client=sdk-v1 covers=bearer
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { grantsOfAccount, revokeGrant } from '../../src/oauth/adapter.js';
import { forgetSpentAssertions } from '../../src/oauth/grants/id-jag-assertion.js';
import { metadata } from '../../src/oauth/metadata.js';
import { ConfigFileError, loadConfigText } from '../../src/admin/config-file/load.js';
import { adminApiClient, adminApiToken, call } from '../helpers/admin-api.js';
import { tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startIdJagIdp, type IdJagClaims, type IdJagIdp } from '../helpers/id-jag-idp.js';
import { clientAuthentication, postRegistration, type Json } from '../helpers/registration.js';
import { freePort, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { NOTES_SCOPES, startNotesServer, type NotesServer } from '../../demo/notes-server.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const PROFILE = 'urn:ietf:params:oauth:grant-profile:id-jag';
const SUB = 'okta-00u1ada';

let db: TestDatabase;
let gh: TestServer;
let idp: IdJagIdp;
let stranger: IdJagIdp;
let notes: NotesServer;
let api: string;
let admin: string;
let client: Json;
let other: Json;

const knex = () => gh.services.handle.db;

async function register(name: string): Promise<Json> {
  const res = await postRegistration(gh.issuer, {
    client_name: name,
    redirect_uris: ['http://127.0.0.1:43999/callback'],
    grant_types: ['authorization_code', 'refresh_token', JWT_BEARER],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  expect(res.status).toBe(201);
  expect(res.body.grant_types).toContain(JWT_BEARER);
  return res.body;
}

/** The token request of the draft: grant_type jwt-bearer, the ID-JAG as `assertion`, client authentication. */
async function exchange(assertion: string, extra: Record<string, string> = {}, as: Json = client) {
  const auth = clientAuthentication(as);
  return tokenRequest(gh.issuer, { grant_type: JWT_BEARER, assertion, ...auth.form, ...extra }, auth.headers);
}

/** An assertion right in every claim for `client` and the notes server, but those given. */
const good = (over: IdJagClaims = {}, header?: { typ?: string }) =>
  idp.assertion({ sub: SUB, aud: gh.issuer, client_id: client.client_id, resource: notes.url, scope: 'notes:read notes:write', email: 'ada@example.com', email_verified: true, ...over }, header);

async function lastIdJagEvent() {
  return (await knex()('audit_events').where({ type: 'token.id_jag' }).orderBy('id', 'desc').first()) as { outcome: string; reason: string | null; client_id: string | null; details: unknown } | undefined;
}

const metadataDoc = async () => (await (await fetch(`${gh.issuer}/.well-known/oauth-authorization-server`)).json()) as Json;

beforeAll(async () => {
  idp = await startIdJagIdp();
  stranger = await startIdJagIdp();
  db = await createTestDatabase();
  const port = await freePort();
  notes = await startNotesServer({ issuer: `http://127.0.0.1:${port}` });
  gh = await startTestServer(
    {
      ...db.env,
      RESOURCES: JSON.stringify([
        { uri: notes.url, name: 'Demo notes', scopes: NOTES_SCOPES, default: true },
        { uri: TEST_RESOURCE, name: 'Other', scopes: { 'tools:read': 'Read' } },
      ]),
    },
    port,
  );
  api = `${gh.issuer}/admin/api/v1`;
  admin = await adminApiToken(gh, await adminApiClient(gh, 'admin:read admin:write'));
  client = await register('Enterprise agent');
  other = await register('Another agent');
});

afterAll(async () => {
  await gh?.close();
  await notes?.close();
  await idp?.close();
  await stranger?.close();
  await db?.drop();
});

describe('before any connection accepts identity assertions', () => {
  it('the metadata offers neither jwt-bearer nor the ID-JAG profile', async () => {
    const doc = await metadataDoc();
    expect(doc.grant_types_supported).not.toContain(JWT_BEARER);
    expect(doc.authorization_grant_profiles_supported).toBeUndefined();
  });

  it('a jwt-bearer request is unsupported_grant_type, audited', async () => {
    const res = await exchange(await idp.assertion({ sub: SUB, aud: gh.issuer, client_id: client.client_id }));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'unsupported_grant_type' });
    expect(res.body.error_description).toMatch(/no identity provider is trusted/);
    expect(await lastIdJagEvent()).toMatchObject({ outcome: 'failure', client_id: client.client_id });
  });

  it('only a kind with an issuer and keys may accept them: a github connection is refused naming id_jag', async () => {
    const res = await call(`${api}/connections`, { method: 'POST', token: admin, body: { id: 'gh', kind: 'github', client_id: 'x', client_secret: 'y', id_jag: true } });
    expect(res).toMatchObject({ status: 400, json: { field: 'id_jag' } });
    expect(JSON.stringify(res.json)).toMatch(/identity assertions need an OpenID Connect issuer/);
  });

  it('a default resource must be a URL, named as id_jag_resource', async () => {
    const res = await call(`${api}/connections`, {
      method: 'POST', token: admin, body: { id: 'bad', kind: 'oidc', issuer: idp.issuer, client_id: 'x', id_jag: true, id_jag_resource: 'not a url', allow_private_network: true },
    });
    expect(res).toMatchObject({ status: 400, json: { field: 'id_jag_resource' } });
  });
});

describe('the configuration file', () => {
  const file = (kind: string, extra: string) => `connections:\n  - id: corp\n    kind: ${kind}\n    issuer: https://idp.example.com\n    client_id: gh\n${extra}`;

  it('reads id_jag and id_jag_resource into the connection', () => {
    const loaded = loadConfigText(file('oidc', '    id_jag: true\n    id_jag_resource: https://mcp.example.com/mcp\n'), 'gatehouse.yaml', { env: {} });
    expect(loaded.connections[0]!.spec).toMatchObject({ idJag: true, idJagResource: 'https://mcp.example.com/mcp' });
    expect(loadConfigText(file('oidc', ''), 'gatehouse.yaml', { env: {} }).connections[0]!.spec.idJag).toBe(false);
  });

  it('refuses id_jag on a kind without an issuer and keys, naming the key', () => {
    let problems: string[] = [];
    try {
      loadConfigText(`connections:\n  - id: gh\n    kind: github\n    client_id: gh\n    id_jag: true\n`, 'gatehouse.yaml', { env: {} });
    } catch (err) {
      problems = (err as ConfigFileError).problems;
    }
    expect(problems.join('\n')).toMatch(/connections\[0\]\.id_jag.*identity assertions need/);
  });
});

describe('with an IdP trusted for identity assertions', () => {
  beforeAll(async () => {
    const res = await call(`${api}/connections`, {
      method: 'POST',
      token: admin,
      body: { id: 'corp', kind: 'oidc', name: 'Corp IdP', issuer: idp.issuer, client_id: 'gatehouse-at-corp', client_secret: 'corp-secret', allow_private_network: true, id_jag: true, id_jag_resource: notes.url },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ id_jag: true, id_jag_resource: notes.url });
  });

  let token: string;
  let accountId: string;

  it('an assertion becomes an access token for the MCP server: requested ∩ asserted scopes, no refresh token', async () => {
    const res = await exchange(await good(), { scope: 'notes:read' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'notes:read' });
    expect(res.body.expires_in).toBeGreaterThan(0);
    expect(res.body.refresh_token).toBeUndefined();
    expect(res.body.id_token).toBeUndefined();
    token = res.body.access_token as string;
    expect(decodeProtectedHeader(token).typ).toBe('at+jwt');
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ iss: gh.issuer, aud: notes.url, client_id: client.client_id, scope: 'notes:read' });
    expect(typeof claims.grant_id).toBe('string');
    // The subject is linked like a login through the connection: (connection, iss, sub) → one account.
    const row = (await knex()('identities').where({ connection_id: 'corp', issuer: idp.issuer, subject: SUB }).first('account_id')) as { account_id: string };
    accountId = row.account_id;
    expect(claims.sub).toBe(accountId);
    // A grant the person sees in their connected apps.
    const grants = await grantsOfAccount(knex(), accountId);
    expect(grants).toEqual([expect.objectContaining({ grantId: claims.grant_id, clientId: client.client_id, resources: { [notes.url]: ['notes:read'] } })]);
    expect(await lastIdJagEvent()).toMatchObject({ outcome: 'success', client_id: client.client_id });
  });

  it('the MCP SDK client calls a tool of the kit-protected server with that token', async () => {
    const mcp = new Client({ name: 'id-jag-agent', version: '1.0.0' });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(notes.url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    const result = (await mcp.callTool({ name: 'whoami', arguments: {} })) as { content: Array<{ text: string }> };
    expect(JSON.parse(result.content[0]!.text)).toMatchObject({ sub: accountId, client_id: client.client_id, scopes: ['notes:read'] });
    await mcp.close();
  });

  it('without a scope parameter, the token carries the asserted scopes the server offers', async () => {
    const res = await exchange(await good({ scope: 'notes:read notes:write calendar:read' }));
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('notes:read notes:write');
  });

  it('an assertion without resource (as Okta sends) is for the connection\'s default MCP server; the same person', async () => {
    const res = await exchange(await good({ resource: undefined }), { scope: 'notes:read' });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token as string)).toMatchObject({ aud: notes.url, sub: accountId });
  });

  it('the person revokes the grant from their connected apps', async () => {
    const before = await grantsOfAccount(knex(), accountId);
    expect(before.length).toBeGreaterThan(0);
    for (const g of before) await revokeGrant(knex(), g.grantId);
    expect(await grantsOfAccount(knex(), accountId)).toEqual([]);
  });

  // Each refusal: the answer's error and description, and the audit row with the reason.
  const refusals: Array<[string, () => Promise<{ assertion: string; extra?: Record<string, string>; as?: Json }>, string, RegExp]> = [
    ['typ other than oauth-id-jag+jwt (an ID token)', async () => ({ assertion: await good({}, { typ: 'JWT' }) }), 'invalid_grant', /typ is JWT, not oauth-id-jag\+jwt/],
    ['an issuer no connection trusts', async () => ({ assertion: await stranger.assertion({ sub: SUB, aud: gh.issuer, client_id: client.client_id, resource: notes.url, scope: 'notes:read' }) }), 'invalid_grant', /issuer .* is not trusted/],
    ['aud another authorization server', async () => ({ assertion: await good({ aud: 'https://as.elsewhere.example' }) }), 'invalid_grant', /audience/],
    ['client_id of another client', async () => ({ assertion: await good({ client_id: other.client_id }) }), 'invalid_grant', /issued to client/],
    ['expired', async () => ({ assertion: await good({ iat: Math.floor(Date.now() / 1000) - 400, exp: Math.floor(Date.now() / 1000) - 100 }) }), 'invalid_grant', /expired|"exp"/],
    ['living longer than the maximum', async () => ({ assertion: await good({ exp: Math.floor(Date.now() / 1000) + 3600 }) }), 'invalid_grant', /lives longer than/],
    ['an unregistered resource', async () => ({ assertion: await good({ resource: 'https://unknown.example/mcp' }) }), 'invalid_target', /not registered/],
    ['a requested scope outside the assertion', async () => ({ assertion: await good({ scope: 'notes:read' }), extra: { scope: 'notes:read notes:delete' } }), 'invalid_scope', /notes:delete is outside the assertion/],
    ['a resource parameter other than the asserted one', async () => ({ assertion: await good(), extra: { resource: TEST_RESOURCE } }), 'invalid_target', /not the one the assertion is for/],
    ['a forged signature', async () => ({ assertion: (await good()).replace(/\.[^.]+$/, '.' + Buffer.alloc(64, 1).toString('base64url')) }), 'invalid_grant', /signature/],
    ['no assertion at all', async () => ({ assertion: '' }), 'invalid_request', /missing assertion/],
  ];

  it.each(refusals)('refuses %s', async (_what, make, error, description) => {
    const { assertion, extra, as } = await make();
    const res = await exchange(assertion, extra, as);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
    expect(res.body.error_description).toMatch(description);
    expect(res.body.access_token).toBeUndefined();
    const event = await lastIdJagEvent();
    expect(event).toMatchObject({ outcome: 'failure' });
    expect(event!.reason).toMatch(description);
  });

  it('refuses a replayed jti, on the second presentation only', async () => {
    const assertion = await good();
    expect((await exchange(assertion, { scope: 'notes:read' })).status).toBe(200);
    const again = await exchange(assertion, { scope: 'notes:read' });
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({ error: 'invalid_grant' });
    expect(again.body.error_description).toMatch(/already used/);
    expect((await lastIdJagEvent())!.reason).toMatch(/already used/);
    // The spent id is kept until the assertion expires, then forgotten.
    const jti = decodeJwt(assertion).jti;
    expect(await knex()('assertions_seen').where({ issuer: idp.issuer, jti }).first()).toBeDefined();
    expect(await forgetSpentAssertions(knex(), new Date(Date.now() + 3600_000))).toBeGreaterThan(0);
    expect(await knex()('assertions_seen').where({ issuer: idp.issuer, jti }).first()).toBeUndefined();
  });

  it('refuses a disabled account like a login does', async () => {
    await gh.services.accounts.setDisabled(accountId, true);
    try {
      const res = await exchange(await good(), { scope: 'notes:read' });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_grant' });
      expect(res.body.error_description).toMatch(/disabled/);
    } finally {
      await gh.services.accounts.setDisabled(accountId, false);
    }
  });

  it('refuses a deprovisioned account until the person signs in again', async () => {
    await gh.services.accounts.markDeprovisioned(accountId, 'test');
    try {
      const res = await exchange(await good(), { scope: 'notes:read' });
      expect(res.status).toBe(400);
      expect(res.body.error_description).toMatch(/deprovisioned/);
    } finally {
      await knex()('accounts').where({ id: accountId }).update({ deprovisioned_at: null });
    }
  });

  it('the metadata completion lists them exactly when told a connection accepts assertions', async () => {
    const complete = async (idJag: boolean) => {
      const ctx = { method: 'GET', path: '/', status: 0, body: undefined as unknown, type: '' };
      const mw = metadata({ resources: gh.services.resources, cimd: false, idJag: async () => idJag });
      await mw(ctx as never, async () => {
        ctx.status = 200;
        ctx.body = { issuer: gh.issuer, grant_types_supported: ['authorization_code', JWT_BEARER] };
      });
      return ctx.body as Json;
    };
    expect(await complete(true)).toMatchObject({ grant_types_supported: ['authorization_code', JWT_BEARER], authorization_grant_profiles_supported: [PROFILE] });
    const off = await complete(false);
    expect(off.grant_types_supported).toEqual(['authorization_code']);
    expect(off.authorization_grant_profiles_supported).toBeUndefined();
  });

  // Needs the wiring in src/policy-table.ts (metadata({ …, idJag: () => idJagEnabled(deps.connections) })).
  it('the metadata offers jwt-bearer and the ID-JAG profile', async () => {
    const doc = await metadataDoc();
    expect(doc.grant_types_supported).toContain(JWT_BEARER);
    expect(doc.authorization_grant_profiles_supported).toEqual([PROFILE]);
  });

  it('a disabled connection\'s assertions are not trusted, and the metadata follows; enabled again, they are', async () => {
    expect((await call(`${api}/connections/corp/disable`, { method: 'POST', token: admin })).status).toBe(200);
    try {
      // The only connection that trusted assertions is off: the grant is gone from the metadata and /token.
      expect((await metadataDoc()).grant_types_supported).not.toContain(JWT_BEARER);
      expect((await exchange(await good(), { scope: 'notes:read' })).body).toMatchObject({ error: 'unsupported_grant_type' });
      // Another IdP still trusted: the disabled connection's issuer is refused by name.
      const partner = { id: 'partner', kind: 'oidc', issuer: stranger.issuer, client_id: 'gatehouse-at-partner', allow_private_network: true, id_jag: true, id_jag_resource: notes.url };
      expect((await call(`${api}/connections`, { method: 'POST', token: admin, body: partner })).status).toBe(201);
      try {
        const res = await exchange(await good(), { scope: 'notes:read' });
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/issuer .* is not trusted/) });
        expect(res.body.access_token).toBeUndefined();
        expect((await lastIdJagEvent())!.reason).toMatch(/is not trusted/);
      } finally {
        expect((await call(`${api}/connections/partner`, { method: 'DELETE', token: admin })).status).toBeLessThan(300);
      }
    } finally {
      expect((await call(`${api}/connections/corp/enable`, { method: 'POST', token: admin })).status).toBe(200);
    }
    expect((await exchange(await good(), { scope: 'notes:read' })).status).toBe(200);
    expect((await metadataDoc()).grant_types_supported).toContain(JWT_BEARER);
  });

  it('turning the connection\'s id_jag off ends the grant at once', async () => {
    const current = await call(`${api}/connections/corp`, { token: admin });
    const { kind, name, issuer, client_id, allow_private_network } = current.json;
    const put = await call(`${api}/connections/corp`, { method: 'PUT', token: admin, body: { kind, name, issuer, client_id, allow_private_network, id_jag: false }, headers: { 'if-match': current.headers.get('etag')! } });
    expect(put.status).toBe(200);
    expect(put.json.id_jag).toBe(false);
    await new Promise((r) => setTimeout(r, 2100)); // the connections cache (upstream/connections.ts)
    const res = await exchange(await good(), { scope: 'notes:read' });
    expect(res.body.error).toBe('unsupported_grant_type');
    expect((await metadataDoc()).grant_types_supported).not.toContain(JWT_BEARER);
  });
});
