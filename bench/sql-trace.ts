// Every SQL statement one flow runs, step by step (`npm run bench:sql`): the tool that found most of what
// docs/PERFORMANCE.md lists as fixed. Starts Gatehouse from the sources on a fresh PostgreSQL database
// (BENCH_DATABASE_URL's server, else postgres://postgres@127.0.0.1:5432; dropped afterwards), rate limits off, and
// prints the statements of: a registration, a password sign-in with consent, the code exchange, two refreshes, a
// second client through the signed-in browser, and a client_credentials token. BENCH_SQL_FULL=1 prints whole texts.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { startGatehouse } from '../src/gatehouse.js';
import { createLogger } from '../src/log.js';
import { createStaticClient } from '../src/oauth/static-clients.js';
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../test/helpers/browser-flow.js';
import { freePort } from '../test/helpers/server.js';

const RESOURCE = 'https://mcp.example.test/mcp';
const REDIRECT = 'http://127.0.0.1:33500/callback';
const USER = { email: 'trace@example.com', password: 'a trace password long enough' };
const FULL = process.env.BENCH_SQL_FULL === '1';

const server = new URL(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const name = `gatehouse_trace_${randomBytes(5).toString('hex')}`;
const admin = async (sql: string) => {
  const c = new pg.Client({ connectionString: new URL('/postgres', server).href });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
};
await admin(`create database ${name}`);
const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-trace-'));
const port = await freePort();
const issuer = `http://127.0.0.1:${port}`;
const config = loadConfig({
  PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer, DATA_DIR: dataDir, LOG_LEVEL: 'warn',
  DATABASE_URL: new URL(`/${name}`, server).href,
  RESOURCES: JSON.stringify([{ uri: RESOURCE, name: 'Trace MCP', scopes: { 'tools:read': 'Read' }, default: true }]),
  ...Object.fromEntries(['REGISTRATION_RATE_LIMIT', 'TOKEN_RATE_LIMIT', 'TOKEN_RATE_LIMIT_IP', 'AUTHORIZE_RATE_LIMIT', 'LOGIN_RATE_LIMIT', 'LOGIN_RATE_LIMIT_IP'].map((n) => [n, '0'])),
});
const gh = await startGatehouse(config, { log: createLogger('warn') });
try {
  let seen: string[] = [];
  gh.services.handle.db.on('query', (q: { sql: string }) => seen.push(FULL ? q.sql : q.sql.replace(/\s+/g, ' ').trim().slice(0, 140)));
  await gh.services.users.create(USER);
  const machine = await createStaticClient(gh.services.handle.db, gh.services.box, gh.holder.provider, { name: 'Trace agent', redirectUris: [], confidential: true });
  const step = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    seen = [];
    const result = await work();
    console.log(`\n== ${label}: ${seen.length} statements`);
    for (const s of seen) console.log(`   ${s}`);
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
  await admin(`drop database if exists ${name} with (force)`);
  rmSync(dataDir, { recursive: true, force: true });
}
