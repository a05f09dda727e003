#!/usr/bin/env node
// The `gatehouse` command. With NODE_ENV=production and a build present (`npm run build`, done by the Dockerfile)
// it runs the compiled JavaScript in dist/server: no TypeScript loader in memory, faster start. Otherwise it
// registers tsx's loader and runs the TypeScript sources, so `npx gatehouse` works right after `npm install` with
// no build step and a development checkout can never run a stale build. Either way signals (SIGTERM for graceful
// shutdown) reach the server directly.
import { existsSync } from 'node:fs';

const build = new URL('../dist/server/src/cli.js', import.meta.url);
if (process.env.NODE_ENV === 'production' && existsSync(build)) {
  await import(build.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
