// Issue 16, finding 8 (docs/SECURITY.md, "Issue 16: outgoing requests of connections"): every request a connection
// makes — discovery, JWKS, token, UserInfo, GitHub's API — goes through the SSRF guard (net/guarded-fetch.ts). An
// issuer on loopback, a private network or the cloud metadata address is refused before any socket opens unless the
// connection opted in to a private network; and a broken connection's discovery is fetched once per 30 s, however
// many anonymous sign-ins ask for it.
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { lookup } from 'node:dns/promises';
import { createServer, type Server } from 'node:net';
import { authorizeUrl, pkcePair } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { formAction, MultiOriginBrowser } from '../helpers/multi-origin-browser.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { openAtGatehouse, registerMcpClient } from '../helpers/upstream-idp.js';
import { GuardedFetchError, type ResolvedAddress } from '../../src/net/guarded-fetch.js';
import { connectionSpec } from '../../src/upstream/connections.js';
import type { RedirectConnector } from '../../src/upstream/connector.js';

// Names the injected resolver answers; anything else (localhost) goes to the system resolver.
const NAMES: Record<string, string[]> = {
  'idp.internal.test': ['127.0.0.2'],
  'ten.internal.test': ['10.0.0.1'],
  'home.internal.test': ['192.168.1.20'],
  'mixed.internal.test': ['93.184.216.34', '192.168.1.20'],
  'metadata.internal.test': ['169.254.169.254'],
};

let db: TestDatabase;
let gh: TestServer;
/** A plain TCP listener on 127.0.0.2: every socket that reaches it is counted. */
let listener: Server;
let accepted = 0;
let listenerPort: number;
const connects: string[] = [];

beforeAll(async () => {
  listener = createServer((socket) => {
    accepted++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.2', resolve));
  listenerPort = (listener.address() as { port: number }).port;
  db = await createTestDatabase();
  gh = await startTestServer(db.env, undefined, {
    upstreamGuard: {
      resolve: async (hostname: string): Promise<ResolvedAddress[]> =>
        NAMES[hostname]?.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })) ?? lookup(hostname, { all: true }),
      beforeConnect: (address, port) => connects.push(`${address}:${port}`),
    },
  });
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
  await new Promise((resolve) => listener?.close(resolve));
});

afterEach(() => {
  jest.restoreAllMocks();
});

let n = 0;
/** A connection added the way the CLI does, and the connector sign-ins use for it. */
async function connectorFor(issuer: string, allowPrivateNetwork: boolean, kind: 'oidc' | 'github' = 'oidc'): Promise<RedirectConnector> {
  const saved = await gh.services.connections.add(
    connectionSpec({ id: `c${++n}`, kind, name: `Conn ${n}`, issuer, clientId: 'gatehouse', clientSecret: 's', allowPrivateNetwork }),
    'cli',
  );
  return gh.services.connections.connector(saved) as RedirectConnector;
}

async function refusal(attempt: Promise<unknown>): Promise<GuardedFetchError> {
  const err = await attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
  let e = err as { cause?: unknown } | undefined;
  for (let depth = 0; e && !(e instanceof GuardedFetchError) && depth < 6; depth++) e = e.cause as typeof e;
  if (!(e instanceof GuardedFetchError)) throw new Error(`expected a guarded-fetch refusal, got ${String(err)}`);
  return e;
}

describe('a connection to a non-public address is refused before any socket opens (SSRF through connections)', () => {
  it('an issuer on 127.0.0.2, by address or by a name resolving to it, never reaches the listener there', async () => {
    const failed = (attempt: Promise<unknown>) => attempt.then(() => new Error('it succeeded'), (e: unknown) => e);
    const outcomes: unknown[] = [];
    for (const issuer of [`https://127.0.0.2:${listenerPort}`, `https://idp.internal.test:${listenerPort}`]) {
      outcomes.push(await failed((await connectorFor(issuer, false)).start()));
    }
    // GitHub Enterprise: the /meta probe (the console's Test) and the REST calls take the same guard.
    outcomes.push(await failed((await connectorFor(`https://127.0.0.2:${listenerPort}`, false, 'github')).discover()));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(accepted).toBe(0);
    expect(connects).toEqual([]);
    for (const outcome of outcomes) {
      const err = await refusal(Promise.reject(outcome));
      expect(err.stage).toBe('refused');
      expect(err.reason).toMatch(/non-public address \(loopback/);
    }
  });

  it('10.x, 192.168.x, [::1], localhost, a name mixing a public and a private address: refused, no connect', async () => {
    const issuers = ['https://10.1.2.3', 'https://ten.internal.test', 'https://192.168.0.10', 'https://home.internal.test', 'https://[::1]:8443', 'http://localhost:9', 'https://mixed.internal.test'];
    const before = connects.length;
    for (const issuer of issuers) {
      expect((await refusal((await connectorFor(issuer, false)).start())).stage).toBe('refused');
    }
    expect(connects.length).toBe(before);
  });

  it('with the private-network opt-in the same issuer is reached; the cloud metadata address stays refused', async () => {
    const opted = await connectorFor(`https://idp.internal.test:${listenerPort}`, true);
    // The listener is not TLS: the handshake fails, but only after the socket reached it.
    expect((await refusal(opted.start())).stage).toBe('unreachable');
    expect(connects).toContain(`127.0.0.2:${listenerPort}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(accepted).toBe(1);

    const before = connects.length;
    for (const issuer of ['https://metadata.internal.test', 'https://169.254.169.254']) {
      expect((await refusal((await connectorFor(issuer, true)).start())).stage).toBe('refused');
    }
    expect(connects.length).toBe(before);
  });
});

describe("a broken connection's discovery is cached for 30 s (anonymous sign-ins cannot make the server hammer it)", () => {
  let idp: HttpServer;
  let hits = 0;
  afterAll(async () => {
    await new Promise((resolve) => idp?.close(resolve));
  });

  it('N sign-in attempts fetch the failing discovery once per window', async () => {
    idp = createHttpServer((req, res) => {
      if (req.url?.endsWith('/.well-known/openid-configuration')) hits++;
      res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(idp.address() as { port: number }).port}`;
    // The only connection on the login page besides local accounts: each attempt is a fresh anonymous sign-in.
    await gh.services.connections.add(connectionSpec({ id: 'broken', kind: 'oidc', name: 'Broken IdP', issuer, clientId: 'gatehouse', allowPrivateNetwork: true }), 'cli');
    const client = await registerMcpClient(gh.issuer, 'http://127.0.0.1:45125/cb', 'Outgoing Client');
    async function attempt(): Promise<number> {
      const browser = new MultiOriginBrowser('anonymous');
      const { challenge } = pkcePair();
      const url = authorizeUrl(gh.issuer, { client_id: client.clientId, redirect_uri: client.redirectUri, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read', state: 's' });
      const page = await openAtGatehouse(browser, gh.issuer, url);
      if (!(page instanceof Response)) throw new Error(`left Gatehouse for ${page.href}`);
      const started = await browser.postForm(formAction(await page.text(), page.url, 'Continue with Broken IdP'), {});
      await started.body?.cancel();
      return started.status;
    }

    for (let i = 0; i < 5; i++) expect(await attempt()).toBe(502);
    expect(hits).toBe(1);

    // After the window, one new attempt fetches again (once).
    const now = Date.now();
    jest.spyOn(Date, 'now').mockReturnValue(now + 31_000);
    expect(await attempt()).toBe(502);
    expect(await attempt()).toBe(502);
    expect(hits).toBe(2);
  });
});
