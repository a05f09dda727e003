// The `gatehouse` command. It reads the same configuration as the server (environment and .env). Commands that
// create something accept --json and then print exactly one JSON object on stdout.
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { packageVersion } from './package-version.js';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { InvokeError, localInvoker, localServerTarget, remoteInvoker, type Invocation, type Invoker } from './admin-api/invoke.js';
import { loadConfiguration } from './configuration.js';
import { APPROVAL_MODES, ConfigError, POLICY_SETTINGS, type Config } from './config.js';
import { DataDirLockedError } from './db/data-dir-lock.js';
import { DatabaseUnreachableError } from './db/connect-retry.js';
import { migrateLatest } from './db/migrations.js';
import { openServices, sweepUnusedClients, type Services } from './gatehouse.js';
import { Views } from './views/views.js';
import { createLogger } from './log.js';
import { ensureSigningKeys, loadKeySet } from './oauth/keys.js';
import { buildProvider } from './oauth/provider.js';
import { AccountError } from './upstream/local/accounts.js';
import { serve } from './main.js';
import { CONNECTION_KINDS } from './upstream/connection.js';
import { CALLBACK_PATH } from './interaction/upstream-leg.js';
import { consoleClient } from './console/console-client.js';
import { accountClient } from './account/account-client.js';
import { CLI_ACTOR } from './admin/actor.js';
import { AdminError } from './admin/admin-error.js';
import { MAX_LIMIT } from './admin/page.js';
import { adminServices, type AdminServices } from './admin/index.js';
import { ConsoleSessions } from './console/sessions.js';
import { FirstPartyClients } from './oauth/first-party-clients.js';
import { ApplyError, applyConfigFile } from './admin/config-file/apply.js';
import { exportConfig, exportYaml } from './admin/config-file/export.js';
import { ConfigFileError, loadConfigFile, type ConfigFile } from './admin/config-file/load.js';
import { describeChange, planConfigFile, type Change } from './admin/config-file/plan.js';
import { configContext, configFileOf } from './gatehouse.js';
import { environment } from './config.js';

class CliError extends Error {}

function config(): Config {
  return loadConfiguration();
}

/** Opens the services for one command, runs it, and always closes the database (releasing the data-dir lock). */
async function withServices<T>(fn: (s: Services) => Promise<T>, options: { migrate?: boolean } = {}): Promise<T> {
  const cfg = config();
  // One attempt: a command against an unreachable database says so at once (db/connect-retry.ts), in one line.
  const services = await openServices(cfg, { log: createLogger(cfg.LOG_LEVEL === 'info' ? 'warn' : cfg.LOG_LEVEL), migrate: options.migrate, connectRetrySeconds: 0 });
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
    delegation: { connections: s.connections, vault: s.vault },
  });
}

/**
 * The admin service layer on the command's database (docs/ARCHITECTURE.md, "The admin service layer"). Only the
 * commands that use oidc-provider's models (grants, registration tokens) build a provider: it needs signing keys.
 */
