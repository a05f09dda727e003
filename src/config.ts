// The environment, parsed once with zod. Every problem is reported as one line naming the variable, and unsafe
// production settings are refused before anything listens.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { parseDomainPattern } from './net/domain-pattern.js';

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(v), 'must be true or false')
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const onOff = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['on', 'off', 'true', 'false'].includes(v), 'must be on or off')
  .transform((v) => v === 'on' || v === 'true');

const list = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));

// CIMD_ALLOWED_DOMAINS / CIMD_BLOCKED_DOMAINS: exact hosts or *.example.com (strict subdomains), canonical form.
const domainList = list.transform((entries, ctx) =>
  entries.map((entry) => {
    const pattern = parseDomainPattern(entry);
    if (!pattern) ctx.addIssue({ code: 'custom', message: `${entry} is not a host name or a *.domain pattern` });
    return pattern?.text ?? entry;
  }),
);

// TRUST_PROXY (docs/SECURITY.md, "Issue 16"): how many proxies in front of Gatehouse append to X-Forwarded-For. The
// client address is the entry that many hops from the right (the socket's peer being the last hop), so entries a
// client wrote itself, to the left, are never believed. It used to be a switch: `true` trusted the left-most entry,
// which any client sets. A boolean spelling is still accepted: false (no, off) is 0 and true (yes, on) is 1 hop,
// the one reverse proxy the README describes, with a warning at start (booleanProxySpelling).
const MAX_PROXY_HOPS = 10;
const proxyHops = z
  .string()
  .trim()
  .toLowerCase()
  .transform((v, ctx) => {
    if (/^\d{1,2}$/.test(v) && Number(v) <= MAX_PROXY_HOPS) return Number(v);
    if (['true', 'yes', 'on'].includes(v)) return 1;
    if (['false', 'no', 'off'].includes(v)) return 0;
    ctx.addIssue({ code: 'custom', message: `must be the number of trusted proxy hops, 0 to ${MAX_PROXY_HOPS} (0: none, 1: one reverse proxy, 2: a CDN and a proxy)` });
    return z.NEVER;
  });

/** A warning for a TRUST_PROXY written as a boolean: `true` is read as 1 hop, which is wrong behind a CDN. */
function booleanProxySpelling(raw: string | undefined): string | undefined {
  if (!raw || !['true', 'yes', 'on'].includes(raw.trim().toLowerCase())) return undefined;
  return `TRUST_PROXY: "${raw.trim()}" is read as 1 trusted proxy hop (one reverse proxy in front of Gatehouse); set the number of proxies that append to X-Forwarded-For instead (2 behind a CDN and a proxy)`;
}

const seconds = (min: number, max: number) =>
  z.coerce.number().int(`must be a whole number of seconds`).min(min).max(max);

const rateLimit = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a whole number (0 turns the limit off)' })
    .int('must be a whole number (0 turns the limit off)')
    .min(0, 'must be 0 (off) or more')
    .max(1_000_000, 'must be at most 1000000')
    .default(fallback);

/** ISSUER's path as written must be the path URL parsing gives, in plain segments (see the ISSUER rules below). */
function issuerPathAllowed(issuer: string, url: URL): boolean {
  const afterScheme = issuer.indexOf('//') + 2;
  const slash = issuer.indexOf('/', afterScheme);
  const written = slash < 0 ? '' : issuer.slice(slash);
  const segments = written.split('/').slice(1);
  return (
    written === url.pathname &&
    /^(\/[A-Za-z0-9._~-]+)+$/.test(written) &&
    !segments.some((s) => s === '.' || s === '..') &&
    segments[0] !== '.well-known'
  );
}

export const scopeName = /^[\x21\x23-\x5B\x5D-\x7E]+$/; // RFC 6749 §3.3 scope-token

// Names that would be an object's own machinery rather than a key of it when stored as one.
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const notReserved = (name: string) => !RESERVED_KEYS.has(name);
const toolName = z.string().regex(/^[A-Za-z0-9_.\/-]{1,128}$/, 'is not a valid MCP tool name').refine(notReserved, 'is a reserved name');
const accessRuleSeed = z
  .object({
    email_domains: z.array(z.string().min(1).max(253).transform((d) => d.toLowerCase())).default([]),
    groups: z.array(z.string().min(1).max(256)).default([]),
  })
  .strict();
