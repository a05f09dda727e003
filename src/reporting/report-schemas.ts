// The two report bodies and their bounds, exactly as docs/MCP-SERVER-REPORTING.md states them. Unknown keys are
// dropped (a newer reporter may send more); a known key out of bounds refuses the whole report, and the refusal
// names the field (with the tool's or the event's index).
import { z } from 'zod';
import { scopeName } from '../config.js';
import { invalidRequest } from './report-refusal.js';

// RFC 6749 §3.3 scope-token, the syntax RESOURCES uses for a catalogue's scopes (config.ts).
const scopeToken = z.string().min(1).max(128).regex(scopeName, 'is not a scope token (RFC 6749 §3.3)');
const resource = z.string().min(1).max(2048);

// The four MCP tool annotations; absent ones take MCP's defaults (inventory-flags.ts).
const annotations = z.object({
  readOnlyHint: z.boolean().optional(),
  destructiveHint: z.boolean().optional(),
  idempotentHint: z.boolean().optional(),
  openWorldHint: z.boolean().optional(),
});

const tool = z.object({
  name: z.string().min(1).max(256),
  title: z.string().max(256).optional(),
  description: z.string().max(10_000).optional(),
  annotations: annotations.optional(),
  // Alternatives: any one inner list (all of its scopes) unlocks the tool; [] is no rule.
  scopes: z.array(z.array(scopeToken).max(20)).max(20),
});

export const inventoryBody = z.object({
  resource,
  kit: z.object({ name: z.string().min(1).max(200), version: z.string().max(100).optional() }).optional(),
  policy: z
    .object({
      unmapped_tools: z.enum(['deny', 'allow']).default('deny'),
      required_scopes: z.array(scopeToken).max(50).default([]),
    })
    .default({ unmapped_tools: 'deny', required_scopes: [] }),
  tools: z
    .array(tool)
    .max(1000)
    .superRefine((tools, ctx) => {
      const seen = new Set<string>();
      tools.forEach((t, i) => {
        if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `repeats the tool name ${JSON.stringify(t.name.slice(0, 64))}` });
        seen.add(t.name);
      });
    }),
});
export type InventoryBody = z.infer<typeof inventoryBody>;

export const OUTCOMES = ['allowed', 'tool_error', 'unknown', 'refused_scope', 'refused_unmapped', 'refused_batch', 'approval_required', 'approval_rejected'] as const;
export type CallOutcome = (typeof OUTCOMES)[number];

const DAY_MS = 86_400_000;
const event = (now: number) =>
  z.object({
    at: z.iso
      .datetime({ offset: false })
      .refine((v) => {
        const t = Date.parse(v);
        return t >= now - 7 * DAY_MS && t <= now + 5 * 60_000;
      }, 'must be within the last 7 days and at most 5 minutes ahead'),
    tool: z.string().min(1).max(256),
    sub: z.string().min(1).max(320),
    client_id: z.string().min(1).max(2048),
    scopes: z.array(scopeToken).max(50),
    outcome: z.enum(OUTCOMES),
    duration_ms: z.number().int().min(0).max(86_400_000),
    arguments_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits (SHA-256)'),
  });

export const toolCallsBody = (now: number) =>
  z.object({
    resource,
    batch_id: z.uuid(),
    dropped: z.number().int().min(0).max(1_000_000_000).default(0),
    events: z.array(event(now)).max(500),
  }).refine((b) => b.events.length > 0 || b.dropped > 0, { path: ['events'], message: 'holds no event (an empty batch only carries dropped > 0)' });
export type ToolCallsBody = z.infer<ReturnType<typeof toolCallsBody>>;
export type ToolCallEvent = ToolCallsBody['events'][number];

/** `tools[3].scopes[0][1]`, `events[3].arguments_sha256`: where a problem is, as the reporter wrote it. */
function fieldOf(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || 'the body';
}

/** The parsed body, or throws a 400 invalid_request naming the first bad field. */
export function parseReport<T extends z.ZodType>(schema: T, body: unknown, clientId: string): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw invalidRequest(`${fieldOf(issue.path)}: ${issue.message}`, clientId);
}
