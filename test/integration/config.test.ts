// Bad configuration stops the process before it listens, with one line per problem naming the variable.
import { runCli } from '../helpers/cli.js';
import { loadConfig, ConfigError } from '../../src/config.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('configuration', () => {
  it('exits non-zero naming each bad variable', async () => {
    const res = await runCli(['serve'], { PORT: 'eighty', ISSUER: 'not a url', REGISTRATION: 'sometimes', DATA_DIR: '/tmp/gatehouse-never-created' });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/PORT: /);
    expect(res.stderr).toMatch(/REGISTRATION: /);
    expect(res.stderr).not.toMatch(/listening/);
  }, 30_000);

  it('refuses unsafe production settings: http issuer, no SECRET_KEY, embedded database, CIMD private addresses', () => {
    const p = problems({ NODE_ENV: 'production', ISSUER: 'http://auth.example.com', CIMD_ALLOW_PRIVATE_ADDRESSES: 'true' });
    expect(p.some((l) => l.startsWith('ISSUER:') && /https/.test(l))).toBe(true);
    expect(p.some((l) => l.startsWith('SECRET_KEY:'))).toBe(true);
    expect(p.some((l) => l.startsWith('DATABASE_URL:'))).toBe(true);
    expect(p.some((l) => l.startsWith('CIMD_ALLOW_PRIVATE_ADDRESSES:'))).toBe(true);
  });

  it('accepts a safe production configuration', () => {
    expect(problems({ NODE_ENV: 'production', ISSUER: 'https://auth.example.com', SECRET_KEY: 'x'.repeat(40), DATABASE_URL: 'postgres://u@db/gh' })).toEqual([]);
  });

  it.each([
    ['ISSUER', 'https://auth.example.com/', /slash/],
    ['DATABASE_URL', 'mysql://x', /postgres/],
    ['SECRET_KEY', 'short', /32/],
    ['RESOURCES', '{not json', /JSON/],
    ['RESOURCES', '[{"uri":"https://a","default":true},{"uri":"https://b","default":true}]', /one resource/],
    ['CIMD', 'maybe', /on or off/],
    ['LOG_LEVEL', 'loud', /./],
    ['ACCESS_TOKEN_TTL', '5', /./],
  ])('%s=%s is refused with the variable named', (name, value, message) => {
    const p = problems({ [name]: value });
    const line = p.find((l) => l.startsWith(`${name}:`));
    expect(line).toBeDefined();
    expect(line).toMatch(message);
  });

  it('defaults: port 8080, issuer on localhost, embedded database in ./data, open registration, CIMD on', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8080);
    expect(c.ISSUER).toBe('http://localhost:8080');
    expect(c.embedded).toBe(true);
    expect(c.REGISTRATION).toBe('open');
    expect(c.CIMD).toBe(true);
  });
});
