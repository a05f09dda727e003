// The `gatehouse` command. It reads the same configuration as the server (environment and .env). Commands that
// create something accept --json and then print exactly one JSON object on stdout.
import { Command, InvalidArgumentError } from 'commander';
import { loadConfiguration } from './configuration.js';
import { APPROVAL_MODES, ConfigError, POLICY_SETTINGS, type Config } from './config.js';
import { isPolicySetting, PolicyError, type PolicyEntry } from './policy/settings.js';
import { DataDirLockedError } from './db/data-dir-lock.js';
import { migrateLatest } from './db/migrations.js';
import { openServices, sweepUnusedClients, type Services } from './gatehouse.js';
import { Views } from './views/views.js';
import { createLogger } from './log.js';
import { ensureSigningKeys, loadKeySet, rotateKeysNow } from './oauth/keys.js';
import { buildProvider } from './oauth/provider.js';
import type { CimdClient } from './oauth/cimd/cimd-clients.js';
import { clientIdUrlProblem } from './oauth/cimd/client-id-url.js';
import { AccountError, generatePassword } from './upstream/local/accounts.js';
import { serve } from './main.js';
import { definedByEnvironment, type ApprovalMode, type Resource } from './oauth/resources.js';
import { CONNECTION_KINDS, type ConnectionKindName, type SpecField } from './upstream/connection.js';
import { ConnectionError, connectionSpec, type StoredConnection } from './upstream/connections.js';
import { CALLBACK_PATH } from './interaction/upstream-leg.js';
import { consoleClient } from './console/console-client.js';
import { accountClient } from './account/account-client.js';
import { CLI_ACTOR } from './admin/actor.js';
import { AdminError } from './admin/admin-error.js';
import { ClientAdmin } from './admin/clients.js';
import { FirstPartyClients } from './oauth/first-party-clients.js';

class CliError extends Error {}

function config(): Config {
  return loadConfiguration();
}

/** Opens the services for one command, runs it, and always closes the database (releasing the data-dir lock). */
async function withServices<T>(fn: (s: Services) => Promise<T>, options: { migrate?: boolean } = {}): Promise<T> {
  const cfg = config();
  const services = await openServices(cfg, { log: createLogger(cfg.LOG_LEVEL === 'info' ? 'warn' : cfg.LOG_LEVEL), migrate: options.migrate });
  try {
    return await fn(services);
  } finally {
    await services.handle.close();
  }
}

/** An oidc-provider instance on the command's database, for its models (clients, initial access tokens). */
async function providerFor(s: Services) {
  await ensureSigningKeys(s.handle.db, s.box);
  return buildProvider({
    config: s.config, db: s.handle.db, box: s.box, secretKey: s.secretKey, keys: await loadKeySet(s.handle.db, s.box),
    resources: s.resources, accounts: s.accounts, views: new Views(), policy: s.policy, audit: s.audit, registry: s.registry,
    firstParty: new FirstPartyClients([consoleClient(s.config.ISSUER), accountClient(s.config.ISSUER)]),
  });
}

/** The admin service layer for clients on the command's database (docs/ARCHITECTURE.md, "The admin service layer"). */
async function clientAdmin(s: Services): Promise<ClientAdmin> {
  const provider = await providerFor(s);
  return new ClientAdmin({ config: s.config, db: s.handle.db, box: s.box, provider: () => provider, registry: s.registry, cimdClients: s.cimdClients, resources: s.resources, audit: s.audit });
}

/** A service-layer refusal as the CLI's one-line error. */
async function adminAction<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (err) {
    if (err instanceof AdminError) throw new CliError(err.field ? `${err.message} (${err.field})` : err.message);
    throw err;
  }
}

