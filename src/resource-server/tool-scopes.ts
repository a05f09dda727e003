// Per-tool authorization: which scopes a JSON-RPC request needs, read from the very body the MCP server will
// execute (the kit hands that parsed body on, so what is checked and what runs cannot differ). MCP authorization
// spec 2025-11-25, "Scope Challenge Handling": a request whose token lacks a scope gets 403 insufficient_scope with
// the scopes to ask for, and the client steps up.
//
// A rule is a list of alternatives, each a set of scopes that must all be granted. Rules written in code
// (`toolScopes: { deploy: ['tools:write', 'deploy'] }`) have one alternative: every listed scope. Rules from
// Gatehouse's catalogue read the other way round (scope → the tools it unlocks): a tool listed under two scopes is
// unlocked by either, so each scope is one alternative. A tool in no rule needs only the `requiredScopes`.

export type ToolRules = ReadonlyMap<string, readonly (readonly string[])[]>;

export function rulesFromMap(map: Readonly<Record<string, readonly string[]>>): ToolRules {
  return new Map(Object.entries(map).map(([tool, scopes]) => [tool, [scopes]]));
}

export function rulesFromCatalogue(scopes: Readonly<Record<string, { tools: readonly string[] }>>): ToolRules {
  const rules = new Map<string, string[][]>();
  for (const [scope, entry] of Object.entries(scopes)) {
    for (const tool of entry.tools) rules.set(tool, [...(rules.get(tool) ?? []), [scope]]);
  }
  return rules;
}

const isToolsCall = (m: unknown): m is { method: 'tools/call'; params?: { name?: unknown } } =>
  typeof m === 'object' && m !== null && (m as { method?: unknown }).method === 'tools/call';

/**
 * The tool names a body calls: one JSON-RPC message or a batch of them. A tools/call without a string name is
 * left to the MCP server, which refuses it; its name cannot match a rule.
 */
export function toolsCalled(body: unknown): string[] {
  const messages = Array.isArray(body) ? body : [body];
  const names: string[] = [];
  for (const m of messages) {
    if (isToolsCall(m) && typeof m.params?.name === 'string') names.push(m.params.name);
  }
  return names;
}

export interface ScopeDecision {
  /** Every scope the request needs (required scopes, then each tool's), deduplicated. */
  needed: string[];
  /** Those of `needed` the token lacks; empty when the request may go on. */
  missing: string[];
}

/** For each tool, the alternative with the fewest scopes missing (the first on a tie) is the one asked for. */
export function decideScopes(tools: readonly string[], rules: ToolRules, required: readonly string[], granted: ReadonlySet<string>): ScopeDecision {
  const needed = new Set(required);
  for (const tool of tools) {
    const alternatives = rules.get(tool);
    if (!alternatives?.length) continue;
    let best = alternatives[0]!;
    let bestMissing = Infinity;
    for (const alt of alternatives) {
      const missing = alt.filter((s) => !granted.has(s)).length;
      if (missing < bestMissing) [best, bestMissing] = [alt, missing];
    }
    for (const s of best) needed.add(s);
  }
  const list = [...needed];
  return { needed: list, missing: list.filter((s) => !granted.has(s)) };
}
