// Console: clients (placeholder until its page is built; registered in index.ts).
import Router from '@koa/router';
import type { ConsoleDeps } from './deps.js';

export function clientsPages(_deps: ConsoleDeps): Router {
  return new Router();
}
