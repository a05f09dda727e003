// The pure CIMD rules: the client identifier URL (CIMD draft, "Client Identifier"), the host allow/block lists, the
// cache lifetime of a document (RFC 9111), and how the two domain variables are read from the environment.
import { ConfigError, loadConfig } from '../../src/config.js';
import { clientIdUrlProblem } from '../../src/oauth/cimd/client-id-url.js';
import { documentLifetime, HEURISTIC_LIFETIME, MAX_DOCUMENT_LIFETIME } from '../../src/oauth/cimd/document-lifetime.js';
import { DomainPolicy, parseDomainPattern } from '../../src/oauth/cimd/domain-policy.js';

describe('client identifier URLs: https, a path, no fragment, no credentials, no dot segments', () => {
  it.each([
    ['https://app.example.com/oauth/client.json'],
    ['https://app.example.com/client'],
    ['https://app.example.com:8443/c.json'],
    ['https://app.example.com/c.json?v=2'], // a query is discouraged, not forbidden
    ['https://claude.ai/oauth/claude-code-client-metadata'],
  ])('accepts %s', (url) => {
    expect(clientIdUrlProblem(url)).toBeUndefined();
  });

  it.each([
    ['http://app.example.com/client.json', /https/],
    ['HTTP://app.example.com/client.json', /https/],
    ['ftp://app.example.com/client.json', /https/],
    ['app.example.com/client.json', /https/],
    ['https://app.example.com', /must have a path/],
    ['https://app.example.com/', /must have a path/],
    ['https://app.example.com?x=1', /must have a path/],
    ['https://app.example.com/?x=1', /must have a path/],
    ['https://app.example.com/c.json#', /fragment/],
    ['https://app.example.com/c.json#x', /fragment/],
    ['https://user@app.example.com/c.json', /user name or password/],
    ['https://user:pw@app.example.com/c.json', /user name or password/],
    ['https://:pw@app.example.com/c.json', /user name or password/],
    ['https://app.example.com/./c.json', /path segments/],
    ['https://app.example.com/a/../c.json', /path segments/],
    ['https://app.example.com/a/%2E%2E/c.json', /path segments/],
    ['https://app.example.com/a/.%2e/c.json', /path segments/],
    ['https://app.example.com/a/..', /path segments/],
    ['https://app.example.com/a b', /spaces/],
    ['https://app.example.com\\@evil.example/c.json', /backslash/],
    ['https://app.example.com/c.json\n', /control/],
    [`https://app.example.com/${'a'.repeat(2100)}`, /longer than/],
  ])('refuses %s', (url, why) => {
    expect(clientIdUrlProblem(url)).toMatch(why);
  });
});

