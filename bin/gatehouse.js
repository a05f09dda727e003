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
  const { register } = await import('tsx/esm/api');
  register();
  await import(sources.href);
}
