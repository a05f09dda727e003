// What the tool-call audit costs an MCP server (`npm run bench:kit-audit`; docs/PERFORMANCE.md): the kit's HTTP
// throughput on tools/call with audit shipping on, against the same kit with it off, both in one child process
// (bench/kit-audit-servers.ts: the README's MCP SDK server, and a bare handler), loaded in turn by autocannon in
// alternating rounds. "On" records every call from its
// response (response watch, argument digest) and ships the events in batches to a reporting API — here a sink in
// this process that accepts every batch unread (this machine's few cores are shared by the kit, autocannon and the
// sink: a sink that parsed the batches would take its CPU from the load generator and count as the kit's cost). The
// child prints the kit's own counters at the end, so the run shows every call was shipped.
// Target (issue 17): on/off ≥ 0.9.
//
// Knobs: BENCH_DURATION (seconds per load, 5), BENCH_ROUNDS (5), BENCH_PAIRS (`sdk,bare`, or one of them).
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = 32;
const TARGET = 0.9;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

let batches = 0;
const sink = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    batches += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"duplicate":false}');
  });
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./kit-audit-servers.ts', import.meta.url))], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, BENCH_SINK: sinkUrl },
});
const lines: string[] = [];
let pending = '';
const nextLine = () =>
  new Promise<string>((resolve, reject) => {
    const take = () => {
      const line = lines.shift();
      if (line !== undefined) return resolve(line);
      child.stdout.once('data', take);
    };
    child.once('exit', (code) => reject(new Error(`kit-audit-servers exited with ${code}`)));
    take();
  });
child.stdout.on('data', (d: Buffer) => {
  pending += d.toString();
  const parts = pending.split('\n');
  pending = parts.pop()!;
  lines.push(...parts);
});

type Pair = { key: string; name: string; off: string; on: string };
try {
  const urls = JSON.parse(await nextLine()) as Record<string, string>;
  const load = (url: string) =>
    autocannon({
      url,
      method: 'POST',
      connections: CONNECTIONS,
      duration: DURATION,
      headers: { authorization: `Bearer ${urls.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'deploy', arguments: { target: 'production', replicas: 3 } } }),
    });
  const wanted = (process.env.BENCH_PAIRS ?? 'sdk,bare').split(',');
  const pairs: Pair[] = [
    { key: 'sdk', name: "the README's MCP SDK server", off: urls.sdkOff!, on: urls.sdkOn! },
    { key: 'bare', name: 'a bare handler (the kit alone)', off: urls.bareOff!, on: urls.bareOn! },
  ].filter((p) => wanted.includes(p.key));
  console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB`);
  let requestsOn = 0;
  for (const pair of pairs) {
    await load(pair.off); // warm-up (JIT, JWKS)
    await load(pair.on);
    const rps = { off: [] as number[], on: [] as number[] };
    const p99 = { off: [] as number[], on: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const side of (round % 2 ? ['on', 'off'] : ['off', 'on']) as ('off' | 'on')[]) {
        const r = await load(pair[side]);
        if (r.non2xx || r.errors) throw new Error(`${pair.name}, audit ${side}: ${r.non2xx} non-2xx, ${r.errors} errors`);
        rps[side].push(r.requests.average);
        p99[side].push(r.latency.p99);
        if (side === 'on') requestsOn += r.requests.total;
      }
    }
    console.log(`\n${pair.name}: tools/call over loopback (autocannon, ${CONNECTIONS} connections, ${ROUNDS} rounds × ${DURATION} s; req/s median [min–max], p99 ms)`);
    for (const side of ['off', 'on'] as const) {
      console.log(`  audit ${side.padEnd(4)} ${fmt(median(rps[side])).padStart(8)}  [${fmt(Math.min(...rps[side]))}–${fmt(Math.max(...rps[side]))}]  p99 ${median(p99[side])} ms`);
    }
    const perRound = rps.on.map((on, i) => on / rps.off[i]!);
    const ratio = median(perRound);
    console.log(`  on/off = ${ratio.toFixed(3)} (per round: ${perRound.map((r) => r.toFixed(2)).join(' ')}) — target ≥ ${TARGET}: ${ratio >= TARGET ? 'met' : 'MISSED'}`);
  }
  child.kill('SIGINT');
  const stats = JSON.parse(await nextLine()) as Record<'bare' | 'sdk', { sent: number; queued: number; dropped: number; failures: number }>;
  const sent = stats.bare.sent + stats.sdk.sent;
  console.log(`\nshipped: ${fmt(sent)} events (queued ${stats.bare.queued + stats.sdk.queued}, dropped ${stats.bare.dropped + stats.sdk.dropped}, failed sends ${stats.bare.failures + stats.sdk.failures}) for ${fmt(requestsOn)} measured audited calls plus the warm-ups, in ${fmt(batches)} batches`);
} finally {
  if (child.exitCode === null) child.kill();
  sink.close();
}