/** How often a person approves a tool's calls (docs/TOOL-APPROVALS.md). */
export const APPROVAL_MODES = ['each-call', 'once-per-grant'] as const;
const approvalMode = z.enum(APPROVAL_MODES, { error: 'must be "each-call" or "once-per-grant"' });
const scopeSeed = z.union([
  z.string().max(500),
  z
    .object({
      description: z.string().max(500).optional(),
      tools: z.array(toolName).max(500).default([]),
      access: accessRuleSeed.optional(),
      approval: approvalMode.optional(),
    })
    .strict(),
]);

// Who an MCP server may obtain tokens for on the person's behalf (docs/DELEGATION.md): connection id → the upstream
// scopes it may ask for; another MCP server's URI → the scopes it may ask for there.
const connectionIdKey = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'is not a connection id (1-40 lower-case letters, digits or dashes)').refine(notReserved, 'is a reserved name');
const upstreamScope = z.string().min(1).max(500).regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'is not a valid scope');
export const delegationSeed = z
  .object({
    connections: z.record(connectionIdKey, z.array(upstreamScope).max(100)).default({}),
    resources: z.record(z.string().url('must be an absolute URL').refine(notReserved, 'is a reserved name'), z.array(z.string().regex(scopeName, 'is not a valid scope name')).max(200)).default({}),
  })
  .strict();
export type DelegationInput = z.input<typeof delegationSeed>;

export const resourceSeed = z
  .object({
    uri: z.string().url('must be an absolute URL'),
    name: z.string().min(1).max(200).optional(),
    description: z.string().max(1000).optional(),
    // scope → description, or {description, tools it unlocks, access rule}
    scopes: z.record(z.string().regex(scopeName, 'is not a valid scope name').refine(notReserved, 'is a reserved name'), scopeSeed).default({}),
    access: accessRuleSeed.optional(),
    // per tool, and for every tool the server reports as possibly destructive (docs/TOOL-APPROVALS.md)
    tool_approval: z.record(toolName, approvalMode).optional(),
    destructive_tools_approval: approvalMode.optional(),
    delegation: delegationSeed.optional(),
    default: z.boolean().default(false),
  })
  .strict();
export type ResourceSeed = z.infer<typeof resourceSeed>;
/** What callers may pass to ResourceRegistry.upsert: the seed with its defaults optional. */
export type ResourceInput = z.input<typeof resourceSeed>;

