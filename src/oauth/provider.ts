// oidc-provider configured for the MCP authorization profile. Every rule lives in its own module
// under policies/; this file only composes them, so an auditor finds each rule by name.
import { hkdfSync, randomBytes } from 'node:crypto';
import Provider, { type Configuration } from 'oidc-provider';
import type { Config } from '../config.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/connection.js';
import { accountActive, accountFromRow, type AccountRow, type Accounts } from '../upstream/accounts.js';
import { accountKey, takeAhead } from './read-ahead.js';
import type { Views } from '../views/views.js';
import { proxyOptions } from '../http/client-address.js';
import { issuerBase } from '../http/issuer-path.js';
import { PostgresAdapter, spendRefreshToken } from './adapter.js';
import { settlePendingConsumes } from './refresh-rotation.js';
import { DYNAMIC_CLIENT_PREFIX } from './client-kind.js';
import { clientMetadataHook } from './client-metadata-hook.js';
import { applyClientCredentialsRule } from './patches/client-grant-type-allowed.js';
import { guardedFetch } from '../net/guarded-fetch.js';
import { failureMessage, type CimdTrust } from './cimd/trust.js';
import { personWording } from './error-wording.js';
import type { KeySet } from './keys.js';
import type { ResourceRegistry } from './resources.js';
import { interactionPolicyWithResourceConsent } from './policies/hooks/consent-covers-resource.js';
import { introspectionAllowed } from './policies/hooks/introspection.js';
import { applyLoopbackRedirectRule } from './patches/loopback-redirect-allowed.js';
import { pkceRequired } from './policies/hooks/pkce-required.js';
import { issueRefreshToken } from './policies/hooks/refresh-tokens.js';
import { refreshTokenTtl, rotateWithinAbsoluteLifetime } from './policies/hooks/refresh-lifetime.js';
import { adminApiAudience } from './admin-api-audience.js';
import { resourceIndicators } from './policies/hooks/resource-indicators.js';
import { ROUTES } from '../http/route-table.js';
import { loadRememberedGrant } from './remembered-consent.js';
import { admitsCurrentAccess } from './policies/hooks/current-access.js';
import type { AuditLog } from '../audit/writer.js';
import type { PolicyReader } from '../policy/settings.js';
import type { FirstPartyClients } from './first-party-clients.js';
import type { ClientRegistry } from './client-registry.js';
import type { PersonRevocation } from './person-revocation.js';
import type { Revalidator } from '../upstream/revalidation.js';
import { revalidatedAtRefresh } from './policies/hooks/upstream-revalidation.js';
import { registerGrants } from './grants/index.js';
import { actorOf } from './grants/actor.js';
import type { Connections } from '../upstream/connections.js';
import type { TokenVaultApi } from '../upstream/token-vault.js';

/** OpenID scopes; MCP scopes belong to resources (resources table) and are never listed here. */
export const STATIC_SCOPES = ['openid', 'offline_access', 'email', 'profile'] as const;

export interface ProviderDeps {
  config: Config;
  db: Db;
  box: SecretBox;
  secretKey: string;
  keys: KeySet;
  resources: ResourceRegistry;
  accounts: Accounts;
  views: Views;
  /** Who may sign in, checked again at every refresh and silent authorization (policies/hooks/current-access.ts). */
  policy: PolicyReader;
  audit: AuditLog;
  /** CIMD rules (oauth/cimd/trust.ts); absent in CLI-built providers, which never resolve clients by URL. */
  cimd?: CimdTrust;
  /** Gatehouse's own clients (the console's sign-in), injected from the top. */
  firstParty: FirstPartyClients;
  /** Where a client came from: introspection honours a resource link only on an admin-created one. */
  registry: Pick<ClientRegistry, 'findForGate'>;
  /** Ends every grant and session of a person the IdP says is gone (docs/IDENTITY-LIFECYCLE.md). */
  personRevocation?: PersonRevocation | undefined;
  /** Asks the IdP about the person again at refresh (docs/IDENTITY-LIFECYCLE.md); absent in CLI-built providers. */
  revalidator?: Revalidator | undefined;
  /** Token exchange and identity assertions (docs/DELEGATION.md): registered in every provider, since a client's grant_types may name them. */
  delegation: { connections: Connections; vault: TokenVaultApi };
}

/** Cookie signing keys derived from SECRET_KEY; the outer Koa app must use the same ones. */
export function cookieKeys(secretKey: string): string[] {
  return [Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), 'gatehouse cookies v1', 32)).toString('base64url')];
}

