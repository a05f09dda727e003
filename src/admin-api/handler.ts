// The admin API's one request path (docs/ADMIN-API.md; docs/ARCHITECTURE.md "The admin service layer"): rate limit →
// authenticate (token or console session) → find the operation (case-sensitive, exact) → check its scope → validate
// path, query and body with its schemas → the service layer → JSON. Every refusal has the one error shape
// (schemas.ts ErrorBody) and is audited; a failed authentication costs its source a point of the /token limit.
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { AdminError } from '../admin/admin-error.js';
import type { AdminServices } from '../admin/index.js';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import { jsonProblem } from '../http/input-sanity.js';
import { readRawBody } from '../http/raw-body.js';
import type { RateLimits } from '../http/rate-limits.js';
import { routeOf } from '../http/route-resolution.js';
import { CallerRefusal, type Authenticate, type Caller } from './caller.js';
import type { Operation } from './operation.js';

export const BODY_LIMIT = 64 * 1024;

interface Compiled {
  op: Operation;
  pattern: RegExp;
  names: string[];
}

function compile(op: Operation): Compiled {
  const names: string[] = [];
  const source = op.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { op, pattern: new RegExp(`^${source}$`), names };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

function answer(ctx: Context, status: number, body?: unknown): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  if (body === undefined) {
    ctx.body = null;
    return;
  }
  ctx.type = 'application/json';
  ctx.body = JSON.stringify(body);
}

function refuse(ctx: Context, status: number, error: string, description: string, field?: string): void {
  answer(ctx, status, { error, error_description: description, ...(field ? { field } : {}) });
}


export function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: 'path' | 'query' | 'body'): z.output<T> | undefined {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.map(String).join('.');
  throw new ApiError(400, 'invalid_request', `${field || where}: ${issue.message}`, field || undefined);
}

async function readJson(ctx: Context): Promise<unknown> {
  const declared = Number(ctx.get('content-length') || 0);
  if (!declared && !ctx.get('transfer-encoding')) return undefined;
  if (!ctx.is('json')) throw new ApiError(415, 'unsupported_media_type', 'The body must be application/json.');
  let raw: string;
  try {
    raw = await readRawBody(ctx, BODY_LIMIT);
  } catch (err) {
    if ((err as { status?: number }).status === 413) throw new ApiError(413, 'request_too_large', `The body is larger than ${BODY_LIMIT / 1024} KiB.`);
    throw err;
  }
  if (!raw.trim()) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new ApiError(400, 'invalid_request', 'The body is not valid JSON.');
  }
  const problem = jsonProblem(body);
  if (problem) throw new ApiError(400, 'invalid_request', `The body ${problem}.`);
  return body;
}

/**
 * The version a change is based on: If-Match (one strong ETag; `*` names no particular version; a weak one never
 * matches, RFC 9110 §13.1.1) or the body's `version`. Both, disagreeing, is a contradiction; If-Match on an
 * operation that takes no version is refused rather than ignored.
 */
function expectedVersion(ctx: Context, body: unknown, op: Operation): string | undefined {
  const header = ctx.get('if-match').trim();
  const fromBody = body && typeof body === 'object' ? (body as Record<string, unknown>).version : undefined;
  if (!header) return typeof fromBody === 'string' ? fromBody : undefined;
  if (!op.versioned) throw new ApiError(400, 'invalid_request', 'This operation takes no If-Match.', 'If-Match');
  if (header === '*') return typeof fromBody === 'string' ? fromBody : undefined;
  if (header.includes(',')) throw new ApiError(400, 'invalid_request', 'If-Match must name one version.', 'If-Match');
  // A weak tag can never match (strong comparison): a version no object has.
  const version = header.startsWith('W/') ? `weak:${header}` : header.replace(/^"(.*)"$/, '$1');
  if (typeof fromBody === 'string' && fromBody !== version) throw new ApiError(400, 'invalid_request', 'If-Match and the body\'s version disagree.', 'version');
  return version;
}

export interface ApiDeps {
  operations: readonly Operation[];
  services: AdminServices;
  audit: AuditLog;
  rateLimits: RateLimits;
  authenticate: Authenticate;
  /** Answered without authentication: the OpenAPI document. */
  openApi: () => unknown;
}