const resourcesJson = z.string().transform((raw, ctx) => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON array of {uri, name, description, scopes, access, default}' });
    return z.NEVER;
  }
  const result = z.array(resourceSeed).safeParse(parsed);
  if (!result.success) {
    for (const issue of result.error.issues) {
      ctx.addIssue({ code: 'custom', message: `[${issue.path.join('.')}] ${issue.message}` });
    }
    return z.NEVER;
  }
  if (result.data.filter((r) => r.default).length > 1) {
    ctx.addIssue({ code: 'custom', message: 'at most one resource may be the default' });
  }
  return result.data;
});

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce
    .number({ error: 'must be a port number (0 to 65535)' })
    .int('must be a port number (0 to 65535)')
    .min(0, 'must be a port number (0 to 65535)')
    .max(65535, 'must be a port number (0 to 65535)')
    .default(8080),
  // Unset: 127.0.0.1 outside production, 0.0.0.0 in production (see loadConfig; docs/SECURITY.md, "Issue 16").
  HOST: z.string().min(1).optional(),
  ISSUER: z.string().optional(),
  DATABASE_URL: z
    .string()
    .optional()
    .refine((v) => v === undefined || /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// URL'),
  // How long the server waits at start for DATABASE_URL to accept connections (db/connect-retry.ts), so the order
  // in which compose or Kubernetes starts it and PostgreSQL does not matter; 0: one attempt.
  DB_CONNECT_RETRY_SECONDS: z.coerce
    .number({ error: 'must be a whole number of seconds (0: do not retry)' })
    .int('must be a whole number of seconds (0: do not retry)')
    .min(0, 'must be a whole number of seconds (0: do not retry)')
    .max(3600, 'must be at most 3600 seconds')
    .default(30),
  DATA_DIR: z.string().min(1).default('./data'),
  SECRET_KEY: z
    .string()
    .optional()
    .refine((v) => v === undefined || v.length >= 32, 'must be at least 32 characters (e.g. openssl rand -base64 32)'),
  UPSTREAM_PROVIDER: z.enum(['local', 'oidc', 'okta', 'entra', 'google', 'github']).default('local'),
  UPSTREAM_NAME: z.string().max(60, 'must be at most 60 characters').optional(),
  UPSTREAM_ISSUER: z.string().url('must be a URL').optional(),
  UPSTREAM_CLIENT_ID: z.string().optional(),
  UPSTREAM_CLIENT_SECRET: z.string().optional(),
  UPSTREAM_SCOPES: z.string().transform((v) => v.split(/[\s,]+/).filter(Boolean)).default([]),
  UPSTREAM_TENANT: z.string().optional(),
  UPSTREAM_ALLOWED_TENANTS: list.default([]),
  UPSTREAM_HOSTED_DOMAINS: list.default([]),
  UPSTREAM_GROUPS_CLAIM: z.string().optional(),
  UPSTREAM_ORGS: list.default([]),
  UPSTREAM_STORE_TOKENS: bool.default(false),
  // The seeded connection's opt-in for an IdP on a private network (docs/SECURITY.md, "Issue 16"); allowed in
  // production.
  UPSTREAM_ALLOW_PRIVATE_NETWORK: bool.default(false),
  ALLOWED_EMAIL_DOMAINS: list.transform((l) => l.map((d) => d.toLowerCase())).default([]),
  ALLOWED_GROUPS: list.default([]),
  ADMIN_EMAILS: list.default([]),
  ADMIN_GROUPS: list.default([]),
  RESOURCES: resourcesJson.default([]),
  REGISTRATION: z.enum(['open', 'approval', 'closed']).default('open'),
  // Rate limits (http/rate-limits.ts): requests per fixed window; 0 turns a limit off.
  REGISTRATION_RATE_LIMIT: rateLimit(20),
  REGISTRATION_RATE_WINDOW: seconds(1, 7 * 86400).default(3600),
  TOKEN_RATE_LIMIT: rateLimit(600),
  TOKEN_RATE_LIMIT_IP: rateLimit(600),
  TOKEN_RATE_WINDOW: seconds(1, 86400).default(60),
  AUTHORIZE_RATE_LIMIT: rateLimit(300),
  AUTHORIZE_RATE_WINDOW: seconds(1, 86400).default(60),
  LOGIN_RATE_LIMIT: rateLimit(10),
  LOGIN_RATE_LIMIT_IP: rateLimit(100),
  LOGIN_RATE_WINDOW: seconds(1, 86400).default(900),
  CIMD_RATE_LIMIT: rateLimit(30),
  CIMD_RATE_WINDOW: seconds(1, 7 * 86400).default(3600),
  DCR_MAX_CLIENTS: z.coerce.number().int('must be a whole number').min(1).max(10_000_000).default(10_000),
  // Dynamic clients registered from one source (an IPv4 address or an IPv6 /64) at once (oauth/registration.ts).
  DCR_MAX_CLIENTS_PER_SOURCE: z.coerce.number().int('must be a whole number').min(1).max(10_000_000).default(50),
  DCR_CLIENT_TTL_DAYS: z.coerce.number().int('must be a whole number of days').min(1).max(3650).default(90),
  DCR_ALLOWED_RESOURCES: list.default([]),
  // The audit log (audit/writer.ts): days an event is kept before the periodic cleanup deletes it, and how many
  // refusals of one type from one source are written in full per minute before the rest are only counted.
  AUDIT_RETENTION_DAYS: z.coerce.number({ error: 'must be a whole number of days' }).int('must be a whole number of days').min(1, 'must be at least 1 day').max(36_500, 'must be at most 36500 days').default(400),
  AUDIT_REPEAT_LIMIT: z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').max(1_000_000, 'must be at most 1000000').default(10),
  DCR_ALLOWED_SCOPES: list.default([]),
  REDIRECT_URI_SCHEMES: list
    .transform((l) => l.map((s) => s.toLowerCase().replace(/:$/, '')))
    .refine((l) => l.every((s) => /^[a-z][a-z0-9+.-]*$/.test(s) && !['http', 'https', 'javascript', 'data', 'file', 'vbscript', 'blob', 'about'].includes(s)), 'must be private-use URI schemes such as cursor,vscode')
    .default([]),
  CIMD: onOff.default(true),
  CIMD_ALLOWED_DOMAINS: domainList.default([]),
  CIMD_BLOCKED_DOMAINS: domainList.default([]),
  CIMD_ALLOW_PRIVATE_ADDRESSES: bool.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Bearer token a Prometheus scraper presents at /metrics; unset, /metrics does not exist (metrics/endpoint.ts).
  METRICS_TOKEN: z
    .string()
    .optional()
    .refine((v) => v === undefined || /^[\x21-\x7E]{16,}$/.test(v), 'must be at least 16 visible ASCII characters, no spaces (e.g. openssl rand -hex 32)'),
  ACCESS_TOKEN_TTL: seconds(60, 86400).default(900),
  REFRESH_TOKEN_TTL: seconds(300, 365 * 86400).default(30 * 86400),
  // From the sign-in that started a refresh token's chain: rotations renew REFRESH_TOKEN_TTL, never this.
  REFRESH_TOKEN_ABSOLUTE_TTL: seconds(300, 365 * 86400).default(90 * 86400),
  // Re-validation at refresh (docs/IDENTITY-LIFECYCLE.md): how long one counts (0: every refresh asks the IdP), how
  // long after the IdP last vouched an outage may be ridden out, and whether it is (off: an outage refuses the
  // refresh with temporarily_unavailable at once; never a revocation either way).
  UPSTREAM_REVALIDATE_INTERVAL: seconds(0, 86400).default(300),
  UPSTREAM_REVALIDATE_GRACE: seconds(0, 30 * 86400).default(3600),
  UPSTREAM_REVALIDATE_FAIL_OPEN: bool.default(false),
  // RFC 7592 registration access tokens: each use replaces the token with a new one of this lifetime.
  REGISTRATION_ACCESS_TOKEN_TTL: seconds(300, 365 * 86400).default(30 * 86400),
  TRUST_PROXY: proxyHops.default(0),
  KEY_RELOAD_INTERVAL: seconds(1, 3600).default(5),
  // Server processes on this host (cluster/supervisor.ts): a number, or `auto` for one per core. Each is an instance in
  // the sense of docs/ARCHITECTURE.md, so more than one needs PostgreSQL.
  WORKERS: z
    .union([z.literal('auto'), z.coerce.number().int('must be an integer or auto').min(1, 'must be at least 1').max(64, 'must be at most 64')], {
      error: 'must be a number from 1 to 64, or auto',
    })
    .default(1)
    .transform((v) => (v === 'auto' ? availableParallelism() : v)),
  // The console signs an admin out after this long without a request (and after 12 hours in any case).
  CONSOLE_IDLE_TIMEOUT: seconds(60, 86400).default(1800),
  // How long a person has to decide on a tool call, and to use an approval (docs/TOOL-APPROVALS.md).
  APPROVAL_TTL: seconds(30, 3600).default(300),
  APPROVAL_WEBHOOK_URL: z.string().url('must be an absolute http(s) URL').refine((v) => /^https?:\/\//.test(v), 'must be an absolute http(s) URL').optional(),
  APPROVAL_WEBHOOK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  // The declarative configuration file (docs/CONFIG-FILE.md): YAML, or JSON by its .json name. configuration.ts
  // loads and checks it with the other settings; the server applies it at start.
  GATEHOUSE_CONFIG: z.string().min(1).optional(),
  // Unattended installs (upstream/local/bootstrap-admin.ts): the first local administrator, created at start while no
  // administrator exists. The password comes from a file (or `-`, standard input), never from the environment.
  BOOTSTRAP_ADMIN_EMAIL: z.string().trim().min(1).optional(),
  BOOTSTRAP_ADMIN_PASSWORD_FILE: z.string().min(1).optional(),
});

