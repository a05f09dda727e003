// Instances are stateless and share everything through PostgreSQL; the embedded database belongs to
// one process. And a running server shuts down cleanly on SIGTERM.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { DataDirLockedError } from '../../src/db/data-dir-lock.js';
import { deleteExpiredPayloads } from '../../src/oauth/adapter.js';
import { authorizeThrough, authorizeUrl, Browser, pkcePair, registerPublicClient, tokenRequest } from '../helpers/browser-flow.js';
import { spawnServe } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { DEFAULT_RESOURCES, freePort, startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const USER = { email: 'barbara@example.com', password: 'liskov substitution' };
const REDIRECT = 'http://127.0.0.1:47000/cb';

let db: TestDatabase;
const servers: TestServer[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  for (const s of servers) await s.close();
  await db?.drop();
});

describe('several instances', () => {
  it('share keys, clients and grants through PostgreSQL; a second process on an embedded database is refused', async () => {
    if (!db.realPostgres) {
      servers.push(await startTestServer(db.env));
      await expect(startTestServer(db.env)).rejects.toBeInstanceOf(DataDirLockedError);
      return;
    }
    // Two instances of one issuer start at once: keys are created once, under an advisory lock.
    const port = await freePort();
    const started = await Promise.allSettled([startTestServer(db.env, port), startTestServer(db.env, await freePort())]);
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    expect(started.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled']);
    const [a, b] = servers as [TestServer, TestServer];
    const jwksA = (await (await fetch(`${a.url}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    const jwksB = (await (await fetch(`${b.url}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwksA.keys).toHaveLength(2);
    expect(jwksB.keys.map((k) => k.kid).sort()).toEqual(jwksA.keys.map((k) => k.kid).sort());

    await a.services.users.create(USER);
    const client = await registerPublicClient(a.issuer, [REDIRECT]);
    const { verifier, challenge } = pkcePair();
    const callback = await authorizeThrough(new Browser(a.issuer), a.issuer, {
      client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE,
    }, USER);
    const tokens = await tokenRequest(a.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT });
    expect(tokens.status).toBe(200);
    // B knows A's client and grant: it refreshes the token A issued (B's issuer differs only by port here, so the
    // check is the shared state, not the issuer string).
    const refreshed = await tokenRequest(b.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: client.client_id });
    expect(refreshed.status).toBe(200);
    // A token signed by A verifies against B's JWKS.
    await expect(jwtVerify(tokens.body.access_token, createRemoteJWKSet(new URL(`${b.url}/jwks`)), { audience: TEST_RESOURCE })).resolves.toBeDefined();
  });
});

describe('cleanup', () => {
  it('deletes expired authorization state and keeps the rest', async () => {
    const server = servers[0] ?? (await startTestServer(db.env));
    if (!servers.includes(server)) servers.push(server);
    const d = server.services.handle.db;
    await d('oidc_payloads').insert([
      { model: 'AccessToken', id: 'expired-1', payload: '{}', expires_at: new Date(Date.now() - 60_000) },
      { model: 'AccessToken', id: 'expired-2', payload: '{}', expires_at: new Date(Date.now() - 1_000) },
      { model: 'AccessToken', id: 'alive', payload: '{}', expires_at: new Date(Date.now() + 60_000) },
      { model: 'Grant', id: 'forever', payload: '{}', expires_at: null },
    ]);
    expect(await deleteExpiredPayloads(d, 1)).toBeGreaterThanOrEqual(2); // batch of one: loops until done
    const left = (await d('oidc_payloads').whereIn('id', ['expired-1', 'expired-2', 'alive', 'forever']).pluck('id')) as string[];
    expect(left.sort()).toEqual(['alive', 'forever']);
  });
});

describe('graceful shutdown', () => {
  it('stops on SIGTERM with exit code 0 and releases the database', async () => {
    for (const s of servers.splice(0)) await s.close();
    const port = await freePort();
    const { child, output, exited } = spawnServe(db.env, port);
    let up = false;
    for (let i = 0; i < 120 && !up; i++) {
      up = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (!up) await new Promise((r) => setTimeout(r, 250));
    }
    expect(up).toBe(true);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output()).toMatch(/shutting down/);
    if (!db.realPostgres) expect(existsSync(join(db.dataDir, 'gatehouse.lock'))).toBe(false);
  }, 60_000);
});

// Issue 7: a flow may hop between instances at every step, and an instance killed mid-flow loses nothing that was
// committed. Both need several processes on one PostgreSQL, so these are defined only on PostgreSQL (the embedded
// database refuses a second process, tested above).
const realPostgres = !!process.env.TEST_DATABASE_URL;
const NO_RATE_LIMITS = { TOKEN_RATE_LIMIT: '1000000', TOKEN_RATE_LIMIT_IP: '1000000', AUTHORIZE_RATE_LIMIT: '1000000' };

/** One browser step sent to a chosen instance: the URL's path and query, that instance's address. */
const on = (server: { url: string }, url: string) => {
  const u = new URL(url, server.url); // relative (form actions, locations) or absolute on ISSUER
  return `${server.url}${u.pathname}${u.search}`;
};
const location = (res: Response) => res.headers.get('location')!;
const formAction = (html: string) => /<form[^>]*action="([^"]+)"/.exec(html)![1]!.replace(/&amp;/g, '&');

const grantsOf = (d: TestServer, clientId: string) =>
  d.services.handle.db('oidc_payloads').where({ model: 'Grant' }).whereRaw(`payload::jsonb ->> 'clientId' = ?`, [clientId]).pluck('id') as Promise<string[]>;

