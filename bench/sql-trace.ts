// Every SQL statement one flow runs, step by step (`npm run bench:sql`): the tool that found most of what
// docs/PERFORMANCE.md lists as fixed. Starts Gatehouse from the sources the way the test suite does (a fresh
// PostgreSQL database beside BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres, dropped afterwards;
// rate limits counted, as in production), and prints the statements of: a registration, a password sign-in with
// consent, the code exchange, two refreshes, a second client through the signed-in browser, and a
// client_credentials token. BENCH_SQL_FULL=1 prints whole texts.
import { createStaticClient } from '../src/oauth/static-clients.js';
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../test/helpers/browser-flow.js';
import { createTestDatabase } from '../test/helpers/database.js';
import { startTestServer, TEST_RESOURCE as RESOURCE } from '../test/helpers/server.js';

const REDIRECT = 'http://127.0.0.1:33500/callback';
const USER = { email: 'trace@example.com', password: 'a trace password long enough' };
const FULL = process.env.BENCH_SQL_FULL === '1';

process.env.TEST_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const db = await createTestDatabase();
const gh = await startTestServer(db.env);
const issuer = gh.issuer;
try {
  let seen: string[] = [];
  gh.services.handle.db.on('query', (q: { sql: string; bindings?: unknown[] }) => seen.push(`${FULL ? q.sql : q.sql.replace(/\s+/g, ' ').trim().slice(0, 140)}${/oidc_payloads/.test(q.sql) && typeof q.bindings?.[0] === 'string' ? `  [${q.bindings[0]}]` : ''}`));
  // Each HTTP request as a heading, so a statement is seen with the request that ran it (no query string: codes).
  gh.server.prependListener('request', (req: { method?: string; url?: string }) => seen.push(`-> ${req.method} ${(req.url ?? '').split('?')[0]}`));
  await gh.services.users.create(USER);
  const machine = await createStaticClient(gh.services.handle.db, gh.services.box, gh.holder.provider, { name: 'Trace agent', redirectUris: [], confidential: true });
  const step = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    seen = [];
    const result = await work();
    console.log(`\n== ${label}: ${seen.filter((s) => !s.startsWith('-> ')).length} statements`);
    for (const s of seen) console.log(s.startsWith('-> ') ? ` ${s}` : `   ${s}`);
    return result;
  };
  const browser = new Browser(issuer);
  const flow = async (clientId: string) => {
    const { verifier, challenge } = pkcePair();
    const callback = await authorizeThrough(browser, issuer, { client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: RESOURCE, state: 's' }, USER);
    return { code: callback.searchParams.get('code')!, verifier };
  };
  const token = async (form: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await tokenRequest(issuer, form, headers);
    if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { refresh_token?: string };
  };

  const first = await step('DCR', () => registerPublicClient(issuer, [REDIRECT]));
  const signedIn = await step('authorize + password login + consent (a new browser)', () => flow(first.client_id));
  let tokens = await step('code exchange', () => token({ grant_type: 'authorization_code', code: signedIn.code, code_verifier: signedIn.verifier, client_id: first.client_id, redirect_uri: REDIRECT }));
  for (const n of [1, 2]) tokens = await step(`refresh ${n}`, () => token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: first.client_id }));
  const second = await step('DCR (a second client)', () => registerPublicClient(issuer, [REDIRECT]));
  await step('authorize + consent (the browser signed in already)', () => flow(second.client_id));
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(machine.client_id)}:${encodeURIComponent(machine.client_secret!)}`).toString('base64')}`;
  await step('client_credentials', () => token({ grant_type: 'client_credentials', resource: RESOURCE, scope: 'tools:read' }, { authorization: basic }));
} finally {
  await gh.close();
  await db.drop();
}
