// Express (4 or 5): `app.use(guard.express())`. Uses `req.body` when a body parser already read the body
// (express.json()); otherwise reads the body itself and leaves the parsed value in `req.body`, so the route and the check see the
// same value. Sets `req.auth` (MCP SDK AuthInfo) and `res.locals.identity`. Express is not imported: the
// types below are the few members used, which every Express version has.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Guard } from '../guard.js';
import { fromParser, parsedByFramework } from '../json-body.js';
import { admit, writeAnswer } from './node.js';

export interface ExpressLikeRequest extends IncomingMessage {
  body?: unknown;
  originalUrl?: string;
}
export interface ExpressLikeResponse extends ServerResponse {
  locals: Record<string, unknown>;
}
export type ExpressMiddleware = (req: ExpressLikeRequest, res: ExpressLikeResponse, next: (err?: unknown) => void) => void;

export function expressMiddleware(guard: Guard): ExpressMiddleware {
  return (req, res, next) => {
    const preParsed = parsedByFramework(req, req.body);
    const readBody = preParsed ? async () => fromParser(req.body, guard.config.maxBodyBytes) : undefined;
    guard
      .decide({ req, method: req.method ?? 'GET', url: req.originalUrl ?? req.url ?? '/', readBody })
      .then((outcome) => {
        guard.record(outcome, res);
        if ('answer' in outcome) return writeAnswer(res, outcome.answer);
        admit(req, res, outcome.pass.identity);
        res.locals.identity = outcome.pass.identity;
        if (!preParsed && outcome.pass.body !== undefined) req.body = outcome.pass.body;
        next();
      }, next);
  };
}
