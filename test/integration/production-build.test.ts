// The production build (npm run build → dist/server, what the Dockerfile runs): the compiled JavaScript starts with
// plain `node` (no TypeScript loader), finds its views and migrations, and serves the protocol and its pages.
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { DEFAULT_RESOURCES, freePort } from '../helpers/server.js';

const run = promisify(execFile);
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await run(process.execPath, [join(process.cwd(), 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: process.cwd() });
}, 120_000);

afterAll(async () => {
  await db?.drop();
});

describe('production build', () => {
  it('dist/server runs under plain node: migrations, metadata, an error page from the views, graceful stop', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, [join(process.cwd(), 'dist', 'server', 'src', 'cli.js'), 'serve'], {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer, LOG_LEVEL: 'info', RESOURCES: DEFAULT_RESOURCES, ...db.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      let ready = false;
      for (let i = 0; i < 120 && !ready; i++) {
        ready = await fetch(`${issuer}/readyz`).then((r) => r.ok, () => false);
        if (!ready) await new Promise((r) => setTimeout(r, 250));
      }
      expect(ready).toBe(true);
      const meta = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as { issuer: string; code_challenge_methods_supported: string[] };
      expect(meta.issuer).toBe(issuer);
      expect(meta.code_challenge_methods_supported).toEqual(['S256']);
      // An unknown client gets Gatehouse's error page (views/error.eta through the layout), never a redirect.
      const page = await fetch(`${issuer}/authorize?client_id=nobody&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2Fcb`, { redirect: 'manual' });
      expect(page.status).toBe(400);
      expect(page.headers.get('location')).toBeNull();
      const html = await page.text();
      expect(html).toMatch(/<html/i);
      expect(html).toContain('/static/style.css');
      expect((await fetch(`${issuer}/static/style.css`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toMatch(/migrations applied/);
    expect(out).toMatch(/shutting down/);
  }, 90_000);

  it('bin/gatehouse.js runs the build where the sources are absent (the Docker image), whatever NODE_ENV says', async () => {
    // The image's layout: bin/, dist/, views/, node_modules/ and package.json — no src/.
    const image = mkdtempSync(join(tmpdir(), 'gatehouse-image-'));
    try {
      mkdirSync(join(image, 'bin'));
      copyFileSync(join(process.cwd(), 'bin', 'gatehouse.js'), join(image, 'bin', 'gatehouse.js'));
      copyFileSync(join(process.cwd(), 'package.json'), join(image, 'package.json'));
      for (const dir of ['dist', 'views', 'node_modules']) symlinkSync(join(process.cwd(), dir), join(image, dir));
      const env = { PATH: process.env.PATH ?? '', NODE_ENV: 'development', LOG_LEVEL: 'warn', ...db.env };
      const { stdout } = await run(process.execPath, [join(image, 'bin', 'gatehouse.js'), 'migrate', '--json'], { env });
      expect(JSON.parse(stdout.trim().split('\n').pop()!)).toHaveProperty('applied');
    } finally {
      rmSync(image, { recursive: true, force: true });
    }
  }, 60_000);
});

// The image's runtime stage installs with --omit=dev --omit=optional (Dockerfile): the embedded database and the
// TypeScript loader are package.json's optionalDependencies, so `npm install` in a clone still brings them.
describe('the image ships production dependencies only', () => {
  const EMBEDDED_ONLY = ['@electric-sql/pglite', 'knex-pglite', 'tsx'];
  const json = (file: string) => JSON.parse(readFileSync(join(process.cwd(), file), 'utf8')) as Record<string, any>;

  it('PGlite, knex-pglite and tsx are optionalDependencies, and the runtime stage omits optional and dev packages', () => {
    const pkg = json('package.json');
    expect(Object.keys(pkg.optionalDependencies ?? {}).sort()).toEqual([...EMBEDDED_ONLY].sort());
    for (const name of EMBEDDED_ONLY) expect(pkg.dependencies[name]).toBeUndefined();
    const dockerfile = readFileSync(join(process.cwd(), 'Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const installs = runtime.split('\n').filter((l) => /^RUN\b/.test(l)).flatMap((l) => l.match(/npm (?:ci|install|i)\b[^&]*/g) ?? []);
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatch(/^npm ci .*--omit=dev/);
    expect(installs[0]).toMatch(/--omit=optional/);

    // What that install puts in the image, read from the lockfile as npm does: none of them, nor what only they
    // need (esbuild), and every production dependency.
    const lock = json('package-lock.json');
    expect(lock.packages[''].optionalDependencies).toEqual(pkg.optionalDependencies);
    const shipped = Object.entries(lock.packages as Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>)
      .filter(([path, p]) => path.startsWith('node_modules/') && !p.dev && !p.optional && !p.devOptional)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    for (const name of [...EMBEDDED_ONLY, 'esbuild']) expect(shipped).not.toContain(name);
    for (const name of Object.keys(pkg.dependencies)) expect(shipped).toContain(name);
  });

  it('nothing imports them statically: the driver is loaded by src/db/embedded-driver.ts, tsx by bin/gatehouse.js, each only when used', () => {
    const spec = `['"](?:${EMBEDDED_ONLY.map((n) => n.replace(/[/.]/g, '\\$&')).join('|')})(?:/[^'"]*)?['"]`;
    const staticImport = new RegExp(`^\\s*(?:import|export)\\b(?!\\s+type\\b)[^;]*?from\\s*${spec}|^\\s*import\\s*${spec}`, 'm');
    const dynamicImport = new RegExp(`import\\(\\s*${spec}`);
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.[cm]?[jt]s$/.test(entry.name)) files.push(path);
      }
    };
    walk(join(process.cwd(), 'src'));
    expect(files.length).toBeGreaterThan(100);
    const offenders = files.filter((f) => staticImport.test(readFileSync(f, 'utf8'))).map((f) => f.slice(process.cwd().length + 1));
    expect(offenders).toEqual([]);
    const dynamic = files.filter((f) => dynamicImport.test(readFileSync(f, 'utf8'))).map((f) => f.slice(process.cwd().length + 1));
    expect(dynamic).toEqual(['src/db/embedded-driver.ts']);
    const bin = readFileSync(join(process.cwd(), 'bin', 'gatehouse.js'), 'utf8');
    expect(bin).not.toMatch(staticImport);
    expect(bin).toMatch(dynamicImport);
  });
});
