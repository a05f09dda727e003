// Which scopes a JSON-RPC request needs: tools/call, resources/read and prompts/get in a single message or a batch,
// rules written in code (every scope listed) or read from Gatehouse's catalogue (any scope that unlocks the tool);
// a call with no rule is refused (deny by default).
import { callsIn, decideScopes, resourceAlternatives, resourceRules, rulesFromCatalogue, rulesFromMap, toolsCalled, type ToolRules } from '../../packages/resource-server/src/tool-scopes.js';

/** Tool calls against tool rules, as the guard asks them (no opt-in for unmapped tools). */
const tools = (names: readonly string[], rules: ToolRules) => names.map((name) => ({ call: { kind: 'tool' as const, name }, alternatives: rules.get(name) }));

const call = (name: unknown) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } });

describe('reading tools/call out of a body', () => {
  it('finds the tool of one call and of each call in a batch, and nothing in other methods', () => {
    expect(toolsCalled(call('deploy'))).toEqual(['deploy']);
    expect(toolsCalled([call('a'), { jsonrpc: '2.0', method: 'notifications/initialized' }, call('b')])).toEqual(['a', 'b']);
    expect(toolsCalled({ jsonrpc: '2.0', id: 1, method: 'tools/list' })).toEqual([]);
    expect(toolsCalled(undefined)).toEqual([]);
    expect(toolsCalled('tools/call')).toEqual([]);
    expect(toolsCalled([null, 1, 'x'])).toEqual([]);
  });

  it('ignores a tools/call whose name is not a string (the MCP server refuses it)', () => {
    expect(toolsCalled(call(['deploy']))).toEqual([]);
    expect(toolsCalled({ method: 'tools/call' })).toEqual([]);
  });
});

describe('deciding the scopes a request needs', () => {
  const code = rulesFromMap({ deploy: ['tools:write', 'deploy'], search: ['tools:read'] });
  const catalogue = rulesFromCatalogue({ 'tools:read': { tools: ['search'] }, 'tools:write': { tools: ['deploy', 'search'] } });

  it('rules from code need every listed scope', () => {
    expect(decideScopes(tools(['deploy'], code), [], new Set(['tools:write']))).toEqual({ needed: ['tools:write', 'deploy'], missing: ['deploy'], unmapped: [], perCall: [['tools:write', 'deploy']] });
    expect(decideScopes(tools(['deploy'], code), [], new Set(['tools:write', 'deploy'])).missing).toEqual([]);
  });

  it('rules from the catalogue accept any scope that unlocks the tool, and name the first when none is granted', () => {
    expect(decideScopes(tools(['search'], catalogue), [], new Set(['tools:write'])).missing).toEqual([]);
    expect(decideScopes(tools(['search'], catalogue), [], new Set(['tools:read'])).missing).toEqual([]);
    expect(decideScopes(tools(['search'], catalogue), [], new Set())).toEqual({ needed: ['tools:read'], missing: ['tools:read'], unmapped: [], perCall: [['tools:read']] });
  });

  it('adds the required scopes first, and the scopes of every tool of a batch', () => {
    expect(decideScopes(tools(['search', 'deploy'], catalogue), ['base'], new Set(['tools:read']))).toEqual({ needed: ['base', 'tools:read', 'tools:write'], missing: ['base', 'tools:write'], unmapped: [], perCall: [['base', 'tools:read'], ['base', 'tools:write']] });
  });

  it('reports a tool in no rule as unmapped, whatever the token holds (deny by default)', () => {
    const decision = decideScopes(tools(['search', 'unknown'], catalogue), [], new Set(['tools:read', 'tools:write', 'unknown']));
    expect(decision.missing).toEqual([]);
    expect(decision.unmapped).toEqual([{ kind: 'tool', name: 'unknown' }]);
    expect(decision.perCall).toEqual([['tools:read'], undefined]);
    // An empty rule is a mapping: the required scopes only.
    expect(decideScopes([{ call: { kind: 'tool', name: 'ping' }, alternatives: [[]] }], ['base'], new Set(['base']))).toEqual({ needed: ['base'], missing: [], unmapped: [], perCall: [['base']] });
  });

  it('does not take a tool name for an object key it is not (prototype names): unmapped, not unlocked', () => {
    const decision = decideScopes(tools(['constructor', '__proto__', 'toString'], code), [], new Set());
    expect(decision.unmapped.map((c) => c.name)).toEqual(['constructor', '__proto__', 'toString']);
    expect(toolsCalled(JSON.parse('{"method":"tools/call","params":{"name":"__proto__"}}'))).toEqual(['__proto__']);
  });
});

describe('reading resources/read and prompts/get out of a body', () => {
  it('finds the URI of resources/read and the name of prompts/get, in one message or a batch', () => {
    const body = [
      { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'notes://1' } },
      { jsonrpc: '2.0', id: 2, method: 'prompts/get', params: { name: 'summarise' } },
      call('deploy'),
      { jsonrpc: '2.0', id: 3, method: 'resources/list' },
      { jsonrpc: '2.0', id: 4, method: 'resources/read', params: { uri: 7 } },
      { jsonrpc: '2.0', id: 5, method: 'toString', params: { name: 'x' } },
    ];
    // The request id travels with each call (the audit finds its answer by it); a tool call's arguments too.
    expect(callsIn(body)).toEqual([{ kind: 'resource', name: 'notes://1', id: 1 }, { kind: 'prompt', name: 'summarise', id: 2 }, { kind: 'tool', name: 'deploy', id: 1, args: {} }]);
  });
});

describe('resource URI patterns', () => {
  const rules = resourceRules([['notes://*', ['notes:read']], ['notes://secret/*', ['secret']], ['config://app', ['admin']]]);

  it('matches an exact URI, or a prefix ending in *; a URI matching several needs all their scopes', () => {
    expect(resourceAlternatives('config://app', rules)).toEqual([['admin']]);
    expect(resourceAlternatives('config://app2', rules)).toBeUndefined();
    expect(resourceAlternatives('notes://1', rules)).toEqual([['notes:read']]);
    expect(resourceAlternatives('notes://secret/1', rules)).toEqual([['notes:read', 'secret']]);
    expect(resourceAlternatives('other://1', rules)).toBeUndefined();
  });

  it('a broad pattern listed first does not weaken a narrower one (no first-match shadowing)', () => {
    const reversed = resourceRules([['notes://secret/*', ['secret']], ['notes://*', []]]);
    expect(resourceAlternatives('notes://secret/1', reversed)).toEqual([['secret']]);
  });

  it('refuses a * that is not at the end (not a glob), and malformed entries, at start-up', () => {
    expect(() => resourceRules([['notes://*/private', ['x']]])).toThrow(TypeError);
    expect(() => resourceRules([['a**', ['x']]])).toThrow(TypeError);
    expect(() => resourceRules([['', ['x']]])).toThrow(TypeError);
    expect(() => resourceRules([['notes://*', 'x' as unknown as string[]]])).toThrow(TypeError);
  });
});
