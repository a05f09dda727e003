// What the app and its policy table are built from (src/app.ts, src/policy-table.ts): every service of one
// Gatehouse instance, opened by gatehouse.ts.
import type { AuditLog } from './audit/writer.js';
import type { FirstPartyClients } from './oauth/first-party-clients.js';
import type { Config } from './config.js';
import type { Db } from './db/connection.js';
import type { RateLimits } from './http/rate-limits.js';
import type { Views } from './views/views.js';
import type { Logger } from './log.js';
import type { ClientRegistry } from './oauth/client-registry.js';
import type { ProviderHolder } from './oauth/provider-holder.js';
import type { ResourceRegistry } from './oauth/resources.js';
import type { Accounts } from './upstream/accounts.js';
import type { Connections } from './upstream/connections.js';
import type { LocalAccounts } from './upstream/local/accounts.js';
import type { UpstreamTransactions } from './upstream/transactions.js';
import type { TokenVaultApi } from './upstream/token-vault.js';
import type { ConsoleSessions } from './console/sessions.js';
import type { PolicySettings } from './policy/settings.js';
import type { SecretBox } from './crypto/secret-box.js';
import type { CimdClients } from './oauth/cimd/cimd-clients.js';
import type { Metrics } from './metrics/registry.js';
import type { ApprovalService } from './approvals/service.js';
import type { ToolApprovals } from './approvals/store.js';
import type { McpServerInventories } from './reporting/inventory.js';
import type { LocalCliKey } from './admin-api/local-cli-credentials.js';
import type { PersonRevocation } from './oauth/person-revocation.js';

export interface AppDeps {
  /** Gatehouse's own clients (oauth/first-party-clients.ts). */
  firstParty: FirstPartyClients;
  config: Config;
  db: Db;
  log: Logger;
  secretKey: string;
  holder: ProviderHolder;
  resources: ResourceRegistry;
  accounts: Accounts;
  users: LocalAccounts;
  connections: Connections;
  transactions: UpstreamTransactions;
  /** The person's upstream tokens for MCP servers (docs/TOKEN-VAULT.md). */
  vault: TokenVaultApi;
  views: Views;
  audit: AuditLog;
  registry: ClientRegistry;
  rateLimits: RateLimits;
  box: SecretBox;
  cimdClients: CimdClients;
  consoleSessions: ConsoleSessions;
  policy: PolicySettings;
  metrics: Metrics;
  /** The person's own pages' sessions (account/). */
  accountSessions: ConsoleSessions;
  inventories: McpServerInventories;
  /** Per-call approval of tool calls (docs/TOOL-APPROVALS.md). */
  approvals: ApprovalService;
  approvalStore: ToolApprovals;
  /** The CLI's key when this server holds the embedded database (docs/ADMIN-API.md, "The CLI"). */
  localCli?: LocalCliKey | undefined;
  /** Ends every grant and session of a person at once (docs/IDENTITY-LIFECYCLE.md). */
  personRevocation: PersonRevocation;
}