async function cliAdmin(s: Services, options: { provider?: boolean } = {}): Promise<AdminServices> {
  const provider = options.provider ? await providerFor(s) : undefined;
  return adminServices({
    config: s.config, db: s.handle.db, box: s.box, registry: s.registry, cimdClients: s.cimdClients, resources: s.resources,
    accounts: s.accounts, users: s.users, connections: s.connections, policy: s.policy, audit: s.audit, log: s.log,
    provider: () => {
      if (!provider) throw new Error('this command built no provider');
      return provider;
    },
    sessions: new ConsoleSessions(s.handle.db, s.secretKey, s.config.CONSOLE_IDLE_TIMEOUT * 1000),
    accountSessions: new ConsoleSessions(s.handle.db, s.secretKey, s.config.CONSOLE_IDLE_TIMEOUT * 1000, 'account'),
    // No key holder here: a running server publishes the new keys at its next reload (KEY_RELOAD_INTERVAL).
    reloadKeys: async () => undefined,
  });
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

/**
 * Calls one admin API operation (docs/ADMIN-API.md, "The CLI"): over HTTP to GATEHOUSE_URL with an admin API client's
 * credentials; else in-process on the database; and when a server holds the embedded database, over HTTP to it
 * with the credentials it wrote into its data directory.
 */
async function invoke(operationId: string, input: Invocation = {}): Promise<unknown> {
  const url = process.env.GATEHOUSE_URL;
  if (url) {
    const clientId = process.env.GATEHOUSE_CLIENT_ID;
    const clientSecret = process.env.GATEHOUSE_CLIENT_SECRET ?? (process.env.GATEHOUSE_CLIENT_SECRET_FILE ? readFileSync(process.env.GATEHOUSE_CLIENT_SECRET_FILE, 'utf8').trim() : undefined);
    if (!clientId) throw new CliError('GATEHOUSE_CLIENT_ID: set it (and GATEHOUSE_CLIENT_SECRET or GATEHOUSE_CLIENT_SECRET_FILE) to an admin API client (gatehouse client add --admin-api) to use GATEHOUSE_URL');
    if (!clientSecret) throw new CliError('GATEHOUSE_CLIENT_SECRET: set it, or GATEHOUSE_CLIENT_SECRET_FILE, to the admin API client\'s secret');
    return remoteInvoker({ issuer: url.replace(/\/$/, ''), clientId, clientSecret }).invoke(operationId, input);
  }
  return onDatabaseOrServer(
    async (services) => localInvoker(await cliAdmin(services, { provider: true }), CLI_ACTOR).invoke(operationId, input),
    (invoker) => invoker.invoke(operationId, input),
  );
}

// What a terminal would act on rather than show: C0 and C1 controls (escape sequences, carriage returns) and the
// bidirectional overrides. A client name comes from whoever registered it, so the human output shows them escaped.
const TERMINAL_CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function output(json: boolean, value: Record<string, unknown>, human: string): void {
  const shown = human.replace(TERMINAL_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${shown}\n`);
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

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number above 0');
  return n;
};

// exitOverride before any command is defined, so every command inherits it: commander's own refusals (an unknown
// flag, a value outside --status's choices) reach the one error path below, which knows --json.
const program = new Command('gatehouse')
  .description('OAuth 2.1 authorization server for MCP')
  .version(packageVersion(), '-v, --version', 'print the version')
  .exitOverride()
  .configureOutput({ writeErr: (text) => (jsonWanted() ? undefined : process.stderr.write(text)) })
  .showHelpAfterError();

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

// Signing keys, people and grants over the admin API (docs/ADMIN-API.md, "Keys", "People", "Grants"): --json prints
// the API's answer.
const pageQuery = (o: { limit?: number; cursor?: string }) => ({ limit: o.limit === undefined ? undefined : String(o.limit), cursor: o.cursor });
const more = (next: string | null) => (next ? [`… more: --cursor ${next}`] : []);
const pagingFlags = (c: Command) =>
  c.option('--limit <n>', `at most this many (1 to ${MAX_LIMIT})`, positiveInt).option('--cursor <cursor>', 'the next page (the previous answer\'s `next`)');

const keys = program.command('keys').description('signing keys (over the admin API when a server is running)');
type KeyJson = { kid: string; alg: string; state: string; activates_at: string; retired_at: string | null };
pagingFlags(keys.command('list').description('the signing keys with their state (next, current, retired); never their private halves'))
  .option('--json', 'print one JSON object')
  .action(async (opts: { limit?: number; cursor?: string; json?: boolean }) => {
    const page = (await invoke('listKeys', { query: pageQuery(opts) })) as { items: KeyJson[]; next: string | null };
    output(!!opts.json, page, [...page.items.map((k) => `${k.state.padEnd(8)} ${k.alg}  ${k.kid}  signs from ${k.activates_at}${k.retired_at ? `, retired ${k.retired_at}` : ''}`), ...more(page.next)].join('\n') || 'no signing keys yet');
  });
keys
  .command('rotate')
  .description('add new signing keys; the current ones stay published until the tokens they signed have expired')
  .option(
    '--activate-in <seconds>',
    'publish now, start signing after this delay, at most 86400 (default: 0 on the embedded database, 2 key-reload intervals on PostgreSQL so every instance publishes the key before any signs with it)',
    nonNegativeInt,
  )
  .option('--json', 'print one JSON object')
  .action(async (opts: { activateIn?: number; json?: boolean }) => {
    const r = (await invoke('rotateKeys', { body: opts.activateIn === undefined ? {} : { activate_in_seconds: opts.activateIn } })) as { kids: string[]; activates_at: string };
    output(!!opts.json, r, `new signing keys ${r.kids.join(', ')} sign from ${r.activates_at}`);
  });

type PersonJson = { id: string; email: string | null; name: string | null; admin: boolean; local_admin: boolean | null; disabled: boolean; [k: string]: unknown };
type LinkJson = { kind: 'invitation' | 'password_reset'; url: string; expires_at: string };
const linkLines = (l: LinkJson) => `${l.kind === 'invitation' ? 'invitation link' : 'password reset link'} (works once, until ${l.expires_at}; shown once, send it to them):\n${l.url}`;
const personLine = (p: PersonJson) => `${p.disabled ? 'disabled' : 'active  '} ${p.admin ? 'admin' : '     '}  ${p.id}  ${p.email ?? ''}  ${p.name ?? ''}`;

/**
 * The account id an argument names: an email names the one person with it (the API names people by id); anything
 * else is taken as an id, which the operation itself finds or answers 404 for.
 */
async function personId(named: string): Promise<string> {
  if (!named.includes('@')) return named;
  const email = named.trim().toLowerCase();
  const page = (await invoke('listPeople', { query: { q: email, limit: String(MAX_LIMIT) } })) as { items: PersonJson[] };
  const matches = page.items.filter((p) => p.email?.toLowerCase() === email);
  if (matches.length > 1) throw new CliError(`${matches.length} people have the email ${named}: name one by its id (gatehouse user list)`);
  return matches[0]?.id ?? named;
}

const user = program.command('user').description('people: local accounts, and every account that has signed in (over the admin API when a server is running)');
user
  .command('add')
  .description('add a local account: prints an invitation link (7 days) where they choose their password; --password-stdin sets one instead (automation)')
  .requiredOption('--email <email>', 'email address')
  .option('--name <name>', 'display name')
  .option('--admin', 'may use the admin console')
  .option('--password-stdin', 'read the password from standard input')
  .option('--json', 'print one JSON object')
  .action(async (opts: { email: string; name?: string; admin?: boolean; passwordStdin?: boolean; json?: boolean }) => {
    const password = opts.passwordStdin ? await readStdin() : undefined;
    const body = { email: opts.email, admin: !!opts.admin, ...(opts.name !== undefined ? { name: opts.name } : {}), ...(password !== undefined ? { password } : {}) };
    const added = (await invoke('addPerson', { body })) as { person: PersonJson; invitation?: LinkJson };
    output(!!opts.json, added, `created ${added.person.email ?? added.person.id}${opts.admin ? ' (admin)' : ''}${added.invitation ? `\n${linkLines(added.invitation)}` : ''}`);
  });
pagingFlags(user.command('list').description('list people (by email); --q searches email and name').option('--q <text>', 'part of an email or name'))
  .option('--json', 'print one JSON object')
  .action(async (opts: { q?: string; limit?: number; cursor?: string; json?: boolean }) => {
    const page = (await invoke('listPeople', { query: { q: opts.q, ...pageQuery(opts) } })) as { items: PersonJson[]; next: string | null };
    output(!!opts.json, page, [...page.items.map(personLine), ...more(page.next)].join('\n') || 'no one');
  });
user
  .command('show <person>')
  .description('one person: how they sign in, whether they are an administrator (<person>: account id or email)')
  .option('--json', 'print one JSON object')
  .action(async (named: string, opts: { json?: boolean }) => {
    const p = (await invoke('getPerson', { params: { id: await personId(named) } })) as PersonJson;
    // Identities and deprovisioning are objects: one JSON line each rather than [object Object].
    const shown = (v: unknown) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v));
    output(!!opts.json, p, Object.entries(p).map(([k, v]) => (Array.isArray(v) && v.some((x) => typeof x === 'object') ? [`${k}:`, ...v.map((x) => `  ${shown(x)}`)].join('\n') : `${k}: ${Array.isArray(v) ? v.join(' ') : shown(v)}`)).join('\n'));
  });
for (const [name, operationId, description, verb] of [
  ['disable', 'disablePerson', 'refuse their sign-ins and token refreshes, revoke every grant, end their console sessions', 'disabled'],
  ['enable', 'enablePerson', 'let a disabled person sign in again', 'enabled'],
  ['make-admin', 'makeAdminPerson', 'set the administrator mark of their password account', 'marked as an administrator'],
  ['unmake-admin', 'unmakeAdminPerson', 'clear the administrator mark of their password account (never the last administrator)', 'no longer marked as an administrator'],
  ['revoke-grants', 'revokePersonGrants', 'revoke every grant of the person: their refresh tokens stop at once', 'grants revoked'],
] as const) {
  user
    .command(`${name} <person>`)
    .description(`${description} (<person>: account id or email)`)
    .option('--json', 'print one JSON object')
    .action(async (named: string, opts: { json?: boolean }) => {
      // disable and revoke-grants answer {person, grants_revoked}; the others the person.
      const answer = (await invoke(operationId, { params: { id: await personId(named) } })) as Record<string, unknown>;
      const p = (answer.person ?? answer) as PersonJson;
      const revoked = typeof answer.grants_revoked === 'number' ? ` (${answer.grants_revoked} grant(s) revoked)` : '';
      output(!!opts.json, answer, `${p.email ?? p.id} ${verb}${revoked}`);
    });
}

user
  .command('reset-password <person>')
  .description('print a one-time link (1 hour) where a local person chooses a new password; a new invitation for one who never set a password (<person>: account id or email)')
  .option('--json', 'print one JSON object')
  .action(async (named: string, opts: { json?: boolean }) => {
    const answer = (await invoke('resetPersonPassword', { params: { id: await personId(named) } })) as { person: PersonJson; link: LinkJson };
    output(!!opts.json, answer, `${answer.person.email ?? answer.person.id}: ${linkLines(answer.link)}`);
  });
type SessionJson = { kind: string; created_at: string; last_seen_at: string | null; expires_at: string | null };
user
  .command('sessions <person>')
  .description('the person\'s live sessions: console, account pages, browser sign-ins (<person>: account id or email)')
  .option('--json', 'print one JSON object')
  .action(async (named: string, opts: { json?: boolean }) => {
    const answer = (await invoke('listPersonSessions', { params: { id: await personId(named) } })) as { items: SessionJson[] };
    output(!!opts.json, answer, answer.items.map((x) => `${x.kind.padEnd(8)} started ${x.created_at}${x.last_seen_at ? `, last seen ${x.last_seen_at}` : ''}${x.expires_at ? `, ends ${x.expires_at}` : ''}`).join('\n') || 'no live session');
  });
user
  .command('end-sessions <person>')
  .description('end every session of the person (console, account pages, browser sign-ins); their grants stay (<person>: account id or email)')
  .option('--json', 'print one JSON object')
  .action(async (named: string, opts: { json?: boolean }) => {
    const answer = (await invoke('endPersonSessions', { params: { id: await personId(named) } })) as { person: PersonJson; sessions_ended: Record<string, number> };
    const e = answer.sessions_ended;
    output(!!opts.json, answer, `${answer.person.email ?? answer.person.id}: sessions ended (console ${e.console}, account pages ${e.account}, browser sign-ins ${e.sign_in})`);
  });

const grant = program.command('grant').description('what people consented to, per client (over the admin API when a server is running)');
type GrantJson = { grant_id: string; account_id: string; client_id: string; resources: Record<string, string[]>; openid_scope: string | null; granted_at: string; expires_at: string | null };
const grantLine = (g: GrantJson) =>
  `${g.grant_id}  ${g.client_id}  ${g.account_id}  ${[...Object.entries(g.resources).map(([uri, scopes]) => `${uri} [${scopes.join(' ')}]`), ...(g.openid_scope ? [g.openid_scope] : [])].join(', ')}  granted ${g.granted_at}  ${g.expires_at ? `refresh token expires ${g.expires_at}` : 'no live refresh token'}`;
pagingFlags(
  grant
    .command('list')
    .description('the live grants of a person or of a client, newest first')
    .addOption(new Option('--person <person>', 'a person: account id or email').conflicts('client'))
    .option('--client <client_id>', 'a client'),
)
  .option('--json', 'print one JSON object')
  .action(async (opts: { person?: string; client?: string; limit?: number; cursor?: string; json?: boolean }) => {
    if (!opts.person && !opts.client) throw new InvokeError(400, 'invalid_request', 'give --person or --client', 'person');
    const page = (opts.person
      ? await invoke('listPersonGrants', { params: { id: await personId(opts.person) }, query: pageQuery(opts) })
      : await invoke('listClientGrants', { params: { clientId: opts.client! }, query: pageQuery(opts) })) as { items: GrantJson[]; next: string | null };
    output(!!opts.json, page, [...page.items.map(grantLine), ...more(page.next)].join('\n') || 'no live grants');
  });
grant
  .command('show <grant_id>')
  .description('one live grant')
  .option('--json', 'print one JSON object')
  .action(async (grantId: string, opts: { json?: boolean }) => {
    const g = (await invoke('getGrant', { params: { grantId } })) as GrantJson;
    output(!!opts.json, g, grantLine(g));
  });
grant
  .command('revoke <grant_id>')
  .description('revoke a grant and everything issued under it (its refresh tokens stop at once)')
  .option('--json', 'print one JSON object')
  .action(async (grantId: string, opts: { json?: boolean }) => {
    const g = (await invoke('revokeGrant', { params: { grantId } })) as GrantJson;
    output(!!opts.json, g, `grant ${g.grant_id} of ${g.client_id} revoked`);
  });

const client = program.command('client').description('OAuth clients (over the admin API when a server is running: docs/ADMIN-API.md)');
const clientStatus = () => new Option('--status <status>', 'only clients in this status').choices(['pending', 'active', 'disabled', 'blocked']);
const clientKind = () => new Option('--kind <kind>', 'only clients of this kind').choices(['dcr', 'cimd', 'static']);
type ClientJson = { client_id: string; kind: string; status: string; name: string | null; [k: string]: unknown };
const clientLine = (c: ClientJson) => `${c.status.padEnd(8)} ${c.kind.padEnd(6)} ${c.client_id}  ${c.name ?? ''}`;

client
  .command('add')
  .description('add a client: an MCP client with redirect URIs, or a confidential machine agent (client_credentials)')
  .requiredOption('--name <name>', 'client name shown on the consent page')
  .option('--redirect-uri <uri>', 'redirect URI (repeatable)', collect, [])
  .option('--confidential', 'issue a client secret (client_secret_basic/post) and allow client_credentials')
  .option('--scope <scopes>', 'space-separated scopes the client registers with')
  .option('--resource <uri>', 'the MCP server this confidential client speaks for (may introspect its tokens)')
  .addOption(new Option('--admin-api [access]', 'a client of the admin API (confidential, no redirect URIs): read, or write (the default)').choices(['read', 'write']))
  .option('--json', 'print one JSON object')
  .action(async (opts: { name: string; redirectUri: string[]; confidential?: boolean; scope?: string; resource?: string; adminApi?: true | 'read' | 'write'; json?: boolean }) => {
    const adminApi = opts.adminApi === undefined ? undefined : opts.adminApi === 'read' ? 'admin:read' : 'admin:read admin:write';
    const body = { name: opts.name, redirect_uris: opts.redirectUri, confidential: !!opts.confidential || !!adminApi, ...(opts.scope ? { scope: opts.scope } : {}), ...(opts.resource ? { resource: opts.resource } : {}), ...(adminApi ? { admin_api_scopes: adminApi } : {}) };
    const created = (await invoke('createClient', { body })) as { client: ClientJson; client_secret?: string };
    output(!!opts.json, { ...created.client, ...(created.client_secret ? { client_secret: created.client_secret } : {}) }, `client_id: ${created.client.client_id}${created.client_secret ? `\nclient_secret (shown once): ${created.client_secret}` : ''}`);
  });

for (const [name, verb] of [
  ['approve', 'approved'],
  ['enable', 'enabled'],
  ['disable', 'disabled'],
] as const) {
  client
    .command(`${name} <client_id>`)
    .description(name === 'disable' ? 'stop a client: it can no longer authorize or use its tokens' : `let a ${name === 'approve' ? 'pending (REGISTRATION=approval)' : 'disabled'} client authorize again`)
    .option('--json', 'print one JSON object')
    .action(async (clientId: string, opts: { json?: boolean }) => {
      const changed = (await invoke(`${name}Client`, { params: { clientId } })) as ClientJson;
      output(!!opts.json, changed, `${changed.client_id} ${verb}`);
    });
}

client
  .command('list')
  .description('list clients of every kind with their status')
  .addOption(clientStatus())
  .addOption(clientKind())
  .option('--search <text>', 'part of the name, client_id or host')
  .option('--limit <n>', `at most this many (1 to ${MAX_LIMIT})`, positiveInt)
  .option('--cursor <cursor>', 'the next page (the previous answer\'s `next`)')
  .option('--json', 'print one JSON object')
  .action(async (opts: { status?: string; kind?: string; search?: string; limit?: number; cursor?: string; json?: boolean }) => {
    const page = (await invoke('listClients', { query: { status: opts.status, kind: opts.kind, q: opts.search, limit: opts.limit === undefined ? undefined : String(opts.limit), cursor: opts.cursor } })) as { items: ClientJson[]; next: string | null };
    output(!!opts.json, page, [...page.items.map(clientLine), ...(page.next ? [`… more: --cursor ${page.next}`] : [])].join('\n') || 'no clients');
  });

client
  .command('show <client_id>')
  .description('one client with its registered metadata (never a secret)')
  .option('--json', 'print one JSON object')
  .action(async (clientId: string, opts: { json?: boolean }) => {
    const c = (await invoke('getClient', { params: { clientId } })) as ClientJson;
    output(!!opts.json, c, Object.entries(c).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : String(v)}`).join('\n'));
  });