/**
 * Variables Gatehouse reads outside the schema: the CLI's admin API client (cli.ts) and a cluster worker's slot
 * (cluster/supervisor.ts). With the schema's names they are the known names the spelling check compares against.
 */
const OTHER_VARIABLES = ['GATEHOUSE_URL', 'GATEHOUSE_CLIENT_ID', 'GATEHOUSE_CLIENT_SECRET', 'GATEHOUSE_CLIENT_SECRET_FILE', 'GATEHOUSE_WORKER'];
const KNOWN_VARIABLES = new Set([...Object.keys(schema.shape), ...OTHER_VARIABLES]);

/** Damerau-Levenshtein distance (adjacent swaps count as one edit), for "did you mean". */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

// Kubernetes gives every container `<SERVICE>_SERVICE_HOST`, `<SERVICE>_PORT_8080_TCP_ADDR`, … for each Service in
// its namespace; a Service named gatehouse must not read as a dozen misspelt settings.
const SERVICE_LINK = /_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$/;

/**
 * A warning for each variable that looks like a misspelt Gatehouse setting, which would otherwise be ignored in
 * silence: one in a family of Gatehouse's variables (a first word two or more of them share: UPSTREAM_, CIMD_,
 * GATEHOUSE_, …) that is not one of them, or one a typo or two away from a known name (REGISTRATON). Both families and
 * names come from the schema, so a new variable is known here without another list.
 */
