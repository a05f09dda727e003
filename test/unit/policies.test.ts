// Rules that need no server: loopback redirect matching (RFC 8252 §7.3), canonical resource URIs (RFC 8707 + MCP),
// and the sealed-secret format.
import { loopbackRedirectMatches } from '../../src/oauth/policies/client-metadata/loopback-redirect.js';
import { canonicalResource, InvalidResourceUri } from '../../src/oauth/resources.js';
import { SecretBox } from '../../src/crypto/secret-box.js';

describe('loopback redirect URIs match on any port (RFC 8252 §7.3)', () => {
  it.each([
    ['http://127.0.0.1:51234/callback', ['http://127.0.0.1/callback']],
    ['http://127.0.0.1:51234/callback', ['http://127.0.0.1:3000/callback']],
    ['http://localhost:9999/cb', ['http://localhost/cb']],
    ['http://[::1]:8080/cb', ['http://[::1]/cb']],
  ])('accepts %s for %j', (requested, registered) => {
    expect(loopbackRedirectMatches(requested, registered)).toBe(true);
  });

  it.each([
    ['http://127.0.0.1:51234/other', ['http://127.0.0.1/callback'], 'a different path'],
    ['http://localhost:51234/cb', ['http://127.0.0.1/cb'], 'a different loopback host'],
    ['https://app.example.com:8443/cb', ['https://app.example.com/cb'], 'a non-loopback host'],
    ['http://127.0.0.1.evil.com:80/cb', ['http://127.0.0.1/cb'], 'a look-alike host'],
    ['http://user@127.0.0.1:5000/cb', ['http://127.0.0.1/cb'], 'userinfo'],
    ['https://127.0.0.1:5000/cb', ['http://127.0.0.1/cb'], 'another scheme'],
    ['http://127.0.0.1:5000/cb?x=1', ['http://127.0.0.1/cb'], 'an added query'],
  ])('refuses %s for %j (%s)', (requested, registered) => {
    expect(loopbackRedirectMatches(requested, registered)).toBe(false);
  });
});

describe('canonical resource URIs', () => {
  it.each([
    ['https://h', 'https://h'],
    ['https://h/', 'https://h'],
    ['HTTPS://MCP.Example.COM:443/mcp', 'https://mcp.example.com/mcp'],
    ['https://h/mcp/', 'https://h/mcp/'],
    ['http://localhost:3000/mcp', 'http://localhost:3000/mcp'],
  ])('%s → %s', (input, out) => {
    expect(canonicalResource(input)).toBe(out);
  });

  it.each(['not a uri', 'https://h/#frag', 'ftp://h/x', 'https://user:pw@h/mcp', '/relative'])('refuses %s', (input) => {
    expect(() => canonicalResource(input)).toThrow(InvalidResourceUri);
  });
});

describe('sealed secrets', () => {
  const box = new SecretBox('k'.repeat(40));

  it('round-trips and never contains the plaintext', () => {
    const sealed = box.seal('{"client_secret":"s3cr3t"}', 'oidc:Client');
    expect(sealed).not.toContain('s3cr3t');
    expect(box.open(sealed, 'oidc:Client')).toBe('{"client_secret":"s3cr3t"}');
  });

  it('refuses a tampered value, another purpose, or another key', () => {
    const sealed = box.seal('secret', 'a');
    const parts = sealed.split('.');
    parts[2] = Buffer.from('tampered').toString('base64url');
    expect(() => box.open(parts.join('.'), 'a')).toThrow();
    expect(() => box.open(sealed, 'b')).toThrow();
    expect(() => new SecretBox('z'.repeat(40)).open(sealed, 'a')).toThrow();
  });
});