client
  .command('update <client_id>')
  .description('change an admin-created client\'s name or redirect URIs')
  .option('--name <name>', 'the new name')
  .option('--redirect-uri <uri>', 'the new redirect URIs (repeatable; replaces them all)', collect, [])
  .option('--if-version <version>', 'refuse if the client changed since this version')
  .option('--json', 'print one JSON object')
  .action(async (clientId: string, opts: { name?: string; redirectUri: string[]; ifVersion?: string; json?: boolean }) => {
    const body = { ...(opts.name !== undefined ? { name: opts.name } : {}), ...(opts.redirectUri.length ? { redirect_uris: opts.redirectUri } : {}) };
    if (!Object.keys(body).length) throw new CliError('nothing to change: give --name or --redirect-uri');
    const c = (await invoke('updateClient', { params: { clientId }, body, version: opts.ifVersion })) as ClientJson;
    output(!!opts.json, c, `${c.client_id} updated`);
  });

client
  .command('rotate-secret <client_id>')
  .description('give an admin-created confidential client a new secret (the old one stops working at once)')
  .option('--json', 'print one JSON object')
  .action(async (clientId: string, opts: { json?: boolean }) => {
    const r = (await invoke('rotateClientSecret', { params: { clientId } })) as { client: ClientJson; client_secret: string };
    output(!!opts.json, r, `client_secret (shown once): ${r.client_secret}`);
  });

client
  .command('delete <client_id>')
  .description('delete a client and revoke every grant and token it holds')
  .option('--json', 'print one JSON object')
  .action(async (clientId: string, opts: { json?: boolean }) => {
    const r = (await invoke('deleteClient', { params: { clientId } })) as { client_id: string; grants_revoked: number };
    output(!!opts.json, r, `${r.client_id} deleted (${r.grants_revoked} grant(s) revoked)`);
  });

const audit = program.command('audit').description('the audit log (over the admin API when a server is running)');
const auditFilters = (c: Command) =>
  c
    .option('--type <type>', 'an exact type, or a prefix ending in * (client.*)')
    .addOption(new Option('--outcome <outcome>', 'success or failure').choices(['success', 'failure']))
    .option('--actor <text>', 'part of the actor')
    .option('--client <client_id>', 'the exact client_id')
    .option('--resource <uri>', 'the exact resource URI')
    .option('--tool <name>', 'the exact tool name')
    .option('--request <id>', 'the exact request id (X-Request-Id; the "Request id" of an error page)')
    .option('--from <when>', 'from this UTC date or date-time on')
    .option('--to <when>', 'up to the end of this UTC date or date-time');
