// RFC 8693 token exchange at /token (docs/DELEGATION.md): an MCP server trades the token a person's client sent it for
// a token for another MCP server naming it as the actor, or for the person's upstream token from the vault. Each
// refusal the issue names — a token for another resource, a revoked grant, a server not allowed the target, a wider
// scope, a public client — has its error and its audit row; the delegated token is verified by the kit.
import { afterEach } from '@jest/globals';
import { createTokenVerifier } from '../../packages/resource-server/src/verify-token.js';
import { addStaticClient } from '../../src/oauth/static-clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { consentedCode, redeemCode } from '../helpers/grants.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { connectionSpec } from '../helpers/connection-spec.js';
import { StubIdp } from '../helpers/stub-idp.js';
import type { RedirectConnector, UpstreamTokens } from '../../src/upstream/connector.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const DOWNSTREAM = 'https://files.example.test/mcp';
const UNLISTED = 'https://unlisted.example.test/mcp';

let db: TestDatabase;
let gh: TestServer;
/** A second instance on the same database (PostgreSQL only: PGlite is one process's). */
let gh2: TestServer | undefined;
let idp: StubIdp;
let server: { id: string; secret: string };
let unlisted: { id: string; secret: string };

async function serverClient(name: string, resource: string): Promise<{ id: string; secret: string }> {
  const s = gh.services;
  const made = await addStaticClient({ db: s.handle.db, box: s.box, provider: gh.holder.provider, registry: s.registry }, { name, redirectUris: [], confidential: true, resource });
  return { id: made.client_id, secret: made.client_secret! };
}

async function exchange(client: { id: string; secret?: string | undefined }, form: Record<string, string>) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams({ grant_type: EXCHANGE, ...form });
  if (client.secret) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
  else body.set('client_id', client.id);
  const res = await fetch(`${gh.issuer}/token`, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, any> };
}

type Person = { accessToken: string; accountId: string; clientId: string };
// People sign in with a password before the Okta connection exists (the login page then offers Okta first).
const people: Person[] = [];

async function consentedPerson(): Promise<Person> {
  const consented = await consentedCode(gh, 'http://127.0.0.1:9/callback');
  const tokens = await redeemCode(gh, consented);
  return { accessToken: tokens.access_token, accountId: consented.accountId, clientId: consented.clientId };
}

async function personToken(): Promise<Person> {
  const person = people.shift();
  if (!person) throw new Error('add people in beforeAll');
  return person;
}

async function lastRefusal(clientId: string) {
  const row = await gh.services.handle.db('audit_events').where({ type: 'token.refused', client_id: clientId }).orderBy('id', 'desc').first();
  return row as { reason: string; details: unknown } | undefined;
}

beforeAll(async () => {
  db = await createTestDatabase();
  idp = await StubIdp.start();
  const upstreamFetch: typeof fetch = (i, init) => idp.fetch(i, init);
  gh = await startTestServer(db.env, undefined, { upstreamFetch });
  // The second instance is the same authorization server (one ISSUER) behind another port, as behind a load balancer.
  if (db.realPostgres) gh2 = await startTestServer({ ...db.env, ISSUER: gh.issuer }, undefined, { upstreamFetch });
  for (let i = 0; i < 16; i++) people.push(await consentedPerson());
  await gh.services.connections.add(connectionSpec('okta', { id: 'okta', name: 'Okta', issuer: idp.origin, storeTokens: true }), 'test');
  await gh.services.resources.upsert({ uri: DOWNSTREAM, name: 'Files', scopes: { 'tools:read': 'Read', 'tools:write': 'Write' } });
  await gh.services.resources.upsert({ uri: UNLISTED, name: 'Unlisted', scopes: { 'tools:read': 'Read' } });
  const main = (await gh.services.resources.find(TEST_RESOURCE))!;
  const { resourceInputOf } = await import('../../src/admin/resources.js');
  await gh.services.resources.upsert({ ...resourceInputOf(main), delegation: { connections: { okta: ['openid', 'email'] }, resources: { [DOWNSTREAM]: ['tools:read', 'tools:write'] } } });
  server = await serverClient('Example MCP server', TEST_RESOURCE);
  unlisted = await serverClient('Unlisted MCP server', UNLISTED);
});

