// Bad configuration stops the process before it listens, with one line per problem naming the variable.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/database.js';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { DEFAULT_RESOURCES, startTestServer } from '../helpers/server.js';
import { ConfigError } from '../../src/config.js';
import { loadConfiguration as loadConfig } from '../../src/configuration.js';
import { startGatehouse } from '../../src/gatehouse.js';
import { createLogger } from '../../src/log.js';

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

// Issue 16 (docs/SECURITY.md, "Issue 16"): client addresses, the per-source client cap and the bind address.
describe('TRUST_PROXY, DCR_MAX_CLIENTS_PER_SOURCE and HOST', () => {
  it('TRUST_PROXY is a number of trusted proxy hops; the old booleans still work, true as 1 hop with a warning', () => {
    expect(loadConfig({}).TRUST_PROXY).toBe(0);
    expect(loadConfig({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '0' }).TRUST_PROXY).toBe(0);
    expect(loadConfig({ TRUST_PROXY: 'false' }).TRUST_PROXY).toBe(0);
    expect(loadConfig({ TRUST_PROXY: '1' }).warnings).toEqual([]);
    const legacy = loadConfig({ TRUST_PROXY: 'true' });
    expect(legacy.TRUST_PROXY).toBe(1);
    expect(legacy.warnings).toEqual([expect.stringMatching(/^TRUST_PROXY: "true" is read as 1 trusted proxy hop/)]);
    for (const bad of ['-1', '11', '1.5', 'all', 'maybe']) {
      expect(problems({ TRUST_PROXY: bad })).toEqual([expect.stringMatching(/^TRUST_PROXY: must be the number of trusted proxy hops/)]);
    }
  });

  it('DCR_MAX_CLIENTS_PER_SOURCE defaults to 50 and refuses a value that is not a positive whole number', () => {
    expect(loadConfig({}).DCR_MAX_CLIENTS_PER_SOURCE).toBe(50);
    for (const bad of ['0', 'many', '2.5']) expect(problems({ DCR_MAX_CLIENTS_PER_SOURCE: bad })).toEqual([expect.stringMatching(/^DCR_MAX_CLIENTS_PER_SOURCE: /)]);
  });

  it('a development server binds 127.0.0.1 unless HOST says otherwise; production keeps 0.0.0.0', () => {
    expect(loadConfig({}).HOST).toBe('127.0.0.1');
    expect(loadConfig({ NODE_ENV: 'test' }).HOST).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
    expect(loadConfig({ NODE_ENV: 'production', ISSUER: 'https://auth.example.com', SECRET_KEY: 'x'.repeat(40), DATABASE_URL: 'postgres://u@db/gh' }).HOST).toBe('0.0.0.0');
  });

  it('a server started with the default HOST listens on loopback only: another interface of this host refuses the connection', async () => {
    const db = await createTestDatabase();
    const config = loadConfig({ ...db.env, NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', RESOURCES: DEFAULT_RESOURCES });
    const running = await startGatehouse(config, { log: createLogger('silent') });
    try {
      const { address, port } = running.server.address() as AddressInfo;
      expect(address).toBe('127.0.0.1');
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      // Any non-loopback IPv4 address of this machine (a container may have none).
      const other = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
      if (other) await expect(fetch(`http://${other.address}:${port}/healthz`)).rejects.toThrow();
    } finally {
      await running.close();
      await db.drop();
    }
  }, 60_000);
});

describe('the upstream connection from UPSTREAM_*', () => {
  it('names each missing setting of an IdP by its variable', () => {
    const p = problems({ UPSTREAM_PROVIDER: 'oidc' });
    expect(p).toEqual(expect.arrayContaining([expect.stringMatching(/^UPSTREAM_ISSUER: required/), expect.stringMatching(/^UPSTREAM_CLIENT_ID: required/)]));
  });

  it('refuses a plain-http IdP in production (tokens and codes would cross the network in the clear)', () => {
    const p = problems({ NODE_ENV: 'production', ISSUER: 'https://auth.example.com', SECRET_KEY: 'x'.repeat(40), DATABASE_URL: 'postgres://u@db/gh', UPSTREAM_PROVIDER: 'oidc', UPSTREAM_ISSUER: 'http://127.0.0.1:9000', UPSTREAM_CLIENT_ID: 'gh' });
    expect(p).toEqual([expect.stringMatching(/^UPSTREAM_ISSUER: must be https/)]);
  });

  it('refuses a plain-http IdP that is not on loopback, even in development', () => {
    expect(problems({ UPSTREAM_PROVIDER: 'oidc', UPSTREAM_ISSUER: 'http://idp.example.com', UPSTREAM_CLIENT_ID: 'gh' })).toEqual([expect.stringMatching(/^UPSTREAM_ISSUER: /)]);
  });

  it('refuses a multi-tenant Entra connection without an allowed-tenants list (any Microsoft organisation could log in)', () => {
    const p = problems({ UPSTREAM_PROVIDER: 'entra', UPSTREAM_TENANT: 'organizations', UPSTREAM_CLIENT_ID: 'gh' });
    expect(p.some((l) => l.startsWith('UPSTREAM_ALLOWED_TENANTS:'))).toBe(true);
  });

  it('accepts a complete OIDC connection', () => {
    expect(problems({ UPSTREAM_PROVIDER: 'oidc', UPSTREAM_ISSUER: 'https://idp.example.com', UPSTREAM_CLIENT_ID: 'gh', UPSTREAM_CLIENT_SECRET: 's' })).toEqual([]);
  });

  it('stops the server at start naming SECRET_KEY when it cannot open the signing keys already in the database', async () => {
    const db = await createTestDatabase();
    try {
      const first = await startTestServer({ ...db.env, SECRET_KEY: 'the first secret key, long enough to be accepted' });
      await first.close();
      const res = await runCli(['serve'], { ...db.env, PORT: '0', SECRET_KEY: 'another secret key, just as long as the first one' });
      expect(res.code).not.toBe(0);
      expect(res.stderr).toMatch(/SECRET_KEY: cannot open signing key \S+ stored in the database/);
      expect(res.stderr).not.toMatch(/authenticate data|at .*\.js:\d+/);
      expect(res.stderr).not.toMatch(/listening/);
    } finally {
      await db.drop();
    }
  }, 60_000);

  it('stops the server at start when UPSTREAM_* is incomplete', async () => {
    const res = await runCli(['serve'], { UPSTREAM_PROVIDER: 'okta', UPSTREAM_CLIENT_ID: 'gh', DATA_DIR: '/tmp/gatehouse-never-created' });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/UPSTREAM_ISSUER: /);
  }, 30_000);
});

describe('settings a connection kind would ignore', () => {
  it('are refused, not silently dropped (an ignored restriction is a false sense of security)', () => {
    expect(problems({ UPSTREAM_PROVIDER: 'okta', UPSTREAM_ISSUER: 'https://acme.okta.com', UPSTREAM_CLIENT_ID: 'gh', UPSTREAM_HOSTED_DOMAINS: 'acme.com' })).toEqual([
      expect.stringMatching(/^UPSTREAM_HOSTED_DOMAINS: not used by an okta connection/),
    ]);
    expect(problems({ UPSTREAM_ISSUER: 'https://idp.example.com' })).toEqual([expect.stringMatching(/^UPSTREAM_ISSUER: not used by a local connection/)]);
  });
});

// Issue 16 (docs/SECURITY.md): the seeded connection's private-network opt-in is named when wrong, and allowed in
// production (an administrator chose the IdP; the issuer must still be https there).
describe('UPSTREAM_ALLOW_PRIVATE_NETWORK', () => {
  const oidc = { UPSTREAM_PROVIDER: 'oidc', UPSTREAM_ISSUER: 'https://sso.corp.internal', UPSTREAM_CLIENT_ID: 'gh' };
  it('is a boolean, used by redirect kinds only, and allowed in production', () => {
    expect(problems({ ...oidc, UPSTREAM_ALLOW_PRIVATE_NETWORK: 'maybe' })).toEqual([expect.stringMatching(/^UPSTREAM_ALLOW_PRIVATE_NETWORK: must be true or false/)]);
    expect(problems({ UPSTREAM_ALLOW_PRIVATE_NETWORK: 'true' })).toEqual([expect.stringMatching(/^UPSTREAM_ALLOW_PRIVATE_NETWORK: not used by a local connection/)]);
    expect(problems({ ...oidc, UPSTREAM_ALLOW_PRIVATE_NETWORK: 'true' })).toEqual([]);
    expect(problems({ NODE_ENV: 'production', ISSUER: 'https://auth.example.com', SECRET_KEY: 'x'.repeat(40), DATABASE_URL: 'postgres://u@db/gh', ...oidc, UPSTREAM_ALLOW_PRIVATE_NETWORK: 'true' })).toEqual([]);
  });
});

// Issue 23: what a new operator's first typos meet.
describe('the first hour: PORT, ISSUER, misspelt variables, DB_CONNECT_RETRY_SECONDS, BOOTSTRAP_ADMIN_*', () => {
  it('PORT=abc says it must be a port number; ISSUER=localhost:8080 is one problem, not two', () => {
    for (const bad of ['abc', '70000', '-1', '80.5']) expect(problems({ PORT: bad })).toEqual([expect.stringMatching(/^PORT: must be a port number/)]);
    expect(problems({ ISSUER: 'localhost:8080' })).toEqual([expect.stringMatching(/^ISSUER: must be an absolute http\(s\) URL such as https:\/\/auth\.example\.com/)]);
    expect(problems({ ISSUER: 'localhost:8080', NODE_ENV: 'production', SECRET_KEY: 'x'.repeat(40), DATABASE_URL: 'postgres://u@db/gh' })).toHaveLength(1);
  });

  it('a misspelt Gatehouse variable is a warning with a suggestion; unrelated and Kubernetes service variables are not', () => {
    const c = loadConfig({ REGISTRATON: 'closed', UPSTREAM_CLIENTID: 'x', CIMD_ALOWED_DOMAINS: 'a.example', UPSTREAM_COLOUR: 'blue', PATH: '/usr/bin', HOME: '/root', PGHOST: 'db', NODE_OPTIONS: '--x', GATEHOUSE_SERVICE_HOST: '10.0.0.1', GATEHOUSE_PORT_8080_TCP_ADDR: '10.0.0.1', GATEHOUSE_URL: 'https://a' });
    expect(c.REGISTRATION).toBe('open');
    expect([...c.warnings].sort()).toEqual([
      'CIMD_ALOWED_DOMAINS: not a Gatehouse setting, ignored; did you mean CIMD_ALLOWED_DOMAINS?',
      'REGISTRATON: not a Gatehouse setting, ignored; did you mean REGISTRATION?',
      'UPSTREAM_CLIENTID: not a Gatehouse setting, ignored; did you mean UPSTREAM_CLIENT_ID?',
      'UPSTREAM_COLOUR: not a Gatehouse setting, ignored',
    ]);
  });

  it('DB_CONNECT_RETRY_SECONDS defaults to 30 and is a non-negative whole number', () => {
    expect(loadConfig({}).DB_CONNECT_RETRY_SECONDS).toBe(30);
    expect(loadConfig({ DB_CONNECT_RETRY_SECONDS: '0' }).DB_CONNECT_RETRY_SECONDS).toBe(0);
    for (const bad of ['-1', '2.5', 'soon']) expect(problems({ DB_CONNECT_RETRY_SECONDS: bad })).toEqual([expect.stringMatching(/^DB_CONNECT_RETRY_SECONDS: must be a whole number of seconds/)]);
  });

  it('bad BOOTSTRAP_ADMIN_* settings are one line each naming the variable; a password in the environment is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bootstrap-config-'));
    const write = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const good = write('good', 'a long enough passphrase\n');
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ BOOTSTRAP_ADMIN_EMAIL: 'not-an-email', BOOTSTRAP_ADMIN_PASSWORD_FILE: good }, /^BOOTSTRAP_ADMIN_EMAIL: not a valid email address/],
      [{ BOOTSTRAP_ADMIN_EMAIL: 'a@example.com', BOOTSTRAP_ADMIN_PASSWORD_FILE: join(dir, 'missing') }, /^BOOTSTRAP_ADMIN_PASSWORD_FILE: .*missing: no such file/],
      [{ BOOTSTRAP_ADMIN_EMAIL: 'a@example.com', BOOTSTRAP_ADMIN_PASSWORD_FILE: write('empty', '\n') }, /^BOOTSTRAP_ADMIN_PASSWORD_FILE: .*empty is empty/],
      [{ BOOTSTRAP_ADMIN_EMAIL: 'a@example.com', BOOTSTRAP_ADMIN_PASSWORD_FILE: write('weak', 'short\n') }, /^BOOTSTRAP_ADMIN_PASSWORD_FILE: the password in .*weak: must be at least 12 characters/],
      [{ BOOTSTRAP_ADMIN_EMAIL: 'a@example.com' }, /^BOOTSTRAP_ADMIN_PASSWORD_FILE: required with BOOTSTRAP_ADMIN_EMAIL/],
      [{ BOOTSTRAP_ADMIN_PASSWORD_FILE: good }, /^BOOTSTRAP_ADMIN_EMAIL: required with BOOTSTRAP_ADMIN_PASSWORD_FILE/],
      [{ BOOTSTRAP_ADMIN_EMAIL: 'a@example.com', BOOTSTRAP_ADMIN_PASSWORD: 'a long enough passphrase' }, /^BOOTSTRAP_ADMIN_PASSWORD: not accepted/],
    ];
    for (const [env, line] of cases) expect(problems(env)).toEqual([expect.stringMatching(line)]);
    expect(problems({ BOOTSTRAP_ADMIN_EMAIL: 'a@example.com', BOOTSTRAP_ADMIN_PASSWORD_FILE: good })).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('`gatehouse serve` reads the password from standard input with BOOTSTRAP_ADMIN_PASSWORD_FILE=-, and stops on a weak one', async () => {
    const res = await runCli(['serve'], { BOOTSTRAP_ADMIN_EMAIL: 'a@example.com', BOOTSTRAP_ADMIN_PASSWORD_FILE: '-', DATA_DIR: '/tmp/gatehouse-never-created' }, 'short\n');
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n').filter((l) => l.startsWith('gatehouse:'))).toEqual(['gatehouse: configuration error: BOOTSTRAP_ADMIN_PASSWORD_FILE: the password in standard input: must be at least 12 characters']);
    expect(res.stderr).not.toContain('short');
  }, 30_000);
});
