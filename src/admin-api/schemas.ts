// The admin API's shared schemas (docs/ADMIN-API.md): the one error shape, pages and paging parameters. They are
// zod, so they validate and they are the OpenAPI document's components (openapi.ts).
import { z } from 'zod';
import { MAX_LIMIT } from '../admin/page.js';

export const ErrorBody = z
  .object({
    error: z.enum(['invalid_request', 'invalid_token', 'insufficient_scope', 'access_denied', 'not_found', 'conflict', 'method_not_allowed', 'unsupported_media_type', 'request_too_large', 'rate_limited', 'temporarily_unavailable', 'server_error']),
    error_description: z.string(),
    field: z.string().optional().meta({ description: 'The input field at fault, when there is one.' }),
  })
  .meta({ id: 'Error', description: 'Every refusal of the admin API, whatever the status.' });

export const PageQuery = z.object({
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,2}$/, `must be a whole number from 1 to ${MAX_LIMIT}`)
    .transform(Number)
    .pipe(z.number().int().min(1).max(MAX_LIMIT))
    .optional()
    .meta({ description: `Items per page, 1 to ${MAX_LIMIT} (default 50).` }),
  cursor: z.string().max(2000).optional().meta({ description: 'The `next` of the previous page.' }),
});

export function pageOf<T extends z.ZodType>(item: T, id: string) {
  return z.object({ items: z.array(item), next: z.string().nullable().meta({ description: 'The cursor of the next page; null on the last.' }) }).meta({ id });
}

/** Text an administrator types: no control characters, no NUL (PostgreSQL cannot store it). */
export const text = (max: number) => z.string().max(max).refine((v) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(v), 'must not contain control characters');

export const Version = z.string().max(64).meta({ description: 'The version the change is based on (or send If-Match).' });
