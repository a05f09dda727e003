// What the console's pages may use: the services every module exports (never another module's tables), the
// provider of the moment, and the console's own page helpers.
import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/connection.js';
import type { Logger } from '../log.js';
import type { CimdClients } from '../oauth/cimd/cimd-clients.js';
import type { ClientRegistry } from '../oauth/client-registry.js';
import type { ProviderHolder } from '../oauth/provider-holder.js';
import type { ResourceRegistry } from '../oauth/resources.js';
import type { Accounts } from '../upstream/accounts.js';
import type { Connections } from '../upstream/connections.js';
import type { LocalAccounts } from '../upstream/local/accounts.js';
import type { PolicySettings } from '../policy/settings.js';
import type { McpServerInventories } from '../reporting/inventory.js';
import type { ConsolePages } from './render.js';
import type { ConsoleSessions } from './sessions.js';

export interface ConsoleDeps {
  config: Config;
  db: Db;
  box: SecretBox;
  log: Logger;
  holder: ProviderHolder;
  provider: () => Provider;
  resources: ResourceRegistry;
  /** What each MCP server last reported of its tools (reporting/inventory.ts). */
  inventories: McpServerInventories;
  accounts: Accounts;
  users: LocalAccounts;
  connections: Connections;
  registry: ClientRegistry;
  cimdClients: CimdClients;
  audit: AuditLog;
  sessions: ConsoleSessions;
  /** The person's own pages' sessions (account/): the people pages list and end them with the console's. */
  accountSessions?: ConsoleSessions | undefined;
  pages: ConsolePages;
  policy: PolicySettings;
}
