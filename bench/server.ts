// Gatehouse's own endpoints under load next to a bare oidc-provider (`npm run bench:server`; docs/PERFORMANCE.md).
// Each server runs in its own child process (its RSS is its own); autocannon runs here. Contenders alternate round
// by round so a slow patch of the machine hits both.
//
// (a) client_credentials at /token, 50 connections: Gatehouse on PostgreSQL vs oidc-provider 9.13.3 in memory.
// (b) refresh-token rotation at /token, 50 connections, each connection following its own rotating chain.
// (c) the full headless authorization-code flow (DCR + /authorize + login + consent + /token), flows per second.
// (d) metadata and JWKS.
// Plus SQL queries per /token (a knex query listener) and peak RSS under load. Results: bench/results/<name>.json.
//
// Knobs: BENCH_DURATION (s per load, 10), BENCH_ROUNDS (2), BENCH_CONNECTIONS (50), BENCH_FLOW_CONCURRENCY (8),
// BENCH_ONLY (comma list of a,b,c,d), BENCH_DATABASE_URL (a database to use instead of a fresh one).
// BENCH_BEFORE=<a built checkout of another commit>: its Gatehouse runs as a third contender in the same rounds, so a
// change is measured against its parent in one process tree (docs/PERFORMANCE.md, "Measuring a change").
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import autocannon from 'autocannon';
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../test/helpers/browser-flow.js';
import { postgresCpuSeconds, startChild, type Child } from './child.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const FLOW_CONCURRENCY = Number(process.env.BENCH_FLOW_CONCURRENCY ?? 8);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'a,b,c,d').split(','));
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const FLOW_KINDS = new Set((process.env.BENCH_FLOW_KINDS ?? 'password,signed-in').split(','));
const RESULTS = new URL('./results/', import.meta.url);
const REDIRECT = 'http://127.0.0.1:33500/callback';

interface ServerInfo {
  issuer: string;
  metadata: string;
  jwks: string;
  machine: { id: string; secret: string };
  publicClient?: string;
  user?: { email: string; password: string };
  resource?: string;
}