export function buildProvider(deps: ProviderDeps): Provider {
  const { config } = deps;
  const secure = config.ISSUER.startsWith('https:');
  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, secure, signed: true };
  // With an ISSUER path, oidc-provider builds its URLs under it from ctx.mountPath (http/issuer-path.ts), and the
  // interaction and resume cookies take their paths from those URLs. The session cookie has no path of its own: it
  // is scoped to the issuer's path here, so instances mounted at different paths of one host keep apart sessions.
  // (Only `long` gets a path: oidc-provider spreads `short` over the interaction cookie's own path.)
  const base = issuerBase(config.ISSUER);
  const refreshLifetime = { ttl: config.REFRESH_TOKEN_TTL, absoluteTtl: config.REFRESH_TOKEN_ABSOLUTE_TTL };
  const sessionCookieOptions = base ? { ...cookieOptions, path: base } : cookieOptions;
  // One definition of what a token for a resource is (audience, scopes, lifetime, JWT signing): the authorization
  // endpoints' and the grants Gatehouse adds (grants/index.ts) alike.
  const indicators = resourceIndicators({
    resources: deps.resources,
    firstParty: deps.firstParty,
    keys: () => deps.keys,
    accessTokenTtl: config.ACCESS_TOKEN_TTL,
    caps: { resources: config.DCR_ALLOWED_RESOURCES, scopes: config.DCR_ALLOWED_SCOPES },
    adminApiAudience: adminApiAudience(config.ISSUER),
  });

  const configuration: Configuration = {
    adapter: (name: string) => new PostgresAdapter(name, { db: deps.db, box: deps.box }),
    // Gatehouse's own clients (first-party-clients.ts): defined in code, never stored.
    clients: [...deps.firstParty.metadata],
    jwks: { keys: deps.keys.providerJwks() as NonNullable<Configuration['jwks']>['keys'] },
    cookies: { keys: cookieKeys(deps.secretKey), long: sessionCookieOptions, short: cookieOptions },
    routes: ROUTES,
    responseTypes: ['code'],
    pkce: { required: pkceRequired },
    scopes: [...STATIC_SCOPES],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    enabledJWA: { idTokenSigningAlgValues: ['ES256', 'RS256'] },
    allowOmittingSingleRegisteredRedirectUri: false,
    // The client-metadata policy (client-metadata-policy.ts) on every Client oidc-provider builds, metadata
    // documents included; also keeps Gatehouse's admin-only properties (gatehouse_resource, gatehouse_machine_client).
    extraClientMetadata: clientMetadataHook({ staticScopes: STATIC_SCOPES, redirectUriSchemes: config.REDIRECT_URI_SCHEMES }),
    features: {
      devInteractions: { enabled: false },
      // Always off: REGISTRATION is runtime policy an admin may change, so "closed" (an initial access token from
      // `gatehouse registration-token create`) is enforced per request by policies/request/registration-closed.ts.
      registration: { enabled: true, idFactory: () => `${DYNAMIC_CLIENT_PREFIX}${randomId()}`, initialAccessToken: false },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
      revocation: { enabled: true },
      introspection: {
        enabled: true,
        allowedPolicy: introspectionAllowed({ adminCreated: async (id) => (await deps.registry.findForGate(id))?.origin === 'static' }) as never,
      },
      // For admin-created confidential clients only: patches/client-grant-type-allowed.ts refuses everyone else.
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: false },
      resourceIndicators: indicators as never,
      clientIdMetadataDocument: config.CIMD && deps.cimd ? deps.cimd.feature() : { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
    },
    // The grant an access token was issued under, for the MCP server to hand back with an approval request: an
    // approval is bound to it (docs/TOOL-APPROVALS.md). A grant id is not a credential (adapter.ts stores it as is).
    // A token obtained by token exchange also names the MCP server acting for the person (docs/DELEGATION.md).
    extraTokenClaims: (_ctx, token) => {
      if (token.kind !== 'AccessToken') return undefined;
      const act = actorOf(token);
      return { ...(typeof token.grantId === 'string' ? { grant_id: token.grantId } : {}), ...(act ? { act } : {}) };
    },
    issueRefreshToken,
    rotateRefreshToken: rotateWithinAbsoluteLifetime(refreshLifetime),
    loadExistingGrant: async (ctx) => {
      // A first-party client is Gatehouse itself asking "who are you" (openid, no resource): nothing to consent to.
      const clientId = ctx.oidc.client?.clientId;
      if (clientId && deps.firstParty.has(clientId) && ctx.oidc.session?.accountId) {
        const grant = new ctx.oidc.provider.Grant({ clientId, accountId: ctx.oidc.session.accountId });
        grant.addOIDCScope('openid');
        await grant.save();
        return grant;
      }
      return loadRememberedGrant(ctx, deps);
    },
    ttl: {
      AccessToken: config.ACCESS_TOKEN_TTL,
      // The resource server decides (resource-indicators.ts): an admin API token lives at most 15 minutes
      // (docs/ADMIN-API.md, "Tokens"), an MCP server's ACCESS_TOKEN_TTL.
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ACCESS_TOKEN_TTL,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: refreshTokenTtl(refreshLifetime),
      // RFC 7592 management credentials expire too; each use rotates the token and starts a new lifetime.
      RegistrationAccessToken: config.REGISTRATION_ACCESS_TOKEN_TTL,
      Grant: 365 * 24 * 3600,
      Interaction: 30 * 60,
      Session: 14 * 24 * 3600,
    },
    interactions: {
      policy: interactionPolicyWithResourceConsent(),
      // Absolute path under the issuer: the `_interaction` cookie's path is this URL's.
      url: (_ctx, interaction) => `${base}/interaction/${interaction.uid}`,
    },
    findAccount: async (ctx, sub, token) => {
      // A code or refresh token redeemed in this request may have read the account with it (read-ahead.ts).
      const ahead = takeAhead<AccountRow>(accountKey(sub));
      const stored = ahead === undefined ? await deps.accounts.findById(sub) : ahead && accountFromRow(ahead);
      // A deprovisioned account (its IdP said it is gone) waits for a new sign-in through that IdP.
      if (!stored || !accountActive(stored)) return undefined;
      // A refresh first asks the IdP about the person again (docs/IDENTITY-LIFECYCLE.md).
      const account = await revalidatedAtRefresh(ctx, deps, stored);
      if (!account) return undefined;
      // A refresh, or a session that skips the login page, meets the policy in force today (issue 15, finding 7).
      if (!(await admitsCurrentAccess(ctx, deps, account, token))) return undefined;
      return {
        accountId: account.id,
        claims: async () => ({
          sub: account.id,
          ...(account.email ? { email: account.email, email_verified: account.emailVerified } : {}),
          ...(account.name ? { name: account.name } : {}),
        }),
      };
    },
    // Every outgoing request (CIMD documents, a client's jwks_uri) resolves, checks and pins the address first.
    fetch: deps.cimd?.fetch ?? guardedFetch({ allowPrivateAddresses: config.CIMD_ALLOW_PRIVATE_ADDRESSES }),
    // Tokens endpoints are called from browser-based MCP clients too; they carry no cookies, so any origin is safe.
    clientBasedCORS: () => true,
    renderError: async (ctx, out) => {
      // A CIMD refusal names the client_id host and the reason; any other error is put in words for the person, the
      // code and oidc-provider's own wording kept for the developer (error-wording.ts).
      const cimdFailure = deps.cimd?.failureFor(ctx);
      const error = String(out.error ?? 'server_error');
      const detail = out.error_description === undefined ? undefined : String(out.error_description);
      const wording = cimdFailure
        ? { title: 'This application could not be verified', description: failureMessage(cimdFailure) }
        : personWording(error, detail);
      ctx.type = 'html';
      ctx.body = deps.views.errorPage(ctx, { ...wording, error, detail: cimdFailure ? undefined : detail });
    },
  };

  const provider = new Provider(config.ISSUER, configuration);
  // The same client address as the outer app's (http/client-address.ts): oidc-provider is a Koa app of its own.
  Object.assign(provider, proxyOptions(config.TRUST_PROXY));
  applyLoopbackRedirectRule(provider);
  applyClientCredentialsRule(provider);
  if (config.CIMD) deps.cimd?.attach(provider);
  registerGrants(provider, {
    config, db: deps.db, keys: () => deps.keys, resources: deps.resources, accounts: deps.accounts, audit: deps.audit, policy: deps.policy, registry: deps.registry, resourceServerInfo: indicators.getResourceServerInfo, ...deps.delegation,
  });
  provider.use(settlePendingConsumes((key) => spendRefreshToken(deps.db, key)));
  return provider;
}

function randomId(): string {
  return randomBytes(16).toString('base64url');
}
