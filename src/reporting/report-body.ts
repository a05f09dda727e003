// Reading a report's body (docs/MCP-SERVER-REPORTING.md): JSON only, bounded before it is parsed (512 KiB for an
// inventory, 1 MiB for a batch of calls: 413 beyond), and refused whole when any string holds a NUL or a lone
// surrogate (http/input-sanity.ts; PostgreSQL could not store either). A bad body is a 400 invalid_request, audited
// by the caller, and nothing is written.
import type { Context } from 'koa';
import { jsonProblem } from '../http/input-sanity.js';
import { readRawBody } from '../http/raw-body.js';
import { invalidRequest } from './report-refusal.js';

export const INVENTORY_BODY_LIMIT = 512 * 1024;
export const TOOL_CALLS_BODY_LIMIT = 1024 * 1024;

export async function readReportJson(ctx: Context, limit: number, clientId: string): Promise<unknown> {
  // application/json or application/<anything>+json; no other type is parsed (no form fallback).
  if (!ctx.is('json')) throw invalidRequest('the body must be application/json', clientId);
  let raw: string;
  try {
    raw = await readRawBody(ctx, limit);
  } catch (err) {
    if ((err as { status?: number }).status === 413) throw invalidRequest(`the body is larger than ${limit / 1024} KiB`, clientId, 413);
    throw err;
  }
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw invalidRequest('the body is not valid JSON', clientId);
  }
  const problem = jsonProblem(body);
  if (problem) throw invalidRequest(`the body ${problem}`, clientId);
  return body;
}