interface Measured {
  reqPerSec: number;
  p50: number;
  p99: number;
  peakRssMb: number;
  non2xx: number;
  errors: number;
  /** CPU milliseconds per answered request: the server process, every PostgreSQL process, and the load generator. */
  cpuMsPerRequest: { server: number; postgres: number; loadGenerator: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const round1 = (n: number) => Math.round(n * 10) / 10;

/** Samples the child's RSS every 100 ms while `work` runs; returns the work's result and the peak. */
async function withPeakRss<T>(child: Child<ServerInfo>, work: () => Promise<T>): Promise<[T, number]> {
  let peak = child.rssMb();
  const timer = setInterval(() => (peak = Math.max(peak, child.rssMb())), 100);
  try {
    return [await work(), Math.max(peak, child.rssMb())];
  } finally {
    clearInterval(timer);
  }
}

/**
 * One autocannon load. Besides throughput it counts the CPU time each party spent on it (from /proc), so the cost
 * of a request is measured where it is paid — the server, PostgreSQL, the load generator — independently of how
 * the two shared cores happened to be divided during the run.
 */
async function load(child: Child<ServerInfo>, opts: Record<string, unknown>): Promise<Measured> {
  const cpu = cpuMeter(child);
  const [r, peak] = await withPeakRss(child, () => autocannon({ connections: CONNECTIONS, duration: DURATION, ...opts } as never));
  return {
    reqPerSec: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, peakRssMb: round1(peak), non2xx: r.non2xx, errors: r.errors,
    cpuMsPerRequest: cpu.msPer(r.requests.total, 3),
  };
}

type CpuMs = Measured['cpuMsPerRequest'];

/** Starts counting the CPU time each party spends; `msPer(n)` divides what was spent since by n units of work. */
function cpuMeter(child: Child<ServerInfo>) {
  const before = { server: child.cpuSeconds(), postgres: postgresCpuSeconds(), self: process.cpuUsage() };
  return {
    msPer(n: number, decimals: number): CpuMs {
      const self = process.cpuUsage(before.self);
      const scale = 10 ** decimals;
      const ms = (seconds: number) => Math.round((seconds * 1000 * scale) / Math.max(1, n)) / scale;
      return { server: ms(child.cpuSeconds() - before.server), postgres: ms(postgresCpuSeconds() - before.postgres), loadGenerator: ms((self.user + self.system) / 1e6) };
    },
  };
}

const medianCpu = (xs: CpuMs[]): CpuMs => ({
  server: median(xs.map((c) => c.server)),
  postgres: median(xs.map((c) => c.postgres)),
  loadGenerator: median(xs.map((c) => c.loadGenerator)),
});

function summarise(rounds: Measured[]) {
  return {
    reqPerSec: Math.round(median(rounds.map((r) => r.reqPerSec))),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    peakRssMb: Math.max(...rounds.map((r) => r.peakRssMb)),
    non2xx: rounds.reduce((n, r) => n + r.non2xx, 0),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    cpuMsPerRequest: medianCpu(rounds.map((r) => r.cpuMsPerRequest)),
    rounds,
  };
}

function write(name: string, data: unknown) {
  mkdirSync(RESULTS, { recursive: true });
  // Runs with the limits counted (BENCH_RATE_LIMITS=on) or several workers (BENCH_WORKERS) are kept beside the
  // default ones, not over them.
  const file = `${name}${process.env.BENCH_RATE_LIMITS === 'on' ? '.rate-limits-on' : ''}${WORKERS > 1 ? `.workers-${WORKERS}` : ''}.json`;
  writeFileSync(new URL(file, RESULTS), `${JSON.stringify({ name, at: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, duration: DURATION, rounds: ROUNDS, connections: CONNECTIONS, rateLimits: process.env.BENCH_RATE_LIMITS === 'on' ? 'counted (limits 1,000,000)' : 'off', gatehouseWorkers: WORKERS, ...data as object }, null, 2)}\n`);
}

/**
 * The most requests per second this machine could answer if every core did nothing but this load: its cores'
 * CPU milliseconds per second over the CPU milliseconds one request costs all parties (server, PostgreSQL, load
 * generator). No scheduling, batching or parallelism goes past it; only a request that costs less CPU does.
 */
function ceilingPerSecond(cpu: CpuMs): number {
  return (cpus().length * 1000) / (cpu.server + cpu.postgres + cpu.loadGenerator);
}

/** One contender's line of a load's table. */
function printRow(name: string, s: ReturnType<typeof summarise>) {
  const cpu = s.cpuMsPerRequest;
  console.log(`  ${name.padEnd(14)} ${String(s.reqPerSec).padStart(8)} ${String(s.p50).padStart(7)} ${String(s.p99).padStart(7)} ${String(s.peakRssMb).padStart(12)} ${String(s.non2xx + s.errors).padStart(8)}   ${cpu.server.toFixed(3)}, ${cpu.postgres.toFixed(3)}, ${cpu.loadGenerator.toFixed(3)}`);
}

function printPair(title: string, gh: ReturnType<typeof summarise>, base: ReturnType<typeof summarise>, target?: number) {
  const ratio = gh.reqPerSec / base.reqPerSec;
  console.log(`\n${title}`);
  console.log(`  ${''.padEnd(14)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'peak RSS MB'.padStart(12)} ${'non-2xx'.padStart(8)}   CPU ms/request: server, PostgreSQL, load generator`);
  printRow('gatehouse', gh);
  printRow('baseline', base);
  console.log(`  ratio gatehouse/baseline = ${ratio.toFixed(3)}${target ? ` — target ≥ ${target}: ${ratio >= target ? 'met' : 'MISSED'}` : ''}`);
  const ceiling = ceilingPerSecond(gh.cpuMsPerRequest);
  console.log(`  ceiling on this machine (every core busy on nothing but this load): ${Math.round(ceiling)} req/s${target ? `; the target needs ${Math.round(target * base.reqPerSec)}` : ''}`);
  return ratio;
}

/**
 * Runs the same load on each server (Gatehouse, the baseline, and the BENCH_BEFORE Gatehouse when there is one),
 * rotating which goes first, ROUNDS times.
 */
async function paired(gh: Child<ServerInfo>, base: Child<ServerInfo>, optsFor: (c: Child<ServerInfo>) => Promise<Record<string, unknown>> | Record<string, unknown>) {
  const contenders = [gh, base, ...(before ? [before] : [])];
  for (const c of contenders) await load(c, { ...(await optsFor(c)), duration: 2 }); // warm-up (JIT, pools, caches)
  const out = new Map<Child<ServerInfo>, Measured[]>(contenders.map((c) => [c, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < contenders.length; i++) {
      const child = contenders[(r + i) % contenders.length]!;
      out.get(child)!.push(await load(child, await optsFor(child)));
    }
  }
  const beforeRounds = before && out.get(before);
  return { gh: summarise(out.get(gh)!), base: summarise(out.get(base)!), ...(beforeRounds ? { before: summarise(beforeRounds) } : {}) };
}

/** The change against BENCH_BEFORE, measured in the same rounds. */
function printBefore(r: { gh: ReturnType<typeof summarise>; base: ReturnType<typeof summarise>; before?: ReturnType<typeof summarise> }) {
  if (!r.before) return;
  const b = r.before;
  printRow('before', b);
  console.log(`  before (${process.env.BENCH_BEFORE}): ratio ${(b.reqPerSec / r.base.reqPerSec).toFixed(3)}; this change ${(r.gh.reqPerSec / b.reqPerSec).toFixed(3)}× its throughput, ${(r.gh.cpuMsPerRequest.server / b.cpuMsPerRequest.server).toFixed(3)}× its server CPU per request`);
}

// (a) ------------------------------------------------------------------------------------------------------------
function clientCredentials(c: Child<ServerInfo>) {
  return {
    url: `${c.info.issuer}/token`,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(c.info.machine.id, c.info.machine.secret) },
    body: 'grant_type=client_credentials&resource=https%3A%2F%2Fmcp.example.test%2Fmcp&scope=tools%3Aread',
  };
}

// (b) ------------------------------------------------------------------------------------------------------------
/** Refresh tokens for Gatehouse come from real flows (one person, one public client, one grant per flow). */
async function gatehouseRefreshTokens(info: ServerInfo, n: number): Promise<{ clientId: string; tokens: string[] }> {
  const client = await registerPublicClient(info.issuer, [REDIRECT]);
  const tokens: string[] = [];
  for (let i = 0; i < n; i++) tokens.push((await headlessFlow(info, client.client_id)).refresh_token);
  return { clientId: client.client_id, tokens };
}

/**
 * Rotation chains under load. autocannon resets a connection's `context` after every pass over `requests` (one
 * request here), so a chain cannot live there: live refresh tokens sit in one queue instead. A request takes the
 * oldest; its answer puts the rotated token back. With more tokens than connections the queue never runs dry, and
 * every token is used exactly once, so every non-2xx is a real refusal.
 */
function rotation(c: Child<ServerInfo>, clientId: string, pool: string[]) {
  const live = [...pool];
  return {
    url: `${c.info.issuer}/token`,
    requests: [{
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      setupRequest: (req: Record<string, unknown>) => {
        const rt = live.shift() ?? 'exhausted';
        return { ...req, body: `grant_type=refresh_token&client_id=${encodeURIComponent(clientId)}&refresh_token=${encodeURIComponent(rt)}` };
      },
      onResponse: (status: number, body: string) => {
        if (status === 200) live.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
      },
    }],
  };
}

// (c) ------------------------------------------------------------------------------------------------------------
async function headlessFlow(info: ServerInfo, clientId: string, browser = new Browser(info.issuer)) {
  const { verifier, challenge } = pkcePair();
  const callback = await authorizeThrough(browser, info.issuer, {
    client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: info.resource!, state: 'b',
  }, info.user!);
  const res = await tokenRequest(info.issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: clientId, redirect_uri: REDIRECT });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { access_token: string; refresh_token: string };
}

/**
 * Flows per second, FLOW_CONCURRENCY at once, each a new client (DCR) and a new grant (consent). `signedIn` false:
 * every flow signs in with a password in a new browser (one argon2id hash each, at the library's default cost);
 * true: each worker's browser signs in once and later flows reuse that session (SSO), so the login page is skipped.
 */
async function flows(gh: Child<ServerInfo>, signedIn: boolean) {
  const run = async (seconds: number) => {
    let done = 0;
    let failed = 0;
    const until = Date.now() + seconds * 1000;
    const worker = async () => {
      const browser = new Browser(gh.info.issuer);
      while (Date.now() < until) {
        try {
          const client = await registerPublicClient(gh.info.issuer, [REDIRECT]);
          await headlessFlow(gh.info, client.client_id, signedIn ? browser : new Browser(gh.info.issuer));
          done++;
        } catch {
          failed++;
        }
      }
    };
    const started = performance.now();
    const cpu = cpuMeter(gh);
    const [, peak] = await withPeakRss(gh, () => Promise.all(Array.from({ length: FLOW_CONCURRENCY }, worker)));
    return { flowsPerSec: done / ((performance.now() - started) / 1000), done, failed, peakRssMb: round1(peak), cpuMsPerFlow: cpu.msPer(done, 1) };
  };
  await run(2);
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) rounds.push(await run(DURATION));
  const before = (await gh.ask('queries')) as { queries: number };
  const client = await registerPublicClient(gh.info.issuer, [REDIRECT]);
  await headlessFlow(gh.info, client.client_id);
  const after = (await gh.ask('queries')) as { queries: number };
  const cpuMsPerFlow = medianCpu(rounds.map((r) => r.cpuMsPerFlow));
  const ceiling = round1(ceilingPerSecond(cpuMsPerFlow));
  return { signedIn, flowsPerSec: round1(median(rounds.map((r) => r.flowsPerSec))), concurrency: FLOW_CONCURRENCY, queriesPerFlow: after.queries - before.queries, cpuMsPerFlow, ceilingPerSecond: ceiling, rounds };
}

