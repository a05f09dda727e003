// One Gatehouse instance: config → database → migrations → keys → provider → app. main.ts listens and handles
// signals; tests start one on an ephemeral port with the same function.
import { limitHeapGrowth } from './heap-growth.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from './app.js';
import { auditProviderEvents } from './audit/provider-events.js';
import { AuditLog, REPEAT_WINDOW_MS } from './audit/writer.js';
import type { Config } from './config.js';
import { SecretBox } from './crypto/secret-box.js';
import { resolveSecretKey } from './crypto/secret-key.js';
import { openDatabase, type DbHandle } from './db/connection.js';
import { waitForDatabase } from './db/connect-retry.js';
import { migrateLatest } from './db/migrations.js';
import { backfillMachineClientMark } from './oauth/machine-client-backfill.js';
import { Views } from './views/views.js';
import { createLogger, type Logger } from './log.js';
import { deleteExpiredPayloads } from './oauth/adapter.js';
import { ensureSigningKeys, loadKeySet } from './oauth/keys.js';
import { buildProvider } from './oauth/provider.js';
import { recordClientUse } from './oauth/policies/hooks/client-last-use.js';
import { GrantActivity, recordGrantUse } from './oauth/grant-activity.js';
import { ProviderHolder } from './oauth/provider-holder.js';
import { ResourceRegistry } from './oauth/resources.js';
import { ClientRegistry } from './oauth/client-registry.js';
import { CimdClients } from './oauth/cimd/cimd-clients.js';
import { CimdTrust, type CimdFetchOverrides } from './oauth/cimd/trust.js';
import { RateLimits } from './http/rate-limits.js';
import { Accounts } from './upstream/accounts.js';
import type { ConnectorDeps } from './upstream/connection.js';
import { Connections } from './upstream/connections.js';
import { connectionFromEnv } from './upstream/env-connection.js';
import { LocalAccounts } from './upstream/local/accounts.js';
import { createBootstrapAdmin, issueFirstAdminLink } from './upstream/local/first-admin.js';
import type { BootstrapAdmin } from './upstream/local/bootstrap-admin.js';
import { AccountError } from './upstream/local/accounts.js';
import { ConfigError } from './config.js';
import { UpstreamTransactions } from './upstream/transactions.js';
import { UpstreamTokenStore } from './upstream/upstream-tokens.js';
import { TokenVault } from './upstream/token-vault.js';
import { CALLBACK_PATH } from './interaction/upstream-leg.js';
import { LocalCliKey } from './admin-api/local-cli-credentials.js';
import { issuerBase } from './http/issuer-path.js';
import { noteProviderServerError } from './http/errors.js';
import { PersonRevocation } from './oauth/person-revocation.js';
import { Revalidator } from './upstream/revalidation.js';
import { ConsoleSessions } from './console/sessions.js';
import { PolicySettings } from './policy/settings.js';
import { Metrics } from './metrics/registry.js';
import { consoleClient } from './console/console-client.js';
import { accountClient } from './account/account-client.js';
import { AccessTokenChecker } from './oauth/access-token.js';
import { ApprovalService } from './approvals/service.js';
import { ToolApprovals } from './approvals/store.js';
import { ApprovalWebhook } from './approvals/webhook.js';
import { McpServerInventories } from './reporting/inventory.js';
import { FirstPartyClients } from './oauth/first-party-clients.js';
import { auditMetrics } from './metrics/audit-metrics.js';
import { deleteOldBatchIds } from './reporting/tool-calls.js';
import cluster from 'node:cluster';
import { adminServices } from './admin/index.js';
import { applyConfigFile, ApplyError } from './admin/config-file/apply.js';
import { ConfigFile, loadConfigFile } from './admin/config-file/load.js';
import { describeChange, type ConfigContext } from './admin/config-file/plan.js';
import { environment } from './config.js';
import { forgetSeenEvents } from './signals/seen-events.js';
import { forgetSpentAssertions } from './oauth/grants/id-jag-assertion.js';

