// Reads the declarative configuration file (docs/CONFIG-FILE.md): YAML, or JSON when the name ends in .json. Every
// problem is one line naming the file, the line and the field path (`gatehouse.yaml line 12: mcp_servers[0].scopes:
// …`), so an operator finds it without counting; secrets are resolved here from their references and never kept in
// anything that is printed.
import { ownKeyPath } from '../../http/input-sanity.js';
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { parsePolicySetting, POLICY_SETTINGS, type PolicySettingName, type ResourceInput, type ResourceSeed } from '../../config.js';
import { canonicalResource, canonicalOrSame } from '../../oauth/resources.js';
import type { ConnectionSpec, SpecField } from '../../upstream/connection.js';
import { connectionSpec, validateConnection } from '../../upstream/connections.js';
import { configFileSchema, type SecretRef } from './schema.js';

export class ConfigFileError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigFileError';
  }
}

export interface DeclaredServer {
  uri: string; // canonical
  seed: ResourceSeed;
  line: number;
}

export interface DeclaredClient {
  clientId: string;
  name: string;
  redirectUris: string[];
  confidential: boolean;
  scope?: string | undefined;
  resource?: string | undefined; // canonical
  /** The admin API scopes of an admin API client (docs/ADMIN-API.md). */
  adminApi?: string | undefined;
  /** Resolved from its reference; compared, never printed. */
  secret?: string | undefined;
  line: number;
}

export interface DeclaredConnection {
  spec: ConnectionSpec; // clientSecret resolved from its reference
  line: number;
}

export interface DeclaredPolicy {
  name: PolicySettingName;
  /** As the environment variable would be written: what PolicySettings.set takes. */
  raw: string;
  /** The parsed value, compared with the stored override. */
  value: unknown;
  line: number;
}

/** A loaded, checked file. `name` (the file's base name) is what managed objects carry in `managed_by`. */
export class ConfigFile {
  constructor(
    readonly path: string,
    readonly name: string,
    readonly servers: DeclaredServer[],
    readonly clients: DeclaredClient[],
    readonly connections: DeclaredConnection[],
    readonly policy: DeclaredPolicy[],
  ) {}

  /** "gatehouse.yaml line 12", for messages about one entry. */
  at(line: number): string {
    return `${this.path} line ${line}`;
  }
}

export interface LoadOptions {
  /** Where {env: NAME} references are read from (the server's environment, .env included). */
  env: Record<string, string | undefined>;
  production?: boolean | undefined;
  /** RESOURCES: an MCP server defined both there and in the file is refused (docs/CONFIG-FILE.md, "Precedence"). */
  resources?: readonly ResourceInput[] | undefined;
  /** The id of the UPSTREAM_* connection (its kind): the file may not define a connection with that id. */
  envConnectionId?: string | undefined;
}

type Path = ReadonlyArray<PropertyKey>;
const PROTO = new Set(['__proto__']);

/** `mcp_servers[0].scopes.tools:read`: the field path as an operator reads it. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out || '(top level)';
}

/** The line of the deepest node of `path` the document has (a missing field: its parent's line). */
function lineOf(doc: Document, counter: LineCounter, path: Path): number {
  const lineAt = (offset: number | undefined) => (offset === undefined ? 1 : counter.linePos(offset).line);
  let node: unknown = doc.contents;
  let line = lineAt((doc.contents as { range?: [number] } | null)?.range?.[0]);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) break;
      line = lineAt((pair.key as { range?: [number] } | null)?.range?.[0]);
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as { range?: [number] } | undefined;
      if (!item) break;
      line = lineAt(item.range?.[0]);
      node = item;
    } else {
      break;
    }
  }
  return line;
}

const SPEC_KEY: Record<SpecField, string> = {
  id: 'id', kind: 'kind', name: 'name', issuer: 'issuer', clientId: 'client_id', clientSecret: 'client_secret', scopes: 'scopes',
  tenant: 'tenant', allowedTenants: 'allowed_tenants', hostedDomains: 'hosted_domains', groupsClaim: 'groups_claim', orgs: 'orgs',
  storeTokens: 'store_tokens', allowPrivateNetwork: 'allow_private_network', idJag: 'id_jag', idJagResource: 'id_jag_resource',
};

