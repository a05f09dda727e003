// A benchmark server in its own process, so its RSS is its own: it prints one JSON line (what the parent needs: URLs,
// credentials), then answers one-line commands on stdin with one JSON line each (bench/servers/protocol.mjs).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MARK = '@@bench '; // the same marker as bench/servers/protocol.mjs

export interface Child<T> {
  info: T;
  pid: number;
  ask(command: string): Promise<unknown>;
  /** Resident set size in MB now, of the process and its descendants (Linux /proc). */
  rssMb(): number;
  /** CPU seconds used so far, user + system, all threads, by the process and its live descendants (Linux /proc). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

export async function startChild<T>(script: string, env: Record<string, string> = {}): Promise<Child<T>> {
  // BENCH_CPU_PROF=<dir>: each server writes a V8 CPU profile there when it exits (open it in Chrome DevTools).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // BENCH_SERVER_FLAGS: node flags for both servers alike (say, `--max-semi-space-size=4` to weigh RSS against GC).
  const flags = (process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean);
  // The servers are plain JavaScript (servers/*.mjs) under plain node: no TypeScript loader in their memory.
  const path = script.startsWith('/') ? script : fileURLToPath(new URL(script, import.meta.url));
  const proc: ChildProcess = spawn(process.execPath, [...flags, ...profile, path], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const lines = createInterface({ input: proc.stdout! });
  const waiting: ((line: string) => void)[] = [];
  // Only lines with the marker are ours: the server's own logs go to stdout too.
  lines.on('line', (line) => {
    if (line.startsWith(MARK)) waiting.shift()?.(line.slice(MARK.length));
    else process.stderr.write(`${line}\n`);
  });
  const next = () => new Promise<string>((resolve, reject) => {
    waiting.push(resolve);
    proc.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  const info = JSON.parse(await next()) as T;
  return {
    info,
    pid: proc.pid!,
    async ask(command) {
      const answer = next();
      proc.stdin!.write(`${command}\n`);
      return JSON.parse(await answer);
    },
    // With BENCH_WORKERS the server is a process tree (a primary and its workers): both figures cover all of it.
    rssMb: () => processTree(proc.pid!).reduce((mb, pid) => mb + rssMbOf(pid), 0),
    cpuSeconds: () => processTree(proc.pid!).reduce((s, pid) => s + (procStat(pid)?.cpuSeconds ?? 0), 0),
    stop: () => new Promise<void>((resolve) => {
      if (proc.exitCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    }),
  };
}

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux build this runs on

interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  cpuSeconds: number;
}

/** One process's /proc/<pid>/stat: its command name, parent, and utime + stime (fields 2, 4, 14 and 15). */
function procStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    return { pid, comm: stat.slice(stat.indexOf('(') + 1, close), ppid: Number(fields[1]), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND };
  } catch {
    return undefined; // the process has gone
  }
}

/** Every process on the machine now. */
function processes(): ProcStat[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map((e) => procStat(Number(e))).filter((p): p is ProcStat => p !== undefined);
}

/** CPU seconds used so far by every PostgreSQL server process on this machine (backends, WAL writer, checkpointer…). */
export function postgresCpuSeconds(): number {
  return processes().filter((p) => p.comm === 'postgres').reduce((s, p) => s + p.cpuSeconds, 0);
}

function rssMbOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

// The tree is read at most every 5 s: scanning /proc on every 100 ms RSS sample would load the shared machine.
const trees = new Map<number, { at: number; pids: number[] }>();

/** `pid` and every live process descended from it. */
function processTree(pid: number): number[] {
  const known = trees.get(pid);
  if (known && Date.now() - known.at < 5000) return known.pids;
  const children = new Map<number, number[]>();
  for (const p of processes()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) pids.push(...(children.get(pids[i]!) ?? []));
  trees.set(pid, { at: Date.now(), pids });
  return pids;
}
