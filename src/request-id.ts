// Every request gets an id at the edge (http/request-log.ts): the `X-Request-Id` answer header, the request's log line,
// the audit rows it writes and any error page it shows carry the same id, so a person's screenshot of an error page
// leads an operator to the log line and the audit row (docs/ARCHITECTURE.md, "Request ids"). Our own random id, never
// one a client sent: a client-chosen value would let it forge or collide with another request's trail.
//
// Kept on the Node request object rather than Koa's context, because oidc-provider runs as a Koa app of its own with
// its own context over the same request (its error page and its events' audit rows need the id too).
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';

const REQUEST_ID = Symbol('gatehouse.requestId');

type Tagged = IncomingMessage & { [REQUEST_ID]?: string };

/** Gives the request its id (once; a second call returns the first id). */
export function assignRequestId(req: IncomingMessage): string {
  const tagged = req as Tagged;
  return (tagged[REQUEST_ID] ??= randomUUID());
}

/** The request's id, when the edge gave it one (requests built in tests or timers have none). */
export function requestIdOf(ctx: { req?: IncomingMessage } | undefined): string | undefined {
  return (ctx?.req as Tagged | undefined)?.[REQUEST_ID];
}
