// What the console flags on an MCP server's page (docs/MCP-SERVER-REPORTING.md, "Flags the console shows"): a pure
// function of the server's last inventory, its catalogue and the time, so every rule of the contract's table is
// unit-tested here (test/unit/inventory-flags.test.ts) and the page only renders the result.
import type { ScopeEntry } from '../oauth/resources.js';

export interface ToolHints {
  readOnlyHint?: boolean | undefined;
  destructiveHint?: boolean | undefined;
  idempotentHint?: boolean | undefined;
  openWorldHint?: boolean | undefined;
}

export interface InventoryTool {
  name: string;
  title?: string | undefined;
  description?: string | undefined;
  annotations?: ToolHints | undefined;
  scopes: string[][];
}

export interface Inventory {
  resource: string;
  tools: InventoryTool[];
  policy: { unmapped_tools: 'deny' | 'allow'; required_scopes: string[] };
  kit: { name: string; version?: string | undefined } | null;
  reportedBy: string;
  reportedAt: Date;
  changedAt: Date;
}

export type ToolFlag = 'no_scope' | 'destructive_behind_read' | 'not_in_catalogue';

export interface InventoryFlags {
  /** Flags per reported tool name (a tool with none is absent). */
  tools: Record<string, ToolFlag[]>;
  /** Never reported, or the last report is more than a day old. */
  silent: boolean;
  neverReported: boolean;
  /** Catalogue tools the last report does not contain. */
  noLongerReported: string[];
  /** Every flag counted once: the badge on the server list and the Overview. */
  count: number;
}

const SILENT_AFTER_MS = 86_400_000;

export const HINTS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const;
/** MCP's defaults for absent hints (MCP specification, ToolAnnotations). */
const DEFAULT_HINTS: Required<ToolHints> = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true };

/** A tool's hints with MCP's defaults filled in for the absent ones. */
export function effectiveHints(hints: ToolHints | undefined): Required<ToolHints> {
  return { ...DEFAULT_HINTS, ...Object.fromEntries(HINTS.filter((h) => hints?.[h] !== undefined).map((h) => [h, hints![h]])) };
}

/** A tool may be destructive unless it says it is read-only or not destructive. */
export function mayBeDestructive(hints: ToolHints | undefined): boolean {
  const h = effectiveHints(hints);
  return !h.readOnlyHint && h.destructiveHint;
}

/** A scope whose last `:` `.` `_` `-` part is `read` or `readonly`, or named `read`. */
export function isReadScope(scope: string): boolean {
  const last = scope.toLowerCase().split(/[:._-]/).pop() ?? '';
  return last === 'read' || last === 'readonly';
}

function toolFlags(tool: InventoryTool, catalogued: ReadonlySet<string>): ToolFlag[] {
  const flags: ToolFlag[] = [];
  // [] is no rule; an empty alternative unlocks the tool for any token, which is no rule either.
  if (!tool.scopes.length || tool.scopes.some((alt) => !alt.length)) flags.push('no_scope');
  if (mayBeDestructive(tool.annotations) && tool.scopes.some((alt) => alt.length > 0 && alt.every(isReadScope))) flags.push('destructive_behind_read');
  if (!catalogued.has(tool.name)) flags.push('not_in_catalogue');
  return flags;
}

export function inventoryFlags(inventory: Inventory | undefined, catalogue: Record<string, ScopeEntry>, now: Date): InventoryFlags {
  const catalogued = new Set(Object.values(catalogue).flatMap((e) => e.tools));
  if (!inventory) return { tools: Object.create(null) as Record<string, ToolFlag[]>, silent: true, neverReported: true, noLongerReported: [], count: 1 };
  // No prototype: a tool the server names `__proto__` or `constructor` is a key like any other.
  const tools = Object.create(null) as Record<string, ToolFlag[]>;
  for (const t of inventory.tools) {
    const flags = toolFlags(t, catalogued);
    if (flags.length) tools[t.name] = flags;
  }
  const reported = new Set(inventory.tools.map((t) => t.name));
  const noLongerReported = [...catalogued].filter((name) => !reported.has(name)).sort();
  const silent = now.getTime() - inventory.reportedAt.getTime() > SILENT_AFTER_MS;
  const count = Object.values(tools).reduce((n, f) => n + f.length, 0) + noLongerReported.length + (silent ? 1 : 0);
  return { tools, silent, neverReported: false, noLongerReported, count };
}