type AuditOpts = { type?: string; outcome?: string; actor?: string; client?: string; resource?: string; tool?: string; request?: string; from?: string; to?: string; limit?: number; cursor?: string; json?: boolean };
const auditQuery = (o: AuditOpts) => ({ type: o.type, outcome: o.outcome, actor: o.actor, client: o.client, resource: o.resource, tool: o.tool, request: o.request, from: o.from, to: o.to, limit: o.limit === undefined ? undefined : String(o.limit), cursor: o.cursor });

auditFilters(audit.command('list').description('audit events matching a filter, newest first'))
  .option('--limit <n>', `at most this many (1 to ${MAX_LIMIT})`, positiveInt)
  .option('--cursor <cursor>', 'the next page (the previous answer\'s `next`)')
  .option('--json', 'print one JSON object')
  .action(async (opts: AuditOpts) => {
    const page = (await invoke('queryAudit', { query: auditQuery(opts) })) as { items: Array<{ at: string; type: string; outcome: string; actor: string | null; client_id: string | null; reason: string | null }>; next: string | null };
    output(!!opts.json, page, [...page.items.map((e) => `${e.at} ${e.type} ${e.outcome} ${e.actor ?? '-'} ${e.client_id ?? ''} ${e.reason ?? ''}`.trimEnd()), ...(page.next ? [`… more: --cursor ${page.next}`] : [])].join('\n') || 'no events');
  });

