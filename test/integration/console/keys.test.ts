// Console keys page: the signing keys with their state, and "Rotate now" — the CLI's rotation (the same delay rule:
// sign at once on the embedded database, after two key reloads on PostgreSQL), published in this instance's /jwks
// right after, old tokens still verifying; audited naming the admin.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../../helpers/browser-flow.js';
import { consoleSignIn, type ConsoleBrowser } from '../../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../../helpers/server.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const REDIRECT = 'http://127.0.0.1:45123/cb';

let db: TestDatabase;
let gh: TestServer;
let admin: ConsoleBrowser;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  await gh.services.users.create(ADMIN);
  admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

async function accessToken(clientId: string): Promise<string> {
  const { verifier, challenge } = pkcePair();
  const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
    client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE,
  }, ADMIN);
  const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: clientId, redirect_uri: REDIRECT });
  expect(tokens.status).toBe(200);
  return tokens.body.access_token as string;
}

const jwks = async () => (await (await fetch(`${gh.issuer}/jwks`)).json()) as JSONWebKeySet;
/** kid → state as the page shows it. */
const states = (html: string) => new Map([...html.matchAll(/<tr id="key-([^"]+)">[\s\S]*?data-state="(\w+)"/g)].map((m) => [m[1]!, m[2]!]));

describe('the keys page', () => {
  it('lists the current ES256 and RS256 keys and what /jwks publishes', async () => {
    const page = await admin.page('/keys');
    expect(page.status).toBe(200);
    expect(page.html).toMatch(/aria-current="page">Keys</);
    expect(page.html).toContain('<h1>Keys</h1>');
    expect(page.html).toContain('<button type="submit">Rotate now</button>');
    const published = (await jwks()).keys.map((k) => k.kid!);
    expect(published).toHaveLength(2);
    const shown = states(page.html);
    expect([...shown.keys()].sort()).toEqual([...published].sort());
    expect([...shown.values()]).toEqual(['current', 'current']);
    expect(page.html).toMatch(/<td>ES256<\/td>[\s\S]*<td>RS256<\/td>|<td>RS256<\/td>[\s\S]*<td>ES256<\/td>/);
    for (const kid of published) expect(page.html).toContain(`<li><code>${kid}</code>`);
  });

  it('Rotate now publishes new keys in /jwks at once, next or current by the CLI rule; old tokens still verify; audited', async () => {
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const before = await accessToken(client.client_id);
    const oldKids = (await jwks()).keys.map((k) => k.kid!);
    expect(oldKids).toContain(decodeProtectedHeader(before).kid);

    const res = await admin.submit('/keys/rotate', '/keys', {});
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/console/keys');

    const [event] = await gh.services.audit.recent({ type: 'keys.rotated', limit: 1 });
    expect(event).toMatchObject({ outcome: 'success', actor: ADMIN.email });
    const newKids = (event!.details as { kids: string[] }).kids;
    expect(newKids).toHaveLength(2);
    expect(newKids.some((k) => oldKids.includes(k))).toBe(false);

    // This instance publishes them right away (no waiting for the periodic reload), beside the old ones.
    const published = (await jwks()).keys.map((k) => k.kid!);
    expect(published).toEqual(expect.arrayContaining([...oldKids, ...newKids]));

    const page = await admin.page('/keys');
    expect(page.html).toContain(`New signing keys ${newKids.join(', ')} are published`);
    const shown = states(page.html);
    // Embedded: one process, the new keys sign at once. PostgreSQL: after two reload intervals.
    const expectedNew = db.realPostgres ? 'next' : 'current';
    for (const kid of newKids) expect(shown.get(kid)).toBe(expectedNew);
    for (const kid of oldKids) expect(shown.get(kid)).toBe(db.realPostgres ? 'current' : 'retired');
    if (!db.realPostgres) {
      expect(page.html).toContain('sign from now on');
      expect(page.html).toContain('retired (still published)');
    } else {
      expect(page.html).toContain('start signing at');
    }

    // Tokens signed before still verify against /jwks; new ones are signed by the key the rule says.
    const keySet = createLocalJWKSet(await jwks());
    await expect(jwtVerify(before, keySet, { issuer: gh.issuer, audience: TEST_RESOURCE, typ: 'at+jwt' })).resolves.toBeDefined();
    const after = await accessToken(client.client_id);
    const afterKid = decodeProtectedHeader(after).kid!;
    expect(db.realPostgres ? oldKids : newKids).toContain(afterKid);
    await expect(jwtVerify(after, createLocalJWKSet(await jwks()), { issuer: gh.issuer, audience: TEST_RESOURCE, typ: 'at+jwt' })).resolves.toBeDefined();
  });
});
