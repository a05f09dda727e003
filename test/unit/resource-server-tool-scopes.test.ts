// Which scopes a JSON-RPC request needs: tools/call in a single message or a batch, rules written in code (every
// scope listed) or read from Gatehouse's catalogue (any scope that unlocks the tool).
import { decideScopes, rulesFromCatalogue, rulesFromMap, toolsCalled } from '../../src/resource-server/tool-scopes.js';

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
    expect(decideScopes(['deploy'], code, [], new Set(['tools:write']))).toEqual({ needed: ['tools:write', 'deploy'], missing: ['deploy'] });
    expect(decideScopes(['deploy'], code, [], new Set(['tools:write', 'deploy'])).missing).toEqual([]);
  });

  it('rules from the catalogue accept any scope that unlocks the tool, and name the first when none is granted', () => {
    expect(decideScopes(['search'], catalogue, [], new Set(['tools:write'])).missing).toEqual([]);
    expect(decideScopes(['search'], catalogue, [], new Set(['tools:read'])).missing).toEqual([]);
    expect(decideScopes(['search'], catalogue, [], new Set())).toEqual({ needed: ['tools:read'], missing: ['tools:read'] });
  });

  it('adds the required scopes first, and the scopes of every tool of a batch', () => {
    expect(decideScopes(['search', 'deploy'], catalogue, ['base'], new Set(['tools:read']))).toEqual({ needed: ['base', 'tools:read', 'tools:write'], missing: ['base', 'tools:write'] });
  });

  it('lets a tool in no rule through with the required scopes only', () => {
    expect(decideScopes(['unknown'], catalogue, [], new Set()).missing).toEqual([]);
    expect(decideScopes(['unknown'], catalogue, ['base'], new Set()).missing).toEqual(['base']);
  });

  it('does not take a tool name for an object key it is not (prototype names)', () => {
    expect(decideScopes(['constructor', '__proto__', 'toString'], code, [], new Set()).missing).toEqual([]);
    expect(toolsCalled(JSON.parse('{"method":"tools/call","params":{"name":"__proto__"}}'))).toEqual(['__proto__']);
  });
});