afterAll(async () => {
  await gh2?.close();
  await gh?.close();
  await idp?.close();
  await db?.drop();
});

describe('token exchange for another MCP server', () => {
  it('mints a token for the downstream server naming the calling server as actor, which the kit verifies', async () => {
    const person = await personToken();
    const res = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, resource: DOWNSTREAM });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect(res.json).toMatchObject({ issued_token_type: ACCESS, token_type: 'Bearer', scope: 'tools:read' });
    expect(res.json.refresh_token).toBeUndefined();
    const verify = createTokenVerifier({ issuer: gh.issuer, resource: DOWNSTREAM });
    const identity = await verify(res.json.access_token);
    expect(identity).toMatchObject({ sub: person.accountId, clientId: server.id, scopes: ['tools:read'], resource: DOWNSTREAM });
    expect(identity.claims.act).toEqual({ sub: server.id });
    // The delegated token is not a token for the calling server, nor exchangeable again.
    await expect(createTokenVerifier({ issuer: gh.issuer, resource: TEST_RESOURCE })(res.json.access_token)).rejects.toThrow();
    const again = await exchange(server, { subject_token: res.json.access_token, subject_token_type: ACCESS, resource: DOWNSTREAM });
    expect(again.status).toBe(400);
    expect(again.json.error).toBe('invalid_grant');
    const audited = await gh.services.handle.db('audit_events').where({ type: 'token.issued', client_id: server.id }).first();
    expect(audited).toBeDefined();
  });

  it('refuses a subject token minted for another resource (no confused deputy)', async () => {
    const person = await personToken();
    const res = await exchange(unlisted, { subject_token: person.accessToken, subject_token_type: ACCESS, resource: DOWNSTREAM });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_grant');
    expect(res.json.error_description).toMatch(/subject_token/);
    expect((await lastRefusal(unlisted.id))?.reason).toMatch(/invalid_grant: subject_token/);
  });

  it('refuses a token whose grant was revoked', async () => {
    const person = await personToken();
    const payload = JSON.parse(Buffer.from(person.accessToken.split('.')[1]!, 'base64url').toString()) as { grant_id: string };
    const grant = await gh.holder.provider.Grant.find(payload.grant_id);
    await grant!.destroy();
    const res = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, resource: DOWNSTREAM });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/revoked or has expired/) });
    expect((await lastRefusal(server.id))?.reason).toMatch(/revoked/);
  });

  it('refuses a target the delegation policy does not list, and a connection it does not list', async () => {
    const person = await personToken();
    const res = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, resource: UNLISTED });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_target');
    expect((await lastRefusal(server.id))?.reason).toMatch(/may not obtain tokens for https:\/\/unlisted/);
    const upstream = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, audience: 'github' });
    expect(upstream.status).toBe(400);
    expect(upstream.json.error).toBe('invalid_target');
    expect((await lastRefusal(server.id))?.reason).toMatch(/connection "github"/);
    // A target named like an object's own machinery finds nothing inherited, with or without a scope (no 500).
    for (const audience of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      for (const scope of [undefined, 'openid']) {
        const odd = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, audience, ...(scope ? { scope } : {}) });
        expect({ audience, scope, status: odd.status, error: odd.json.error }).toEqual({ audience, scope, status: 400, error: 'invalid_target' });
      }
    }
    // A long or hostile value is quoted short in the answer.
    const long = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, audience: `x${'a'.repeat(5000)}\u202e` });
    expect(long.json.error).toBe('invalid_target');
    expect(long.json.error_description.length).toBeLessThan(300);
    expect(long.json.error_description).not.toContain('\u202e');
  });

  it('refuses a scope wider than the policy or than the person granted', async () => {
    const person = await personToken();
    const wider = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, resource: DOWNSTREAM, scope: 'tools:admin' });
    expect(wider.status).toBe(400);
    expect(wider.json.error).toBe('invalid_scope');
    // tools:write is allowed by the policy, but the person granted only tools:read.
    const ungranted = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, resource: DOWNSTREAM, scope: 'tools:read tools:write' });
    expect(ungranted.status).toBe(400);
    expect(ungranted.json).toMatchObject({ error: 'invalid_scope', error_description: expect.stringMatching(/did not grant "tools:write"/) });
    expect((await lastRefusal(server.id))?.reason).toMatch(/invalid_scope/);
  });

  it('ends with the person\'s access: a disabled client, a sign-in policy or server rule narrowed since the token', async () => {
    const disabledClient = await personToken();
    await gh.services.registry.setStatus(disabledClient.clientId, 'disabled', 'test');
    const refused = await exchange(server, { subject_token: disabledClient.accessToken, subject_token_type: ACCESS, resource: DOWNSTREAM });
    expect(refused.json).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/disabled/) });
    await gh.services.registry.setStatus(disabledClient.clientId, 'active', 'test');

    const narrowed = await personToken();
    await gh.services.policy.set('ALLOWED_EMAIL_DOMAINS', 'elsewhere.example', 'test');
    try {
      for (const target of [{ resource: DOWNSTREAM }, { audience: 'okta' }] as Array<Record<string, string>>) {
        const res = await exchange(server, { subject_token: narrowed.accessToken, subject_token_type: ACCESS, ...target });
        expect({ target, error: res.json.error }).toEqual({ target, error: 'invalid_grant' });
      }
    } finally {
      await gh.services.policy.reset('ALLOWED_EMAIL_DOMAINS');
    }
    const main = (await gh.services.resources.find(TEST_RESOURCE))!;
    const { resourceInputOf } = await import('../../src/admin/resources.js');
    await gh.services.resources.upsert({ ...resourceInputOf(main), access: { email_domains: ['elsewhere.example'], groups: [] } });
    try {
      const res = await exchange(server, { subject_token: narrowed.accessToken, subject_token_type: ACCESS, resource: DOWNSTREAM });
      expect(res.json).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/not allowed/) });
    } finally {
      await gh.services.resources.upsert(resourceInputOf(main));
    }
    expect((await exchange(server, { subject_token: narrowed.accessToken, subject_token_type: ACCESS, resource: DOWNSTREAM })).status).toBe(200);
  });

  it('refuses a public client and a confidential client not bound to an MCP server', async () => {
    const person = await personToken();
    const publicClient = await exchange({ id: person.clientId }, { subject_token: person.accessToken, subject_token_type: ACCESS, resource: DOWNSTREAM });
    expect(publicClient.status).toBe(400);
    expect(publicClient.json.error).toBe('unauthorized_client');
    expect(await lastRefusal(person.clientId)).toBeDefined();
    const s = gh.services;
    const machine = await addStaticClient({ db: s.handle.db, box: s.box, provider: gh.holder.provider, registry: s.registry }, { name: 'machine', redirectUris: [], confidential: true });
    const unbound = await exchange({ id: machine.client_id, secret: machine.client_secret }, { subject_token: person.accessToken, subject_token_type: ACCESS, resource: DOWNSTREAM });
    expect(unbound.status).toBe(400);
    expect(unbound.json.error).toBe('unauthorized_client');
  });

  it('refuses a wrong subject_token_type, an actor_token and a garbage token', async () => {
    const person = await personToken();
    const typ = await exchange(server, { subject_token: person.accessToken, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token', resource: DOWNSTREAM });
    expect(typ.json.error).toBe('invalid_request');
    const actor = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, actor_token: 'x', actor_token_type: ACCESS, resource: DOWNSTREAM });
    expect(actor.json.error).toBe('invalid_request');
    const garbage = await exchange(server, { subject_token: 'not.a.token', subject_token_type: ACCESS, resource: DOWNSTREAM });
    expect(garbage.json.error).toBe('invalid_grant');
  });
});

