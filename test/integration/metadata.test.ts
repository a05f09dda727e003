// What MCP clients read before anything else. Every listed field, the issuer byte for byte,
// application/json, CORS that lets a browser-based client send Authorization and MCP-Protocol-Version.
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let db: TestDatabase;
let gh: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

describe.each(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'])('%s', (path) => {
  it('lists every field MCP clients rely on, with the issuer byte-identical to ISSUER', async () => {
    const res = await fetch(`${gh.issuer}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const raw = await res.text();
    expect(raw).toContain(`"issuer":"${gh.issuer}"`);
    const doc = JSON.parse(raw) as Record<string, unknown>;
    expect(doc.issuer).toBe(gh.issuer);
    expect(doc.authorization_endpoint).toBe(`${gh.issuer}/authorize`);
    expect(doc.token_endpoint).toBe(`${gh.issuer}/token`);
    expect(doc.registration_endpoint).toBe(`${gh.issuer}/register`);
    expect(doc.jwks_uri).toBe(`${gh.issuer}/jwks`);
    expect(doc.revocation_endpoint).toBe(`${gh.issuer}/revoke`);
    expect(doc.introspection_endpoint).toBe(`${gh.issuer}/introspect`);
    expect(doc.response_types_supported).toEqual(['code']);
    expect(doc.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
    expect(doc.grant_types_supported).not.toContain('implicit');
    expect(doc.grant_types_supported).not.toContain('password');
    expect(doc.code_challenge_methods_supported).toEqual(['S256']);
    expect(doc.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['none', 'client_secret_post', 'client_secret_basic']));
    expect(doc.client_id_metadata_document_supported).toBe(true);
    expect(doc.authorization_response_iss_parameter_supported).toBe(true);
    expect(doc.scopes_supported).toEqual(expect.arrayContaining(['tools:read', 'tools:write', 'files:read']));
  });

  it('answers CORS preflights allowing Authorization, Content-Type and MCP-Protocol-Version', async () => {
    const res = await fetch(`${gh.issuer}${path}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://inspector.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const h of ['authorization', 'content-type', 'mcp-protocol-version']) expect(allowed).toContain(h);
    const get = await fetch(`${gh.issuer}${path}`, { headers: { origin: 'https://inspector.example' } });
    expect(get.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('CORS on the client-facing endpoints', () => {
  it.each(['/token', '/register', '/revoke'])('preflight on %s allows a browser-based MCP client', async (path) => {
    const res = await fetch(`${gh.issuer}${path}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://inspector.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('health', () => {
  it('/healthz is up and /readyz reports the database ready with no pending migration', async () => {
    expect((await fetch(`${gh.issuer}/healthz`)).status).toBe(200);
    const ready = await fetch(`${gh.issuer}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('/readyz fails while a migration is pending', async () => {
    const dbh = gh.services.handle.db;
    const last = (await dbh('knex_migrations').orderBy('id', 'desc').first()) as { id: number; name: string };
    await dbh('knex_migrations').where({ id: last.id }).delete();
    try {
      const res = await fetch(`${gh.issuer}/readyz`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { reason: string }).reason).toBe('migrations pending');
    } finally {
      await dbh('knex_migrations').insert(last);
    }
  });
});

describe('security headers', () => {
  it('every page forbids framing and sniffing', async () => {
    const res = await fetch(`${gh.issuer}/interaction/unknown`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.text()).toContain('expired');
  });
});
