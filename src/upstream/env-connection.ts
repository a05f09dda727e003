// The connection UPSTREAM_* describes, seeded at every start. Its id is the provider kind, so
// identities stay linked across restarts and setting changes; problems are reported under the variable's name.
import type { ConnectionSpec, SpecField } from './connection.js';
import { connectionSpec, validateConnection } from './connections.js';
import { KINDS } from './kinds.js';

export interface UpstreamEnv {
  UPSTREAM_PROVIDER: ConnectionSpec['kind'];
  UPSTREAM_NAME?: string | undefined;
  UPSTREAM_ISSUER?: string | undefined;
  UPSTREAM_CLIENT_ID?: string | undefined;
  UPSTREAM_CLIENT_SECRET?: string | undefined;
  UPSTREAM_SCOPES: string[];
  UPSTREAM_TENANT?: string | undefined;
  UPSTREAM_ALLOWED_TENANTS: string[];
  UPSTREAM_HOSTED_DOMAINS: string[];
  UPSTREAM_GROUPS_CLAIM?: string | undefined;
  UPSTREAM_ORGS: string[];
  UPSTREAM_STORE_TOKENS: boolean;
  UPSTREAM_ALLOW_PRIVATE_NETWORK: boolean;
}

const VARIABLE: Record<SpecField, string> = {
  id: 'UPSTREAM_PROVIDER',
  kind: 'UPSTREAM_PROVIDER',
  name: 'UPSTREAM_NAME',
  issuer: 'UPSTREAM_ISSUER',
  clientId: 'UPSTREAM_CLIENT_ID',
  clientSecret: 'UPSTREAM_CLIENT_SECRET',
  scopes: 'UPSTREAM_SCOPES',
  tenant: 'UPSTREAM_TENANT',
  allowedTenants: 'UPSTREAM_ALLOWED_TENANTS',
  hostedDomains: 'UPSTREAM_HOSTED_DOMAINS',
  groupsClaim: 'UPSTREAM_GROUPS_CLAIM',
  orgs: 'UPSTREAM_ORGS',
  storeTokens: 'UPSTREAM_STORE_TOKENS',
  allowPrivateNetwork: 'UPSTREAM_ALLOW_PRIVATE_NETWORK',
  // Not settable from the environment: an administrator turns identity assertions on in a door that audits it.
  idJag: 'UPSTREAM_PROVIDER',
  idJagResource: 'UPSTREAM_PROVIDER',
};

export function connectionFromEnv(env: UpstreamEnv): ConnectionSpec {
  const kind = env.UPSTREAM_PROVIDER;
  let name = env.UPSTREAM_NAME ?? KINDS[kind].displayName;
  if (!env.UPSTREAM_NAME && kind === 'oidc' && env.UPSTREAM_ISSUER && URL.canParse(env.UPSTREAM_ISSUER)) name = new URL(env.UPSTREAM_ISSUER).host;
  return connectionSpec({
    id: kind,
    kind,
    name,
    issuer: env.UPSTREAM_ISSUER, // as given: issuers compare byte for byte, trailing slash included
    clientId: env.UPSTREAM_CLIENT_ID,
    clientSecret: env.UPSTREAM_CLIENT_SECRET,
    scopes: env.UPSTREAM_SCOPES,
    tenant: env.UPSTREAM_TENANT,
    allowedTenants: env.UPSTREAM_ALLOWED_TENANTS,
    hostedDomains: env.UPSTREAM_HOSTED_DOMAINS.map((d) => d.toLowerCase()),
    groupsClaim: env.UPSTREAM_GROUPS_CLAIM,
    orgs: env.UPSTREAM_ORGS,
    storeTokens: env.UPSTREAM_STORE_TOKENS,
    allowPrivateNetwork: env.UPSTREAM_ALLOW_PRIVATE_NETWORK,
  });
}

/** One line per problem, each naming its variable. */
export function envConnectionProblems(env: UpstreamEnv, production: boolean): string[] {
  return validateConnection(connectionFromEnv(env), production).map(([field, message]) => `${VARIABLE[field]}: ${message}`);
}
