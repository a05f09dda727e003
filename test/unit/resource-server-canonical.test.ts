// The kit's canonical resource URI must be Gatehouse's, character for character: the kit compares a token's `aud`
// (written by Gatehouse) with its own resource in that form. Gatehouse's registry calls the kit's function; this file
// guards that it stays so.
import fc from 'fast-check';
import { audienceMatches, canonicalResource, metadataPath, metadataUrl } from '../../packages/resource-server/src/canonical-resource.js';
import { canonicalResource as gatehouseCanonical } from '../../src/oauth/resources.js';

const outcome = (f: (v: string) => string, v: string) => {
  try {
    return f(v);
  } catch {
    return 'refused';
  }
};

describe('canonical resource URI (MCP "Canonical Server URI", RFC 8707)', () => {
  it.each([
    ['https://h', 'https://h'],
    ['https://h/', 'https://h'],
    ['HTTPS://MCP.Example.COM/mcp', 'https://mcp.example.com/mcp'],
    ['https://h:443/mcp', 'https://h/mcp'],
    ['http://h:80', 'http://h'],
    ['https://h:8443/', 'https://h:8443'],
    ['https://h/mcp/', 'https://h/mcp/'],
    ['https://h/MCP', 'https://h/MCP'],
    ['https://h/mcp?tenant=a', 'https://h/mcp?tenant=a'],
    ['http://127.0.0.1:3000/', 'http://127.0.0.1:3000'],
  ])('%s → %s', (input, canonical) => {
    expect(canonicalResource(input)).toBe(canonical);
  });

  it.each(['/mcp', 'mcp.example.com', 'https://h/mcp#frag', 'ftp://h/x', 'https://u:p@h/mcp', ''])('refuses %j', (input) => {
    expect(() => canonicalResource(input)).toThrow(TypeError);
  });

  it('agrees with Gatehouse on every URI, whatever its case, port, path and query', () => {
    const part = fc.constantFrom('', '/', '/mcp', '/mcp/', '/A/b', '/%7Euser', '/a b', '/a"b', '?x=1', '/m?', '#f', '/./x', '/a/../b');
    const uri = fc.tuple(fc.constantFrom('https', 'HTTP', 'http', 'ftp'), fc.constantFrom('h', 'MCP.Example.com', '127.0.0.1', '[::1]', 'u:p@h'), fc.constantFrom('', ':443', ':80', ':8080'), part, part)
      .map(([s, h, p, a, b]) => `${s}://${h}${p}${a}${b}`);
    fc.assert(fc.property(uri, (v) => outcome(canonicalResource, v) === outcome(gatehouseCanonical, v)), { numRuns: 2000 });
  });
});

describe('audience matching', () => {
  it('accepts the canonical string, any spelling of it, and an array naming it', () => {
    expect(audienceMatches('https://h/mcp', 'https://h/mcp')).toBe(true);
    expect(audienceMatches('HTTPS://H:443/mcp', 'https://h/mcp')).toBe(true);
    expect(audienceMatches('https://h/', 'https://h')).toBe(true);
    expect(audienceMatches(['https://other', 'https://h/mcp'], 'https://h/mcp')).toBe(true);
  });

  it('refuses another path, a trailing slash on a path, non-strings and junk', () => {
    for (const aud of ['https://h/mcp/', 'https://h/mcp2', 'https://h', 'https://h/mcp#x', 'not a uri', 42, null, undefined, [], [42], { aud: 'https://h/mcp' }]) {
      expect(audienceMatches(aud, 'https://h/mcp')).toBe(false);
    }
  });
});

describe('metadata location (RFC 9728 §3.1)', () => {
  it('inserts the well-known path between the host and the path, keeping the query last', () => {
    expect(metadataPath('https://h/mcp')).toBe('/.well-known/oauth-protected-resource/mcp');
    expect(metadataUrl('https://h/mcp')).toBe('https://h/.well-known/oauth-protected-resource/mcp');
    expect(metadataUrl('https://h')).toBe('https://h/.well-known/oauth-protected-resource');
    expect(metadataUrl('https://h:8443/a/b/')).toBe('https://h:8443/.well-known/oauth-protected-resource/a/b/');
    expect(metadataUrl('https://h/mcp?t=1')).toBe('https://h/.well-known/oauth-protected-resource/mcp?t=1');
  });
});
