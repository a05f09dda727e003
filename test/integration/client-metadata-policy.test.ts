// Issue 15, findings 1 and 4 (docs/SECURITY.md, threats 1 and 4): every source of clients passes one client-metadata policy, and
// client_credentials belongs only to confidential clients an administrator created.
//
// Finding 1: a Client ID Metadata Document declaring client_credentials (public, or private_key_jwt with its own
// jwks_uri) got a token for any resource from POST /token, even with REGISTRATION=closed. Finding 4: documents
// skipped the redirect-URI rules (a plain-http foreign redirect and an unlisted private-use scheme got codes).
// The server here runs with REGISTRATION=closed, as in the attack; dynamic clients register with an initial
// access token. CIMD documents come from a local HTTPS fixture (test/helpers/cimd-fixture.ts): host names map to
// 127.0.0.1 through an injected resolver, and a connect spy fails any socket to anything else.
// What this file proves for docs/COMPATIBILITY.md (scripts/compatibility.ts reads these lines):
// compatibility: registration=claude-ai covers=cimd,refresh
// compatibility: registration=chatgpt covers=cimd,private_key_jwt,refresh
import { randomBytes } from 'node:crypto';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { ResolvedAddress } from '../../src/net/guarded-fetch.js';
import { PostgresAdapter } from '../../src/oauth/adapter.js';
import { backfillMachineClientMark } from '../../src/oauth/machine-client-backfill.js';
import { addStaticClient, createStaticClient } from '../../src/oauth/static-clients.js';
import { authorizeThrough, authorizeUrl, Browser, login, pkcePair, tokenRequest } from '../helpers/browser-flow.js';
import { DocumentHost, makeTestPki } from '../helpers/cimd-fixture.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { manage, postRegistration } from '../helpers/registration.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { connectionSpec } from '../helpers/connection-spec.js';
import { startIdJagIdp } from '../helpers/id-jag-idp.js';
import { adminApiClient, adminApiToken, call } from '../helpers/admin-api.js';

const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

const USER = { email: 'ada@example.com', password: 'analytical engine notes' };
const CLAUDE_REDIRECT = 'https://claude.ai/api/mcp/auth_callback';
const CHATGPT_REDIRECT = 'https://chatgpt.com/connector_platform_oauth_redirect';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

async function resolve(hostname: string): Promise<ResolvedAddress[]> {
  if (hostname.endsWith('.cimd.test')) return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
}
function beforeConnect(address: string): void {
  if (!/^127\./.test(address)) throw new Error(`test attempted a connection to ${address}`);
}

let host: DocumentHost;
let db: TestDatabase;
let gh: TestServer;

const docUrl = (hostname: string, path: string) => `https://${hostname}:${host.port}${path}`;

/** Serves `document` (its client_id filled in) at `path` on `hostname` and returns the client_id. */
function serve(hostname: string, path: string, document: Record<string, unknown>): string {
  const clientId = docUrl(hostname, path);
  host.json(path, { client_id: clientId, ...document });
  return clientId;
}

/** An RS256 key pair whose public half is served as a JWKS at `path`; signs client assertions for `clientId`. */
async function servedKey(hostname: string, path: string) {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const kid = `k-${randomBytes(4).toString('hex')}`;
  host.json(path, { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] });
  return {
    jwksUri: docUrl(hostname, path),
    assertion: (clientId: string) =>
      new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid }).setIssuer(clientId).setSubject(clientId)
        .setAudience(`${gh.issuer}/token`).setJti(randomBytes(16).toString('hex')).setIssuedAt().setExpirationTime('2m').sign(privateKey),
  };
}

async function registerDynamic(body: Record<string, unknown>) {
  const iat = await new gh.holder.provider.InitialAccessToken({ expiresIn: 600 }).save();
  return postRegistration(gh.issuer, body, { authorization: `Bearer ${iat}` });
}

/** POST /token grant_type=client_credentials as `clientId`, authenticated by `auth`. */
function clientCredentials(auth: Record<string, string>, headers: Record<string, string> = {}) {
  return tokenRequest(gh.issuer, { grant_type: 'client_credentials', resource: TEST_RESOURCE, scope: 'tools:read tools:write', ...auth }, headers);
}

