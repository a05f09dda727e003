// One operation of the admin API (docs/ADMIN-API.md): its method and path, the scope it needs, the zod schemas of
// its path, query and body — which both validate the request and, through openapi.ts, write the OpenAPI document,
// so the document cannot drift from what the server accepts — and the response schema a test checks real answers
// against.
import type { Context } from 'koa';
import type { z } from 'zod';
import type { Actor } from '../admin/actor.js';
import type { AdminServices } from '../admin/index.js';

export type AdminScope = 'admin:read' | 'admin:write';
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface OperationInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  actor: Actor;
  services: AdminServices;
  /** The version the caller based a change on: `If-Match`, else the body's `version` (docs/ADMIN-API.md). */
  expectedVersion: string | undefined;
  ctx: Context;
}

export interface OperationResult {
  status?: number;
  body?: unknown;
  /** The object's version, sent as the ETag. */
  version?: string;
}

export interface Operation {
  id: string;
  method: HttpMethod;
  /** OpenAPI form, relative to the API's base: `/clients/{clientId}`. */
  path: string;
  tag: string;
  summary: string;
  scope: AdminScope;
  params?: z.ZodObject | undefined;
  query?: z.ZodObject | undefined;
  body?: z.ZodType | undefined;
  /** The success status and its body's schema (none: 204). */
  status: 200 | 201 | 204;
  response?: z.ZodType | undefined;
  /** Whether answers carry an ETag (and changes accept If-Match). */
  versioned?: boolean;
  /** An answer streamed by the handler itself (the audit export), described for the document by `produces`. */
  produces?: string;
  handle(input: OperationInput<any, any, any>): Promise<OperationResult>;
}

/** Declares an operation with its handler's input typed from its schemas. */
export function operation<P extends z.ZodObject | undefined, Q extends z.ZodObject | undefined, B extends z.ZodType | undefined>(
  spec: Omit<Operation, 'handle' | 'params' | 'query' | 'body'> & { params?: P; query?: Q; body?: B },
  handle: (input: OperationInput<P extends z.ZodType ? z.output<P> : undefined, Q extends z.ZodType ? z.output<Q> : undefined, B extends z.ZodType ? z.output<B> : undefined>) => Promise<OperationResult>,
): Operation {
  return { ...spec, handle } as Operation;
}