describe('CIMD_ALLOWED_DOMAINS / CIMD_BLOCKED_DOMAINS', () => {
  const policy = (allowed: string[], blocked: string[]) => DomainPolicy.fromConfig(allowed, blocked);

  it('with no lists, every host is acceptable', () => {
    expect(policy([], []).problem('anything.example')).toBeUndefined();
  });

  it('an exact host matches only itself', () => {
    const p = policy(['app.example.com'], []);
    expect(p.problem('app.example.com')).toBeUndefined();
    expect(p.problem('APP.example.com')).toBeUndefined();
    expect(p.problem('app.example.com.')).toBeUndefined();
    expect(p.problem('x.app.example.com')).toMatch(/not on the list/);
    expect(p.problem('example.com')).toMatch(/not on the list/);
    expect(p.problem('app.example.com.evil.test')).toMatch(/not on the list/);
  });

  it('*.example.com matches strict subdomains, not example.com nor lookalikes', () => {
    const p = policy(['*.example.com'], []);
    expect(p.problem('a.example.com')).toBeUndefined();
    expect(p.problem('a.b.example.com')).toBeUndefined();
    expect(p.problem('example.com')).toMatch(/not on the list/);
    expect(p.problem('badexample.com')).toMatch(/not on the list/);
    expect(p.problem('example.com.evil.test')).toMatch(/not on the list/);
  });

  it('blocked wins over allowed, and a trailing dot or upper case does not escape a block', () => {
    const p = policy(['*.example.com'], ['evil.example.com', '*.bad.example.com']);
    expect(p.problem('evil.example.com')).toMatch(/is blocked \(CIMD_BLOCKED_DOMAINS: evil\.example\.com\)/);
    expect(p.problem('EVIL.example.com.')).toMatch(/is blocked/);
    expect(p.problem('x.bad.example.com')).toMatch(/is blocked \(CIMD_BLOCKED_DOMAINS: \*\.bad\.example\.com\)/);
    expect(p.problem('good.example.com')).toBeUndefined();
  });

  it('internationalised names are compared in punycode', () => {
    expect(parseDomainPattern('*.bücher.example')?.text).toBe('*.xn--bcher-kva.example');
    expect(policy([], ['bücher.example']).problem('xn--bcher-kva.example')).toMatch(/is blocked/);
  });

  it.each([['https://app.example.com'], ['app.example.com/path'], ['app.example.com:443'], ['user@app.example.com'], ['*'], ['*.'], ['a.*.example.com'], ['*.127.0.0.1'], ['']])(
    'refuses the entry %j',
    (entry) => {
      expect(parseDomainPattern(entry)).toBeUndefined();
    },
  );

  it('configuration refuses a bad entry with one line naming the variable, and keeps canonical forms', () => {
    let problems: string[] = [];
    try {
      loadConfig({ CIMD_BLOCKED_DOMAINS: 'good.example, https://bad.example/' });
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual(['CIMD_BLOCKED_DOMAINS: https://bad.example/ is not a host name or a *.domain pattern']);
    const c = loadConfig({ CIMD_ALLOWED_DOMAINS: 'App.Example.com, *.Tools.Example.com', CIMD_BLOCKED_DOMAINS: 'evil.example.' });
    expect(c.CIMD_ALLOWED_DOMAINS).toEqual(['app.example.com', '*.tools.example.com']);
    expect(c.CIMD_BLOCKED_DOMAINS).toEqual(['evil.example']);
  });
});

describe('how long a fetched document is reused (RFC 9111; at most 24 h)', () => {
  const h = (headers: Record<string, string>) => new Headers(headers);
  const now = Date.parse('2026-11-23T12:00:00Z');

  it.each([
    [{ 'cache-control': 'max-age=600' }, 600],
    [{ 'cache-control': 'public, max-age=3600' }, 3600],
    [{ 'cache-control': 'max-age=600, s-maxage=60' }, 60], // Gatehouse's cache is shared by all its users
    [{ 'cache-control': 'max-age=999999999' }, MAX_DOCUMENT_LIFETIME],
    [{ 'cache-control': 'max-age=600', age: '500' }, 100],
    [{ 'cache-control': 'max-age=600', age: '900' }, 0],
    [{ 'cache-control': 'no-store' }, 0],
    [{ 'cache-control': 'no-cache, max-age=600' }, 0],
    [{ 'cache-control': 'max-age=0' }, 0],
    [{ 'cache-control': 'max-age=-5' }, HEURISTIC_LIFETIME], // malformed: ignored
    [{ expires: 'Mon, 23 Nov 2026 13:00:00 GMT', date: 'Mon, 23 Nov 2026 12:00:00 GMT' }, 3600],
    [{ expires: 'Mon, 23 Nov 2026 11:00:00 GMT' }, 0],
    [{ expires: 'not a date' }, 0],
    [{ expires: 'Wed, 23 Nov 2030 12:00:00 GMT' }, MAX_DOCUMENT_LIFETIME],
    [{}, HEURISTIC_LIFETIME],
  ])('%j → %i s', (headers, expected) => {
    expect(documentLifetime(h(headers as Record<string, string>), now)).toBe(expected);
  });
});