export function misspeltVariables(env: Record<string, unknown>, known: ReadonlySet<string> = KNOWN_VARIABLES): string[] {
  const firstWords = new Map<string, number>();
  for (const name of known) {
    const word = name.split('_')[0]!;
    if (word !== name) firstWords.set(word, (firstWords.get(word) ?? 0) + 1);
  }
  const families = [...firstWords].filter(([, n]) => n >= 2).map(([word]) => `${word}_`);
  const warnings: string[] = [];
  for (const name of Object.keys(env)) {
    if (known.has(name) || SERVICE_LINK.test(name)) continue;
    const nearest = [...known]
      .map((k) => ({ k, d: editDistance(name, k) }))
      .filter(({ k, d }) => d <= (Math.min(name.length, k.length) >= 8 ? 2 : 1) && Math.min(name.length, k.length) >= 4)
      .sort((a, b) => a.d - b.d)[0];
    if (!nearest && !families.some((f) => name.startsWith(f))) continue;
    warnings.push(`${name}: not a Gatehouse setting, ignored${nearest ? `; did you mean ${nearest.k}?` : ''}`);
  }
  return warnings;
}

/** Settings an admin may override from the console (policy/settings.ts), parsed exactly as the environment is. */
export const POLICY_SETTINGS = ['REGISTRATION', 'CIMD_ALLOWED_DOMAINS', 'CIMD_BLOCKED_DOMAINS', 'ALLOWED_EMAIL_DOMAINS', 'ALLOWED_GROUPS'] as const;
export type PolicySettingName = (typeof POLICY_SETTINGS)[number];

/** Parses a setting as the environment would; an empty string means an empty list. Returns the problem otherwise. */
export function parsePolicySetting<N extends PolicySettingName>(name: N, raw: string): { value: Config[N] } | { problem: string } {
  const parsed = schema.shape[name].safeParse(raw);
  if (parsed.success) return { value: parsed.data as Config[N] };
  return { problem: `${name}: ${parsed.error.issues.map((i) => i.message).join('; ')}` };
}

export type Config = Omit<z.infer<typeof schema>, 'ISSUER' | 'HOST'> & {
  ISSUER: string;
  HOST: string;
  /** Settings that are accepted but may not mean what the operator thinks; logged at start (gatehouse.ts). */
  warnings: string[];
  /** true when DATABASE_URL is unset: the embedded PGlite database in DATA_DIR is used. */
  embedded: boolean;
  dataDir: string;
  /**
   * GATEHOUSE_CONFIG as configuration.ts loaded and checked it (admin/config-file/load.ts's ConfigFile, its
   * secrets resolved); typed by shape here, below the layer that defines it.
   */
  configFile?: { readonly path: string; readonly name: string } | undefined;
};

/** Reads `.env` from the working directory (if any) beneath the real environment, which always wins. */
export function environment(cwd = process.cwd()): Record<string, string | undefined> {
  const file = resolve(cwd, '.env');
  const fromFile = existsSync(file) ? parseDotenv(readFileSync(file)) : {};
  return { ...fromFile, ...process.env };
}

/**
 * The configuration, or a ConfigError with one line per problem. `moreProblems` lets the top layer add the checks
 * of modules above this one (configuration.ts: the UPSTREAM_* connection), so they are reported in the same list.
 */