/** SQL queries per request, from the Gatehouse child's knex listener over `n` sequential requests. */
async function queriesPer(gh: Child<ServerInfo>, n: number, request: () => Promise<void>): Promise<number> {
  const before = (await gh.ask('queries')) as { queries: number };
  for (let i = 0; i < n; i++) await request();
  const after = (await gh.ask('queries')) as { queries: number };
  return round1((after.queries - before.queries) / n);
}

// ------------------------------------------------------------------------------------------------------------------
console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB; ${DURATION} s × ${ROUNDS} rounds, ${CONNECTIONS} connections`);
const gh = await startChild<ServerInfo>('./servers/gatehouse.mjs');
const base = await startChild<ServerInfo>('./servers/baseline.mjs');
const before = process.env.BENCH_BEFORE ? await startChild<ServerInfo>(`${process.env.BENCH_BEFORE.replace(/\/$/, '')}/bench/servers/gatehouse.mjs`) : undefined;
const idle = { gatehouse: round1(gh.rssMb()), baseline: round1(base.rssMb()), ...(before ? { before: round1(before.rssMb()) } : {}) };
console.log(`idle RSS: gatehouse ${idle.gatehouse} MB, baseline ${idle.baseline} MB${before ? `, before ${idle.before} MB` : ''}`);
try {
  if (ONLY.has('a')) {
    const r = await paired(gh, base, clientCredentials);
    const ratio = printPair(`(a) client_credentials at /token, ${CONNECTIONS} connections`, r.gh, r.base, 0.75);
    printBefore(r);
    const cc = clientCredentials(gh);
    const queries = await queriesPer(gh, 100, async () => void (await fetch(cc.url, { method: 'POST', headers: cc.headers, body: cc.body })).arrayBuffer());
    console.log(`  SQL queries per client_credentials /token at Gatehouse: ${queries}`);
    write('token-client-credentials', { gatehouse: r.gh, baseline: r.base, ...(r.before ? { before: r.before } : {}), ratio, target: 0.75, ceilingPerSecond: Math.round(ceilingPerSecond(r.gh.cpuMsPerRequest)), queriesPerRequest: queries, idleRssMb: idle });
  }
  if (ONLY.has('b')) {
    const pool = Math.max(CONNECTIONS * 2, 60);
    console.log(`\nminting ${pool * (ROUNDS + 1)} refresh tokens at Gatehouse (real flows)…`);
    const ghTokens = await gatehouseRefreshTokens(gh.info, pool * (ROUNDS + 1) + 5);
    const beforeTokens = before && (await gatehouseRefreshTokens(before.info, pool * (ROUNDS + 1)));
    // The baseline's in-memory adapter is an LRU of 1,000 entries: tokens minted ahead of time would be evicted by
    // the warm-up's rotations, so its tokens are minted (through its models) right before each load.
    const r = await paired(gh, base, async (c) =>
      c === gh ? rotation(c, ghTokens.clientId, ghTokens.tokens.splice(0, pool))
        : c === before ? rotation(c, beforeTokens!.clientId, beforeTokens!.tokens.splice(0, pool))
          : rotation(c, c.info.publicClient!, (await base.ask(`refresh ${pool}`)) as string[]));
    const ratio = printPair(`(b) refresh-token rotation at /token, ${CONNECTIONS} connections`, r.gh, r.base, 0.45);
    printBefore(r);
    let rt = ghTokens.tokens.pop()!;
    const queries = await queriesPer(gh, 50, async () => {
      const res = await tokenRequest(gh.info.issuer, { grant_type: 'refresh_token', refresh_token: rt, client_id: ghTokens.clientId });
      rt = res.body.refresh_token;
    });
    console.log(`  SQL queries per refresh at Gatehouse: ${queries}`);
    write('token-refresh-rotation', { gatehouse: r.gh, baseline: r.base, ...(r.before ? { before: r.before } : {}), ratio, target: 0.45, ceilingPerSecond: Math.round(ceilingPerSecond(r.gh.cpuMsPerRequest)), queriesPerRequest: queries });
  }
  if (ONLY.has('c')) {
    const results = [];
    for (const signedIn of [false, true]) {
      if (!FLOW_KINDS.has(signedIn ? 'signed-in' : 'password')) continue;
      const r = await flows(gh, signedIn);
      results.push(r);
      const b = before && (await flows(before, signedIn));
      console.log(`\n(c) full headless authorization-code flow (DCR + authorize + ${signedIn ? 'signed-in session' : 'password login'} + consent + token), ${FLOW_CONCURRENCY} at once`);
      console.log(`  ${r.flowsPerSec} flows/s (rounds: ${r.rounds.map((x) => `${round1(x.flowsPerSec)} (${x.failed} failed)`).join(', ')}); ${r.queriesPerFlow} SQL queries per flow; peak RSS ${Math.max(...r.rounds.map((x) => x.peakRssMb))} MB — target ≥ 80/s and < 25 statements: ${r.flowsPerSec >= 80 && r.queriesPerFlow < 25 ? 'met' : 'MISSED'}`);
      console.log(`  CPU ms per flow (median round): server ${r.cpuMsPerFlow.server}, PostgreSQL ${r.cpuMsPerFlow.postgres}, load generator ${r.cpuMsPerFlow.loadGenerator}; ceiling on this machine ${r.ceilingPerSecond} flows/s`);
      if (b) console.log(`  before (${process.env.BENCH_BEFORE}): ${b.flowsPerSec} flows/s; ${b.queriesPerFlow} SQL queries per flow; CPU ms per flow: server ${b.cpuMsPerFlow.server}, PostgreSQL ${b.cpuMsPerFlow.postgres} — this change ${(r.flowsPerSec / b.flowsPerSec).toFixed(3)}× its flows per second`);
    }
    write('authorization-code-flow', { passwordLogin: results.find((r) => !r.signedIn), signedInSession: results.find((r) => r.signedIn), target: { flowsPerSecond: 80, statementsPerFlow: 25 } });
  }
  if (ONLY.has('d')) {
    const meta = await paired(gh, base, (c) => ({ url: c.info.metadata }));
    const metaRatio = printPair(`(d) authorization server metadata (Gatehouse RFC 8414 document vs oidc-provider discovery)`, meta.gh, meta.base);
    const jwks = await paired(gh, base, (c) => ({ url: c.info.jwks }));
    const jwksRatio = printPair('(d) JWKS', jwks.gh, jwks.base);
    write('metadata-jwks', { metadata: { gatehouse: meta.gh, baseline: meta.base, ratio: metaRatio }, jwks: { gatehouse: jwks.gh, baseline: jwks.base, ratio: jwksRatio } });
  }
} finally {
  await gh.stop();
  await base.stop();
  await before?.stop();
}
