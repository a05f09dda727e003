// The configuration file's loader (docs/CONFIG-FILE.md): a bad file is one line per problem naming the file, the line
// and the field path; secrets only by reference; the environment's shorthands may not define the same object; the
// checked-in example loads.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError } from '../../src/config.js';
import { loadConfiguration } from '../../src/configuration.js';
import { ConfigFile, ConfigFileError, loadConfigFile, loadConfigText, type LoadOptions } from '../../src/admin/config-file/load.js';
import { placeholder } from '../../src/admin/config-file/export.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-file-'));
let n = 0;
function file(text: string, ext = 'yaml'): string {
  const path = join(dir, `f${++n}.${ext}`);
  writeFileSync(path, text);
  return path;
}

function problems(path: string, options: Partial<LoadOptions> = {}): string[] {
  try {
    loadConfigFile(path, { env: {}, ...options });
  } catch (err) {
    if (err instanceof ConfigFileError) return err.problems;
    throw err;
  }
  return [];
}

describe('loading the configuration file', () => {
  it('names the file, the line and the field path of each problem', () => {
    const path = file(
      [
        'mcp_servers:', //                                        1
        '  - uri: https://mcp.example.com/mcp', //                2
        '    scopes:', //                                         3
        '      docs:read:', //                                    4
        '        description: Read', //                           5
        '        tools: [search]', //                             6
        '        bogus: 1', //                                    7
        '  - uri: not a url', //                                  8
        'clients:', //                                            9
        '  - client_id: desk', //                                10
        '    name: Desk', //                                     11
        '    redirect_uri: [http://127.0.0.1/cb]', //            12
        'policy:', //                                           13
        '  REGISTRATION: 3', //                                 14
      ].join('\n'),
    );
    expect(problems(path)).toEqual([
      `${path} line 7: mcp_servers[0].scopes.docs:read.bogus: unknown field`,
      `${path} line 8: mcp_servers[1].uri: must be an absolute URL`,
      `${path} line 12: clients[0].redirect_uri: unknown field`,
      `${path} line 10: clients[0].redirect_uris: a public client needs at least one redirect URI`,
      `${path} line 14: policy.REGISTRATION: must be a string or a list of strings`,
    ]);
  });

  it('refuses a __proto__ key by name and line, which the schema would otherwise drop without a word', () => {
    let problems: string[] = [];
    try {
      loadConfigText('mcp_servers:\n  - uri: https://a.example.com/mcp\n    delegation:\n      connections:\n        __proto__: [repo]\n', 'gatehouse.yaml', { env: {} });
    } catch (err) {
      problems = (err as ConfigFileError).problems;
    }
    expect(problems).toEqual(['gatehouse.yaml line 5: mcp_servers[0].delegation.connections.__proto__: "__proto__" is a reserved name']);
  });

  it('refuses an inline secret, naming the field, and never repeats its value', () => {
    const path = file(['clients:', '  - client_id: ci-agent', '    name: CI', '    confidential: true', '    secret: s3cr3t-inline-value-0123456789abcdef'].join('\n'));
    const p = problems(path);
    expect(p).toEqual([`${path} line 5: clients[0].secret: a secret is never written in the file: give {env: VARIABLE} or {file: path} instead`]);
    expect(p.join('\n')).not.toContain('s3cr3t');
    const conn = file(['connections:', '  - id: okta', '    kind: okta', '    issuer: https://example.okta.com', '    client_id: x', '    client_secret: inline'].join('\n'));
    expect(problems(conn)).toEqual([`${conn} line 6: connections[0].client_secret: a secret is never written in the file: give {env: VARIABLE} or {file: path} instead`]);
  });

  it('resolves secrets from the environment or a file beside it; a missing one is named', () => {
    writeFileSync(join(dir, 'okta.secret'), 'okta-secret-from-a-file\n');
    const path = file(
      [
        'clients:',
        '  - client_id: ci-agent',
        '    name: CI',
        '    confidential: true',
        '    secret: {env: CI_SECRET}',
        'connections:',
        '  - id: okta',
        '    kind: okta',
        '    issuer: https://example.okta.com',
        '    client_id: x',
        '    client_secret: {file: okta.secret}',
      ].join('\n'),
    );
    const loaded = loadConfigFile(path, { env: { CI_SECRET: 'c'.repeat(40) } });
    expect(loaded.clients[0]!.secret).toBe('c'.repeat(40));
    expect(loaded.connections[0]!.spec.clientSecret).toBe('okta-secret-from-a-file');
    expect(problems(path)).toEqual([`${path} line 5: clients[0].secret: the environment variable CI_SECRET is not set`]);
    expect(problems(path, { env: { CI_SECRET: 'short' } })).toEqual([`${path} line 5: clients[0].secret: the secret must be at least 32 characters`]);
  });

  it('checks connections with the rules of their kind, and policy values as the environment would', () => {
    const path = file(
      ['connections:', '  - id: google', '    kind: google', '    client_id: x', '    orgs: [acme]', 'policy:', '  REGISTRATION: sometimes', '  CIMD_ALLOWED_DOMAINS: ["not a domain"]'].join('\n'),
    );
    const p = problems(path);
    expect(p).toContain(`${path} line 5: connections[0].orgs: not used by a google connection`);
    expect(p.some((l) => l.startsWith(`${path} line 7: policy.REGISTRATION: `))).toBe(true);
    expect(p.some((l) => l.startsWith(`${path} line 8: policy.CIMD_ALLOWED_DOMAINS: `) && l.includes('not a domain'))).toBe(true);
  });

  it('refuses what RESOURCES or UPSTREAM_* already define, and duplicates', () => {
    const path = file(['mcp_servers:', '  - uri: https://MCP.example.com/', '  - uri: https://mcp.example.com', 'connections:', '  - id: local', '    kind: local'].join('\n'));
    expect(problems(path, { resources: [{ uri: 'https://mcp.example.com' }], envConnectionId: 'local' })).toEqual([
      `${path} line 2: mcp_servers[0].uri: https://mcp.example.com is also in RESOURCES: define it in one place`,
      `${path} line 3: mcp_servers[1].uri: https://mcp.example.com is listed twice`,
      `${path} line 3: mcp_servers[1].uri: https://mcp.example.com is also in RESOURCES: define it in one place`,
      `${path} line 5: connections[0].id: local is the connection UPSTREAM_PROVIDER defines: define it in one place`,
    ]);
  });

  it('reads JSON by its extension, with lines; refuses JSON that only YAML would accept', () => {
    const path = file('{\n  "mcp_servers": [\n    {"uri": "https://a.example", "nme": "A"}\n  ]\n}', 'json');
    expect(problems(path)).toEqual([`${path} line 3: mcp_servers[0].nme: unknown field`]);
    const trailing = file('{"mcp_servers": [],}', 'json');
    expect(problems(trailing)[0]).toMatch(new RegExp(`^${trailing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( line 1)?: is not valid JSON`));
    const yamlSyntax = file('mcp_servers: [\nfoo: 1\n');
    expect(problems(yamlSyntax)[0]).toMatch(/ line \d+: is not valid YAML/);
  });

  it('a bad file is a configuration error of GATEHOUSE_CONFIG, like any variable', () => {
    const path = file('clients:\n  - client_id: x\n');
    let err: unknown;
    try {
      loadConfiguration({ GATEHOUSE_CONFIG: path });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toContain(`GATEHOUSE_CONFIG: ${path} line 2: clients[0].client_id: must be 3 to 100 letters, digits or . _ ~ - (a stable id of your choosing)`);
    expect(problems(join(dir, 'missing.yaml'))).toEqual([`${join(dir, 'missing.yaml')}: cannot be read (ENOENT)`]);
  });

  it('the example in examples/gatehouse.yaml loads (docs/CONFIG-FILE.md shows it)', () => {
    const config = loadConfiguration({ GATEHOUSE_CONFIG: 'examples/gatehouse.yaml', GATEHOUSE_CI_AGENT_SECRET: 'x'.repeat(40), GATEHOUSE_OKTA_CLIENT_SECRET: 'okta' });
    const loaded = config.configFile as ConfigFile;
    expect(loaded).toBeInstanceOf(ConfigFile);
    expect(loaded.name).toBe('gatehouse.yaml');
    expect(loaded.servers.map((s) => s.uri)).toEqual(['https://mcp.example.com/mcp', 'https://tickets.example.com/mcp']);
    expect(loaded.clients.map((c) => c.clientId)).toEqual(['desk-app', 'ci-agent']);
    expect(loaded.connections.map((c) => c.spec.id)).toEqual(['okta']);
    expect(loaded.policy.map((p) => p.name)).toEqual(['REGISTRATION', 'CIMD_ALLOWED_DOMAINS', 'ALLOWED_EMAIL_DOMAINS']);
  });

  it('every gatehouse.yaml example in the README and docs/CONFIG-FILE.md loads', () => {
    const blocks = ['README.md', 'docs/CONFIG-FILE.md'].flatMap((doc) =>
      [...readFileSync(doc, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => /^(mcp_servers|clients|connections|policy):/m.test(b)).map((b) => ({ doc, b })),
    );
    expect(blocks.some((x) => x.doc === 'docs/CONFIG-FILE.md')).toBe(true);
    expect(blocks.some((x) => x.doc === 'README.md')).toBe(true); // the Automation section's example
    for (const { doc, b } of blocks) {
      const folder = mkdtempSync(join(dir, 'doc-'));
      const env: Record<string, string> = {};
      for (const m of b.matchAll(/\{env: ([A-Za-z_][A-Za-z0-9_]*)\}/g)) env[m[1]!] = 'x'.repeat(40);
      for (const m of b.matchAll(/\{file: ([^}]+)\}/g)) {
        mkdirSync(dirname(join(folder, m[1]!)), { recursive: true });
        writeFileSync(join(folder, m[1]!), 'y'.repeat(40));
      }
      writeFileSync(join(folder, 'gatehouse.yaml'), b);
      expect({ doc, problems: problems(join(folder, 'gatehouse.yaml'), { env }) }).toEqual({ doc, problems: [] });
    }
  });

  it('export placeholders are variable names', () => {
    expect(placeholder('CLIENT', 'ci-agent.v2')).toBe('CHANGE_ME_CLIENT_CI_AGENT_V2_SECRET');
  });
});
