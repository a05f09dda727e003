// Reading an identity provider's request body (docs/UNIVERSAL-LOGOUT.md): bounded before it is parsed (413 beyond),
// of the one media type each endpoint takes (no fallback), and refused whole when any string holds a NUL or a lone
// surrogate (http/input-sanity.ts). A refusal here is a 400 the endpoint answers and audits; nothing is changed.
import type { Context } from 'koa';
import { jsonProblem, valueProblem } from '../http/input-sanity.js';
import { readRawBody } from '../http/raw-body.js';
import { badRequest, SignalRefusal } from './refusal.js';

async function readBounded(ctx: Context, limit: number): Promise<string> {
  try {
    return await readRawBody(ctx, limit);
  } catch (err) {
    if ((err as { status?: number }).status === 413) throw new SignalRefusal('too_large', `the body is larger than ${limit / 1024} KiB`);
    throw err;
  }
}

/** A JSON body (application/json): global token revocation. */
export async function readJsonBody(ctx: Context, limit: number): Promise<unknown> {
  if (!ctx.is('application/json')) throw badRequest('the body must be application/json');
  const raw = await readBounded(ctx, limit);
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw badRequest('the body is not valid JSON');
  }
  const problem = jsonProblem(body);
  if (problem) throw badRequest(`the body ${problem}`);
  return body;
}

/** A Security Event Token (RFC 8935 §2: application/secevent+jwt), as its compact text. */
export async function readSecurityEventToken(ctx: Context, limit: number): Promise<string> {
  if (!ctx.is('application/secevent+jwt')) throw badRequest('the body must be application/secevent+jwt (RFC 8935)');
  const raw = (await readBounded(ctx, limit)).trim();
  const problem = valueProblem(raw);
  if (problem) throw badRequest(`the body ${problem}`);
  if (!raw) throw badRequest('the body is empty');
  return raw;
}
