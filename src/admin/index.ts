// The admin service layer, composed (docs/ARCHITECTURE.md, "The admin service layer"): one object per kind of thing
// administration changes. The console, the CLI, the admin API and the configuration file each build it from the
// services they hold and call it; none of them changes a table or writes an administrative audit event itself.
import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/connection.js';
import type { Logger } from '../log.js';
import type { CimdClients } from '../oauth/cimd/cimd-clients.js';
import type { ClientRegistry } from '../oauth/client-registry.js';
import type { ResourceRegistry } from '../oauth/resources.js';
import type { PolicySettings } from '../policy/settings.js';
import type { Accounts } from '../upstream/accounts.js';
import type { Connections } from '../upstream/connections.js';
import type { LocalAccounts } from '../upstream/local/accounts.js';
import { AuditAdmin } from './audit.js';
import { inLane } from './serialized.js';
import { ConfigFileAdmin } from './config-file/admin.js';
import { ClientAdmin } from './clients.js';
import { ConnectionAdmin } from './connections.js';
import { GrantAdmin } from './grants.js';
import { KeyAdmin } from './keys.js';
import { PeopleAdmin, type AppSessions } from './people.js';
import { PolicyAdmin } from './policy.js';
import { RegistrationTokenAdmin } from './registration-tokens.js';
import { ResourceAdmin } from './resources.js';

export interface AdminDeps {
  config: Config;
  db: Db;
  box: SecretBox;
  /** The provider of the moment (its models create and revoke clients and grants). */
  provider: () => Provider;
  registry: ClientRegistry;
  cimdClients: CimdClients;
  resources: ResourceRegistry;
  accounts: Accounts;
  users: LocalAccounts;
  connections: Connections;
  policy: PolicySettings;
  audit: AuditLog;
  log: Pick<Logger, 'warn'>;
  /** A person's console sessions (console/sessions.ts): listed, and ended when they are disabled or an admin ends them. */
  sessions: AppSessions;
  /** A person's account-page sessions (the same code, `account_sessions`): the server and the CLI hand them in. */
  accountSessions?: AppSessions | undefined;
  /** Makes this process publish rotated signing keys at once (the server's key holder; a no-op in the CLI). */
  reloadKeys: () => Promise<unknown>;
}

export interface AdminServices {
  clients: ClientAdmin;
  audit: AuditAdmin;
  resources: ResourceAdmin;
  policy: PolicyAdmin;
  people: PeopleAdmin;
  grants: GrantAdmin;
  keys: KeyAdmin;
  registrationTokens: RegistrationTokenAdmin;
  connections: ConnectionAdmin;
  configFile: ConfigFileAdmin;
}

export function adminServices(deps: AdminDeps): AdminServices {
  const services: AdminServices = {
    clients: inLane(new ClientAdmin(deps), deps),
    audit: inLane(new AuditAdmin(deps), deps),
    resources: inLane(new ResourceAdmin(deps), deps),
    policy: inLane(new PolicyAdmin(deps), deps),
    people: inLane(new PeopleAdmin(deps), deps),
    grants: inLane(new GrantAdmin(deps), deps),
    keys: inLane(new KeyAdmin(deps), deps),
    registrationTokens: inLane(new RegistrationTokenAdmin(deps), deps),
    connections: inLane(new ConnectionAdmin(deps), deps),
    configFile: inLane(new ConfigFileAdmin(deps, () => services), deps),
  };
  return services;
}