const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` });

/** The refusal every non-machine client gets: 400 unauthorized_client (RFC 6749 §5.2), no token, audited. */
async function expectClientCredentialsRefused(res: Awaited<ReturnType<typeof tokenRequest>>, clientId: string) {
  expect(res.status).toBe(400);
  expect(res.body).toEqual({ error: 'unauthorized_client', error_description: 'client_credentials is only for confidential clients an administrator created' });
  const refused = (await gh.services.audit.recent({ type: 'token.refused', limit: 100 })).find((e) => e.client_id === clientId);
  expect(refused).toMatchObject({ outcome: 'failure', reason: 'unauthorized_client: client_credentials is only for confidential clients an administrator created' });
  expect(refused?.details).toMatchObject({ grant_type: 'client_credentials' });
}

async function authorizeOnce(clientId: string, redirectUri: string) {
  const { challenge } = pkcePair();
  const res = await fetch(authorizeUrl(gh.issuer, {
    client_id: clientId, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read', state: 'st',
  }), { redirect: 'manual' });
  return { status: res.status, location: res.headers.get('location'), html: await res.text() };
}

/** Sign-in, consent, code, token and refresh for a metadata-document client; `auth` adds client authentication. */
async function completeFlow(clientId: string, redirectUri: string, auth: () => Promise<Record<string, string>> = async () => ({ client_id: clientId })) {
  const { verifier, challenge } = pkcePair();
  const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
    client_id: clientId, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read', state: 'flow',
  }, USER);
  expect(`${callback.origin}${callback.pathname}`).toBe(redirectUri);
  expect(callback.searchParams.get('iss')).toBe(gh.issuer);
  const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, redirect_uri: redirectUri, ...(await auth()) });
  expect(tokens.status).toBe(200);
  expect(decodeJwt(tokens.body.access_token)).toMatchObject({ aud: TEST_RESOURCE, client_id: clientId, scope: 'tools:read' });
  const refreshed = await tokenRequest(gh.issuer, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, ...(await auth()) });
  expect(refreshed.status).toBe(200);
  expect(refreshed.body.refresh_token).not.toBe(tokens.body.refresh_token);
  expect(decodeJwt(refreshed.body.access_token).aud).toBe(TEST_RESOURCE);
}

beforeAll(async () => {
  const pki = makeTestPki();
  host = new DocumentHost(pki);
  await host.start();
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, REGISTRATION: 'closed', CIMD_ALLOW_PRIVATE_ADDRESSES: 'true' }, undefined, { cimdFetch: { ca: pki.ca, resolve, beforeConnect } });
  await gh.services.users.create(USER);
});

afterAll(async () => {
  await gh?.close();
  await host?.close();
  await db?.drop();
});

describe('client_credentials is refused to metadata-document clients (issue 15, finding 1)', () => {
  it('refuses a public document that declares client_credentials beside the code flow: 400 unauthorized_client, audited', async () => {
    const clientId = serve('agent.cimd.test', '/cc/public.json', {
      client_name: 'Sneaky agent', redirect_uris: ['http://localhost/callback'], grant_types: ['authorization_code', 'client_credentials'], token_endpoint_auth_method: 'none',
    });
    await expectClientCredentialsRefused(await clientCredentials({ client_id: clientId }), clientId);
  });

  it('refuses a document that declares only client_credentials: no grant is left, the document is refused and audited as cimd.refused', async () => {
    const clientId = serve('agent.cimd.test', '/cc/only.json', { client_name: 'Machine by URL', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'none' });
    const res = await clientCredentials({ client_id: clientId });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.body.access_token).toBeUndefined();
    const refused = (await gh.services.audit.recent({ type: 'cimd.refused', limit: 100 })).find((e) => e.client_id === clientId);
    expect(refused?.reason).toMatch(/names no grant this server gives .* it named client_credentials/);
  });

  it('refuses a private_key_jwt document with its own jwks_uri, though its assertion is valid (it authenticates, then is refused)', async () => {
    const key = await servedKey('agent.cimd.test', '/cc/jwks.json');
    const clientId = serve('agent.cimd.test', '/cc/pkjwt.json', {
      client_name: 'Key-holding agent', redirect_uris: ['http://localhost/callback'], grant_types: ['authorization_code', 'client_credentials'],
      token_endpoint_auth_method: 'private_key_jwt', jwks_uri: key.jwksUri,
    });
    await expectClientCredentialsRefused(await clientCredentials({ client_id: clientId, client_assertion_type: ASSERTION_TYPE, client_assertion: await key.assertion(clientId) }), clientId);
    // The same client and key do authenticate: a wrong key is invalid_client, not unauthorized_client.
    const forged = (await servedKey('agent.cimd.test', '/cc/other-jwks.json')).assertion(clientId);
    const wrong = await clientCredentials({ client_id: clientId, client_assertion_type: ASSERTION_TYPE, client_assertion: await forged });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
  });

  it('refuses a document asserting the admin-only machine mark or a resource link', async () => {
    for (const [path, extra] of [['/cc/marked.json', { gatehouse_machine_client: true }], ['/cc/resource.json', { gatehouse_resource: TEST_RESOURCE }]] as const) {
      const clientId = serve('agent.cimd.test', path, { client_name: 'Self-promoted', redirect_uris: ['http://localhost/callback'], token_endpoint_auth_method: 'none', ...extra });
      const res = await authorizeOnce(clientId, 'http://localhost:5000/callback');
      expect(res.status).toBe(400);
      expect(res.location).toBeNull();
      expect(res.html).toMatch(/was refused: gatehouse_(machine_client|resource) cannot be self-asserted/);
      expect(await clientCredentials({ client_id: clientId }).then((r) => r.body.access_token)).toBeUndefined();
    }
  });
});

describe('client_credentials is refused to dynamically registered clients and to every public client', () => {
  it('refuses a confidential DCR client (client_secret_basic) with 400 unauthorized_client', async () => {
    const reg = await registerDynamic({ client_name: 'DCR confidential', redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'client_secret_basic' });
    expect(reg.status).toBe(201);
    await expectClientCredentialsRefused(await clientCredentials({}, basic(reg.body.client_id, reg.body.client_secret)), reg.body.client_id);
  });

  it('refuses a DCR client that tries to self-assert the machine mark, at registration and on update (RFC 7592)', async () => {
    const marked = await registerDynamic({ redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'client_secret_basic', grant_types: ['client_credentials'], gatehouse_machine_client: true });
    expect(marked.status).toBe(400);
    expect(marked.body).toMatchObject({ error: 'invalid_client_metadata', error_description: 'gatehouse_machine_client cannot be self-asserted' });

    const reg = await registerDynamic({ client_name: 'Climber', redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'client_secret_basic' });
    const { registration_client_uri: uri, registration_access_token: token, ...registered } = reg.body;
    const update = await manage('PUT', uri, token, { ...registered, gatehouse_machine_client: true, grant_types: ['authorization_code', 'client_credentials'] });
    expect(update.status).toBe(400);
    expect(update.body.error).toBe('invalid_client_metadata');
    await expectClientCredentialsRefused(await clientCredentials({}, basic(reg.body.client_id, reg.body.client_secret)), reg.body.client_id);
  });

  it('refuses a public DCR client and a public admin-created client', async () => {
    const dcr = await registerDynamic({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' });
    await expectClientCredentialsRefused(await clientCredentials({ client_id: dcr.body.client_id }), dcr.body.client_id);
    const admin = await createStaticClient(gh.services.handle.db, gh.services.box, gh.holder.provider, { name: 'Public app', redirectUris: ['https://app.example/cb'], confidential: false });
    await expectClientCredentialsRefused(await clientCredentials({ client_id: admin.client_id }), admin.client_id);
  });
});

describe('client_credentials still works for a confidential client an administrator created', () => {
  it('issues a token to addStaticClient\'s confidential client, which carries the machine mark', async () => {
    const agent = await addStaticClient({ db: gh.services.handle.db, box: gh.services.box, provider: gh.holder.provider, registry: gh.services.registry }, { name: 'Nightly agent', redirectUris: [], confidential: true });
    const res = await clientCredentials({}, basic(agent.client_id, agent.client_secret!));
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token)).toMatchObject({ aud: TEST_RESOURCE, client_id: agent.client_id });
    const stored = await new PostgresAdapter('Client', { db: gh.services.handle.db, box: gh.services.box }).find(agent.client_id);
    expect(stored).toMatchObject({ gatehouse_machine_client: true });
  });

  it('marks, at start, an admin-created confidential client stored before the mark existed (sealed payloads: backfilled in code)', async () => {
    const agent = await createStaticClient(gh.services.handle.db, gh.services.box, gh.holder.provider, { name: 'Legacy agent', redirectUris: [], confidential: true });
    const adapter = new PostgresAdapter('Client', { db: gh.services.handle.db, box: gh.services.box });
    const { gatehouse_machine_client: _mark, ...legacy } = (await adapter.find(agent.client_id)) as Record<string, unknown>;
    await adapter.upsert(agent.client_id, legacy as never, 0);
    await expectClientCredentialsRefused(await clientCredentials({}, basic(agent.client_id, agent.client_secret!)), agent.client_id);

    expect(await backfillMachineClientMark(gh.services.handle.db, gh.services.box, gh.services.registry)).toEqual([agent.client_id]);
    expect(await backfillMachineClientMark(gh.services.handle.db, gh.services.box, gh.services.registry)).toEqual([]); // idempotent
    expect((await clientCredentials({}, basic(agent.client_id, agent.client_secret!))).status).toBe(200);
  });
});

describe('documents shaped like the real MCP clients\' complete sign-in, consent, code, token and refresh', () => {
  it('claude.ai: public, token_endpoint_auth_method none, an unsupported jwt-bearer grant listed (dropped, not refused)', async () => {
    const clientId = serve('claude.cimd.test', '/oauth/mcp-oauth-client-metadata', {
      client_name: 'Claude', client_uri: 'https://claude.ai', redirect_uris: [CLAUDE_REDIRECT],
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer'], response_types: ['code'], token_endpoint_auth_method: 'none',
    });
    await completeFlow(clientId, CLAUDE_REDIRECT);
    // Narrowed, so it cannot use the grant it listed and this server does not offer.
    const res = await tokenRequest(gh.issuer, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: 'x', client_id: clientId });
    expect(res.status).toBe(400);
    expect(res.body.access_token).toBeUndefined();
  });

  it('ChatGPT: private_key_jwt with an RS256 jwks_uri, token_endpoint_auth_methods_supported none and private_key_jwt', async () => {
    const key = await servedKey('chatgpt.cimd.test', '/oauth/jwks.json');
    const clientId = serve('chatgpt.cimd.test', '/oauth/client.json', {
      client_name: 'ChatGPT', client_uri: 'https://chatgpt.com', redirect_uris: [CHATGPT_REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'], jwks_uri: key.jwksUri,
    });
    await completeFlow(clientId, CHATGPT_REDIRECT, async () => ({ client_id: clientId, client_assertion_type: ASSERTION_TYPE, client_assertion: await key.assertion(clientId) }));
  });

  it('ChatGPT\'s older private_key_jwt-only document', async () => {
    const key = await servedKey('chatgpt.cimd.test', '/oauth/legacy-jwks.json');
    const clientId = serve('chatgpt.cimd.test', '/oauth/legacy-client.json', {
      client_name: 'ChatGPT', redirect_uris: [CHATGPT_REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'RS256', jwks_uri: key.jwksUri,
    });
    await completeFlow(clientId, CHATGPT_REDIRECT, async () => ({ client_id: clientId, client_assertion_type: ASSERTION_TYPE, client_assertion: await key.assertion(clientId) }));
  });
});

describe('a metadata-document client with private_key_jwt presents an identity assertion (docs/ENTERPRISE-MANAGED-AUTHORIZATION.md)', () => {
  it('keeps jwt-bearer from its document and gets a token for the assertion; without private_key_jwt the grant is dropped', async () => {
    const idp = await startIdJagIdp();
    try {
      await gh.services.connections.add(connectionSpec('oidc', { id: 'corp', name: 'Corp IdP', issuer: idp.issuer, idJag: true, idJagResource: TEST_RESOURCE, allowPrivateNetwork: true }), 'test');
      const key = await servedKey('agent.cimd.test', '/ent/jwks.json');
      const clientId = serve('agent.cimd.test', '/ent/client.json', {
        client_name: 'Enterprise agent', redirect_uris: ['https://agent.example/callback'], response_types: ['code'],
        grant_types: ['authorization_code', 'refresh_token', JWT_BEARER_GRANT], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: key.jwksUri,
      });
      const assertion = await idp.assertion({ sub: 'ent-person', aud: gh.issuer, client_id: clientId, scope: 'tools:read', email: 'ent@example.com', email_verified: true });
      const res = await tokenRequest(gh.issuer, { grant_type: JWT_BEARER_GRANT, assertion, client_id: clientId, client_assertion_type: ASSERTION_TYPE, client_assertion: await key.assertion(clientId) });
      expect(res.status).toBe(200);
      expect(res.body.refresh_token).toBeUndefined();
      expect(decodeJwt(res.body.access_token)).toMatchObject({ aud: TEST_RESOURCE, client_id: clientId, scope: 'tools:read' });
      // The same grant in a public document (as claude.ai lists it) is dropped: the client cannot use it.
      const publicId = serve('agent.cimd.test', '/ent/public.json', {
        client_name: 'Public agent', redirect_uris: ['https://agent.example/callback'], grant_types: ['authorization_code', 'refresh_token', JWT_BEARER_GRANT], token_endpoint_auth_method: 'none',
      });
      const refused = await tokenRequest(gh.issuer, { grant_type: JWT_BEARER_GRANT, assertion: await idp.assertion({ sub: 'ent-person', aud: gh.issuer, client_id: publicId }), client_id: publicId });
      expect(refused.status).toBe(400);
      expect(refused.body.error).toBe('unauthorized_client');
    } finally {
      await gh.services.connections.remove('corp');
      await idp.close();
    }
  });
});

describe('a metadata document passes the redirect-URI rules (issue 15, finding 4)', () => {
  it.each([
    ['a plain-http foreign redirect URI', 'http://evil.example/callback', /was refused: http redirect URIs are only allowed on loopback addresses .*http:\/\/evil\.example\/callback/],
    ['an unlisted private-use scheme', 'myapp:/callback', /was refused: private-use scheme myapp: must be a reverse domain name .*REDIRECT_URI_SCHEMES/],
    ['an unlisted private-use scheme with an authority', 'vscode://callback', /was refused: private-use scheme vscode:/],
  ])('refuses %s: the error page names the reason, cimd.refused is audited, no code is issued', async (_name, redirectUri, reason) => {
    const path = `/redirect/${randomBytes(4).toString('hex')}.json`;
    const clientId = serve('app.cimd.test', path, { client_name: 'Redirect abuser', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' });
    const res = await authorizeOnce(clientId, redirectUri);
    expect(res.status).toBe(400);
    expect(res.location).toBeNull(); // never a redirect, so no code reaches the URI
    expect(res.html).toContain('This application could not be verified');
    expect(res.html.replace(/&#39;/g, "'").replace(/&quot;/g, '"')).toMatch(reason);
    expect(res.html).toMatch(/Error code: <code>invalid_redirect_uri<\/code>/);
    const refused = (await gh.services.audit.recent({ type: 'cimd.refused', limit: 100 })).find((e) => e.client_id === clientId);
    expect(refused).toMatchObject({ outcome: 'failure', details: { stage: 'document', host: `app.cimd.test:${host.port}` } });
    expect(refused?.reason).toMatch(reason);
  });
});

describe('a redirect URI must be in canonical form, from every source (docs/SECURITY.md, "Exact redirect URIs")', () => {
  // A security tester's spellings, which each source stored verbatim and /authorize then accepted.
  const CR_HEADER = 'https://app.example.com/cb\rSet-Cookie: pwn=1';
  const BACKSLASH = 'https://app.example.com\\@evil.com/cb';
  const WILDCARD = 'https://*.example.com/cb';
  const IDEOGRAPHIC = 'https://app。example。com/cb';
  const recent = async (type: string) => gh.services.audit.recent({ type, limit: 100 });

  it('DCR (POST /register): 400 invalid_redirect_uri naming the index and the character, audited registration.refused', async () => {
    const res = await registerDynamic({ client_name: 'Header smuggler', redirect_uris: ['https://app.example.com/cb', CR_HEADER], token_endpoint_auth_method: 'none' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_redirect_uri', error_description: 'redirect_uris[1] "https://app.example.com/cb\\rSet-Cookie: pwn=1" contains a control character (U+000D)' });
    expect((await recent('registration.refused')).some((e) => e.reason === `invalid_redirect_uri: ${res.body.error_description}`)).toBe(true);
  });

  it('RFC 7592 update (PUT /register/<id>): 400 invalid_redirect_uri, audited, the client unchanged', async () => {
    const reg = await registerDynamic({ client_name: 'Backslasher', redirect_uris: ['https://app.example.com/cb'], token_endpoint_auth_method: 'none' });
    expect(reg.status).toBe(201);
    const { registration_client_uri: uri, registration_access_token: token, client_id: clientId } = reg.body;
    const update = await manage('PUT', uri, token, { client_id: clientId, client_name: 'Backslasher', redirect_uris: [BACKSLASH], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' });
    expect(update.status).toBe(400);
    expect(update.body).toEqual({ error: 'invalid_redirect_uri', error_description: 'redirect_uris[0] "https://app.example.com\\\\@evil.com/cb" contains a backslash, which some parsers read as "/"' });
    expect((await recent('registration.refused')).find((e) => e.client_id === clientId)?.reason).toBe(`invalid_redirect_uri: ${update.body.error_description}`);
    expect((await manage('GET', uri, token)).body.redirect_uris).toEqual(['https://app.example.com/cb']);
  });

  it('a Client ID Metadata Document with a wildcard host: the error page names it, cimd.refused is audited, no code', async () => {
    const clientId = serve('app.cimd.test', '/redirect/wildcard.json', { client_name: 'Wildcard', redirect_uris: [WILDCARD], token_endpoint_auth_method: 'none' });
    const res = await authorizeOnce(clientId, WILDCARD);
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
    expect(res.html).toMatch(/Error code: <code>invalid_redirect_uri<\/code>/);
    expect(res.html.replace(/&quot;/g, '"')).toContain('has host *.example.com, which is not an IP address or a host name');
    const refused = (await recent('cimd.refused')).find((e) => e.client_id === clientId);
    expect(refused).toMatchObject({ outcome: 'failure', details: { stage: 'document' } });
    expect(refused?.reason).toContain('was refused: redirect_uris[0] "https://*.example.com/cb" has host *.example.com');
  });

  it('an administrator (admin API, source static-admin): 400 naming redirect_uris and the canonical form, audited client.updated failure, nothing stored', async () => {
    const token = await adminApiToken(gh, await adminApiClient(gh, 'admin:read admin:write', 'canonical-check'));
    const api = `${gh.issuer}/admin/api/v1`;
    const created = await call(`${api}/clients`, { method: 'POST', token, body: { name: 'Edited app', redirect_uris: ['https://app.example.com/cb'] } });
    expect(created.status).toBe(201);
    const id = String(created.json.client.client_id);
    const edit = await call(`${api}/clients/${id}`, { method: 'PATCH', token, body: { redirect_uris: [IDEOGRAPHIC] } });
    expect(edit.status).toBe(400);
    expect(edit.json).toMatchObject({ error: 'invalid_request', field: 'redirect_uris', error_description: 'redirect_uris[0] "https://app。example。com/cb" contains a non-ASCII character (U+3002); did you mean https://app.example.com/cb' });
    expect((await recent('client.updated')).find((e) => e.client_id === id && e.outcome === 'failure')?.reason).toBe(edit.json.error_description);
    expect((await call(`${api}/clients/${id}`, { token })).json.redirect_uris).toEqual(['https://app.example.com/cb']);
    // /authorize does not take the raw spelling either: it was never registered.
    const res = await authorizeOnce(id, IDEOGRAPHIC);
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
  });
});

describe('the consent page says when the result goes over plain http', () => {
  it('names the http scheme with the loopback host, not the host alone', async () => {
    const clientId = serve('app.cimd.test', '/consent/loopback.json', { client_name: 'Local tool', redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none' });
    const { challenge } = pkcePair();
    const browser = new Browser(gh.issuer);
    const page = await browser.follow(await browser.get(authorizeUrl(gh.issuer, {
      client_id: clientId, redirect_uri: 'http://127.0.0.1:41234/callback', code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read',
    })));
    const html = await ((await login(browser, page as Response, USER.email, USER.password)) as Response).text();
    expect(html).toContain('<code>http://127.0.0.1:41234</code>');
    expect(html).toMatch(/Plain <strong>http<\/strong>, not https: the result is sent to http:\/\/127\.0\.0\.1:41234 unencrypted/);
    expect(html).toMatch(/this computer/);
  });

  it('shows no plain-http warning for an https redirect', async () => {
    const clientId = serve('app.cimd.test', '/consent/https.json', { client_name: 'Web app', redirect_uris: [CLAUDE_REDIRECT], token_endpoint_auth_method: 'none' });
    const { challenge } = pkcePair();
    const browser = new Browser(gh.issuer);
    const page = await browser.follow(await browser.get(authorizeUrl(gh.issuer, {
      client_id: clientId, redirect_uri: CLAUDE_REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read',
    })));
    const html = await ((await login(browser, page as Response, USER.email, USER.password)) as Response).text();
    expect(html).toContain('<code>https://claude.ai</code>');
    expect(html).not.toContain('Plain <strong>');
  });
});