/** Reads, parses and checks the file; throws ConfigFileError with one line per problem. */
export function loadConfigFile(path: string, options: LoadOptions): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigFileError([`${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  return loadConfigText(text, path, options);
}

/** Parses and checks a file's text read elsewhere (the CLI beside a running server sends it: docs/ADMIN-API.md). */
export function loadConfigText(text: string, path: string, options: LoadOptions): ConfigFile {
  const problems: string[] = [];
  const fail = (line: number | undefined, message: string): never => {
    throw new ConfigFileError([`${path}${line ? ` line ${line}` : ''}: ${message}`]);
  };
  const counter = new LineCounter();
  if (extname(path).toLowerCase() === '.json') {
    // The YAML parser reads JSON too (and gives the lines), but accepts what JSON does not (a trailing comma).
    try {
      JSON.parse(text);
    } catch (err) {
      const message = (err as Error).message;
      const at = /position (\d+)/.exec(message);
      const line = at ? text.slice(0, Number(at[1])).split('\n').length : undefined;
      fail(line, `is not valid JSON: ${message.replace(/\s+/g, ' ').replace(/ in JSON at position.*$/, '')}`);
    }
  }
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    fail(e.linePos?.[0]?.line, `is not valid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const at = (p: Path) => `${path} line ${lineOf(doc, counter, p)}`;
  const raw = doc.toJS() ?? {};
  // A `__proto__` key would be dropped by the schema without a word (docs/DELEGATION.md): refused by name.
  const reserved = ownKeyPath(raw, PROTO);
  if (reserved) fail(lineOf(doc, counter, reserved), `${formatPath(reserved)}: "__proto__" is a reserved name`);
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of (issue as z.core.$ZodIssueUnrecognizedKeys).keys) problems.push(`${at([...issue.path, key])}: ${formatPath([...issue.path, key])}: unknown field`);
      } else {
        problems.push(`${at(issue.path)}: ${formatPath(issue.path)}: ${issue.message}`);
      }
    }
    throw new ConfigFileError(problems);
  }
  const content = parsed.data;
  const refDir = dirname(resolve(path));
  const secret = (ref: SecretRef, p: Path): string | undefined => {
    let value: string | undefined;
    if ('env' in ref) {
      value = options.env[ref.env];
      if (value === undefined || value === '') {
        problems.push(`${at(p)}: ${formatPath(p)}: the environment variable ${ref.env} is not set`);
        return undefined;
      }
    } else {
      try {
        value = readFileSync(resolve(refDir, ref.file), 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        problems.push(`${at(p)}: ${formatPath(p)}: the file ${ref.file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
        return undefined;
      }
      if (!value) {
        problems.push(`${at(p)}: ${formatPath(p)}: the file ${ref.file} is empty`);
        return undefined;
      }
    }
    return value;
  };

  const servers: DeclaredServer[] = [];
  content.mcp_servers.forEach((seed, i) => {
    let uri: string;
    try {
      uri = canonicalResource(seed.uri);
    } catch (err) {
      problems.push(`${at(['mcp_servers', i, 'uri'])}: mcp_servers[${i}].uri: ${(err as Error).message}`);
      return;
    }
    if (servers.some((s) => s.uri === uri)) problems.push(`${at(['mcp_servers', i, 'uri'])}: mcp_servers[${i}].uri: ${uri} is listed twice`);
    if (options.resources?.some((r) => canonicalOrSame(r.uri) === uri)) {
      problems.push(`${at(['mcp_servers', i, 'uri'])}: mcp_servers[${i}].uri: ${uri} is also in RESOURCES: define it in one place`);
    }
    servers.push({ uri, seed: { ...seed, uri }, line: lineOf(doc, counter, ['mcp_servers', i]) });
  });
  const defaults = servers.filter((s) => s.seed.default);
  if (defaults.length > 1) problems.push(`${at(['mcp_servers'])}: mcp_servers: at most one MCP server may be the default`);
  if (defaults.length && options.resources?.some((r) => r.default)) {
    problems.push(`${at(['mcp_servers'])}: mcp_servers: RESOURCES already names the default MCP server: name it in one place`);
  }

  const clients: DeclaredClient[] = [];
  content.clients.forEach((c, i) => {
    if (clients.some((x) => x.clientId === c.client_id)) problems.push(`${at(['clients', i, 'client_id'])}: clients[${i}].client_id: ${c.client_id} is listed twice`);
    const value = c.secret ? secret(c.secret, ['clients', i, 'secret']) : undefined;
    if (value !== undefined && value.length < 32) problems.push(`${at(['clients', i, 'secret'])}: clients[${i}].secret: the secret must be at least 32 characters`);
    clients.push({
      clientId: c.client_id,
      name: c.name,
      redirectUris: c.redirect_uris,
      confidential: c.confidential,
      scope: c.scope,
      resource: c.resource === undefined ? undefined : canonicalOrSame(c.resource),
      adminApi: c.admin_api?.split(/\s+/).join(' '),
      secret: value,
      line: lineOf(doc, counter, ['clients', i]),
    });
  });

  const connections: DeclaredConnection[] = [];
  content.connections.forEach((c, i) => {
    if (connections.some((x) => x.spec.id === c.id)) problems.push(`${at(['connections', i, 'id'])}: connections[${i}].id: ${c.id} is listed twice`);
    if (options.envConnectionId === c.id) {
      problems.push(`${at(['connections', i, 'id'])}: connections[${i}].id: ${c.id} is the connection UPSTREAM_PROVIDER defines: define it in one place`);
    }
    const spec = connectionSpec({
      id: c.id,
      kind: c.kind,
      name: c.name,
      issuer: c.issuer,
      clientId: c.client_id,
      clientSecret: c.client_secret ? secret(c.client_secret, ['connections', i, 'client_secret']) : undefined,
      scopes: c.scopes,
      tenant: c.tenant,
      allowedTenants: c.allowed_tenants,
      hostedDomains: c.hosted_domains,
      groupsClaim: c.groups_claim,
      orgs: c.orgs,
      storeTokens: c.store_tokens,
      allowPrivateNetwork: c.allow_private_network,
      idJag: c.id_jag,
      idJagResource: c.id_jag_resource,
    });
    for (const [field, message] of validateConnection(spec, !!options.production)) {
      const p = ['connections', i, SPEC_KEY[field]];
      problems.push(`${at(p)}: ${formatPath(p)}: ${message}`);
    }
    connections.push({ spec, line: lineOf(doc, counter, ['connections', i]) });
  });

  const policy: DeclaredPolicy[] = [];
  for (const name of POLICY_SETTINGS) {
    const given = content.policy[name];
    if (given === undefined) continue;
    const rawValue = Array.isArray(given) ? given.join(',') : given;
    const checked = parsePolicySetting(name, rawValue.trim());
    if ('problem' in checked) {
      problems.push(`${at(['policy', name])}: policy.${name}: ${checked.problem.replace(`${name}: `, '')}`);
      continue;
    }
    policy.push({ name, raw: rawValue.trim(), value: checked.value, line: lineOf(doc, counter, ['policy', name]) });
  }

  if (problems.length) throw new ConfigFileError(problems);
  return new ConfigFile(path, basename(path), servers, clients, connections, policy);
}

