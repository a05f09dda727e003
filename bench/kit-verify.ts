// What the resource-server kit costs per request, next to doing it by hand (`npm run bench`; docs/PERFORMANCE.md).
//
// 1. Token verification, in this process: `jose.jwtVerify` with the public key in hand (the floor: one ECDSA P-256
//    verification and the claim checks), `jose.jwtVerify` with createRemoteJWKSet (what README's hand-written
//    example does), and the kit's exported verifier (createTokenVerifier: cached remote JWKS, canonical audience,
//    identity). Same token, one at a time and 32 in flight, each round
//    alternating the contenders every 200 verifications. Target: kit/raw ≥ 0.9.
// 2. If autocannon is installed: two node:http endpoints in a child process, one behind the kit, one written by
//    hand, loaded in turn with the same tools/call request.
//
// Knobs: BENCH_N (verifications per round, 10000), BENCH_ROUNDS (7), BENCH_DURATION (autocannon seconds, 5).
import { spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createTokenVerifier } from '../packages/resource-server/src/index.js';
import { makeFixture } from './fixture.js';

const N = Number(process.env.BENCH_N ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const IN_FLIGHT = 32;
const CHUNK = 200;
const TARGET = 0.9;

type Verify = (token: string) => Promise<unknown>;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Runs `n` verifications with `inFlight` of them pending at a time; returns the milliseconds taken. */
async function timed(verify: Verify, token: string, n: number, inFlight: number): Promise<number> {
  let left = n;
  const worker = async () => {
    while (left-- > 0) await verify(token);
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
  return performance.now() - started;
}

/**
 * One round: N verifications per contender, run in chunks of CHUNK with the contenders alternating chunk by chunk
 * (order rotated each time), so a slow patch of this shared machine hits every contender alike. Returns ops/s.
 */
async function round(contenders: [string, Verify][], token: string, inFlight: number): Promise<number[]> {
  const spent = contenders.map(() => 0);
  for (let done = 0, chunk = 0; done < N; done += CHUNK, chunk++) {
    for (let i = 0; i < contenders.length; i++) {
      const k = (i + chunk) % contenders.length;
      spent[k]! += await timed(contenders[k]![1], token, Math.min(CHUNK, N - done), inFlight);
    }
  }
  return spent.map((ms) => N / (ms / 1000));
}

async function verification(): Promise<void> {
  const fx = await makeFixture();
  const checks = { issuer: fx.issuer, audience: fx.resource, typ: 'at+jwt', algorithms: ['ES256'] };
  const remote = createRemoteJWKSet(new URL(`${fx.issuer}/jwks`));
  const contenders: [string, Verify][] = [
    ['raw (key in hand)', (t) => jwtVerify(t, fx.publicKey, checks)],
    ['raw (remote JWKS)', (t) => jwtVerify(t, remote, checks)],
    ['kit', createTokenVerifier({ issuer: fx.issuer, resource: fx.resource })],
  ];
  for (const [, verify] of contenders) await timed(verify, fx.token, 2000, 1); // warm-up; the kit fetches the JWKS once

  for (const inFlight of [1, IN_FLIGHT]) {
    const results = new Map<string, number[]>(contenders.map(([name]) => [name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      const ops = await round(contenders, fx.token, inFlight);
      contenders.forEach(([name], i) => results.get(name)!.push(ops[i]!));
    }
    console.log(`\nverification, ${inFlight === 1 ? 'one at a time' : `${inFlight} in flight`} (${ROUNDS} rounds × ${fmt(N)}; ops/s, median [min–max])`);
    for (const [name, xs] of results) console.log(`  ${name.padEnd(18)} ${fmt(median(xs)).padStart(8)}  [${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}]`);
    const perRound = results.get('kit')!.map((k, i) => k / results.get('raw (key in hand)')![i]!);
    const ratio = median(perRound);
    console.log(`  kit/raw = ${ratio.toFixed(3)} (median of the rounds: ${perRound.map((r) => r.toFixed(2)).join(' ')}) — target ≥ ${TARGET}: ${ratio >= TARGET ? 'met' : 'MISSED'}`);
  }
  await fx.close();
}

async function http(): Promise<void> {
  let autocannon: typeof import('autocannon').default;
  try {
    autocannon = (await import('autocannon')).default;
  } catch {
    console.log('\nautocannon is not installed: HTTP comparison skipped');
    return;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./kit-servers.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
      });
      child.once('exit', (code) => reject(new Error(`kit-servers exited with ${code}`)));
    });
    const { raw, kit, token } = JSON.parse(line) as { raw: string; kit: string; token: string };
    const load = (url: string) => autocannon({
      url,
      method: 'POST',
      connections: IN_FLIGHT,
      duration: DURATION,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'deploy', arguments: {} } }),
    });
    await load(raw); // warm-up both servers (JIT, JWKS)
    await load(kit);
    const rounds = { raw: [] as number[], kit: [] as number[] };
    const p99 = { raw: [] as number[], kit: [] as number[] };
    for (let round = 0; round < 3; round++) {
      for (const name of (round % 2 ? ['kit', 'raw'] : ['raw', 'kit']) as ('raw' | 'kit')[]) {
        const r = await load(name === 'raw' ? raw : kit);
        if (r.non2xx || r.errors) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
        rounds[name].push(r.requests.average);
        p99[name].push(r.latency.p99);
      }
    }
    console.log(`\nHTTP, tools/call over loopback (autocannon, ${IN_FLIGHT} connections, 3 rounds × ${DURATION} s; req/s median [min–max], p99 ms)`);
    for (const name of ['raw', 'kit'] as const) {
      console.log(`  ${(name === 'raw' ? 'by hand' : 'kit').padEnd(18)} ${fmt(median(rounds[name])).padStart(8)}  [${fmt(Math.min(...rounds[name]))}–${fmt(Math.max(...rounds[name]))}]  p99 ${median(p99[name])} ms`);
    }
    const ratio = median(rounds.kit) / median(rounds.raw);
    console.log(`  kit/by hand = ${ratio.toFixed(3)} — target ≥ ${TARGET}: ${ratio >= TARGET ? 'met' : 'MISSED'}`);
  } finally {
    child.kill();
  }
}

console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB`);
await verification();
await http();
