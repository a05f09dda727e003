// RFC 6750 on the wire: which Authorization headers carry a bearer token, and a WWW-Authenticate challenge that
// real clients parse right even when a scope name or a URL holds a quote, a backslash, a comma or `scope=`.
import { extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import { bearerToken, challenge, scopeList } from '../../packages/resource-server/src/bearer.js';

/** What the MCP SDK client reads from a challenge (the same function the transport calls on 401 and 403). */
const sdkReads = (header: string) => extractWWWAuthenticateParams(new Response(null, { status: 401, headers: { 'www-authenticate': header } }));

describe('reading the bearer token (RFC 6750 §2.1)', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc', 'abc'],
    ['BEARER   abc-_.~+/==', 'abc-_.~+/=='],
    ['Bearer abc ', 'abc'],
  ])('%j → %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([undefined, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearerabc', 'Bearer a b', 'Bearer a,b', 'Bearer a"b', 'Bearer =abc', 'Bearer a\tb'])('%j carries no token', (header) => {
    expect(bearerToken(header)).toBeUndefined();
  });

  it('takes no token from two Authorization headers', () => {
    expect(bearerToken(['Bearer a', 'Bearer b'])).toBeUndefined();
  });
});

describe('the WWW-Authenticate challenge (RFC 6750 §3, RFC 9728 §5.1)', () => {
  const md = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp';

  it('names the metadata and the scope, with no error for a request without a token', () => {
    const header = challenge({ resourceMetadata: md, scope: ['tools:read', 'tools:write'] });
    expect(header).toBe(`Bearer scope="tools:read tools:write", resource_metadata="${md}"`);
    expect(sdkReads(header)).toEqual({ resourceMetadataUrl: new URL(md), scope: 'tools:read tools:write', error: undefined });
  });

  it('carries the error and a description the SDK does not mistake for another parameter', () => {
    const header = challenge({ error: 'insufficient_scope', scope: ['a', 'b'], resourceMetadata: md, errorDescription: 'needs scope="x", error="y"\r\nInjected: 1' });
    expect(header).toBe(`Bearer error="insufficient_scope", scope="a b", resource_metadata="${md}", error_description="needs scope=x, error=yInjected: 1"`);
    expect(sdkReads(header)).toEqual({ error: 'insufficient_scope', scope: 'a b', resourceMetadataUrl: new URL(md) });
  });

  it('leaves out scope names that cannot be scope tokens (a quote, a backslash, a space, a control character)', () => {
    const header = challenge({ resourceMetadata: md, scope: ['ok', 'bad"one', 'bad\\two', 'bad three', 'bad\nfour', '', 'ok', 'fine:write'] });
    expect(header).toBe(`Bearer scope="ok fine:write", resource_metadata="${md}"`);
    expect(sdkReads(header).scope).toBe('ok fine:write');
  });

  it('keeps a URL with a quote, a backslash or `scope=` from breaking the header or the scope', () => {
    const header = challenge({ resourceMetadata: 'https://h/.well-known/oauth-protected-resource/a"b\\c?scope=evil', scope: ['tools:read'] });
    expect(header).toBe('Bearer scope="tools:read", resource_metadata="https://h/.well-known/oauth-protected-resource/a%22b%5Cc?scope=evil"');
    expect(sdkReads(header)).toEqual({ scope: 'tools:read', resourceMetadataUrl: new URL('https://h/.well-known/oauth-protected-resource/a%22b%5Cc?scope=evil'), error: undefined });
    expect(() => new Headers({ 'www-authenticate': header })).not.toThrow();
  });

  it('deduplicates scopes in first-seen order', () => {
    expect(scopeList(['tools:write'], ['tools:read', 'tools:write', 'files:read'])).toEqual(['tools:write', 'tools:read', 'files:read']);
  });
});
