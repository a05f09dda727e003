// `gatehouse connection add|list|show|update|remove` (the admin API's operations: --json prints its answer):
// connections are stored with their client secret sealed, listed without it, validated with the flag that is wrong
// named (the API's field with --json), changed flag by flag with the version read first, and removable; a global
// logout secret printed once and cleared (docs/UNIVERSAL-LOGOUT.md).
import { oneJson, runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer } from '../helpers/server.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

const SECRET = 'okta-client-secret-that-must-not-leak';

describe('gatehouse connection', () => {
  it('adds, lists, refuses bad settings by flag name, and removes connections; secrets never printed nor stored in the clear', async () => {
    const added = await runCli(
      ['connection', 'add', '--kind', 'okta', '--name', 'Acme Okta', '--issuer', 'https://acme.okta.com/oauth2/default', '--client-id', 'gh-okta', '--client-secret-stdin', '--groups-claim', 'groups', '--json'],
      db.env,
      `${SECRET}\n`,
    );
    expect(added.code).toBe(0);
    const a = oneJson(added.stdout);
    expect(a).toMatchObject({ id: 'okta', kind: 'okta', name: 'Acme Okta', client_id: 'gh-okta', has_client_secret: true, groups_claim: 'groups', source: 'cli' });
    expect(added.stdout + added.stderr).not.toContain(SECRET);

    const bad = await runCli(['connection', 'add', '--kind', 'entra', '--tenant', 'organizations', '--client-id', 'x', '--json'], db.env);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stderr.trim().split('\n').pop()!)).toMatchObject({ error: 'invalid_request', field: 'allowed_tenants', status: 400 });
    const badKind = await runCli(['connection', 'add', '--kind', 'bogus', '--client-id', 'x'], db.env);
    expect(badKind.code).toBe(1);
    expect(badKind.stderr).toMatch(/Allowed choices are local, oidc/);

    const badOkta = await runCli(['connection', 'add', '--kind', 'okta', '--id', 'okta2', '--issuer', 'https://acme.okta.com/somewhere/else', '--client-id', 'x'], db.env);
    expect(badOkta.code).toBe(1);
    expect(badOkta.stderr).toMatch(/--issuer: /);

    const dup = await runCli(['connection', 'add', '--kind', 'okta', '--issuer', 'https://acme.okta.com', '--client-id', 'x'], db.env);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/already exists/);

    // A server on this database offers the new connection beside the environment's local login, and stores the
    // secret sealed.
    const gh = await startTestServer(db.env);
    try {
      const listed = (await gh.services.connections.list()).map((c) => [c.id, c.kind, c.source]);
      expect(listed).toEqual([['local', 'local', 'env'], ['okta', 'okta', 'cli']]);
      const row = await gh.services.handle.db('upstream_connections').where({ id: 'okta' }).first();
      expect(JSON.stringify(row)).not.toContain(SECRET);
      expect((await gh.services.connections.find('okta'))?.clientSecret).toBe(SECRET);
    } finally {
      await gh.close();
    }

    const list = await runCli(['connection', 'list', '--json'], db.env);
    expect(list.code).toBe(0);
    const l = oneJson(list.stdout);
    expect(l.items.map((c: { id: string }) => c.id)).toEqual(['local', 'okta']);
    expect(l.next).toBeNull();
    expect(list.stdout).not.toContain(SECRET);

    // update: the flags given replace those settings ("" clears one), the rest and the secret are kept.
    const updated = await runCli(['connection', 'update', 'okta', '--groups-claim', '', '--store-tokens', '--name', 'Acme', '--json'], db.env);
    expect(updated.code).toBe(0);
    expect(oneJson(updated.stdout)).toMatchObject({ id: 'okta', name: 'Acme', issuer: 'https://acme.okta.com/oauth2/default', groups_claim: null, store_tokens: true, has_client_secret: true });
    const shown = oneJson((await runCli(['connection', 'show', 'okta', '--json'], db.env)).stdout);
    expect(shown).toMatchObject({ name: 'Acme', store_tokens: true, version: expect.any(String) });
    const stale = await runCli(['connection', 'update', 'okta', '--name', 'Lost', '--if-version', 'stale'], db.env);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/changed since you read it/);
    const badUpdate = await runCli(['connection', 'update', 'okta', '--hosted-domains', 'example.com'], db.env);
    expect(badUpdate.code).toBe(1);
    expect(badUpdate.stderr).toMatch(/--hosted-domains: not used by an okta connection/);

    const removed = await runCli(['connection', 'remove', 'okta', '--json'], db.env);
    expect(removed.code).toBe(0);
    expect(oneJson(removed.stdout)).toMatchObject({ id: 'okta', kind: 'okta', has_client_secret: true });
    const after = oneJson((await runCli(['connection', 'list', '--json'], db.env)).stdout);
    expect(after.items.map((c: { id: string }) => c.id)).toEqual(['local']);

    const missing = await runCli(['connection', 'remove', 'okta'], db.env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such connection/);
  }, 300_000);

  it('global-logout-secret: prints a new secret once with the endpoint (only its digest stored); --clear removes it, and again is refused', async () => {
    expect((await runCli(['connection', 'add', '--kind', 'oidc', '--id', 'idp-gl', '--issuer', 'https://idp.example', '--client-id', 'gatehouse'], db.env)).code).toBe(0);
    const made = await runCli(['connection', 'global-logout-secret', 'idp-gl'], db.env);
    expect([made.code, made.stderr.replace(/.*oidc-provider WARNING.*\n?/g, '')]).toEqual([0, '']);
    const secret = /^(ghgl_[A-Za-z0-9_-]{43})$/m.exec(made.stdout)?.[1];
    expect(secret).toBeDefined();
    expect(made.stdout).toMatch(/endpoint: POST http:\/\/\S+\/global-token-revocation with Authorization: Bearer <secret>/);
    const json = oneJson((await runCli(['connection', 'global-logout-secret', 'idp-gl', '--json'], db.env)).stdout);
    expect(json).toMatchObject({ connection: { id: 'idp-gl', has_global_logout_secret: true }, secret: expect.stringMatching(/^ghgl_/) });
    expect(json.secret).not.toBe(secret);
    const cleared = await runCli(['connection', 'global-logout-secret', 'idp-gl', '--clear'], db.env);
    expect([cleared.code, cleared.stdout.trim()]).toEqual([0, 'connection idp-gl: global logout secret removed']);
    const again = await runCli(['connection', 'global-logout-secret', 'idp-gl', '--clear', '--json'], db.env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/"error":"conflict"/);
    expect((await runCli(['connection', 'remove', 'idp-gl'], db.env)).code).toBe(0);
  }, 300_000);
});
