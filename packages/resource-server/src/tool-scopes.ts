// Per-call authorization: which scopes a JSON-RPC request needs, read from the very body the MCP server will
// execute (the kit hands that parsed body on, so what is checked and what runs cannot differ). MCP authorization
// spec 2025-11-25, "Scope Challenge Handling": a request whose token lacks a scope gets 403 insufficient_scope with
// the scopes to ask for, and the client steps up.
//
// Three kinds of call are checked: `tools/call` (by tool name), `resources/read` (by URI) and `prompts/get` (by
// prompt name). Deny by default: a call with no rule is refused whatever the token holds, unless the server opted
// in for that kind (`unmappedTools: 'allow'`, …). A rule with an empty scope list is how one call is opened to every
// token with the `requiredScopes`.
//
// A rule is a list of alternatives, each a set of scopes that must all be granted. Rules written in code
// (`toolScopes: { deploy: ['tools:write', 'deploy'] }`) have one alternative: every listed scope. Rules from
// Gatehouse's catalogue read the other way round (scope → the tools it unlocks): a tool listed under two scopes is
// unlocked by either, so each scope is one alternative.

export type Alternatives = readonly (readonly string[])[];
export type ToolRules = ReadonlyMap<string, Alternatives>;
/** URI patterns → scopes. A pattern is an exact URI, or a prefix followed by one `*` at its very end. */
export type ResourceRules = readonly (readonly [pattern: string, scopes: readonly string[]])[];

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

/** Checks `resourceScopes` once, at start-up: a `*` anywhere but at the end is a mistake, not a glob. */
export function resourceRules(pairs: ReadonlyArray<readonly [string, readonly string[]]>): ResourceRules {
  if (!Array.isArray(pairs)) throw new TypeError('resourceScopes must be an array of [pattern, scopes]');
  return pairs.map((pair) => {
    const [pattern, scopes] = Array.isArray(pair) ? pair : [];
    if (typeof pattern !== 'string' || pattern === '') throw new TypeError('resourceScopes: a pattern must be a non-empty string');
    if (pattern.indexOf('*') !== -1 && pattern.indexOf('*') !== pattern.length - 1) {
      throw new TypeError(`resourceScopes: ${pattern}: only one '*', at the end of the pattern (a prefix match)`);
    }
    if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string')) throw new TypeError(`resourceScopes: ${pattern}: scopes must be an array of strings`);
    return [pattern, [...scopes]] as const;
  });
}

/**
 * The rule for one URI: every pattern that matches it contributes its scopes (one alternative, their union), so a
 * broad pattern never weakens a narrower one, whatever the order. Undefined: no pattern matches (unmapped).
 */
export function resourceAlternatives(uri: string, rules: ResourceRules): Alternatives | undefined {
  let matched = false;
  const scopes = new Set<string>();
  for (const [pattern, needed] of rules) {
    const hit = pattern.endsWith('*') ? uri.startsWith(pattern.slice(0, -1)) : uri === pattern;
    if (!hit) continue;
    matched = true;
    for (const s of needed) scopes.add(s);
  }
  return matched ? [[...scopes]] : undefined;
}

export type CallKind = 'tool' | 'resource' | 'prompt';
export interface Call {
  kind: CallKind;
  /** The tool or prompt name, or the resource URI. */
  name: string;
  /** The JSON-RPC request id (how the answer is found in the response, for the tool-call audit). */
  id?: unknown;
  /** A tool call's `arguments` (only ever hashed: docs/MCP-SERVER-REPORTING.md). */
  args?: unknown;
}

const METHODS: Readonly<Record<string, readonly [CallKind, 'name' | 'uri']>> = {
  'tools/call': ['tool', 'name'],
  'resources/read': ['resource', 'uri'],
  'prompts/get': ['prompt', 'name'],
};

/**
 * The calls a body makes: one JSON-RPC message or a batch of them. A call whose name (or URI) is not a string is
 * left to the MCP server, which refuses it; it cannot match a rule.
 */
export function callsIn(body: unknown): Call[] {
  const messages = Array.isArray(body) ? body : [body];
  const calls: Call[] = [];
  for (const m of messages) {
    if (typeof m !== 'object' || m === null) continue;
    const method = (m as { method?: unknown }).method;
    if (typeof method !== 'string' || !Object.hasOwn(METHODS, method)) continue;
    const [kind, field] = METHODS[method]!;
    const params = (m as { params?: unknown }).params;
    const name = typeof params === 'object' && params !== null ? (params as Record<string, unknown>)[field] : undefined;
    if (typeof name !== 'string') continue;
    const call: Call = { kind, name, id: (m as { id?: unknown }).id };
    if (kind === 'tool') call.args = (params as { arguments?: unknown }).arguments;
    calls.push(call);
  }
  return calls;
}

/** The tool names a body calls. */
export function toolsCalled(body: unknown): string[] {
  return callsIn(body).filter((c) => c.kind === 'tool').map((c) => c.name);
}

/** One call to decide: its rule, or undefined when it has none. */
export interface Ask {
  call: Call;
  alternatives: Alternatives | undefined;
}

export interface ScopeDecision {
  /** Every scope the request needs (required scopes, then each mapped call's), deduplicated. */
  needed: string[];
  /** Those of `needed` the token lacks. */
  missing: string[];
  /** The calls with no rule (and no opt-in for their kind): refused whatever the token holds. */
  unmapped: Call[];
  /** For each ask, in order: the scopes it was checked against (required + its chosen alternative); none if unmapped. */
  perCall: (string[] | undefined)[];
}

/**
 * The request may go on only when `missing` and `unmapped` are both empty. For each call, the alternative with the
 * fewest scopes missing (the first on a tie) is the one asked for.
 */
export function decideScopes(asks: readonly Ask[], required: readonly string[], granted: ReadonlySet<string>): ScopeDecision {
  const needed = new Set(required);
  const unmapped: Call[] = [];
  const perCall: (string[] | undefined)[] = [];
  for (const { call, alternatives } of asks) {
    if (!alternatives?.length) {
      unmapped.push(call);
      perCall.push(undefined);
      continue;
    }
    let best = alternatives[0]!;
    let bestMissing = Infinity;
    for (const alt of alternatives) {
      const missing = alt.filter((s) => !granted.has(s)).length;
      if (missing < bestMissing) [best, bestMissing] = [alt, missing];
    }
    for (const s of best) needed.add(s);
    perCall.push([...new Set([...required, ...best])]);
  }
  const list = [...needed];
  return { needed: list, missing: list.filter((s) => !granted.has(s)), unmapped, perCall };
}