export interface Services {
  config: Config;
  log: Logger;
  handle: DbHandle;
  box: SecretBox;
  secretKey: string;
  resources: ResourceRegistry;
  /** Local accounts (email + password): the local connection's user store. */
  users: LocalAccounts;
  /** Accounts and the identities linked to them, whatever the connection. */
  accounts: Accounts;
  connections: Connections;
  transactions: UpstreamTransactions;
  upstreamTokens: UpstreamTokenStore;
  /** The person's upstream tokens for MCP servers (docs/TOKEN-VAULT.md). */
  vault: TokenVault;
  audit: AuditLog;
  registry: ClientRegistry;
  cimdClients: CimdClients;
  /** Policy overrides an admin set in the console, over the environment's defaults. */
  policy: PolicySettings;
}

/**
 * Opens the database and the services the server and the CLI share. Runs migrations when asked. PostgreSQL is waited
 * for first, for DB_CONNECT_RETRY_SECONDS unless `connectRetrySeconds` says otherwise (the CLI tries once): an
 * unreachable database is one DatabaseUnreachableError line (db/connect-retry.ts).
 */
export async function openServices(config: Config, options: { log?: Logger; migrate?: boolean; connectRetrySeconds?: number; upstreamFetch?: typeof fetch; upstreamGuard?: ConnectorDeps['guard'] } = {}): Promise<Services> {
  const log = options.log ?? createLogger(config.LOG_LEVEL);
  const secretKey = resolveSecretKey(config);
  if (config.DATABASE_URL) {
    await waitForDatabase(config.DATABASE_URL, { retrySeconds: options.connectRetrySeconds ?? config.DB_CONNECT_RETRY_SECONDS, onWait: (line) => log.warn(`waiting for the database: ${line}`) });
  }
  const handle = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.dataDir });
  try {
    if (options.migrate !== false) {
      const applied = await migrateLatest(handle.db);
      if (applied.length) log.info({ applied }, 'migrations applied');
    }
    const box = new SecretBox(secretKey);
    const users = new LocalAccounts(handle.db);
    const connections = new Connections(handle.db, box, {
      redirectUri: `${config.ISSUER}${CALLBACK_PATH}`,
      production: config.NODE_ENV === 'production',
      local: users,
      fetch: options.upstreamFetch,
      guard: options.upstreamGuard,
    });
    const audit = new AuditLog(handle.db, log, { repeatLimit: config.AUDIT_REPEAT_LIMIT });
    const accounts = new Accounts(handle.db);
    return {
      config,
      log,
      handle,
      box,
      secretKey,
      resources: new ResourceRegistry(handle.db),
      users,
      accounts,
      connections,
      transactions: new UpstreamTransactions(handle.db, box),
      upstreamTokens: new UpstreamTokenStore(handle.db, box),
      vault: new TokenVault({ db: handle.db, box, connections, audit, accounts }),
      audit,
      registry: new ClientRegistry(handle.db),
      cimdClients: new CimdClients(handle.db),
      policy: new PolicySettings(handle.db, config),
    };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

export interface RunningGatehouse {
  server: Server;
  url: string;
  services: Services;
  holder: ProviderHolder;
  /** This instance's metrics registry (what /metrics serves). */
  metrics: Metrics;
  /** Per-call approval of tool calls (its sweep runs every minute). */
  approvals: ApprovalService;
  close(): Promise<void>;
}

const CLEANUP_INTERVAL_MS = 10 * 60 * 1000;
const APPROVAL_SWEEP_MS = 60 * 1000;

/** Deletes dynamic clients unused for DCR_CLIENT_TTL_DAYS and audits the sweep. */
export async function sweepUnusedClients(services: Services): Promise<string[]> {
  const expired = await services.registry.sweepUnused(services.config.DCR_CLIENT_TTL_DAYS);
  if (expired.length) {
    await services.audit.record({ type: 'client.expired', outcome: 'success', actor: 'system', reason: `unused for ${services.config.DCR_CLIENT_TTL_DAYS} days`, details: { count: expired.length, client_ids: expired.slice(0, 100) } });
    services.log.info({ count: expired.length }, 'unused dynamic clients expired');
  }
  return expired;
}

/**
 * Deletes audit events older than AUDIT_RETENTION_DAYS, in batches, and audits the purge as one event. Exporting
 * what is to be kept longer is the operator's job (README, "The audit log").
 */
export async function purgeOldAuditEvents(services: Services): Promise<number> {
  const days = services.config.AUDIT_RETENTION_DAYS;
  const { deleted, batches, before } = await services.audit.deleteOlderThan(days);
  // Accepted batch ids of reported tool calls are only needed while a retry may still come (reporting/tool-calls.ts).
  await deleteOldBatchIds(services.handle.db);
  if (deleted) {
    await services.audit.record({ type: 'audit.purged', outcome: 'success', actor: 'system', reason: `older than ${days} days (AUDIT_RETENTION_DAYS)`, details: { deleted, batches, before: before.toISOString() } });
    services.log.info({ deleted }, 'old audit events deleted');
  }
  return deleted;
}

/**
 * What every instance makes sure of at start, idempotently: the seeded resources and connection, signing keys, and
 * the machine mark on admin-created confidential clients that predate it (oauth/machine-client-backfill.ts).
 */
export async function seedDatabase(services: Services, options: { applyConfigFile?: boolean } = {}): Promise<void> {
  await services.resources.seed(services.config.RESOURCES);
  await services.connections.seed(connectionFromEnv(services.config));
  await ensureSigningKeys(services.handle.db, services.box);
  // Opening the keys first names a wrong SECRET_KEY as such, before anything else sealed fails less clearly.
  await loadKeySet(services.handle.db, services.box);
  const marked = await backfillMachineClientMark(services.handle.db, services.box, services.registry);
  if (marked.length) {
    await services.audit.record({ type: 'client.machine_marked', outcome: 'success', actor: 'system', reason: 'admin-created confidential client kept client_credentials', details: { client_ids: marked.slice(0, 100), count: marked.length } });
    services.log.info({ count: marked.length }, 'admin-created confidential clients marked as machine clients');
  }
  if (options.applyConfigFile !== false && services.config.GATEHOUSE_CONFIG) await applyConfigFileAtStart(services);
}

/**
 * The admin service layer on these services, with a provider of its own (the server's is built after seeding): what
 * the configuration file is applied through, at start and by `gatehouse config` (docs/CONFIG-FILE.md).
 */
export async function configContext(services: Services): Promise<ConfigContext> {
  const { config, handle, box } = services;
  await ensureSigningKeys(handle.db, box);
  const provider = buildProvider({
    config, db: handle.db, box, secretKey: services.secretKey, keys: await loadKeySet(handle.db, box), resources: services.resources, accounts: services.accounts,
    views: new Views(issuerBase(config.ISSUER)), policy: services.policy, audit: services.audit, registry: services.registry,
    firstParty: new FirstPartyClients([consoleClient(config.ISSUER), accountClient(config.ISSUER)]),
    delegation: { connections: services.connections, vault: services.vault },
  });
  const admin = adminServices({
    config, db: handle.db, box, provider: () => provider, registry: services.registry, cimdClients: services.cimdClients, resources: services.resources,
    accounts: services.accounts, users: services.users, connections: services.connections, policy: services.policy, audit: services.audit, log: services.log,
    sessions: new ConsoleSessions(handle.db, services.secretKey, config.CONSOLE_IDLE_TIMEOUT * 1000),
    reloadKeys: async () => undefined,
  });
  return { db: handle.db, box, registry: services.registry, resources: services.resources, connections: services.connections, policy: services.policy, services: admin };
}

/** GATEHOUSE_CONFIG as configuration.ts loaded it, or loaded now (a Config built without configuration.ts). */
export function configFileOf(config: Config): ConfigFile | undefined {
  if (config.configFile instanceof ConfigFile) return config.configFile;
  if (!config.GATEHOUSE_CONFIG) return undefined;
  return loadConfigFile(config.GATEHOUSE_CONFIG, { env: environment(), production: config.NODE_ENV === 'production', resources: config.RESOURCES, envConnectionId: config.UPSTREAM_PROVIDER });
}

/**
 * Applies GATEHOUSE_CONFIG at start (docs/CONFIG-FILE.md, "At start"). Another instance starting at the same moment
 * may apply the same changes first; a failure is therefore planned and tried once more before the start fails.
 */
async function applyConfigFileAtStart(services: Services): Promise<void> {
  const file = configFileOf(services.config);
  if (!file) return;
  const ctx = await configContext(services);
  let applied;
  try {
    applied = await applyConfigFile(file, ctx);
  } catch (err) {
    if (!(err instanceof ApplyError)) throw err;
    applied = await applyConfigFile(file, ctx);
  }
  if (applied.length) services.log.info({ file: file.path, changes: applied.map(describeChange) }, 'configuration file applied');
}

export interface StartOptions {
  log?: Logger;
  /** Test-only trust anchors, resolver and connect spy for CIMD fetches; deliberately not configurable. */
  cimdFetch?: CimdFetchOverrides;
  /** Test-only: serves upstream IdP endpoints (discovery, token, APIs) from a stub. */
  upstreamFetch?: typeof fetch;
  /** Test-only resolver and connect spy for the connections' guarded fetch; deliberately not configurable. */
  upstreamGuard?: ConnectorDeps['guard'];
  /** false: do not issue and log the first-administrator link (every worker but the first, cluster/supervisor.ts). */
  announceSetup?: boolean;
  /** BOOTSTRAP_ADMIN_* as main.ts read them (upstream/local/bootstrap-admin.ts): created before listening if no admin exists. */
  bootstrapAdmin?: BootstrapAdmin | undefined;
}

/**
 * Creates the BOOTSTRAP_ADMIN_EMAIL administrator unless an administrator exists (first-admin.ts), audited; safe on
 * every start of every instance. A local account of that email that is not an admin stops the start (ConfigError).
 */
export async function bootstrapFirstAdmin(services: Services, admin: BootstrapAdmin): Promise<void> {
  let created;
  try {
    created = await createBootstrapAdmin(services.handle.db, services.users, admin);
  } catch (err) {
    if (err instanceof AccountError) throw new ConfigError([err.message]);
    throw err;
  }
  if (!created) return;
  await services.audit.record({ type: 'admin.created', outcome: 'success', actor: 'system', reason: 'BOOTSTRAP_ADMIN_EMAIL at start', details: { email: created.email } });
  services.log.info({ email: created.email }, 'first administrator created from BOOTSTRAP_ADMIN_EMAIL');
  if (!(await services.connections.list()).some((c) => c.kind === 'local')) {
    services.log.warn('BOOTSTRAP_ADMIN_EMAIL: no password sign-in (local connection) is enabled, so this administrator cannot sign in until one is');
  }
}

export async function startGatehouse(config: Config, options: StartOptions = {}): Promise<RunningGatehouse> {
  limitHeapGrowth();
  // Warnings first: a misspelt variable (config.ts) may be why the database wait below never ends.
  const startLog = options.log ?? createLogger(config.LOG_LEVEL);
  for (const warning of config.warnings) startLog.warn(warning);
  const services = await openServices(config, { ...options, log: startLog });
  const { log, handle, box, resources, accounts, users, audit } = services;
  const timers: NodeJS.Timeout[] = [];
  try {
    // A cluster's primary applied the configuration file before forking its workers (cluster/supervisor.ts).
    await seedDatabase(services, { applyConfigFile: !cluster.isWorker });
    if (options.bootstrapAdmin) await bootstrapFirstAdmin(services, options.bootstrapAdmin);
    const views = new Views(issuerBase(config.ISSUER));
    const metrics = new Metrics(handle.db);
    audit.observe(auditMetrics(metrics));
    const cimd = new CimdTrust({ config, clients: services.cimdClients, audit, policy: services.policy, fetch: options.cimdFetch });
    // Gatehouse's own clients (the console's and the account pages' sign-in): the provider defines them, sign-in marks
    // their fresh logins.
    const firstParty = new FirstPartyClients([consoleClient(config.ISSUER), accountClient(config.ISSUER)]);
    const consoleSessions = new ConsoleSessions(handle.db, services.secretKey, config.CONSOLE_IDLE_TIMEOUT * 1000);
    const accountSessions = new ConsoleSessions(handle.db, services.secretKey, config.CONSOLE_IDLE_TIMEOUT * 1000, 'account');
    // Each grant's last use for the person's connected apps (docs/CONNECTED-APPS.md): never awaited by /token.
    const grantActivity = new GrantActivity(handle.db, (err) => log.error({ err }, 'recording a grant use failed'));
    const personRevocation = new PersonRevocation(handle.db, async (accountId) => {
      await consoleSessions.destroyForAccount(accountId);
      await accountSessions.destroyForAccount(accountId);
    });
    // The IdP's word at refresh (docs/IDENTITY-LIFECYCLE.md); a person it says is gone loses everything at once.
    const revalidator = new Revalidator({
      db: handle.db, connections: services.connections, vault: services.vault, accounts, audit,
      settings: { intervalMs: config.UPSTREAM_REVALIDATE_INTERVAL * 1000, graceMs: config.UPSTREAM_REVALIDATE_GRACE * 1000, failOpen: config.UPSTREAM_REVALIDATE_FAIL_OPEN },
      onGone: async (account, reason, connectionId) => {
        const revoked = await personRevocation.revokeAll(account.id);
        await audit.record({
          type: 'account.deprovisioned', outcome: 'success', actor: 'system', reason,
          details: { accountId: account.id, email: account.email, connector: connectionId, grantsRevoked: revoked.grantIds.length, sessionsEnded: revoked.sessionsEnded, via: 'revalidation' },
        });
      },
    });
    const holder = new ProviderHolder(
      (keys) => {
        const provider = buildProvider({ config, db: handle.db, box, secretKey: services.secretKey, keys, resources, accounts, views, cimd, policy: services.policy, audit, registry: services.registry, firstParty, personRevocation, revalidator, delegation: { connections: services.connections, vault: services.vault } });
        auditProviderEvents(provider, audit);
        recordClientUse(provider, services.registry, (err) => log.error({ err }, 'recording a client use failed'));
        recordGrantUse(provider, grantActivity);
        // A database outage becomes a 503 (http/errors.ts), logged there without a stack; anything else is a bug.
        provider.on('server_error', (ctx: object, err: Error) => {
          if (!noteProviderServerError(ctx, err)) log.error({ err }, 'oidc-provider server error');
        });
        return provider;
      },
      (previous) => loadKeySet(handle.db, box, previous),
      log,
    );
    await holder.refresh();

    const rateLimits = new RateLimits(handle.db, config, audit);
    const inventories = new McpServerInventories(handle.db, audit);
    const approvalStore = new ToolApprovals(handle.db, box, config.APPROVAL_TTL * 1000);
    const approvals = new ApprovalService({
      issuer: config.ISSUER,
      store: approvalStore,
      tokens: new AccessTokenChecker(config.ISSUER, () => holder.keys),
      resources,
      inventories,
      accounts,
      provider: () => holder.provider,
      audit,
      webhook: config.APPROVAL_WEBHOOK_URL && config.APPROVAL_WEBHOOK_SECRET ? new ApprovalWebhook(config.APPROVAL_WEBHOOK_URL, config.APPROVAL_WEBHOOK_SECRET, audit) : undefined,
    });
    // A server on the embedded database makes a key for the CLI beside it (docs/ADMIN-API.md, "The CLI").
    const localCli = handle.embedded ? new LocalCliKey() : undefined;
    const app = buildApp({
      firstParty,
      config, db: handle.db, log, secretKey: services.secretKey, holder, resources, accounts, users, connections: services.connections,
      transactions: services.transactions, vault: services.vault, views, audit, registry: services.registry, rateLimits,
      box, cimdClients: services.cimdClients, consoleSessions, policy: services.policy, metrics,
      accountSessions, inventories, approvals, approvalStore, localCli, personRevocation,
    });
    const server = createServer(app.callback());
    server.requestTimeout = 30_000;
    server.headersTimeout = 20_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.PORT, config.HOST, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    // The CLI beside a server on the embedded database goes through the admin API (docs/ADMIN-API.md, "The CLI").
    if (localCli) {
      const host = !config.HOST || config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
      await localCli
        .write(config.dataDir, { issuer: config.ISSUER, url: `http://${host}:${port}${issuerBase(config.ISSUER)}` })
        .catch((err) => log.warn({ err }, 'the local CLI key could not be written: the CLI cannot reach this server through the admin API'));
    }

    // The setup link only makes sense where passwords are accepted; with an IdP, ADMIN_EMAILS/ADMIN_GROUPS decide.
    // Each start issues one link and kills the earlier ones; none while any administrator exists (first-admin.ts).
    const passwords = (await services.connections.list()).some((c) => c.kind === 'local');
    const setupLink = passwords && options.announceSetup !== false ? await issueFirstAdminLink(handle.db, users, config.ISSUER) : undefined;
    if (setupLink) log.warn({ setupLink }, `no administrator exists yet: create the first one at ${setupLink} (earlier setup links no longer work)`);

    timers.push(
      setInterval(() => {
        holder.refresh().catch((err) => log.error({ err }, 'signing key reload failed'));
      }, config.KEY_RELOAD_INTERVAL * 1000),
      setInterval(() => {
        deleteExpiredPayloads(handle.db)
          .then((n) => n && log.info({ deleted: n }, 'expired authorization state deleted'))
          .catch((err) => log.error({ err }, 'cleanup failed'));
        sweepUnusedClients(services).catch((err) => log.error({ err }, 'client expiry sweep failed'));
        services.transactions.deleteExpired().catch((err) => log.error({ err }, 'upstream transaction cleanup failed'));
        consoleSessions.deleteExpired().catch((err) => log.error({ err }, 'console session cleanup failed'));
        accountSessions.deleteExpired().catch((err) => log.error({ err }, 'account session cleanup failed'));
        purgeOldAuditEvents(services).catch((err) => log.error({ err }, 'audit retention cleanup failed'));
        forgetSeenEvents(handle.db).catch((err) => log.error({ err }, 'security event id cleanup failed'));
        forgetSpentAssertions(handle.db).catch((err) => log.error({ err }, 'identity assertion id cleanup failed'));
        grantActivity.deleteOrphans().catch((err) => log.error({ err }, 'grant activity cleanup failed'));
      }, CLEANUP_INTERVAL_MS),
      // Approval requests past their time are expired and audited within a minute (docs/TOOL-APPROVALS.md).
      setInterval(() => {
        approvals.sweep().catch((err) => log.error({ err }, 'approval expiry sweep failed'));
      }, APPROVAL_SWEEP_MS),
      // The summaries of repeated refusals (audit/repeats.ts) are written when their window ends.
      setInterval(() => void audit.flushRepeats(), REPEAT_WINDOW_MS),
    );
    for (const t of timers) t.unref();

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        for (const t of timers) clearInterval(t);
        // Stop accepting, let in-flight requests finish, drop idle keep-alive sockets, then close the pool.
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          setTimeout(() => server.closeAllConnections(), 10_000).unref();
        });
        await audit.flushRepeats(true); // counted refusals are not lost at shutdown
        await grantActivity.settled();
        await localCli?.remove().catch(() => undefined);
        await handle.close();
      })());

    log.info({ issuer: config.ISSUER, port, database: handle.embedded ? `embedded (${config.dataDir})` : 'postgresql' }, 'gatehouse listening');
    return { server, url: `http://127.0.0.1:${port}`, services, holder, metrics, approvals, close };
  } catch (err) {
    for (const t of timers) clearInterval(t);
    await handle.close();
    throw err;
  }
}
