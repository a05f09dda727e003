// No secret, token or code in any log line. A server at LOG_LEVEL=debug, with every line it writes
// captured, goes through a whole life: DCR and its management read, a password login (and a wrong password), consent,
// the code exchange with its PKCE verifier, refresh, refresh-token replay, a confidential client's
// client_credentials (Basic and a refused client_secret_post), introspection, revocation, userinfo with a bearer,
// secrets in query strings, and a console sign-in. Then no captured line may contain any of those secrets.
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config.js';
import { startGatehouse, type RunningGatehouse } from '../../src/gatehouse.js';
import { createLogger } from '../../src/log.js';
import { addStaticClient } from '../../src/oauth/static-clients.js';
import { CONSOLE_COOKIE } from '../../src/console/sessions.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { DEFAULT_RESOURCES, freePort, TEST_RESOURCE } from '../helpers/server.js';
import { authorizeThrough, authorizeUrl, Browser, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { consoleSignIn } from '../helpers/console.js';

const USER = { email: 'logged@example.com', password: 'Correct-Horse-Battery-Staple-42' };
const WRONG_PASSWORD = 'Wrong-Guess-For-The-Log-Test-77';
const REDIRECT = 'http://127.0.0.1:33419/callback';
const METRICS_TOKEN = 'metrics-token-for-the-log-test-0123';

const lines: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});

