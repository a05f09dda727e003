#!/usr/bin/env node
// Registers tsx's loader in this process and runs the TypeScript CLI, so `npx gatehouse` works right after
// `npm install` with no build step, and signals (SIGTERM for graceful shutdown) reach the server directly.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
