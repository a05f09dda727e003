// Every console page router is case-sensitive: the edge resolved the request to the console area in its
// canonical spelling (http/route-resolution.ts), and only the exact spelling of each page is served, so no path
// spelt otherwise reaches a handler whose rules were written for another spelling.
import Router from '@koa/router';

export function consoleRouter(): Router {
  return new Router({ sensitive: true });
}