/** The person's Okta account linked in the vault, as a login or the connect-account page leaves it. */
async function linkOkta(accountId: string, adjust: (t: UpstreamTokens) => UpstreamTokens = (t) => t): Promise<UpstreamTokens> {
  const connector = gh.services.connections.connector((await gh.services.connections.find('okta'))!) as RedirectConnector;
  const { url, checks } = await connector.start();
  const { identity, tokens } = await connector.finish(await idp.login(url, { claims: { sub: `00u-${accountId}`, email: 'p@example.com', email_verified: true } }), checks);
  const kept = adjust(tokens!);
  await gh.services.vault.link(accountId, 'okta', { issuer: identity.issuer, subject: identity.subject }, kept);
  idp.tokenRequests.length = 0;
  return kept;
}

const expired = (t: UpstreamTokens): UpstreamTokens => ({ ...t, expiresAt: new Date(Date.now() - 1000) });

describe('token exchange for the person\'s upstream token (the vault)', () => {
  afterEach(() => {
    idp.down = false;
    idp.refreshRefusal = undefined;
    idp.refreshDelayMs = 0;
  });

  it('nothing linked: invalid_grant with the connect URL, audited; linked: the upstream token, no-store', async () => {
    const person = await personToken();
    const lastId = Number((await gh.services.handle.db('audit_events').max('id as id').first())?.id ?? 0);
    const before = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, audience: 'okta', scope: 'openid' });
    expect(before.status).toBe(400);
    expect(before.json).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/has not connected their Okta account/) });
    const connect = new URL(before.json.connect_url);
    expect(connect.href.startsWith(`${gh.issuer}/account/connect/okta?`)).toBe(true);
    expect(connect.searchParams.get('scope')).toBe('openid');
    expect(connect.searchParams.get('client_id')).toBe(person.clientId);
    expect((await lastRefusal(server.id))?.reason).toMatch(/has not connected/);
    // A refusal is never also audited as a token issued.
    expect(await gh.services.handle.db('audit_events').where({ type: 'token.issued', client_id: server.id }).where('id', '>', lastId).first()).toBeUndefined();

    const kept = await linkOkta(person.accountId);
    const after = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, audience: 'okta', scope: 'openid' });
    expect(after.status).toBe(200);
    expect(after.headers.get('cache-control')).toContain('no-store');
    expect(after.json).toMatchObject({ access_token: kept.accessToken, issued_token_type: ACCESS, token_type: 'Bearer' });
    expect(idp.tokenRequests).toHaveLength(0);
    // A scope the policy does not list is refused before the vault is asked, quoted short; so is an upstream resource.
    const wider = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, audience: 'okta', scope: `offline_access ${'Z'.repeat(3000)}` });
    expect(wider.json.error).toBe('invalid_scope');
    expect(wider.json.error_description.length).toBeLessThan(300);
    expect(wider.json.scope).toBeUndefined();
    const otherApi = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, audience: 'okta', resource: 'https://management.azure.com' });
    expect(otherApi.json).toMatchObject({ error: 'invalid_target', error_description: expect.stringMatching(/may not obtain tokens for "https:\/\/management\.azure\.com" at okta/) });
    expect(idp.tokenRequests).toHaveLength(0);
  });

  it('20 concurrent exchanges needing a refresh (two instances on PostgreSQL) make one upstream call and all get its token', async () => {
    const person = await personToken();
    await linkOkta(person.accountId, expired);
    idp.refreshDelayMs = 300;
    // The other instance learns of the delegation policy within its registry's 2 s cache; don't wait for it.
    gh2?.services.resources.invalidate();
    const instances = [gh, gh2 ?? gh];
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const at = instances[i % 2]!;
        const body = new URLSearchParams({ grant_type: EXCHANGE, subject_token: person.accessToken, subject_token_type: ACCESS, audience: 'okta' });
        const authorization = `Basic ${Buffer.from(`${server.id}:${server.secret}`).toString('base64')}`;
        return fetch(`http://127.0.0.1:${at.port}/token`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body }).then(async (r) => ({ status: r.status, json: (await r.json()) as Record<string, string> }));
      }),
    );
    expect(answers.map((a) => (a.status === 200 ? 200 : a.json))).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((a) => a.json.access_token)).size).toBe(1);
    expect(idp.refreshRequests()).toHaveLength(1);
  });

  it('an upstream invalid_grant makes the vault needs_reauth: invalid_grant with the connect URL, and no upstream call after', async () => {
    const person = await personToken();
    await linkOkta(person.accountId, expired);
    idp.refreshRefusal = 'invalid_grant';
    const res = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, audience: 'okta' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/connect their Okta account again/), connect_url: expect.stringContaining('/account/connect/okta') });
    expect((await gh.services.vault.linked(person.accountId, 'okta'))?.status).toBe('needs_reauth');
    idp.tokenRequests.length = 0;
    const again = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, audience: 'okta' });
    expect(again.json.error).toBe('invalid_grant');
    expect(idp.tokenRequests).toHaveLength(0);
  });

  it('tokens kept from one IdP are never sent to another: changing the connection\'s issuer makes people connect again', async () => {
    const person = await personToken();
    await linkOkta(person.accountId, expired);
    const okta = (await gh.services.connections.find('okta'))!;
    const other = await StubIdp.start();
    try {
      await gh.services.connections.update({ ...okta, issuer: other.origin }, { keepSecret: true });
      const res = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, audience: 'okta' });
      expect(res.json).toMatchObject({ error: 'invalid_grant', connect_url: expect.stringContaining('/account/connect/okta') });
      expect(other.tokenRequests).toHaveLength(0);
      expect(idp.tokenRequests).toHaveLength(0);
      expect((await gh.services.vault.linked(person.accountId, 'okta'))?.status).toBe('needs_reauth');
    } finally {
      await gh.services.connections.update(okta, { keepSecret: true });
      await other.close();
    }
    // The same when UPSTREAM_* names another issuer at the next start (the environment's connection is seeded again).
    const seeded = connectionSpec('oidc', { id: 'envidp', name: 'Env IdP', issuer: idp.origin, storeTokens: true, allowPrivateNetwork: true });
    await gh.services.connections.seed(seeded);
    await gh.services.vault.link(person.accountId, 'envidp', { issuer: idp.origin, subject: 'env-subject' }, { accessToken: 'at-env', refreshToken: 'rt-env', expiresAt: new Date(Date.now() - 1000) });
    await gh.services.connections.seed({ ...seeded, issuer: 'https://elsewhere.example.com' });
    expect((await gh.services.vault.linked(person.accountId, 'envidp'))?.status).toBe('needs_reauth');
    expect(await gh.services.upstreamTokens.find(person.accountId, 'envidp')).toMatchObject({ accessToken: undefined, refreshToken: undefined });
  });

  it('an upstream outage is 503 temporarily_unavailable with Retry-After, and revokes nothing', async () => {
    const person = await personToken();
    await linkOkta(person.accountId, expired);
    idp.down = true;
    const res = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, audience: 'okta' });
    expect(res.status).toBe(503);
    expect(res.json.error).toBe('temporarily_unavailable');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await gh.services.vault.linked(person.accountId, 'okta'))?.status).toBe('active');
    idp.down = false;
    const later = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, audience: 'okta' });
    expect(later.status).toBe(200);
  });

  it('a disabled connection hands out no upstream token, not even a live one the vault holds; enabled again, it does', async () => {
    const person = await personToken();
    const kept = await linkOkta(person.accountId);
    const okta = (await gh.services.connections.find('okta'))!;
    await gh.services.connections.update(okta, { keepSecret: true, enabled: false });
    try {
      const res = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, audience: 'okta' });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ error: 'invalid_target', error_description: expect.stringMatching(/connection "okta" is turned off by an administrator/) });
      expect(res.json.access_token).toBeUndefined();
      expect(res.json.connect_url).toBeUndefined(); // connecting again would not help
      expect((await lastRefusal(server.id))?.reason).toMatch(/turned off/);
      expect(idp.tokenRequests).toHaveLength(0);
    } finally {
      await gh.services.connections.update(okta, { keepSecret: true, enabled: true });
    }
    const again = await exchange(server, { subject_token: person.accessToken, subject_token_type: ACCESS, audience: 'okta' });
    expect(again).toMatchObject({ status: 200, json: { access_token: kept.accessToken } });
  });
});