auditFilters(audit.command('export').description('the events matching a filter as JSON Lines on stdout, newest first (audited)'))
  .option('--limit <n>', 'at most this many lines (1 to 100000)', positiveInt)
  .option('--cursor <cursor>', 'continue below the last line of an earlier export')
  .option('--json', 'accepted for symmetry: the output is JSON Lines either way')
  .action(async (opts: AuditOpts) => {
    const { lines, next } = (await invoke('exportAudit', { query: auditQuery(opts) })) as { lines: string; next: string | null };
    process.stdout.write(lines);
    if (next) process.stderr.write(`gatehouse: more events: --cursor ${next}\n`);
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

const registrationToken = program.command('registration-token').description('initial access tokens for dynamic registration (needed when REGISTRATION=closed; over the admin API when a server is running)');
type RegistrationTokenJson = { id: string; created_at: string; expires_at: string | null };
registrationToken
  .command('create')
  .description('create an initial access token (printed once)')
  .option('--expires-in <seconds>', 'lifetime in seconds (default 86400, at most a year)', positiveInt)
  .option('--json', 'print one JSON object')
  .action(async (opts: { expiresIn?: number; json?: boolean }) => {
    const created = (await invoke('createRegistrationToken', { body: opts.expiresIn === undefined ? {} : { expires_in: opts.expiresIn } })) as RegistrationTokenJson & { initial_access_token: string };
    output(!!opts.json, created, `initial access token ${created.id} (shown once, valid until ${created.expires_at ?? 'revoked'}):\n${created.initial_access_token}\nregister with: Authorization: Bearer <token>`);
  });
pagingFlags(registrationToken.command('list').description('the live tokens, by id (a prefix of the stored digest; never the token)'))
  .option('--json', 'print one JSON object')
  .action(async (opts: { limit?: number; cursor?: string; json?: boolean }) => {
    const page = (await invoke('listRegistrationTokens', { query: pageQuery(opts) })) as { items: RegistrationTokenJson[]; next: string | null };
    output(!!opts.json, page, [...page.items.map((t) => `${t.id}  created ${t.created_at}  expires ${t.expires_at ?? 'never'}`), ...more(page.next)].join('\n') || 'no registration tokens');
  });
registrationToken
  .command('revoke <id>')
  .description('revoke a token by its id (gatehouse registration-token list)')
  .option('--json', 'print one JSON object')
  .action(async (id: string, opts: { json?: boolean }) => {
    const revoked = (await invoke('revokeRegistrationToken', { params: { id } })) as RegistrationTokenJson;
    output(!!opts.json, revoked, `registration token ${revoked.id} revoked`);
  });

// Clients identified by a Client ID Metadata Document URL: recorded when first used, blockable by URL (the admin API's
// clients of kind cimd; blocking is disabling).
const cimd = program.command('cimd').description('clients that use a Client ID Metadata Document URL as client_id');
cimd
  .command('list')
  .description('list the metadata-document clients seen so far (and blocked URLs)')
  .addOption(new Option('--status <status>', 'only active or blocked ones').choices(['active', 'blocked']))
  .option('--limit <n>', `at most this many (1 to ${MAX_LIMIT})`, positiveInt)
  .option('--cursor <cursor>', 'the next page (the previous answer\'s `next`)')
  .option('--json', 'print one JSON object')
  .action(async (opts: { status?: string; limit?: number; cursor?: string; json?: boolean }) => {
    const page = (await invoke('listClients', { query: { kind: 'cimd', status: opts.status, limit: opts.limit === undefined ? undefined : String(opts.limit), cursor: opts.cursor } })) as { items: ClientJson[]; next: string | null };
    output(!!opts.json, page, [...page.items.map(clientLine), ...(page.next ? [`… more: --cursor ${page.next}`] : [])].join('\n') || 'no metadata-document clients yet');
  });
cimd
  .command('block <url>')
  .description('refuse this client_id URL from now on (every instance within a few seconds), even before it is first used')
  .option('--json', 'print one JSON object')
  .action(async (url: string, opts: { json?: boolean }) => {
    const blocked = (await invoke('disableClient', { params: { clientId: url } })) as ClientJson;
    output(!!opts.json, blocked, `${url} blocked`);
  });
cimd
  .command('unblock <url>')
  .description('accept this client_id URL again')
  .option('--json', 'print one JSON object')
  .action(async (url: string, opts: { json?: boolean }) => {
    const unblocked = (await invoke('enableClient', { params: { clientId: url } })) as ClientJson;
    output(!!opts.json, unblocked, `${url} unblocked`);
  });

// MCP servers over the admin API (docs/ADMIN-API.md, "MCP servers"): --json prints the API's answer.
const resource = program.command('resource').description('MCP servers (RFC 8707 resources; over the admin API when a server is running: docs/ADMIN-API.md)');
type ScopeJson = { description: string; tools: string[]; access?: { email_domains: string[]; groups: string[] }; approval?: string };
type McpServerJson = { uri: string; name: string; description: string | null; scopes: Record<string, ScopeJson>; access: { email_domains: string[]; groups: string[] } | null; tool_approval: Record<string, string>; destructive_tools_approval: string | null; delegation?: { connections: Record<string, string[]>; resources: Record<string, string[]> }; default: boolean; managed_by: string | null; from_environment: boolean; version: string };
const SCOPE_NAME = /^[\x21\x23-\x5B\x5D-\x7E]+$/; // RFC 6749 §3.3, as config.ts checks RESOURCES
const TOOL_NAME = /^[A-Za-z0-9_.\/-]{1,128}$/;
const isMode = (v: string) => (APPROVAL_MODES as readonly string[]).includes(v);
/** A repeatable `<key>=<value>` flag, refused by commander (so before anything runs) when it is not one. */
const pairOption = (check?: (key: string, value: string) => string | undefined) => (raw: string, previous: Array<[string, string]> = []) => {
  const i = raw.indexOf('=');
  if (i < 1 || i === raw.length - 1) throw new InvalidArgumentError('expected <name>=<value>');
  const pair: [string, string] = [raw.slice(0, i), raw.slice(i + 1)];
  const problem = check?.(...pair);
  if (problem) throw new InvalidArgumentError(problem);
  return [...previous, pair];
};
const MODES = 'the mode must be each-call or once-per-grant';
const toolModes = pairOption((tool, mode) => (!TOOL_NAME.test(tool) ? 'not a valid MCP tool name' : !isMode(mode) ? MODES : undefined));
const scopeModes = pairOption((_scope, mode) => (!isMode(mode) ? MODES : undefined));
const approvalOption = (flag: string, description: string, none = false) => new Option(flag, description).choices(none ? [...APPROVAL_MODES, 'none'] : APPROVAL_MODES);
type ResourceOpts = {
  name?: string; description?: string; scope: string[]; tool: Array<[string, string]>; allowEmailDomain: string[]; allowGroup: string[]; scopeAllowGroup: Array<[string, string]>;
  toolApproval: Array<[string, string]>; scopeApproval: Array<[string, string]>; destructiveApproval?: string; default?: boolean; ifVersion?: string; json?: boolean;
  delegateConnection: Array<[string, string[]]>; delegateResource: Array<[string, string[]]>;
};
/**
 * `<target>` or `<target>=<scope>,<scope>` (docs/DELEGATION.md): split at the last `=` whose tail is a scope list, so a
 * URI's own `=` stays in the URI.
 */
const delegationOption = (raw: string, previous: Array<[string, string[]]> = []) => {
  const i = raw.lastIndexOf('=');
  const split = i > 0 && !/[/?#]/.test(raw.slice(i + 1));
  const target = split ? raw.slice(0, i) : raw;
  const scopes = split ? raw.slice(i + 1).split(',').map((s) => s.trim()).filter(Boolean) : [];
  if (!target) throw new InvalidArgumentError('expected <target> or <target>=<scope>,<scope>');
  return [...previous, [target, scopes] as [string, string[]]];
};
/** The flags that describe a server (`add` and `update`). */
const resourceFlags = (c: Command) =>
  c
    .option('--name <name>', 'name shown on the consent page')
    .option('--description <text>', 'what the server is, for people and clients')
    .option('--scope <name=description>', 'a scope and its description (repeatable; with update: replaces the catalogue)', collect, [])
    .option('--tool <scope=tool>', 'an MCP tool the scope unlocks (repeatable)', pairOption((_s, tool) => (TOOL_NAME.test(tool) ? undefined : 'not a valid MCP tool name')), [])
    .option('--allow-email-domain <domain>', 'only people with a verified email in this domain (repeatable; with --allow-group: either)', collect, [])
    .option('--allow-group <group>', 'only members of this group (repeatable)', collect, [])
    .option('--scope-allow-group <scope=group>', 'only members of this group may get that scope (repeatable)', pairOption(), [])
    .option('--tool-approval <tool=mode>', 'a person approves this tool\'s calls: each-call or once-per-grant (repeatable; docs/TOOL-APPROVALS.md)', toolModes, [])
    .option('--scope-approval <scope=mode>', 'a person approves the calls of every tool of that scope: each-call or once-per-grant (repeatable)', scopeModes, [])
    .option('--delegate-connection <id=scopes>', 'the server may obtain the person\'s token at this connection, asking for these upstream scopes (comma-separated; repeatable; with update: replaces the delegation policy; docs/DELEGATION.md)', delegationOption, [])
    .option('--delegate-resource <uri=scopes>', 'the server may obtain a token for this MCP server on the person\'s behalf, with these scopes (repeatable)', delegationOption, [])
    .option('--if-version <version>', 'refuse if the server changed since this version (its `version`)')
    .option('--json', 'print one JSON object');
/** The RESOURCES-shaped fields the flags give; only those given (scopes when any --scope is). */
function resourceFields(opts: ResourceOpts): Record<string, unknown> {
  const scopes: Record<string, { description: string; tools: string[]; access?: { email_domains: string[]; groups: string[] }; approval?: string }> = {};
  for (const s of opts.scope) {
    const [name = '', ...rest] = s.split('=');
    if (!SCOPE_NAME.test(name)) throw new CliError(`--scope ${s}: not a valid scope name`);
    scopes[name] = { description: rest.join('=') || name, tools: [] };
  }
  const declared = (flag: string, scope: string, value: string) => {
    if (!scopes[scope]) throw new CliError(`${flag} ${scope}=${value}: declare the scope with --scope first`);
    return scopes[scope];
  };
  for (const [scope, tool] of opts.tool) declared('--tool', scope, tool).tools.push(tool);
  for (const [scope, group] of opts.scopeAllowGroup) (declared('--scope-allow-group', scope, group).access ??= { email_domains: [], groups: [] }).groups.push(group);
  for (const [scope, mode] of opts.scopeApproval) declared('--scope-approval', scope, mode).approval = mode;
  const restricted = opts.allowEmailDomain.length || opts.allowGroup.length;
  return {
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    ...(opts.description !== undefined ? { description: opts.description } : {}),
    ...(opts.scope.length ? { scopes } : {}),
    ...(restricted ? { access: { email_domains: opts.allowEmailDomain.map((d) => d.toLowerCase()), groups: opts.allowGroup } } : {}),
    ...(opts.toolApproval.length ? { tool_approval: Object.fromEntries(opts.toolApproval) } : {}),
    ...(opts.delegateConnection.length || opts.delegateResource.length
      ? { delegation: { connections: Object.fromEntries(opts.delegateConnection), resources: Object.fromEntries(opts.delegateResource) } }
      : {}),
  };
}
const serverLines = (r: McpServerJson) =>
  [
    `${r.uri}${r.default ? ' (default)' : ''}${r.managed_by ? ` (managed by ${r.managed_by})` : ''}${r.from_environment ? ' (in RESOURCES)' : ''}`,
    `  name: ${r.name}`,
    ...(r.description ? [`  description: ${r.description}`] : []),
    ...Object.entries(r.scopes).map(([s, e]) => `  scope ${s}: ${e.description}${e.tools.length ? ` [tools: ${e.tools.join(' ')}]` : ''}${e.access ? ` [access: ${[...e.access.email_domains, ...e.access.groups].join(' ')}]` : ''}${e.approval ? ` [approval: ${e.approval}]` : ''}`),
    ...(r.access ? [`  access: ${[...r.access.email_domains, ...r.access.groups].join(' ') || 'nobody'}`] : []),
    ...Object.entries(r.tool_approval).map(([t, m]) => `  tool ${t}: approval ${m}`),
    ...(r.destructive_tools_approval ? [`  destructive tools: approval ${r.destructive_tools_approval}`] : []),
    ...Object.entries(r.delegation?.connections ?? {}).map(([id, s]) => `  may obtain tokens at connection ${id}${s.length ? ` [scopes: ${s.join(' ')}]` : ''}`),
    ...Object.entries(r.delegation?.resources ?? {}).map(([uri, s]) => `  may obtain tokens for ${uri}${s.length ? ` [scopes: ${s.join(' ')}]` : ''}`),
    `  version: ${r.version}`,
  ].join('\n');
/** The answer of an operation, or undefined when it is a 404. */
async function found(operationId: string, input: Invocation): Promise<unknown> {
  try {
    return await invoke(operationId, input);
  } catch (err) {
    if (err instanceof InvokeError && err.status === 404) return undefined;
    throw err;
  }
}
const environmentNote = (r: { from_environment: boolean }) => (r.from_environment ? ' (it is in RESOURCES: the next start puts the environment\'s version back)' : '');

resourceFlags(
  resource
    .command('add')
    .description('register an MCP server tokens can be issued for (replaces it whole if it exists)')
    .requiredOption('--uri <uri>', 'canonical URI of the MCP server, e.g. https://mcp.example.com/mcp'),
)
  .addOption(approvalOption('--destructive-approval <mode>', 'a person approves the calls of every tool the server reports as possibly destructive'))
  .option('--default', 'use for clients that send no resource parameter')
  .action(async (opts: ResourceOpts & { uri: string }) => {
    const fields = { scopes: {}, ...resourceFields(opts), ...(opts.destructiveApproval ? { destructive_tools_approval: opts.destructiveApproval } : {}), default: !!opts.default };
    // `add` of a server that exists replaces it, as it always has: the API's replace, audited as an update.
    const existing = (await found('getMcpServer', { params: { uri: opts.uri } })) as McpServerJson | undefined;
    const saved = (existing
      ? await invoke('replaceMcpServer', { params: { uri: existing.uri }, body: fields, version: opts.ifVersion })
      : await invoke('createMcpServer', { body: { uri: opts.uri, ...fields } })) as McpServerJson;
    output(!!opts.json, saved, `resource ${saved.uri} saved${existing ? environmentNote(saved) : ''}`);
  });
resourceFlags(resource.command('update <uri>').description('change only the fields given (--scope replaces the whole catalogue)'))
  .addOption(approvalOption('--destructive-approval <mode>', 'a person approves the calls of every tool the server reports as possibly destructive (none: no mark)', true))
  .option('--default', 'use for clients that send no resource parameter')
  .option('--no-default', 'no longer the default')
  .option('--clear-description', 'remove the description')
  .option('--clear-access', 'remove the access rule (everyone who may sign in)')
  .option('--clear-tool-approvals', 'remove every tool\'s approval mark')
  .option('--clear-delegation', 'the server may obtain no token on anyone\'s behalf')
  .action(async (uri: string, opts: ResourceOpts & { clearDescription?: boolean; clearAccess?: boolean; clearToolApprovals?: boolean; clearDelegation?: boolean }) => {
    const body: Record<string, unknown> = {
      ...resourceFields(opts),
      ...(opts.clearDescription ? { description: null } : {}),
      ...(opts.clearAccess ? { access: null } : {}),
      ...(opts.clearToolApprovals ? { tool_approval: null } : {}),
      ...(opts.clearDelegation ? { delegation: null } : {}),
      ...(opts.destructiveApproval ? { destructive_tools_approval: opts.destructiveApproval === 'none' ? null : opts.destructiveApproval } : {}),
      ...(opts.default !== undefined ? { default: opts.default } : {}),
    };
    if (!Object.keys(body).length) throw new CliError('nothing to change: give a flag (gatehouse resource update --help)');
    const saved = (await invoke('updateMcpServer', { params: { uri }, body, version: opts.ifVersion })) as McpServerJson;
    output(!!opts.json, saved, `resource ${saved.uri} updated${environmentNote(saved)}`);
  });
resource
  .command('set-scope <uri> <scope>')
  .description('add or replace one scope of the catalogue: its description, tools, access rule and approval mark')
  .option('--description <text>', 'what the scope allows, on the consent page (default: the scope)')
  .option('--tool <tool>', 'an MCP tool the scope unlocks (repeatable)', collect, [])
  .option('--allow-email-domain <domain>', 'only people with a verified email in this domain may get the scope (repeatable)', collect, [])
  .option('--allow-group <group>', 'only members of this group may get the scope (repeatable)', collect, [])
  .addOption(approvalOption('--approval <mode>', 'a person approves the calls of every tool of the scope'))
  .option('--if-version <version>', 'refuse if the server changed since this version')
  .option('--json', 'print one JSON object')
  .action(async (uri: string, scope: string, opts: { description?: string; tool: string[]; allowEmailDomain: string[]; allowGroup: string[]; approval?: string; ifVersion?: string; json?: boolean }) => {
    const restricted = opts.allowEmailDomain.length || opts.allowGroup.length;
    const body = {
      ...(opts.description !== undefined ? { description: opts.description } : {}),
      tools: opts.tool,
      ...(restricted ? { access: { email_domains: opts.allowEmailDomain.map((d) => d.toLowerCase()), groups: opts.allowGroup } } : {}),
      ...(opts.approval ? { approval: opts.approval } : {}),
    };
    const saved = (await invoke('setMcpServerScope', { params: { uri, scope }, body, version: opts.ifVersion })) as McpServerJson;
    output(!!opts.json, saved, `scope ${scope} of ${saved.uri} saved${environmentNote(saved)}`);
  });
resource
  .command('remove-scope <uri> <scope>')
  .description('remove one scope of the catalogue')
  .option('--if-version <version>', 'refuse if the server changed since this version')
  .option('--json', 'print one JSON object')
  .action(async (uri: string, scope: string, opts: { ifVersion?: string; json?: boolean }) => {
    const saved = (await invoke('removeMcpServerScope', { params: { uri, scope }, version: opts.ifVersion })) as McpServerJson;
    output(!!opts.json, saved, `scope ${scope} of ${saved.uri} removed${environmentNote(saved)}`);
  });
resource
  .command('list')
  .description('list registered MCP servers, by URI')
  .option('--search <text>', 'part of the URI, the name or a scope name')
  .option('--limit <n>', `at most this many (1 to ${MAX_LIMIT})`, positiveInt)
  .option('--cursor <cursor>', 'the next page (the previous answer\'s `next`)')
  .option('--json', 'print one JSON object')
  .action(async (opts: { search?: string; limit?: number; cursor?: string; json?: boolean }) => {
    const page = (await invoke('listMcpServers', { query: { q: opts.search, limit: opts.limit === undefined ? undefined : String(opts.limit), cursor: opts.cursor } })) as { items: McpServerJson[]; next: string | null };
    const line = (r: McpServerJson) => `${r.default ? '* ' : '  '}${r.uri}  ${r.name}  [${Object.keys(r.scopes).join(' ')}]${r.managed_by ? `  (managed by ${r.managed_by})` : ''}`;
    output(!!opts.json, page, [...page.items.map(line), ...(page.next ? [`… more: --cursor ${page.next}`] : [])].join('\n') || 'no resources');
  });
resource
  .command('show <uri>')
  .description('one MCP server with its catalogue, access rule and approval marks')
  .option('--json', 'print one JSON object')
  .action(async (uri: string, opts: { json?: boolean }) => {
    const r = (await invoke('getMcpServer', { params: { uri } })) as McpServerJson;
    output(!!opts.json, r, serverLines(r));
  });
resource
  .command('remove')
  .description('remove an MCP server: no new token can be issued for it (issued ones expire)')
  .argument('<uri>', 'the MCP server URI')
  .option('--if-version <version>', 'refuse if the server changed since this version')
  .option('--json', 'print one JSON object')
  .action(async (uri: string, opts: { ifVersion?: string; json?: boolean }) => {
    const removed = (await invoke('deleteMcpServer', { params: { uri }, version: opts.ifVersion })) as { uri: string; name: string; from_environment: boolean };
    output(!!opts.json, removed, `resource ${removed.uri} removed${removed.from_environment ? ' (it is in RESOURCES: it returns at the next start)' : ''}`);
  });

// Connections over the admin API (docs/ADMIN-API.md, "Connections"): --json prints the API's answer; a refusal
// names the flag at fault (the API names the field: client_id → --client-id). Secrets are never printed.
const csv = (v: string) => v.split(/[\s,]+/).filter(Boolean);
type ConnectionJson = { id: string; name: string; kind: string; issuer: string | null; client_id: string | null; has_client_secret: boolean; scopes: string[]; tenant: string | null; allowed_tenants: string[]; hosted_domains: string[]; groups_claim: string | null; orgs: string[]; store_tokens: boolean; allow_private_network: boolean; id_jag: boolean; id_jag_resource: string | null; source: string; managed_by: string | null; version: string };
type ConnectionOpts = {
  id?: string; kind?: string; name?: string; issuer?: string; clientId?: string; clientSecret?: string; clientSecretStdin?: boolean; removeClientSecret?: boolean; scopes?: string; tenant?: string;
  allowedTenants?: string; hostedDomains?: string; groupsClaim?: string; orgs?: string; storeTokens?: boolean; allowPrivateNetwork?: boolean; idJag?: boolean; idJagResource?: string; ifVersion?: string; json?: boolean;
};
const API_FIELDS = ['id', 'kind', 'name', 'issuer', 'client_id', 'client_secret', 'scopes', 'tenant', 'allowed_tenants', 'hosted_domains', 'groups_claim', 'orgs', 'store_tokens', 'allow_private_network', 'id_jag', 'id_jag_resource'];
/** A connection operation; without --json, a refusal's `field: problem` parts become `--flag: problem` lines. */
async function connectionInvoke(operationId: string, input: Invocation, json: boolean): Promise<ConnectionJson> {
  try {
    return (await invoke(operationId, input)) as ConnectionJson;
  } catch (err) {
    if (json || !(err instanceof InvokeError) || err.status !== 400 && err.status !== 409) throw err;
    throw new CliError(err.message.split('; ').map((part) => part.replace(/^(\w+): /, (whole, field: string) => (API_FIELDS.includes(field) ? `--${field.replaceAll('_', '-')}: ` : whole))).join('\n'));
  }
}
/** The settings the flags give, in the API's names ("" kept: it clears a setting on update). */
function connectionSettings(opts: ConnectionOpts, secret: string | undefined): Record<string, unknown> {
  const entries: Array<[string, unknown]> = [
    ['name', opts.name], ['issuer', opts.issuer], ['client_id', opts.clientId], ['client_secret', secret], ['scopes', opts.scopes === undefined ? undefined : csv(opts.scopes)],
    ['tenant', opts.tenant], ['allowed_tenants', opts.allowedTenants === undefined ? undefined : csv(opts.allowedTenants)],
    ['hosted_domains', opts.hostedDomains === undefined ? undefined : csv(opts.hostedDomains).map((d) => d.toLowerCase())], ['groups_claim', opts.groupsClaim],
    ['orgs', opts.orgs === undefined ? undefined : csv(opts.orgs)], ['store_tokens', opts.storeTokens], ['allow_private_network', opts.allowPrivateNetwork],
    ['id_jag', opts.idJag], ['id_jag_resource', opts.idJagResource],
  ];
  return Object.fromEntries(entries.filter(([, v]) => v !== undefined));
}
/** The flags that describe a connection (`add` and `update`). */
const connectionFlags = (c: Command) =>
  c
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
    .option('--id-jag', 'accept identity assertions (ID-JAG) from this IdP: oidc, okta, entra, google (docs/ENTERPRISE-MANAGED-AUTHORIZATION.md)')
    .option('--id-jag-resource <uri>', 'the MCP server an assertion without `resource` is for (Okta sends none)');
const connectionLine = (c: ConnectionJson) => `${c.id}  ${c.kind}  "${c.name}"  ${c.issuer ?? ''}  (${c.source}${c.managed_by ? `; managed by ${c.managed_by}` : ''})`;
const secretOf = async (opts: ConnectionOpts) => (opts.clientSecretStdin ? (await readStdin()) || undefined : opts.clientSecret || undefined);

const connection = program.command('connection').description('upstream identity providers people log in with (over the admin API when a server is running)');
connectionFlags(
  connection
    .command('add')
    .description('add an identity provider connection (the login page shows "Continue with <name>")')
    .addOption(new Option('--kind <kind>', 'the kind of identity provider').choices(CONNECTION_KINDS).makeOptionMandatory())
    .option('--id <id>', 'stable id (lower-case letters, digits, dashes); defaults to the kind'),
)
  .option('--json', 'print one JSON object')
  .action(async (opts: ConnectionOpts) => {
    const body: Record<string, unknown> = { kind: opts.kind, ...(opts.id !== undefined ? { id: opts.id } : {}), ...connectionSettings(opts, await secretOf(opts)) };
    for (const [k, v] of Object.entries(body)) if (v === '') delete body[k];
    const saved = await connectionInvoke('addConnection', { body }, !!opts.json);
    const issuer = (process.env.GATEHOUSE_URL ?? config().ISSUER).replace(/\/$/, '');
    output(!!opts.json, saved, `connection ${saved.id} (${saved.kind}) added; register ${issuer}${CALLBACK_PATH} as its redirect URI at the IdP`);
  });
connectionFlags(
  connection
    .command('update <id>')
    .description('change a connection\'s settings (not its id or kind): the flags given replace those settings, "" clears one; the secret is kept unless given or removed'),
)
  .option('--no-store-tokens', 'stop keeping upstream refresh tokens')
  .option('--no-allow-private-network', 'public addresses only')
  .option('--no-id-jag', 'stop accepting identity assertions from this IdP')
  .addOption(new Option('--remove-client-secret', 'remove the stored client secret').conflicts(['clientSecret', 'clientSecretStdin']))
  .option('--if-version <version>', 'refuse if the connection changed since this version (default: the version read just before)')
  .option('--json', 'print one JSON object')
  .action(async (id: string, opts: ConnectionOpts) => {
    const current = await connectionInvoke('getConnection', { params: { id } }, !!opts.json);
    // PUT replaces every setting: start from the current ones, so a flag not given keeps its value.
    const { kind, name, issuer, client_id, scopes, tenant, allowed_tenants, hosted_domains, groups_claim, orgs, store_tokens, allow_private_network, id_jag, id_jag_resource } = current;
    const base = Object.fromEntries(Object.entries({ kind, name, issuer, client_id, scopes, tenant, allowed_tenants, hosted_domains, groups_claim, orgs, store_tokens, allow_private_network, id_jag, id_jag_resource }).filter(([, v]) => v !== null && v !== undefined));
    const body: Record<string, unknown> = { ...base, ...connectionSettings(opts, await secretOf(opts)), ...(opts.removeClientSecret ? { client_secret: null } : {}) };
    for (const [k, v] of Object.entries(body)) if (v === '') delete body[k];
    const saved = await connectionInvoke('replaceConnection', { params: { id }, body, version: opts.ifVersion ?? current.version }, !!opts.json);
    output(!!opts.json, saved, `connection ${saved.id} updated`);
  });
pagingFlags(connection.command('list').description('list connections (secrets are never printed)'))
  .option('--json', 'print one JSON object')
  .action(async (opts: { limit?: number; cursor?: string; json?: boolean }) => {
    const page = (await invoke('listConnections', { query: pageQuery(opts) })) as { items: ConnectionJson[]; next: string | null };
    output(!!opts.json, page, [...page.items.map(connectionLine), ...more(page.next)].join('\n') || 'no connections');
  });
connection
  .command('show <id>')
  .description('one connection with its settings (never its secret)')
  .option('--json', 'print one JSON object')
  .action(async (id: string, opts: { json?: boolean }) => {
    const c = await connectionInvoke('getConnection', { params: { id } }, !!opts.json);
    output(!!opts.json, c, Object.entries(c).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : String(v)}`).join('\n'));
  });
connection
  .command('remove <id>')
  .description('remove a connection (accounts linked through it stay; its stored upstream tokens are deleted)')
  .option('--json', 'print one JSON object')
  .action(async (id: string, opts: { json?: boolean }) => {
    const removed = await connectionInvoke('removeConnection', { params: { id } }, !!opts.json);
    output(!!opts.json, removed, `connection ${removed.id} removed`);
  });
connection
  .command('test <id>')
  .description('fetch the connection\'s discovery document now and say what it holds (or what went wrong); exit code 1 on a problem')
  .option('--json', 'print one JSON object')
  .action(async (id: string, opts: { json?: boolean }) => {
    const tested = (await invoke('testConnection', { params: { id } })) as { connection: ConnectionJson; ok: boolean; problem: string | null; report: { issuer: string } | null };
    output(!!opts.json, tested, tested.problem ? `connection ${id}: ${tested.problem}` : tested.report ? `connection ${id}: discovery of ${tested.report.issuer} answered` : `connection ${id}: nothing to discover`);
    if (tested.problem) process.exitCode = 1;
  });
connection
  .command('global-logout-secret <id>')
  .description('make a new global token revocation credential for the connection (printed once; the earlier one stops working), or remove it with --clear (docs/UNIVERSAL-LOGOUT.md)')
  .option('--clear', 'remove the credential: calls with it are refused from now on')
  .option('--json', 'print one JSON object')
  .action(async (id: string, opts: { clear?: boolean; json?: boolean }) => {
    if (opts.clear) {
      const cleared = await connectionInvoke('clearConnectionGlobalLogoutSecret', { params: { id } }, !!opts.json);
      output(!!opts.json, cleared, `connection ${cleared.id}: global logout secret removed`);
      return;
    }
    const made = (await invoke('rotateConnectionGlobalLogoutSecret', { params: { id } })) as { connection: ConnectionJson; secret: string; global_token_revocation_endpoint: string; security_events_endpoint: string };
    output(!!opts.json, made, [
      `connection ${made.connection.id}: new global logout secret (shown once; any earlier one no longer works):`,
      made.secret,
      `endpoint: POST ${made.global_token_revocation_endpoint} with Authorization: Bearer <secret>`,
    ].join('\n'));
  });

// Policy overrides (the console's Policy page) over the admin API (docs/ADMIN-API.md, "Policy"): --json prints the
// API's answer. The CLI in-process is the break-glass path: no self-lockout check for it (admin/policy.ts).
type PolicyJson = { name: string; effective: unknown; environment: unknown; overridden: boolean; updated_by: string | null; updated_at: string | null; managed_by: string | null; version: string };
const shownValue = (v: unknown) => (Array.isArray(v) ? (v.length ? v.join(',') : '(empty)') : String(v));
const policyLine = (e: PolicyJson) =>
  `${e.name.padEnd(22)} ${shownValue(e.effective)}${e.overridden ? `  (overridden by ${e.updated_by ?? '?'}; environment: ${shownValue(e.environment)})` : ''}${e.managed_by ? `  (managed by ${e.managed_by})` : ''}`;
const settingArgument = (optional = false) => new Argument(optional ? '[name]' : '<name>', 'the setting').choices(POLICY_SETTINGS);
const policyCmd = program.command('policy').description(`settings stored in the database over the environment: ${POLICY_SETTINGS.join(', ')} (over the admin API when a server is running)`);
policyCmd
  .command('show')
  .description('each setting (or the one named): the value in force, the environment value, and who overrode it')
  .addArgument(settingArgument(true))
  .option('--json', 'print one JSON object')
  .action(async (name: string | undefined, opts: { json?: boolean }) => {
    if (name) {
      const e = (await invoke('getPolicySetting', { params: { name } })) as PolicyJson;
      return output(!!opts.json, e, policyLine(e));
    }
    const list = (await invoke('listPolicySettings')) as { items: PolicyJson[] };
    output(!!opts.json, list, list.items.map(policyLine).join('\n'));
  });
policyCmd
  .command('set')
  .description('override a setting (the value is written as its environment variable would be; "" for an empty list)')
  .addArgument(settingArgument())
  .argument('<value>', 'the value')
  .option('--if-version <version>', 'refuse if the setting changed since this version')
  .option('--json', 'print one JSON object')
  .action(async (name: string, value: string, opts: { ifVersion?: string; json?: boolean }) => {
    const e = (await invoke('setPolicySetting', { params: { name }, body: { value }, version: opts.ifVersion })) as PolicyJson;
    output(!!opts.json, e, `${name} is now ${shownValue(e.effective)} (every instance within a few seconds)`);
  });
policyCmd
  .command('reset')
  .description('hand a setting back to the environment')
  .addArgument(settingArgument())
  .option('--if-version <version>', 'refuse if the setting changed since this version')
  .option('--json', 'print one JSON object')
  .action(async (name: string, opts: { ifVersion?: string; json?: boolean }) => {
    const e = (await invoke('resetPolicySetting', { params: { name }, version: opts.ifVersion })) as PolicyJson;
    output(!!opts.json, e, `${name} now follows the environment: ${shownValue(e.effective)}`);
  });

// The declarative configuration file (docs/CONFIG-FILE.md): what applying it would change, applying it through the
// admin service layer (actor "config"), and the current state written as one. Secrets are never printed.
const configCmd = program.command('config').description('the declarative configuration file (GATEHOUSE_CONFIG): plan, apply, export');
/** --file, else GATEHOUSE_CONFIG (loaded and checked with the rest of the configuration). */
function declaredFile(cfg: Config, file: string | undefined): ConfigFile {
  if (file === undefined) {
    const loaded = configFileOf(cfg);
    if (!loaded) throw new CliError('no configuration file: give --file <path> or set GATEHOUSE_CONFIG');
    return loaded;
  }
  try {
    return loadConfigFile(file, { env: environment(), production: cfg.NODE_ENV === 'production', resources: cfg.RESOURCES, envConnectionId: cfg.UPSTREAM_PROVIDER });
  } catch (err) {
    if (err instanceof ConfigFileError) throw new ConfigError(err.problems.map((p) => `--file: ${p}`));
    throw err;
  }
}
/**
 * Runs a config command on the database; beside a server holding the embedded database, through its admin API with
 * the server's local key (docs/ADMIN-API.md, "The CLI"): the server reads its own secrets, as at start.
 */
async function onDatabaseOrServer<T>(direct: (s: Services) => Promise<T>, overApi: (invoker: Invoker) => Promise<T>): Promise<T> {
  const cfg = config();
  let services: Services;
  try {
    services = await openServices(cfg, { log: createLogger(cfg.LOG_LEVEL === 'info' ? 'warn' : cfg.LOG_LEVEL), connectRetrySeconds: 0 });
  } catch (err) {
    const local = err instanceof DataDirLockedError ? localServerTarget(cfg.dataDir) : undefined;
    if (!local) throw err;
    return overApi(remoteInvoker(local));
  }
  try {
    return await direct(services);
  } finally {
    await services.handle.close();
  }
}

const fileText = (file: ConfigFile) => ({ path: resolvePath(file.path), content: readFileSync(file.path, 'utf8') });

configCmd
  .command('plan')
  .description('print what applying the file would change: + add, ~ update (fields), - remove')
  .option('--file <path>', 'the file (default: GATEHOUSE_CONFIG)')
  .option('--json', 'print one JSON object')
  .action(async (opts: { file?: string; json?: boolean }) => {
    const file = declaredFile(config(), opts.file);
    const changes = await onDatabaseOrServer(
      async (s) => adminAction(async () => planConfigFile(file, await configContext(s))),
      async (api) => ((await api.invoke('planConfig', { body: fileText(file) })) as { changes: Change[] }).changes,
    );
    output(!!opts.json, { file: file.path, changes }, changes.map(describeChange).join('\n') || `no changes: the database matches ${file.path}`);
  });
configCmd
  .command('apply')
  .description('apply the file through the admin service layer (audited as actor "config"); idempotent')
  .option('--file <path>', 'the file (default: GATEHOUSE_CONFIG)')
  .option('--json', 'print one JSON object')
  .action(async (opts: { file?: string; json?: boolean }) => {
    const file = declaredFile(config(), opts.file);
    const applied = await onDatabaseOrServer(
      async (s) => {
        try {
          return await adminAction(async () => applyConfigFile(file, await configContext(s)));
        } catch (err) {
          if (err instanceof ApplyError) throw new CliError(err.message);
          throw err;
        }
      },
      async (api) => ((await api.invoke('applyConfig', { body: fileText(file) })) as { applied: Change[] }).applied,
    );
    output(!!opts.json, { file: file.path, applied }, applied.length ? `${applied.map(describeChange).join('\n')}\n${applied.length} change(s) applied` : `no changes: the database matches ${file.path}`);
  });
configCmd
  .command('export')
  .description('print the current state as a configuration file (YAML; --json: JSON); secrets are never exported')
  .option('--json', 'print one JSON object')
  .action(async (opts: { json?: boolean }) => {
    const content = await onDatabaseOrServer(
      async (s) => exportConfig(await configContext(s)),
      async (api) => (await api.invoke('exportConfig')) as Record<string, unknown>,
    );
    process.stdout.write(opts.json ? `${JSON.stringify(content)}\n` : exportYaml(content));
  });

/** Whether the command line asked for JSON: then an error is one JSON object on stderr too. */
function jsonWanted(): boolean {
  return process.argv.slice(2).includes('--json');
}

function jsonError(error: string, description: string, extra: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ error, error_description: description, ...extra })}\n`);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here too, successfully.
    if (err.exitCode === 0) process.exit(0);
    if (jsonWanted()) jsonError('invalid_request', err.message.replace(/^error: /, ''), { status: 400 });
    process.exitCode = err.exitCode || 1;
  } else if (jsonWanted()) {
    if (err instanceof InvokeError) jsonError(err.error, err.message, { ...(err.field ? { field: err.field } : {}), status: err.status });
    else if (err instanceof ConfigError) jsonError('configuration_error', err.problems.join('; '), { problems: err.problems });
    else if (err instanceof DataDirLockedError) jsonError('database_in_use', err.message, { status: 503 });
    else if (err instanceof DatabaseUnreachableError) jsonError('database_unavailable', err.message, { status: 503 });
    else if (err instanceof CliError || err instanceof AccountError) jsonError('invalid_request', err.message, { status: 400 });
    else jsonError(err instanceof AdminError ? err.code : 'server_error', (err as { error_description?: string; message?: string }).error_description ?? (err as Error).message ?? String(err), err instanceof AdminError ? { status: err.status } : { status: 500 });
    process.exitCode = 1;
  } else if (err instanceof InvokeError) {
    process.stderr.write(`gatehouse: ${err.message}${err.field ? ` (${err.field})` : ''}\n`);
    process.exitCode = 1;
  } else if (err instanceof ConfigError) {
    for (const p of err.problems) process.stderr.write(`gatehouse: configuration error: ${p}\n`);
  } else if (err instanceof DataDirLockedError || err instanceof DatabaseUnreachableError || err instanceof AccountError || err instanceof CliError) {
    process.stderr.write(`gatehouse: ${err.message}\n`);
  } else {
    const e = err as { message?: string; error_description?: string };
    process.stderr.write(`gatehouse: ${e.error_description ?? e.message ?? String(err)}\n`);
  }
  process.exitCode = 1;
}
