// The `gatehouse` command the tests spawn, compiled once per test run (jest globalSetup, test/setup/global-setup.js).
// Spawned through bin/gatehouse.js, every command would load tsx and transform the whole import graph again (about a
// second of CPU per process, and the CLI tests spawn hundreds). Here the server's sources go through the same esbuild
// transform tsx applies (one file in, one file out, same target and options), once, into a fresh directory of this
// run: a stale build can never be tested, and runs in parallel in one checkout never share one.
//
// The directory is node_modules/.cache/gatehouse-test-cli-*/ so the build finds what the sources find from src/:
// views/ above it (src/views/views.ts walks up), the dependencies in node_modules (resolution walks up), and a copy of
// package.json beside src/ (its version for --version, and "type": "module" for the .js files).
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE = join(root, 'node_modules', '.cache');
const PREFIX = 'gatehouse-test-cli-';
/** Builds left behind by an interrupted run are removed by a later one once they are this old. */
const ABANDONED_MS = 24 * 60 * 60 * 1000;

/** tsx's own esbuild (a dependency of tsx, not of Gatehouse): the transform the sources get under bin/gatehouse.js. */
function esbuild() {
  const fromRoot = createRequire(join(root, 'package.json'));
  return createRequire(fromRoot.resolve('tsx/package.json'))('esbuild');
}

function removeAbandoned() {
  let names = [];
  try {
    names = readdirSync(CACHE);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(CACHE, name);
    try {
      if (Date.now() - statSync(dir).mtimeMs > ABANDONED_MS) rmSync(dir, { recursive: true, force: true });
    } catch {
      // another run removed it first
    }
  }
}

/** Compiles src/cli.ts and everything it imports; answers the directory (its src/cli.js is the command). */
export async function buildCli() {
  const { build } = esbuild();
  removeAbandoned();
  mkdirSync(CACHE, { recursive: true });
  const out = mkdtempSync(join(CACHE, PREFIX));
  try {
    // Which files the command loads: esbuild follows the imports from src/cli.ts (bundling only to list them).
    const graph = await build({
      entryPoints: [join(root, 'src', 'cli.ts')], bundle: true, packages: 'external', platform: 'node', format: 'esm',
      write: false, metafile: true, logLevel: 'silent', tsconfig: join(root, 'tsconfig.json'),
    });
    // And every source file beside them, should one be imported by a name computed at run time.
    const sources = ['src', 'migrations'].flatMap((d) =>
      readdirSync(join(root, d), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
        .map((e) => join(e.parentPath ?? e.path, e.name)));
    const inputs = [...new Set([...Object.keys(graph.metafile.inputs).map((p) => join(root, p)), ...sources])];
    const outside = inputs.filter((p) => relative(root, p).startsWith(`..${sep}`) || relative(root, p).split(sep).includes('node_modules'));
    if (outside.length) throw new Error(`the CLI imports files outside the repository's sources: ${outside.join(', ')}`);
    const code = inputs.filter((p) => ['.ts', '.mts', '.js', '.mjs'].includes(extname(p)));
    for (const p of inputs.filter((q) => !code.includes(q))) {
      mkdirSync(dirname(join(out, relative(root, p))), { recursive: true });
      copyFileSync(p, join(out, relative(root, p)));
    }
    // Each file on its own, with tsx's transform options (tsx/dist: target the running node, keepNames).
    await build({
      entryPoints: code, outdir: out, outbase: root, bundle: false, platform: 'node', format: 'esm',
      target: `node${process.versions.node}`, keepNames: true, logLevel: 'warning', tsconfig: join(root, 'tsconfig.json'),
    });
    copyFileSync(join(root, 'package.json'), join(out, 'package.json'));
    return out;
  } catch (err) {
    rmSync(out, { recursive: true, force: true });
    throw err;
  }
}

/** Those of node's `flags` this node accepts (V8's flags come and go between versions; an unknown one stops node). */
export async function acceptedNodeFlags(flags) {
  const accepted = await Promise.all(flags.map((flag) => new Promise((resolve) => {
    execFile(process.execPath, [flag, '-e', ''], (err) => resolve(!err));
  })));
  return flags.filter((_, i) => accepted[i]);
}

export function removeCliBuild(dir) {
  if (dir && relative(CACHE, dir).startsWith(PREFIX)) rmSync(dir, { recursive: true, force: true });
}