export function adminApiHandler(deps: ApiDeps): Middleware {
  const compiled = deps.operations.map(compile);
  const audit = (ctx: Context, caller: Caller | undefined, reason: string, status: number, actor?: string) =>
    deps.audit.record({ type: 'admin_api.refused', outcome: 'failure', actor: caller?.actor.label ?? actor, reason, details: { method: ctx.method, status, path: ctx.path.slice(0, 256) }, ...requestOrigin(ctx) });

  return async (ctx) => {
    // The rest of the path below the area the edge resolved (http/route-resolution.ts), never a spelling of it.
    const rest = routeOf(ctx)?.tail;
    if (rest === '/openapi.json' && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
      ctx.set('Cache-Control', 'no-cache');
      ctx.type = 'application/json';
      ctx.body = JSON.stringify(deps.openApi(), null, 2);
      return;
    }
    const ipLimit = deps.rateLimits.tokenIp;
    const limited = await deps.rateLimits.check(ctx, [[ipLimit, ctx.ip]]);
    if (limited) {
      ctx.set('Retry-After', String(limited.verdict.retryAfterSeconds));
      return refuse(ctx, 429, 'rate_limited', `Too many requests: try again in ${limited.verdict.retryAfterSeconds} s.`);
    }
    let caller: Caller | undefined;
    try {
      caller = await deps.authenticate(ctx);
      await ipLimit.refund(ctx.ip);
      const perClient = await deps.rateLimits.check(ctx, [[deps.rateLimits.tokenClient, `admin-api:${caller.actor.id}`]], { actor: caller.actor.label });
      if (perClient) {
        ctx.set('Retry-After', String(perClient.verdict.retryAfterSeconds));
        return refuse(ctx, 429, 'rate_limited', `Too many requests: try again in ${perClient.verdict.retryAfterSeconds} s.`);
      }
      if (rest === undefined) throw new ApiError(404, 'not_found', 'There is no such operation.');
      const method = ctx.method === 'HEAD' ? 'get' : ctx.method.toLowerCase();
      const candidates = compiled.map((c) => ({ c, m: c.pattern.exec(rest) })).filter((x) => x.m);
      const found = candidates.find((x) => x.c.op.method === method);
      if (!found) {
        if (candidates.length) {
          ctx.set('Allow', [...new Set(candidates.map((x) => x.c.op.method.toUpperCase()))].join(', '));
          throw new ApiError(405, 'method_not_allowed', `${ctx.method} is not answered here.`);
        }
        throw new ApiError(404, 'not_found', 'There is no such operation.');
      }
      const { op, names } = found.c;
      if (!caller.scopes.has(op.scope) && !(op.scope === 'admin:read' && caller.scopes.has('admin:write'))) {
        throw new CallerRefusal(403, 'insufficient_scope', `This operation needs the scope ${op.scope}.`);
      }
      const rawParams: Record<string, string> = {};
      names.forEach((name, i) => {
        try {
          rawParams[name] = decodeURIComponent(found.m![i + 1]!);
        } catch {
          throw new ApiError(400, 'invalid_request', `${name}: not a valid percent-encoded value`, name);
        }
      });
      const rawBody = op.body ? await readJson(ctx) : undefined;
      const query = Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [k, Array.isArray(v) ? v : v]));
      const result = await op.handle({
        params: parse(op.params, rawParams, 'path'),
        query: parse(op.query?.strict(), query, 'query'),
        body: parse(op.body, rawBody ?? (op.body && op.method !== 'delete' ? {} : undefined), 'body'),
        actor: caller.actor,
        services: deps.services,
        expectedVersion: expectedVersion(ctx, rawBody, op),
        ctx,
      });
      if (result.version) ctx.set('ETag', `"${result.version}"`);
      if (ctx.respond === false || (ctx.body !== undefined && ctx.body !== null && result.body === undefined && op.produces)) return;
      answer(ctx, result.status ?? op.status, op.status === 204 && result.status === undefined ? undefined : result.body);
    } catch (err) {
      if (err instanceof CallerRefusal) {
        if (err.status === 401) ctx.set('WWW-Authenticate', err.presented ? `Bearer realm="gatehouse-admin-api", error="${err.error}"` : 'Bearer realm="gatehouse-admin-api"');
        if (err.error === 'insufficient_scope') ctx.set('WWW-Authenticate', 'Bearer realm="gatehouse-admin-api", error="insufficient_scope"');
        await audit(ctx, caller, err.message, err.status, err.actor);
        return refuse(ctx, err.status, err.error, err.message);
      }
      if (err instanceof AdminError) return refuse(ctx, err.status, err.code, err.message, err.field);
      if (err instanceof ApiError) {
        await audit(ctx, caller, err.message, err.status);
        return refuse(ctx, err.status, err.error, err.message, err.field);
      }
      throw err;
    }
  };
}
