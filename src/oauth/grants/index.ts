// The grant types Gatehouse adds to oidc-provider's (docs/DELEGATION.md): each is one module exporting a GrantType,
// registered here, so an auditor finds every way a token is minted in one list.
import type Provider from 'oidc-provider';
import type { Client, KoaContextWithOIDC, ResourceServer } from 'oidc-provider';
import type { Middleware } from 'koa';
import type { AuditLog } from '../../audit/writer.js';
import type { Config } from '../../config.js';
import type { Db } from '../../db/connection.js';
import type { PolicyReader } from '../../policy/settings.js';
import type { Accounts } from '../../upstream/accounts.js';
import type { Connections } from '../../upstream/connections.js';
import type { TokenVaultApi } from '../../upstream/token-vault.js';
import type { KeySet } from '../keys.js';
import type { ResourceRegistry } from '../resources.js';
import type { ClientRegistry } from '../client-registry.js';
import { tokenExchangeGrant } from './token-exchange.js';
import { identityAssertionGrant } from './identity-assertion.js';

export interface GrantDeps {
  config: Config;
  db: Db;
  keys: () => KeySet;
  resources: ResourceRegistry;
  accounts: Accounts;
  connections: Connections;
  vault: TokenVaultApi;
  audit: AuditLog;
  policy: PolicyReader;
  /** Whether a client is active (an administrator may disable or hold one). */
  registry: Pick<ClientRegistry, 'findForGate'>;
  /** What a token for a resource is, as the provider's resource indicators define it (policies/hooks/resource-indicators.ts). */
  resourceServerInfo: (ctx: KoaContextWithOIDC, resource: string, client: Client) => Promise<ResourceServer>;
}

export interface GrantType {
  /** The grant_type value. */
  name: string;
  /** The request parameters the grant reads (besides grant_type and client authentication). */
  params: string[];
  handler: (deps: GrantDeps) => Middleware;
}

const GRANTS: GrantType[] = [tokenExchangeGrant, identityAssertionGrant];

export function registerGrants(provider: Provider, deps: GrantDeps): void {
  for (const grant of GRANTS) provider.registerGrantType(grant.name, grant.handler(deps) as never, grant.params);
}
