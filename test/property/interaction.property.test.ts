// Fuzz of the interaction posts (login and consent are Gatehouse's pages) against a real server and
// database: POST /interaction/:uid/login and /interaction/:uid/confirm with random uids (the real one, one character
// off, random text), random form bodies (email, password, decision, unknown and duplicated fields, raw junk),
// with the browser's real interaction cookies, random cookies or none, and with the right, a wrong or no Origin.
// Never a 5xx; a JSON refusal is an OAuth error; no redirect ever carries a code (nobody signs in: no password is
// right) — and the real interaction still completes afterwards.
import fc from 'fast-check';
import { authorizeUrl, Browser, consent, login, pkcePair, registerPublicClient } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { encodeLoosely, expectSafe, formBody, FUZZ_ENV, FUZZ_RUNS, fuzzTimeout, inLanes, mutated, send, text, tokenish } from './fuzz-config.js';

const USER = { email: 'fuzz@example.com', password: 'a long random password for the fuzz user 3' };
const REDIRECT = 'http://127.0.0.1:33422/callback';

let db: TestDatabase;
let gh: TestServer;
let browser: Browser;
let uid: string;
let loginPage: Response;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, ...FUZZ_ENV });
  await gh.services.users.create(USER);
  const client = await registerPublicClient(gh.issuer, [REDIRECT]);
  browser = new Browser(gh.issuer);
  const { challenge } = pkcePair();
  const started = await browser.follow(await browser.get(authorizeUrl(gh.issuer, {
    client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE, state: 's',
  })));
  if (!(started instanceof Response)) throw new Error('expected the login page');
  loginPage = started;
  uid = /\/interaction\/([^/?]+)/.exec(started.url)![1]!;
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

function caseArb() {
  const uidArb = fc.oneof({ weight: 3, arbitrary: fc.constant(uid) }, { weight: 2, arbitrary: mutated(uid) }, { weight: 1, arbitrary: tokenish }, { weight: 1, arbitrary: text.map(encodeLoosely) });
  const action = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('login', 'confirm') }, { weight: 1, arbitrary: fc.constantFrom('abort', 'upstream/local', 'upstream/x', 'login/', '', 'confirm?x=1') });
  const value = (name: string) => {
    switch (name) {
      case 'email': return fc.oneof(fc.constantFrom(USER.email, 'FUZZ@example.com', ' fuzz@example.com', 'admin@example.com', ''), fc.emailAddress(), text);
      case 'password': return fc.oneof(mutated(USER.password), text, fc.string({ minLength: 1000, maxLength: 5000 }));
      case 'decision': return fc.oneof(fc.constantFrom('allow', 'deny', 'ALLOW', 'allow ', ''), text);
      default: return fc.oneof(text, tokenish);
    }
  };
  const NAMES = ['email', 'password', 'decision', 'decision', 'scope', 'grantId', 'accountId', '__proto__', 'csrf'];
  const body = fc.oneof(
    { weight: 8, arbitrary: fc.array(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: text }), { maxLength: 5 })
      .chain((names) => fc.tuple(...names.map((n) => value(n).map((v) => [n, v] as const)))).map(formBody) },
    { weight: 1, arbitrary: fc.oneof(text, fc.constantFrom('', '%', 'email', '{"decision":"allow"}', `password=${'x'.repeat(70_000)}`)) },
  );
  const cookies = fc.oneof(
    { weight: 3, arbitrary: fc.constant<'jar' | undefined>('jar') },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('_interaction', '_interaction.sig', '_session', 'gatehouse.upstream', 'x'), fc.oneof(tokenish, fc.constant(uid))).map(([k, v]) => `${k}=${v}`) },
  );
  const origin = fc.oneof({ weight: 3, arbitrary: fc.constant<string | undefined>(gh.issuer) }, { weight: 1, arbitrary: fc.constantFrom(undefined, 'null', 'https://evil.example', gh.issuer.replace('127.0.0.1', 'localhost')) });
  const type = fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded', 'application/json', 'multipart/form-data; boundary=x', '');
  const accept = fc.constantFrom(undefined, 'text/html', 'application/json');
  return fc.record({ uid: uidArb, action, body, cookies, origin, type, accept });
}

const headerSafe = (v: string) => /^[\t\x20-\x7e\x80-\xff]*$/.test(v);

describe('interaction posts with malformed input', () => {
  it(`POST /interaction/:uid/{login,confirm}: never a 5xx, never a code (${FUZZ_RUNS} cases)`, async () => {
    await inLanes(() =>
      fc.asyncProperty(caseArb(), async (c) => {
        const url = `${gh.issuer}/interaction/${c.uid}/${c.action}`;
        const headers: Record<string, string> = {};
        if (c.type) headers['content-type'] = c.type;
        if (c.origin) headers.origin = c.origin;
        if (c.accept) headers.accept = c.accept;
        const cookie = c.cookies === 'jar' ? browser.jar.header(url) : c.cookies;
        if (cookie && headerSafe(cookie)) headers.cookie = cookie;
        // Not through the Browser: a refusal must not change the real browser's cookies for the cases after it.
        const res = await send(url, { method: 'POST', headers, body: c.body });
        expectSafe(res, { jsonEndpoint: false }, `POST ${url.slice(0, 200)} ${c.body.slice(0, 200)}`);
      }),
    );
  }, fuzzTimeout(40));

  it('the real interaction still completes: the right password signs in, Allow gives the client its code', async () => {
    const afterLogin = await login(browser, loginPage, USER.email, USER.password);
    if (!(afterLogin instanceof Response)) throw new Error(`expected the consent page, went to ${afterLogin.href}`);
    const back = await consent(browser, afterLogin, 'allow');
    expect(back).toBeInstanceOf(URL);
    expect((back as URL).searchParams.get('code')).toBeTruthy();
  });
});