function output(json: boolean, value: Record<string, unknown>, human: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human}\n`);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
const nonNegativeInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number of seconds');
  return n;
};

const program = new Command('gatehouse').description('OAuth 2.1 authorization server for MCP').showHelpAfterError();

program
  .command('serve')
  .description('run the server (same as npm start)')
  .action(async () => {
    await serve();
  });

program
  .command('migrate')
  .description('apply pending database migrations')
  .option('--json', 'print one JSON object')
  .action(async (opts: { json?: boolean }) => {
    await withServices(async (s) => {
      const applied = await migrateLatest(s.handle.db);
      output(!!opts.json, { applied }, applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
    }, { migrate: false });
  });

const keys = program.command('keys').description('signing keys');
keys
  .command('rotate')
  .description('add new signing keys; the current ones stay published until the tokens they signed have expired')
  .option(
    '--activate-in <seconds>',
    'publish now, start signing after this delay (default: 0 on the embedded database, 2 key-reload intervals on PostgreSQL so every instance publishes the key before any signs with it)',
    nonNegativeInt,
  )
  .option('--json', 'print one JSON object')
  .action(async (opts: { activateIn?: number; json?: boolean }) => {
    await withServices(async (s) => {
      const { kids, activatesAt } = await rotateKeysNow(s.handle.db, s.box, {
        embedded: s.handle.embedded, keyReloadInterval: s.config.KEY_RELOAD_INTERVAL, accessTokenTtl: s.config.ACCESS_TOKEN_TTL, activateInSeconds: opts.activateIn,
      });
      await s.audit.record({ type: 'keys.rotated', outcome: 'success', actor: 'cli', details: { kids } });
      output(!!opts.json, { kids, activates_at: activatesAt.toISOString() }, `new signing keys ${kids.join(', ')} sign from ${activatesAt.toISOString()}`);
    });
  });

const user = program.command('user').description('local accounts');
user
  .command('add')
  .description('add a local account (password from stdin with --password-stdin, else generated and printed once)')
  .requiredOption('--email <email>', 'email address')
  .option('--name <name>', 'display name')
  .option('--admin', 'may use the admin console')
  .option('--password-stdin', 'read the password from standard input')
  .option('--json', 'print one JSON object')
  .action(async (opts: { email: string; name?: string; admin?: boolean; passwordStdin?: boolean; json?: boolean }) => {
    const password = opts.passwordStdin ? await readStdin() : generatePassword();
    await withServices(async (s) => {
      const created = await s.users.create({ email: opts.email, password, name: opts.name, isAdmin: !!opts.admin });
      await s.audit.record({ type: 'user.created', outcome: 'success', actor: 'cli', details: { email: created.email, admin: created.isAdmin } });
      const value: Record<string, unknown> = { id: created.id, email: created.email, admin: created.isAdmin };
      if (!opts.passwordStdin) value.password = password;
      output(!!opts.json, value, `created ${created.email}${created.isAdmin ? ' (admin)' : ''}${opts.passwordStdin ? '' : `\npassword (shown once): ${password}`}`);
    });
  });

const client = program.command('client').description('OAuth clients');
client
  .command('add')
  .description('add a client: an MCP client with redirect URIs, or a confidential machine agent (client_credentials)')
  .requiredOption('--name <name>', 'client name shown on the consent page')
  .option('--redirect-uri <uri>', 'redirect URI (repeatable)', collect, [])
  .option('--confidential', 'issue a client secret (client_secret_basic/post) and allow client_credentials')
  .option('--scope <scopes>', 'space-separated scopes the client registers with')
  .option('--resource <uri>', 'the MCP server this confidential client speaks for (may introspect its tokens)')
  .option('--json', 'print one JSON object')
  .action(async (opts: { name: string; redirectUri: string[]; confidential?: boolean; scope?: string; resource?: string; json?: boolean }) => {
    await withServices(async (s) => {
      const admin = await clientAdmin(s);
      const created = await adminAction(() => admin.create(CLI_ACTOR, { name: opts.name, redirectUris: opts.redirectUri, confidential: !!opts.confidential, scope: opts.scope, resource: opts.resource }));
      output(!!opts.json, { ...created }, `client_id: ${created.client_id}${created.client_secret ? `\nclient_secret (shown once): ${created.client_secret}` : ''}`);
    });
  });

for (const [name, status, verb] of [
  ['approve', 'active', 'approved'],
  ['enable', 'active', 'enabled'],
  ['disable', 'disabled', 'disabled'],
] as const) {
  client
    .command(`${name} <client_id>`)
    .description(name === 'disable' ? 'stop a client: it can no longer authorize or use its tokens' : `let a ${name === 'approve' ? 'pending (REGISTRATION=approval)' : 'disabled'} client authorize again`)
    .option('--json', 'print one JSON object')
    .action(async (clientId: string, opts: { json?: boolean }) => {
      await withServices(async (s) => {
        const admin = await clientAdmin(s);
        const changed = await adminAction(() => (name === 'approve' ? admin.approve(CLI_ACTOR, clientId) : name === 'enable' ? admin.enable(CLI_ACTOR, clientId) : admin.disable(CLI_ACTOR, clientId)));
        output(!!opts.json, { client_id: changed.clientId, status: changed.status }, `${changed.clientId} ${verb}`);
      });
    });
}

client
  .command('list')
  .description('list clients with their origin and status')
  .option('--status <status>', 'only pending, active or disabled clients')
  .option('--json', 'print one JSON object')
  .action(async (opts: { status?: 'pending' | 'active' | 'disabled'; json?: boolean }) => {
    await withServices(async (s) => {
      const all = await s.registry.list(opts.status ? { status: opts.status } : {});
      const shaped = all.map((c) => ({
        client_id: c.clientId, client_name: c.clientName, origin: c.origin, status: c.status,
        created_at: c.createdAt.toISOString(), last_used_at: c.lastUsedAt?.toISOString() ?? null,
      }));
      output(!!opts.json, { clients: shaped }, shaped.map((c) => `${c.status.padEnd(8)} ${c.origin.padEnd(7)} ${c.client_id}  ${c.client_name ?? ''}`).join('\n') || 'no clients');
    });
  });

client
  .command('sweep')
  .description('delete dynamically registered clients unused for DCR_CLIENT_TTL_DAYS now (the server also does it every 10 minutes)')
  .option('--json', 'print one JSON object')
  .action(async (opts: { json?: boolean }) => {
    await withServices(async (s) => {
      const expired = await sweepUnusedClients(s);
      output(!!opts.json, { expired }, `${expired.length} unused dynamic client(s) deleted`);
    });
  });

program
  .command('registration-token')
  .description('initial access tokens for dynamic registration (needed when REGISTRATION=closed)')
  .command('create')
  .description('create an initial access token (printed once)')
  .option('--expires-in <seconds>', 'lifetime in seconds (default 86400)', nonNegativeInt)
  .option('--json', 'print one JSON object')
  .action(async (opts: { expiresIn?: number; json?: boolean }) => {
    await withServices(async (s) => {
      const provider = await providerFor(s);
      const expiresIn = opts.expiresIn || 86_400;
      const token = await new provider.InitialAccessToken({ expiresIn }).save();
      const expiresAt = new Date(Date.now() + expiresIn * 1000).toISOString();
      await s.audit.record({ type: 'registration_token.created', outcome: 'success', actor: 'cli', details: { expires_at: expiresAt } });
      output(!!opts.json, { initial_access_token: token, expires_at: expiresAt }, `initial access token (shown once, valid until ${expiresAt}):\n${token}\nregister with: Authorization: Bearer <token>`);
    });
  });

// Clients identified by a Client ID Metadata Document URL: recorded when first used, blockable by URL.
const cimdJson = (c: CimdClient) => ({
  client_id: c.clientId, host: c.host, client_name: c.clientName,
  first_seen_at: c.firstSeenAt?.toISOString() ?? null, last_seen_at: c.lastSeenAt?.toISOString() ?? null,
  blocked: c.blockedAt !== null, blocked_at: c.blockedAt?.toISOString() ?? null,
});
const cimd = program.command('cimd').description('clients that use a Client ID Metadata Document URL as client_id');
cimd
  .command('list')
  .description('list the metadata-document clients seen so far (and blocked URLs)')
  .option('--json', 'print one JSON object')
  .action(async (opts: { json?: boolean }) => {
    await withServices(async (s) => {
      const shaped = (await s.cimdClients.list()).map(cimdJson);
      const line = (c: ReturnType<typeof cimdJson>) => `${c.blocked ? 'blocked ' : 'active  '} ${c.last_seen_at ?? 'never used'.padEnd(24)}  ${c.client_id}  ${c.client_name ?? ''}`;
      output(!!opts.json, { clients: shaped }, shaped.map(line).join('\n') || 'no metadata-document clients yet');
    });
  });
cimd
  .command('block <url>')
  .description('refuse this client_id URL from now on (every instance within a few seconds), even before it is first used')
  .option('--json', 'print one JSON object')
  .action(async (url: string, opts: { json?: boolean }) => {
    const problem = clientIdUrlProblem(url);
    if (problem) throw new CliError(`${url}: ${problem}`);
    await withServices(async (s) => {
      const blocked = await s.cimdClients.block(url, 'cli');
      await s.audit.record({ type: 'cimd.blocked', outcome: 'success', actor: 'cli', clientId: url, details: { host: blocked.host } });
      output(!!opts.json, cimdJson(blocked), `${url} blocked`);
    });
  });
cimd
  .command('unblock <url>')
  .description('accept this client_id URL again')
  .option('--json', 'print one JSON object')
  .action(async (url: string, opts: { json?: boolean }) => {
    await withServices(async (s) => {
      const unblocked = await s.cimdClients.unblock(url);
      if (!unblocked) throw new CliError(`no metadata-document client ${url} is known`);
      await s.audit.record({ type: 'cimd.unblocked', outcome: 'success', actor: 'cli', clientId: url, details: { host: unblocked.host } });
      output(!!opts.json, cimdJson(unblocked), `${url} unblocked`);
    });
  });

const resource = program.command('resource').description('MCP servers (RFC 8707 resources)');
const shapeResource = (r: Resource) => ({
  uri: r.uri,
  name: r.name,
  description: r.description,
  scopes: r.scopes,
  tools: Object.fromEntries(Object.entries(r.catalogue).map(([s, e]) => [s, e.tools])),
  access: r.access ? { email_domains: r.access.emailDomains, groups: r.access.groups } : null,
  scope_access: Object.fromEntries(Object.entries(r.catalogue).filter(([, e]) => e.access).map(([s, e]) => [s, { email_domains: e.access!.emailDomains, groups: e.access!.groups }])),
  scope_approval: Object.fromEntries(Object.entries(r.catalogue).filter(([, e]) => e.approval).map(([s, e]) => [s, e.approval])),
  tool_approval: r.toolApproval,
  destructive_tools_approval: r.destructiveToolsApproval ?? null,
  default: r.isDefault,
});
const pairs = (values: string[], flag: string) =>
  values.map((v) => {
    const i = v.indexOf('=');
    if (i < 1 || i === v.length - 1) throw new CliError(`${flag} ${v}: expected <scope>=<value>`);
    return [v.slice(0, i), v.slice(i + 1)] as const;
  });
resource
  .command('add')
  .description('register an MCP server tokens can be issued for (updates it if it exists)')
  .requiredOption('--uri <uri>', 'canonical URI of the MCP server, e.g. https://mcp.example.com/mcp')
  .option('--name <name>', 'name shown on the consent page')
  .option('--description <text>', 'what the server is, for people and clients')
  .option('--scope <name=description>', 'a scope and its description (repeatable)', collect, [])
  .option('--tool <scope=tool>', 'an MCP tool the scope unlocks (repeatable)', collect, [])
  .option('--allow-email-domain <domain>', 'only people with a verified email in this domain (repeatable; with --allow-group: either)', collect, [])
  .option('--allow-group <group>', 'only members of this group (repeatable)', collect, [])
  .option('--scope-allow-group <scope=group>', 'only members of this group may get that scope (repeatable)', collect, [])
  .option('--tool-approval <tool=mode>', 'a person approves this tool\'s calls: each-call or once-per-grant (repeatable; docs/TOOL-APPROVALS.md)', collect, [])
  .option('--scope-approval <scope=mode>', 'a person approves the calls of every tool of that scope: each-call or once-per-grant (repeatable)', collect, [])
  .option('--destructive-approval <mode>', 'a person approves the calls of every tool the server reports as possibly destructive: each-call or once-per-grant')
  .option('--default', 'use for clients that send no resource parameter')
  .option('--json', 'print one JSON object')
  .action(async (opts: { uri: string; name?: string; description?: string; scope: string[]; tool: string[]; allowEmailDomain: string[]; allowGroup: string[]; scopeAllowGroup: string[]; toolApproval: string[]; scopeApproval: string[]; destructiveApproval?: string; default?: boolean; json?: boolean }) => {
    const scopes: Record<string, { description: string; tools: string[]; access?: { email_domains: string[]; groups: string[] }; approval?: ApprovalMode }> = {};
    const mode = (value: string, given: string): ApprovalMode => {
      if (!(APPROVAL_MODES as readonly string[]).includes(value)) throw new CliError(`${given}: the mode must be each-call or once-per-grant`);
      return value as ApprovalMode;
    };
    for (const s of opts.scope) {
      const [name, ...rest] = s.split('=');
      if (!name || !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(name)) throw new CliError(`--scope ${s}: not a valid scope name`);
      scopes[name] = { description: rest.join('=') || name, tools: [] };
    }
    for (const [scope, tool] of pairs(opts.tool, '--tool')) {
      if (!scopes[scope]) throw new CliError(`--tool ${scope}=${tool}: declare the scope with --scope first`);
      if (!/^[A-Za-z0-9_.\/-]{1,128}$/.test(tool)) throw new CliError(`--tool ${scope}=${tool}: not a valid MCP tool name`);
      scopes[scope].tools.push(tool);
    }
    for (const [scope, group] of pairs(opts.scopeAllowGroup, '--scope-allow-group')) {
      if (!scopes[scope]) throw new CliError(`--scope-allow-group ${scope}=${group}: declare the scope with --scope first`);
      (scopes[scope].access ??= { email_domains: [], groups: [] }).groups.push(group);
    }
    for (const [scope, value] of pairs(opts.scopeApproval, '--scope-approval')) {
      if (!scopes[scope]) throw new CliError(`--scope-approval ${scope}=${value}: declare the scope with --scope first`);
      scopes[scope].approval = mode(value, `--scope-approval ${scope}=${value}`);
    }
    const toolApproval: Record<string, ApprovalMode> = {};
    for (const [tool, value] of pairs(opts.toolApproval, '--tool-approval')) {
      if (!/^[A-Za-z0-9_.\/-]{1,128}$/.test(tool)) throw new CliError(`--tool-approval ${tool}=${value}: not a valid MCP tool name`);
      toolApproval[tool] = mode(value, `--tool-approval ${tool}=${value}`);
    }
    const destructive = opts.destructiveApproval === undefined ? undefined : mode(opts.destructiveApproval, `--destructive-approval ${opts.destructiveApproval}`);
    const restricted = opts.allowEmailDomain.length || opts.allowGroup.length;
    await withServices(async (s) => {
      const saved = await s.resources.upsert({
        uri: opts.uri,
        name: opts.name,
        description: opts.description,
        scopes,
        ...(restricted ? { access: { email_domains: opts.allowEmailDomain.map((d) => d.toLowerCase()), groups: opts.allowGroup } } : {}),
        ...(Object.keys(toolApproval).length ? { tool_approval: toolApproval } : {}),
        ...(destructive ? { destructive_tools_approval: destructive } : {}),
        default: !!opts.default,
      });
      await s.audit.record({ type: 'resource.saved', outcome: 'success', actor: 'cli', resource: saved.uri });
      output(!!opts.json, shapeResource(saved), `resource ${saved.uri} saved`);
    });
  });
resource
  .command('list')
  .description('list registered MCP servers')
  .option('--json', 'print one JSON object')
  .action(async (opts: { json?: boolean }) => {
    await withServices(async (s) => {
      const all = await s.resources.list();
      output(!!opts.json, { resources: all.map(shapeResource) }, all.map((r) => `${r.isDefault ? '* ' : '  '}${r.uri}  ${r.name}  [${Object.keys(r.scopes).join(' ')}]`).join('\n') || 'no resources');
    });
  });
resource
  .command('remove')
  .description('remove an MCP server: no new token can be issued for it (issued ones expire)')
  .argument('<uri>', 'the MCP server URI')
  .option('--json', 'print one JSON object')
  .action(async (uri: string, opts: { json?: boolean }) => {
    await withServices(async (s) => {
      const found = await s.resources.find(uri);
      if (!found) throw new CliError(`no resource ${uri}`);
      await s.resources.remove(found.uri);
      await s.audit.record({ type: 'resource.removed', outcome: 'success', actor: 'cli', resource: found.uri });
      const note = definedByEnvironment(s.config.RESOURCES, found.uri) ? ' (it is in RESOURCES: it returns at the next start)' : '';
      output(!!opts.json, { uri: found.uri, removed: true }, `resource ${found.uri} removed${note}`);
    });
  });

const FLAG: Record<SpecField, string> = {
  id: '--id', kind: '--kind', name: '--name', issuer: '--issuer', clientId: '--client-id', clientSecret: '--client-secret',
  scopes: '--scopes', tenant: '--tenant', allowedTenants: '--allowed-tenants', hostedDomains: '--hosted-domains',
  groupsClaim: '--groups-claim', orgs: '--orgs', storeTokens: '--store-tokens', allowPrivateNetwork: '--allow-private-network',
};
const csv = (v: string | undefined) => (v ?? '').split(/[\s,]+/).filter(Boolean);
const publicConnection = (c: StoredConnection) => ({
  id: c.id, name: c.name, kind: c.kind, issuer: c.issuer ?? null, client_id: c.clientId ?? null, has_client_secret: !!c.clientSecret,
  scopes: c.scopes, tenant: c.tenant ?? null, allowed_tenants: c.allowedTenants, hosted_domains: c.hostedDomains,
  groups_claim: c.groupsClaim ?? null, orgs: c.orgs, store_tokens: c.storeTokens,
  allow_private_network: c.allowPrivateNetwork, source: c.source,
});

const connection = program.command('connection').description('upstream identity providers people log in with');
connection
  .command('add')
  .description('add an identity provider connection (the login page shows "Continue with <name>")')
  .requiredOption('--kind <kind>', `one of ${CONNECTION_KINDS.join(', ')}`)
  .option('--id <id>', 'stable id (lower-case letters, digits, dashes); defaults to the kind')
  .option('--name <name>', 'name on the login button')
  .option('--issuer <url>', 'OIDC issuer (oidc, okta) or GitHub Enterprise base URL')
  .option('--client-id <id>', 'client id registered at the IdP')
  .option('--client-secret <secret>', 'client secret (prefer --client-secret-stdin: keeps it out of shell history)')
  .option('--client-secret-stdin', 'read the client secret from standard input')
  .option('--scopes <scopes>', 'scopes to request instead of the kind\'s defaults')
  .option('--tenant <tenant>', 'entra: tenant id or domain, or organizations / common')
  .option('--allowed-tenants <ids>', 'entra multi-tenant: comma-separated tenant ids allowed to log in')
  .option('--hosted-domains <domains>', 'google: comma-separated Workspace domains allowed to log in')
  .option('--groups-claim <claim>', 'ID token claim that lists the person\'s groups')
  .option('--orgs <orgs>', 'github: comma-separated organisations; members only')
  .option('--store-tokens', 'keep the upstream refresh token (encrypted) for the token vault')
  .option('--allow-private-network', 'the IdP is on a private network: let its requests reach loopback and private (RFC 1918, ULA) addresses')
  .option('--json', 'print one JSON object')
  .action(async (opts: Record<string, string | boolean | undefined>) => {
    const kind = String(opts.kind) as ConnectionKindName;
    if (!CONNECTION_KINDS.includes(kind)) throw new CliError(`--kind: must be one of ${CONNECTION_KINDS.join(', ')}`);
    const secret = opts.clientSecretStdin ? await readStdin() : (opts.clientSecret as string | undefined);
    const spec = connectionSpec({
      id: (opts.id as string | undefined) ?? kind,
      kind,
      name: opts.name as string | undefined,
      issuer: opts.issuer as string | undefined,
      clientId: opts.clientId as string | undefined,
      clientSecret: secret || undefined,
      scopes: csv(opts.scopes as string | undefined),
      tenant: opts.tenant as string | undefined,
      allowedTenants: csv(opts.allowedTenants as string | undefined),
      hostedDomains: csv(opts.hostedDomains as string | undefined).map((d) => d.toLowerCase()),
      groupsClaim: opts.groupsClaim as string | undefined,
      orgs: csv(opts.orgs as string | undefined),
      storeTokens: !!opts.storeTokens,
      allowPrivateNetwork: !!opts.allowPrivateNetwork,
    });
    await withServices(async (s) => {
      let saved: StoredConnection;
      try {
        saved = await s.connections.add(spec, 'cli');
      } catch (err) {
        if (err instanceof ConnectionError) throw new CliError(err.problems.map(([f, m]) => `${FLAG[f]}: ${m}`).join('\n'));
        throw err;
      }
      await s.audit.record({ type: 'connection.added', outcome: 'success', actor: 'cli', details: { id: saved.id, kind: saved.kind, allowPrivateNetwork: saved.allowPrivateNetwork } });
      output(!!opts.json, publicConnection(saved), `connection ${saved.id} (${saved.kind}) added; register ${s.config.ISSUER}${CALLBACK_PATH} as its redirect URI at the IdP`);
    });
  });
connection
  .command('list')
  .description('list connections (secrets are never printed)')
  .option('--json', 'print one JSON object')
  .action(async (opts: { json?: boolean }) => {
    await withServices(async (s) => {
      const all = await s.connections.list();
      output(!!opts.json, { connections: all.map(publicConnection) }, all.map((c) => `${c.id}  ${c.kind}  "${c.name}"  ${c.issuer ?? ''}  (${c.source})`).join('\n') || 'no connections');
    });
  });
connection
  .command('remove')
  .description('remove a connection (accounts linked through it stay; its stored upstream tokens are deleted)')
  .argument('<id>', 'connection id')
  .option('--json', 'print one JSON object')
  .action(async (id: string, opts: { json?: boolean }) => {
    await withServices(async (s) => {
      const found = await s.connections.find(id);
      if (!found) throw new CliError(`no connection with id ${id}`);
      await s.connections.remove(id);
      await s.audit.record({ type: 'connection.removed', outcome: 'success', actor: 'cli', details: { id, kind: found.kind } });
      const note = found.source === 'env' ? ' (it comes from UPSTREAM_*: it returns at the next start unless those change)' : '';
      output(!!opts.json, { id, removed: true }, `connection ${id} removed${note}`);
    });
  });

// Policy overrides (the console's Policy page): the break-glass path too, so no self-lockout check here.
const policyJson = (e: PolicyEntry) => ({
  name: e.name, effective: e.effective, environment: e.environment, overridden: e.overridden,
  updated_by: e.updatedBy, updated_at: e.updatedAt?.toISOString() ?? null,
});
const shownValue = (v: unknown) => (Array.isArray(v) ? (v.length ? v.join(',') : '(empty)') : String(v));
const policyCmd = program.command('policy').description(`settings stored in the database over the environment: ${POLICY_SETTINGS.join(', ')}`);
policyCmd
  .command('show')
  .description('each setting: the value in force, the environment value, and who overrode it')
  .option('--json', 'print one JSON object')
  .action(async (opts: { json?: boolean }) => {
    await withServices(async (s) => {
      const entries = (await s.policy.entries()).map(policyJson);
      const line = (e: ReturnType<typeof policyJson>) =>
        `${e.name.padEnd(22)} ${shownValue(e.effective)}${e.overridden ? `  (overridden by ${e.updated_by ?? '?'}; environment: ${shownValue(e.environment)})` : ''}`;
      output(!!opts.json, { settings: entries }, entries.map(line).join('\n'));
    });
  });
policyCmd
  .command('set <name> <value>')
  .description('override a setting (the value is written as its environment variable would be; "" for an empty list)')
  .option('--json', 'print one JSON object')
  .action(async (name: string, value: string, opts: { json?: boolean }) => {
    if (!isPolicySetting(name)) throw new CliError(`${name} is not a policy setting (one of ${POLICY_SETTINGS.join(', ')})`);
    await withServices(async (s) => {
      let stored: unknown;
      try {
        stored = await s.policy.set(name, value, 'cli');
      } catch (err) {
        if (err instanceof PolicyError) throw new CliError(err.message);
        throw err;
      }
      await s.audit.record({ type: 'policy.updated', outcome: 'success', actor: 'cli', details: { setting: name, value: stored } });
      output(!!opts.json, { name, effective: stored }, `${name} is now ${shownValue(stored)} (every instance within a few seconds)`);
    });
  });
policyCmd
  .command('reset <name>')
  .description('hand a setting back to the environment')
  .option('--json', 'print one JSON object')
  .action(async (name: string, opts: { json?: boolean }) => {
    if (!isPolicySetting(name)) throw new CliError(`${name} is not a policy setting (one of ${POLICY_SETTINGS.join(', ')})`);
    await withServices(async (s) => {
      await s.policy.reset(name);
      await s.audit.record({ type: 'policy.reset', outcome: 'success', actor: 'cli', details: { setting: name, value: s.config[name] } });
      output(!!opts.json, { name, effective: s.config[name] }, `${name} now follows the environment: ${shownValue(s.config[name])}`);
    });
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ConfigError) {
    for (const p of err.problems) process.stderr.write(`gatehouse: configuration error: ${p}\n`);
  } else if (err instanceof DataDirLockedError || err instanceof AccountError || err instanceof CliError) {
    process.stderr.write(`gatehouse: ${err.message}\n`);
  } else {
    const e = err as { message?: string; error_description?: string };
    process.stderr.write(`gatehouse: ${e.error_description ?? e.message ?? String(err)}\n`);
  }
  process.exitCode = 1;
}
