// What the tool-call audit costs an MCP server (`npm run bench:kit-audit`; docs/PERFORMANCE.md): the kit's HTTP
// throughput on tools/call with audit shipping on, against the same kit with it off, both in one child process
// (bench/kit-servers.ts), loaded in turn by autocannon in alternating rounds. "On" records every call from its
// response (response watch, argument digest) and ships the events in batches to a reporting API — here a sink in
// this process that accepts every batch unread (this machine's few cores are shared by the kit, autocannon and the
// sink: a sink that parsed the batches would take its CPU from the load generator and count as the kit's cost). The
// child prints the kit's own counters at the end, so the run shows every call was shipped.
// Target (issue 17): on/off ≥ 0.9.
//
// Knobs: BENCH_DURATION (seconds per load, 5), BENCH_ROUNDS (5).
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

const child = spawn(process.execPath, [...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), '--import', 'tsx', fileURLToPath(new URL('./kit-servers.ts', import.meta.url))], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, BENCH_SINK: sinkUrl },
});
try {
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`kit-servers exited with ${code}`)));
  });
  const { kit, audited, token } = JSON.parse(line) as { kit: string; audited: string; token: string };
  const load = (url: string) =>
    autocannon({
      url,
      method: 'POST',
      connections: CONNECTIONS,
      duration: DURATION,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'deploy', arguments: { target: 'production', replicas: 3 } } }),
    });
  await load(kit); // warm-up (JIT, JWKS)
  await load(audited);
  const rps = { off: [] as number[], on: [] as number[] };
  const p99 = { off: [] as number[], on: [] as number[] };
  let auditedRequests = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of (round % 2 ? ['on', 'off'] : ['off', 'on']) as ('off' | 'on')[]) {
      const r = await load(name === 'on' ? audited : kit);
      if (r.non2xx || r.errors) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
      rps[name].push(r.requests.average);
      p99[name].push(r.latency.p99);
      if (name === 'on') auditedRequests += r.requests.total;
    }
  }
  await new Promise((r) => setTimeout(r, 2000)); // the last batches
  console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB`);
  console.log(`\nkit, tools/call over loopback (autocannon, ${CONNECTIONS} connections, ${ROUNDS} rounds × ${DURATION} s; req/s median [min–max], p99 ms)`);
  for (const name of ['off', 'on'] as const) {
    console.log(`  audit ${name.padEnd(4)} ${fmt(median(rps[name])).padStart(8)}  [${fmt(Math.min(...rps[name]))}–${fmt(Math.max(...rps[name]))}]  p99 ${median(p99[name])} ms`);
  }
  const perRound = rps.on.map((on, i) => on / rps.off[i]!);
  const ratio = median(perRound);
  console.log(`  on/off = ${ratio.toFixed(3)} (per round: ${perRound.map((r) => r.toFixed(2)).join(' ')}) — target ≥ ${TARGET}: ${ratio >= TARGET ? 'met' : 'MISSED'}`);
  // The child's last line: the audited guard's counters (warm-up included).
  const stats = await new Promise<{ sent: number; queued: number; dropped: number }>((resolve) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const last = out.trim().split('\n').at(-1)!;
      if (last.startsWith('{"sent"')) resolve(JSON.parse(last));
    });
    child.kill('SIGINT');
  });
  console.log(`  events shipped ${fmt(stats.sent)} (queued ${stats.queued}, dropped ${stats.dropped}) for ${fmt(auditedRequests)} measured audited requests plus the warm-up, in ${fmt(batches)} batches`);
} finally {
  if (child.exitCode === null) child.kill();
  sink.close();
}
