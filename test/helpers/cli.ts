// Runs the `gatehouse` command as a child process, the way an operator does: a process of its own per command, with
// only the environment given, reading stdin and answering on stdout, stderr and its exit code.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const BIN = join(process.cwd(), 'bin', 'gatehouse.js');

/**
 * node's arguments for `gatehouse …`: src/cli.ts as compiled for this run by jest's globalSetup (test/setup/cli-build.js:
 * each source file through the transform tsx gives it, so the code bin/gatehouse.js runs, without tsx's start and
 * transforms in every process), or bin/gatehouse.js itself when there is no build (jest started without the
 * project's globalSetup). runBin always runs bin/gatehouse.js.
 *
 * With V8 flags (test/setup/global-setup.js keeps those this node knows) that change how fast the code runs, never
 * what it does, for processes that live a few seconds on a test machine whose cores the test files share:
 * `--liftoff-only` compiles the embedded database's WebAssembly with V8's baseline compiler only, and a command's
 * `--no-opt` its JavaScript, instead of recompiling the hot functions with the optimising compilers on background
 * threads, which a few seconds never repay (together about 40% of the CPU of a command that opens the embedded
 * database). `gatehouse serve`, which lives for a whole test file, keeps JavaScript's optimising compiler.
 */
function entry(forCommand: boolean): string[] {
  const build = process.env.GATEHOUSE_TEST_CLI;
  if (!build) return [BIN];
  const cli = join(build, 'src', 'cli.js');
  if (!existsSync(cli)) throw new Error(`the test build of the CLI is missing (${cli}): test/setup/global-setup.js makes it for each jest run`);
  const flags = (process.env.GATEHOUSE_TEST_CLI_FLAGS ?? '').split(' ').filter((f) => f && (forCommand || f !== '--no-opt'));
  return [...flags, cli];
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string>, stdin?: string, timeoutMs = 60_000): Promise<CliResult> {
  return run(entry(true), args, env, stdin, timeoutMs);
}

/** As runCli, through the installed launcher bin/gatehouse.js (tsx and the sources in a checkout). */
export function runBin(args: string[], env: Record<string, string>, stdin?: string, timeoutMs = 60_000): Promise<CliResult> {
  return run([BIN], args, env, stdin, timeoutMs);
}

function run(node: string[], args: string[], env: Record<string, string>, stdin: string | undefined, timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...node, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test', LOG_LEVEL: 'warn', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gatehouse ${args.join(' ')} timed out\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin ?? '');
  });
}

/** `--json` output: exactly one line, one JSON object. */
export function oneJson(stdout: string): Record<string, any> {
  const lines = stdout.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected exactly one JSON line on stdout, got ${lines.length}:\n${stdout}`);
  return JSON.parse(lines[0]!) as Record<string, any>;
}

export interface ServeProcess {
  child: ChildProcessWithoutNullStreams;
  url: string;
  /** Everything it printed so far, stdout and stderr together. */
  output(): string;
  /** The JSON log lines it printed so far. */
  lines(): Array<Record<string, unknown>>;
  /** Its exit code once it has exited. */
  exited: Promise<number | null>;
}

/** `gatehouse serve` as a child process on 127.0.0.1:`port` (ISSUER to match), its output kept. */
export function spawnServe(env: Record<string, string>, port: number): ServeProcess {
  const child = spawn(process.execPath, [...entry(false), 'serve'], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', PORT: String(port), HOST: '127.0.0.1', ISSUER: `http://127.0.0.1:${port}`, LOG_LEVEL: 'info', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const lines = () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, url: `http://127.0.0.1:${port}`, output: () => out, lines, exited };
}
