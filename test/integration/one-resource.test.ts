// Issue 15, finding 3 (oauth/policies/request/one-resource.ts): access rules, remembered consent and the consent page each
// read one resource, so an authorization request naming two let a person whom the second resource's rule refuses
// get an `admin` token for it by naming an allowed resource first. One resource per authorization request: two or
// more get `invalid_target` on the error page, before a sign-in starts, whatever form the request takes. And finding
// 5's login email: a NUL in a live sign-in form is a 400, never a database error.
import { authorizeUrl, Browser, consent, formAction, login, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const OPEN = 'https://open.example.test/mcp';
const GUARDED = 'https://guarded.example.test/mcp';
const REDIRECT = 'http://127.0.0.1:7003/callback';
const OUTSIDER = { email: 'olaf@elsewhere.test', password: 'correct horse battery staple' };

let db: TestDatabase;
let gh: TestServer;
let clientId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer({
    ...db.env,
    RESOURCES: JSON.stringify([
      { uri: OPEN, name: 'Open tools', default: true, scopes: { 'tools:read': 'Read' } },
      { uri: GUARDED, name: 'Guarded tools', access: { email_domains: ['example.com'] }, scopes: { admin: 'Everything' } },
    ]),
  });
  await gh.services.users.create(OUTSIDER);
  clientId = (await registerPublicClient(gh.issuer, [REDIRECT])).client_id;
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

function params(resources: string[], scope: string) {
  const { challenge } = pkcePair();
  const q = new URL(authorizeUrl(gh.issuer, { client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope, state: 's' }));
  for (const r of resources) q.searchParams.append('resource', r);
  return q;
}

describe('one resource per authorization request', () => {
  it.each([
    ['allowed first, refused second', [OPEN, GUARDED]],
    ['refused first, allowed second', [GUARDED, OPEN]],
    ['two spellings of two servers', [`${OPEN}/`, GUARDED]],
  ])('refuses two resources at GET /authorize (%s) with invalid_target, before any sign-in, audited', async (_name, resources) => {
    const browser = new Browser(gh.issuer);
    const res = await browser.get(params(resources, 'tools:read admin').href);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('invalid_target');
    expect(browser.jar.header(`${gh.issuer}/interaction/x`)).toBe('');
    const refused = await gh.services.audit.recent({ type: 'authorization.refused' });
    expect(refused.some((e) => /one resource/.test(String(e.reason)))).toBe(true);
  });

  it('offers no POST form of /authorize to name the resources another way (405)', async () => {
    const q = params([OPEN, GUARDED], 'tools:read admin');
    const res = await fetch(`${gh.issuer}/authorize`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: q.searchParams.toString() });
    expect(res.status).toBe(405);
    expect(res.headers.get('location')).toBeNull();
  });

  it('one resource named twice is that resource, named once: the flow completes with a token for it alone', async () => {
    const browser = new Browser(gh.issuer);
    const { verifier, challenge } = pkcePair();
    const q = new URL(authorizeUrl(gh.issuer, { client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', state: 's' }));
    q.searchParams.append('resource', OPEN);
    q.searchParams.append('resource', OPEN.replace('open.example.test', 'OPEN.example.test'));
    const page = (await browser.follow(await browser.get(q.href))) as Response;
    const consentPage = (await login(browser, page, OUTSIDER.email, OUTSIDER.password)) as Response;
    const back = (await consent(browser, consentPage, 'allow')) as URL;
    const code = back.searchParams.get('code')!;
    const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: clientId, redirect_uri: REDIRECT });
    expect(tokens.status).toBe(200);
    const aud = JSON.parse(Buffer.from(String(tokens.body.access_token).split('.')[1]!, 'base64url').toString()).aud;
    expect(aud).toBe(OPEN);
  });

  it('the person the guarded rule refuses never gets a token for it, whichever order the resources come in', async () => {
    for (const resources of [[OPEN, GUARDED], [GUARDED, OPEN]]) {
      const browser = new Browser(gh.issuer);
      const res = await browser.get(params(resources, 'admin').href);
      expect(res.status).toBe(400);
    }
    const issued = await gh.services.audit.recent({ type: 'token.issued' } as never);
    expect(issued.filter((e) => String(e.resource ?? '').includes('guarded'))).toEqual([]);
  });
});

describe('a NUL in a live sign-in form is a 400, not a database error', () => {
  it('refuses email=%00 at the password form of a real interaction, and the form still works after', async () => {
    const browser = new Browser(gh.issuer);
    const page = (await browser.follow(await browser.get(params([OPEN], 'tools:read').href))) as Response;
    const html = await page.text();
    const action = new URL(formAction(html), gh.issuer).href;
    const bad = await browser.request(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: gh.issuer, accept: 'application/json' }, body: 'email=a%00b%40example.com&password=x' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe('invalid_request');
    const again = await browser.follow(await browser.postForm(action, OUTSIDER));
    // The same person consented to this client earlier in the file: the sign-in completes with a code.
    expect(again).toBeInstanceOf(URL);
    expect((again as URL).searchParams.get('code')).toBeTruthy();
  });
});