let db: TestDatabase;
let gh: RunningGatehouse;
let issuer: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    ...db.env, NODE_ENV: 'test', PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer, RESOURCES: DEFAULT_RESOURCES,
    LOG_LEVEL: 'debug', ADMIN_EMAILS: USER.email, METRICS_TOKEN,
  });
  gh = await startGatehouse(config, { log: createLogger(config.LOG_LEVEL, capture) });
  await gh.services.users.create(USER);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` });

async function postForm(path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form).toString() });
  const text = await res.text();
  return { status: res.status, body: (text.startsWith('{') ? JSON.parse(text) : {}) as Record<string, any> };
}

describe('no secret, token or code appears in any log line, at debug level', () => {
  it('logs a whole flow, its failures and the console without one secret', async () => {
    const secrets: Record<string, string> = {};
    const logged = lines.length;

    // DCR, then RFC 7592 management with the registration access token.
    const client = await registerPublicClient(issuer, [REDIRECT]);
    secrets.registration_access_token = client.registration_access_token;
    const read = await fetch(client.registration_client_uri, { headers: { authorization: `Bearer ${client.registration_access_token}` } });
    expect(read.status).toBe(200);

    // A wrong password first (its text must not be logged either), then the real flow.
    secrets.wrong_password = WRONG_PASSWORD;
    secrets.password = USER.password;
    {
      const { challenge } = pkcePair();
      const browser = new Browser(issuer);
      const page = await browser.follow(await browser.get(authorizeUrl(issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE })));
      if (!(page instanceof Response)) throw new Error('expected the login page');
      const action = /<form[^>]*action="([^"]+)"/.exec(await page.text())![1]!.replace(/&amp;/g, '&');
      const wrong = await browser.postForm(new URL(action, issuer).href, { email: USER.email, password: WRONG_PASSWORD });
      expect(wrong.status).toBeGreaterThanOrEqual(400);
    }
    const { verifier, challenge } = pkcePair();
    secrets.code_verifier = verifier;
    const callback = await authorizeThrough(new Browser(issuer), issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE, state: 'st',
    }, USER);
    const code = callback.searchParams.get('code')!;
    secrets.code = code;
    const tokens = await tokenRequest(issuer, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT, resource: TEST_RESOURCE });
    expect(tokens.status).toBe(200);
    const access1 = tokens.body.access_token as string;
    secrets.access_token = access1;
    secrets.access_token_signature = String(tokens.body.access_token).split('.')[2]!;
    const refresh1 = tokens.body.refresh_token as string;
    secrets.refresh_token = refresh1;
    // The code again: refused (and the grant revoked), with the code in the body of a failing request.
    const replayedCode = await tokenRequest(issuer, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT });
    expect(replayedCode.status).toBe(400);

    // A second grant for refresh, rotation, replay, introspection and revocation.
    const second = pkcePair();
    secrets.code_verifier_2 = second.verifier;
    const callback2 = await authorizeThrough(new Browser(issuer), issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: second.challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE,
    }, USER);
    const code2 = callback2.searchParams.get('code')!;
    secrets.code_2 = code2;
    const t2 = await tokenRequest(issuer, { grant_type: 'authorization_code', code: code2, code_verifier: second.verifier, client_id: client.client_id, redirect_uri: REDIRECT });
    expect(t2.status).toBe(200);
    const refresh2 = t2.body.refresh_token as string;
    secrets.refresh_token_2 = refresh2;
    const rotated = await tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: t2.body.refresh_token, client_id: client.client_id });
    expect(rotated.status).toBe(200);
    const refresh3 = rotated.body.refresh_token as string;
    secrets.refresh_token_3 = refresh3;
    secrets.access_token_3 = rotated.body.access_token;

    // A confidential client: client_credentials with Basic, a refused client_secret_post, introspection.
    const agent = await addStaticClient({ db: gh.services.handle.db, box: gh.services.box, provider: gh.holder.provider, registry: gh.services.registry }, { name: 'Resource server', redirectUris: [], confidential: true, resource: TEST_RESOURCE });
    const agentSecret = agent.client_secret!;
    secrets.client_secret = agentSecret;
    const cc = await postForm('/token', { grant_type: 'client_credentials', resource: TEST_RESOURCE, scope: 'tools:read' }, basic(agent.client_id, agent.client_secret!));
    expect(cc.status).toBe(200);
    secrets.client_credentials_token = cc.body.access_token;
    const post = await postForm('/token', { grant_type: 'client_credentials', client_id: agent.client_id, client_secret: agent.client_secret!, resource: TEST_RESOURCE });
    expect(post.status).toBe(200); // oidc-provider accepts either secret method from a secret-holding client
    const badSecret = await postForm('/token', { grant_type: 'client_credentials' }, basic(agent.client_id, `${agent.client_secret!}-nope`));
    expect(badSecret.status).toBe(401);
    const introspected = await postForm('/introspect', { token: refresh3 }, basic(agent.client_id, agent.client_secret!));
    expect(introspected.status).toBe(200);
    expect(introspected.body.active).toBe(true);

    // Revocation, then the revoked token and a replay of the rotated one.
    const revoked = await postForm('/revoke', { token: refresh3, client_id: client.client_id });
    expect(revoked.status).toBe(200);
    expect((await tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: refresh3, client_id: client.client_id })).status).toBe(400);
    expect((await tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: refresh2, client_id: client.client_id })).status).toBe(400);

    // Bearers where they do not belong, and secrets in query strings (the request log records the path only).
    await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${access1}` } });
    await fetch(`${issuer}/nowhere?code=${encodeURIComponent(code)}&refresh_token=${encodeURIComponent(refresh1)}&password=${encodeURIComponent(USER.password)}`);
    await fetch(`${issuer}/token?client_secret=${encodeURIComponent(agentSecret)}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(refresh1)}` });
    await fetch(`${issuer}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    await fetch(`${issuer}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}-wrong` } });
    secrets.metrics_token = METRICS_TOKEN;

    // The console: its session cookie is a bearer credential too.
    const admin = await consoleSignIn(issuer, USER.email, USER.password);
    const sessionCookie = new RegExp(`(?:^|; )${CONSOLE_COOKIE.replace('.', '\\.')}=([^;]+)`).exec(admin.jar.header(`${issuer}/console`))?.[1];
    expect(sessionCookie).toBeDefined();
    secrets.console_session = sessionCookie!;
    expect((await admin.page('')).status).toBe(200);

    // The capture works: the server logged the requests above, at debug level.
    const ours = lines.slice(logged);
    expect(gh.services.log.isLevelEnabled('debug')).toBe(true);
    expect(ours.filter((l) => JSON.parse(l).msg === 'request').length).toBeGreaterThan(30);
    for (const [name, secret] of Object.entries(secrets)) {
      expect(typeof secret).toBe('string');
      expect(secret.length).toBeGreaterThanOrEqual(16);
      const leaks = lines.filter((l) => l.includes(secret) || l.includes(encodeURIComponent(secret)));
      expect({ name, leaks }).toEqual({ name, leaks: [] });
    }
  });
});