if (realPostgres) {
  describe('a flow hopping between two instances of one issuer', () => {
    const hop: TestServer[] = [];
    afterAll(async () => {
      for (const s of hop) await s.close();
    });

    it('authorizes on A, signs in on B, consents on A, redeems on B and refreshes on A, with exactly one grant', async () => {
      const a = await startTestServer({ ...db.env, ...NO_RATE_LIMITS });
      hop.push(a);
      // B serves the same ISSUER from another port: issuer-origin takes every URL from ISSUER, not from the request.
      const b = await startTestServer({ ...db.env, ...NO_RATE_LIMITS, ISSUER: a.issuer });
      hop.push(b);
      const user = { email: 'hopper@example.com', password: 'grace hopper compiles' };
      await b.services.users.create(user);
      const client = await registerPublicClient(b.url, [REDIRECT]);
      const { verifier, challenge } = pkcePair();
      const browser = new Browser(a.issuer);

      const authorize = await browser.get(authorizeUrl(a.url, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE, state: 'hop' }));
      expect([302, 303]).toContain(authorize.status);
      const loginPage = await browser.get(on(b, location(authorize)));
      expect(loginPage.status).toBe(200);
      const signedIn = await browser.postForm(on(b, formAction(await loginPage.text())), user);
      expect([302, 303]).toContain(signedIn.status);
      const resumed = await browser.get(on(b, location(signedIn))); // oidc-provider resumes the login on B
      expect([302, 303]).toContain(resumed.status);
      const consentPage = await browser.get(on(a, location(resumed)));
      expect(consentPage.status).toBe(200);
      const allowed = await browser.postForm(on(a, formAction(await consentPage.text())), { decision: 'allow' });
      expect([302, 303]).toContain(allowed.status);
      const finished = await browser.get(on(a, location(allowed)));
      expect([302, 303]).toContain(finished.status);
      const callback = new URL(location(finished));
      expect(callback.origin + callback.pathname).toBe(REDIRECT);
      expect(callback.searchParams.get('iss')).toBe(a.issuer);
      expect(callback.searchParams.get('state')).toBe('hop');

      const tokens = await tokenRequest(b.url, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT });
      expect(tokens.status).toBe(200);
      const refreshed = await tokenRequest(a.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: client.client_id });
      expect(refreshed.status).toBe(200);
      await expect(jwtVerify(refreshed.body.access_token, createRemoteJWKSet(new URL(`${b.url}/jwks`)), { issuer: a.issuer, audience: TEST_RESOURCE })).resolves.toBeDefined();
      expect(await grantsOf(a, client.client_id)).toHaveLength(1);
    }, 60_000);
  });

  describe('an instance killed with SIGKILL mid-flow', () => {
    it('loses nothing committed: the flow it started finishes on the other instance, with exactly one grant', async () => {
      const port = await freePort();
      const issuer = `http://127.0.0.1:${port}`;
      const survivor = await startTestServer({ ...db.env, ...NO_RATE_LIMITS, ISSUER: issuer });
      try {
        const user = { email: 'killed@example.com', password: 'kill dash nine survivor' };
        await survivor.services.users.create(user);
        const child = spawn(process.execPath, [join(process.cwd(), 'bin', 'gatehouse.js'), 'serve'], {
          env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer, LOG_LEVEL: 'warn', RESOURCES: DEFAULT_RESOURCES, ...NO_RATE_LIMITS, ...db.env },
          stdio: ['ignore', 'ignore', 'ignore'],
        });
        const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
        let up = false;
        for (let i = 0; i < 160 && !up; i++) {
          up = await fetch(`${issuer}/readyz`).then((r) => r.ok, () => false);
          if (!up) await new Promise((r) => setTimeout(r, 250));
        }
        expect(up).toBe(true);

        // On the child: register, authorize, sign in — up to the consent page.
        const client = await registerPublicClient(issuer, [REDIRECT]);
        const { verifier, challenge } = pkcePair();
        const browser = new Browser(issuer);
        const loginPage = await browser.follow(await browser.get(authorizeUrl(issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE })));
        const consentPage = await browser.follow(await browser.postForm(new URL(formAction(await (loginPage as Response).text()), issuer).href, user));
        expect(consentPage).toBeInstanceOf(Response);
        const consentHtml = await (consentPage as Response).text();
        expect(consentHtml).toContain('Allow');

        child.kill('SIGKILL');
        expect(await exited).toBe('SIGKILL');

        // The other instance takes over the very same browser state.
        const allowed = await browser.postForm(on(survivor, new URL(formAction(consentHtml), issuer).href), { decision: 'allow' });
        expect([302, 303]).toContain(allowed.status);
        const finished = await browser.get(on(survivor, location(allowed)));
        const callback = new URL(location(finished));
        const tokens = await tokenRequest(survivor.url, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT });
        expect(tokens.status).toBe(200);
        const refreshed = await tokenRequest(survivor.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: client.client_id });
        expect(refreshed.status).toBe(200);
        const grants = await grantsOf(survivor, client.client_id);
        expect(grants).toHaveLength(1);
        // The consent memory points at that one grant: a new authorization reuses it rather than asking again.
        const remembered = (await survivor.services.handle.db('consents').where({ client_id: client.client_id }).pluck('grant_id')) as string[];
        expect(remembered).toEqual(grants);
      } finally {
        await survivor.close();
      }
    }, 60_000);
  });
}