export function loadConfig(env: Record<string, string | undefined> = environment(), moreProblems?: (c: Config) => string[]): Config {
  // Empty strings mean "unset": `FOO=` in a .env file should not fail a URL check.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${String(i.path[0] ?? 'environment')}: ${i.message}`),
    );
  }
  const c = parsed.data;
  const problems: string[] = [];
  const issuer = (c.ISSUER ?? `http://localhost:${c.PORT}`);
  let issuerUrl: URL | undefined;
  try {
    issuerUrl = new URL(issuer);
  } catch {
    // nothing more to check
  }
  // `localhost:8080` parses as a URL of scheme "localhost:": one problem, not a scheme problem and a path problem.
  if (!issuerUrl || !['http:', 'https:'].includes(issuerUrl.protocol)) {
    issuerUrl = undefined;
    problems.push(`ISSUER: must be an absolute http(s) URL such as https://auth.example.com or http://localhost:${c.PORT}`);
  }
  if (issuerUrl) {
    if (issuer.endsWith('/')) problems.push('ISSUER: must not end with a slash');
    if (issuerUrl.search || issuerUrl.hash) problems.push('ISSUER: must not have a query or fragment');
    // A path mounts Gatehouse under it (http/issuer-path.ts). Plain segments only, so the issuer string, the path
    // the browser sends and the path oidc-provider builds are byte-identical (no percent-encoding, no dot segments).
    if (issuerUrl.pathname !== '/' && !issuer.endsWith('/') && !issuerPathAllowed(issuer, issuerUrl)) {
      problems.push('ISSUER: its path must be one or more segments of letters, digits, "-", "_", "~" or "." (such as /tenant1), none of them "." or ".." and not /.well-known');
    }
  }
  // docs/SECURITY.md ("The first administrator"): the password is read from a file or standard input only.
  if (cleaned.BOOTSTRAP_ADMIN_PASSWORD !== undefined) problems.push('BOOTSTRAP_ADMIN_PASSWORD: not accepted (a password in the environment is readable by anything that can read the process environment); put it in a file and set BOOTSTRAP_ADMIN_PASSWORD_FILE to its path, or to - for standard input');
  if (c.BOOTSTRAP_ADMIN_EMAIL && !c.BOOTSTRAP_ADMIN_PASSWORD_FILE && cleaned.BOOTSTRAP_ADMIN_PASSWORD === undefined) problems.push('BOOTSTRAP_ADMIN_PASSWORD_FILE: required with BOOTSTRAP_ADMIN_EMAIL (the path of a file holding the password, or - for standard input)');
  if (c.BOOTSTRAP_ADMIN_PASSWORD_FILE && !c.BOOTSTRAP_ADMIN_EMAIL) problems.push('BOOTSTRAP_ADMIN_EMAIL: required with BOOTSTRAP_ADMIN_PASSWORD_FILE (the first administrator\'s email)');
  if (c.APPROVAL_WEBHOOK_URL && !c.APPROVAL_WEBHOOK_SECRET) problems.push('APPROVAL_WEBHOOK_SECRET: required with APPROVAL_WEBHOOK_URL (at least 32 characters; the requests are signed with it)');
  if (moreProblems) problems.push(...moreProblems(c as Config));
  if (c.WORKERS > 1 && !c.DATABASE_URL) {
    problems.push(`WORKERS: ${c.WORKERS} workers need DATABASE_URL (the embedded database belongs to one process)`);
  }
  if (c.NODE_ENV === 'production') {
    if (issuerUrl && issuerUrl.protocol !== 'https:') problems.push('ISSUER: must be https in production');
    if (!c.SECRET_KEY) problems.push('SECRET_KEY: required in production (at least 32 random characters)');
    if (!c.DATABASE_URL) problems.push('DATABASE_URL: required in production (the embedded database is for one development process)');
    if (c.CIMD_ALLOW_PRIVATE_ADDRESSES) problems.push('CIMD_ALLOW_PRIVATE_ADDRESSES: must not be true in production');
  }
  if (problems.length) throw new ConfigError(problems);
  const warnings = [booleanProxySpelling(cleaned.TRUST_PROXY), ...misspeltVariables(cleaned)].filter((w): w is string => !!w);
  // A development server listens on loopback only, as its ISSUER (localhost) says; a container or a production
  // host sets HOST (the Dockerfile sets 0.0.0.0). Production keeps its old default, 0.0.0.0, so an upgrade does
  // not move a deployed server off the interface its proxy reaches.
  const host = c.HOST ?? (c.NODE_ENV === 'production' ? '0.0.0.0' : '127.0.0.1');
  return { ...c, HOST: host, ISSUER: issuer, warnings, embedded: !c.DATABASE_URL, dataDir: resolve(c.DATA_DIR) };
}
