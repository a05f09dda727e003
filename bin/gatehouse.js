#!/usr/bin/env node
// The `gatehouse` command. It runs the compiled JavaScript in dist/server (`npm run build`) when a build is there
// and either NODE_ENV=production or the TypeScript sources are absent (the Docker image ships only the build, and
// docker-compose runs it in development mode): no TypeScript loader in memory, faster start. Otherwise it registers
// tsx's loader and runs the sources, so `npx gatehouse` works right after `npm install` with no build step and a
// development checkout never runs a stale build. Either way signals (SIGTERM for graceful shutdown) reach the
// server directly.
import { existsSync } from 'node:fs';

const build = new URL('../dist/server/src/cli.js', import.meta.url);
const sources = new URL('../src/cli.ts', import.meta.url);
if (existsSync(build) && (process.env.NODE_ENV === 'production' || !existsSync(sources))) {
  await import(build.href);
} else {
  // tsx is an optionalDependency (package.json): an install with --omit=optional has no TypeScript loader.
  const tsx = await import('tsx/esm/api').catch((err) => {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  });
  if (!tsx) {
    process.stderr.write('gatehouse: no build in dist/server and tsx is not installed: run `npm install` (optional dependencies included), or `npm run build` and set NODE_ENV=production\n');
    process.exit(1);
  }
  tsx.register();
  await import(sources.href);
}
