// Microsoft Entra ID (the Microsoft identity platform, v2.0 endpoints). Three things make it more than generic OIDC:
//
// - Any Microsoft tenant can mint a validly signed ID token, and anyone can create a tenant. A multi-tenant
//   connection (`organizations` or `common`) therefore signs in only the tenants listed in allowedTenants, checked
//   on the token's `tid`; openid-client already binds the token's `iss` to that `tid` (the {tenantid} issuer
//   template of multi-tenant discovery). A single tenant is pinned by its discovery issuer.
// - Entra's `email` claim is the directory's `mail` attribute: any tenant admin can set it to any address, verified
//   or not (the "nOAuth" class of account takeovers). It counts as verified only with the optional claim
//   `xms_edov` ("email domain owner verified") set to true.
// - Above 200 groups, Entra leaves the `groups` claim out and points at Microsoft Graph instead (the overage). Gatehouse
//   does not call Graph: the identity is marked groupsIncomplete, and group rules refuse rather than guess.
//
// The subject is `oid`, the person's object id in the tenant, rather than `sub`, which Entra makes pairwise per app
// registration: replacing the app registration would otherwise turn every person into a stranger. `oid` comes with
// the `profile` scope, which is therefore always requested. Only Gatehouse's own scopes go upstream: never the MCP
// `resource` parameter (Entra rejects it, and it names a Gatehouse resource, not a Microsoft one) nor MCP scopes.
import { commonProblems, DOMAIN_NAME, type ConnectionKind, type ConnectionSpec, type ConnectorDeps, type SpecField, oidcRevalidation } from '../connection.js';
import { UpstreamError, type Identity } from '../connector.js';
import { OidcConnector } from '../oidc/index.js';
import { str, type IdTokenClaims } from '../oidc/oidc-client.js';

const LOGIN = 'https://login.microsoftonline.com';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MULTI_TENANT = new Set(['organizations', 'common']);
/** The tenant of personal Microsoft accounts (outlook.com, hotmail.com…): not an organisation. */
const CONSUMER_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';

const isMultiTenant = (spec: ConnectionSpec) => MULTI_TENANT.has((spec.tenant ?? '').toLowerCase());

function entraProblems(spec: ConnectionSpec): Array<[SpecField, string]> {
  const problems: Array<[SpecField, string]> = [];
  if (spec.issuer !== undefined) {
    problems.push(['issuer', 'must not be set for an entra connection: the issuer follows from the tenant (https://login.microsoftonline.com/<tenant>/v2.0)']);
  }
  const tenant = (spec.tenant ?? '').toLowerCase();
  if (!tenant) {
    problems.push(['tenant', 'required for an entra connection: a tenant id (GUID) or verified domain, or organizations for several tenants']);
  } else if (tenant === 'consumers' || tenant === CONSUMER_TENANT) {
    problems.push(['tenant', 'personal Microsoft accounts (consumers) cannot sign in: use a tenant id or domain, or organizations']);
  } else if (!MULTI_TENANT.has(tenant) && !GUID.test(tenant) && !DOMAIN_NAME.test(tenant)) {
    problems.push(['tenant', 'must be a tenant id (GUID), a verified domain of the tenant, organizations or common']);
  }
  if (MULTI_TENANT.has(tenant)) {
    if (!spec.allowedTenants.length) {
      problems.push(['allowedTenants', `required with tenant ${tenant}: the tenant ids (GUIDs) allowed to sign in, since anyone can create a Microsoft tenant`]);
    } else if (spec.allowedTenants.some((t) => !GUID.test(t))) {
      problems.push(['allowedTenants', 'must be tenant ids (GUIDs): a token carries its tenant as an id, never as a domain']);
    } else if (spec.allowedTenants.some((t) => t.toLowerCase() === CONSUMER_TENANT)) {
      problems.push(['allowedTenants', 'must not include the personal Microsoft accounts tenant (9188040d-6c67-4c5b-b112-36a304b66dad)']);
    }
  } else if (spec.allowedTenants.length) {
    problems.push(['allowedTenants', 'only for a multi-tenant connection (tenant organizations or common); a single tenant is already pinned']);
  }
  return problems;
}

export class EntraConnector extends OidcConnector {
  /** A Microsoft refresh token is good for every resource the person consented to (docs/TOKEN-VAULT.md). */
  readonly multiResource = true;

  constructor(spec: ConnectionSpec, deps: ConnectorDeps) {
    // `profile` carries `oid`, the subject: keep it even in a custom scope list.
    const scopes = spec.scopes.length && !spec.scopes.includes('profile') ? [...spec.scopes, 'profile'] : spec.scopes;
    super({ ...spec, scopes }, deps, new URL(`${LOGIN}/${encodeURIComponent(spec.tenant!)}/v2.0`));
  }

  /** The token's tenant must be one this connection serves: the attack is a tenant the attacker created. */
  protected override verify(claims: IdTokenClaims): void {
    const tid = str(claims.tid)?.toLowerCase();
    const tenant = this.spec.tenant!.toLowerCase();
    const allowed = isMultiTenant(this.spec)
      ? this.spec.allowedTenants.some((t) => t.toLowerCase() === tid)
      : !GUID.test(tenant) || tid === tenant; // a domain tenant is pinned by its discovered GUID issuer instead
    if (!tid || !allowed) {
      throw new UpstreamError(
        `entra: tenant ${tid ?? '(none)'} is not allowed`,
        'Your Microsoft account belongs to an organisation that is not allowed to sign in here. Use your work account of an allowed organisation.',
      );
    }
    if (!str(claims.oid)) throw new Error('Microsoft sent no oid claim (the profile scope was not granted)');
  }

  /**
   * Another resource's token (https://graph.microsoft.com, an API's application id URI): `.default` asks for every
   * permission already consented for it, offline_access for the rotated refresh token. Never more than consented.
   */
  protected override resourceScope(resource: string): string {
    return `${resource.replace(/\/+$/, '')}/.default offline_access`;
  }

  /** `email` is an unverified directory attribute; only `xms_edov` (an optional claim) vouches for its domain. */
  protected override emailVerified(claims: Record<string, unknown>): boolean {
    return claims.xms_edov === true || claims.xms_edov === 'true';
  }

  protected override identity(claims: IdTokenClaims, profile: Record<string, unknown>, groupsClaim: string): Identity {
    const identity = super.identity(claims, profile, groupsClaim);
    // Overage: `_claim_names.groups` (code flow) or `hasgroups` (implicit) instead of the list itself.
    const claimNames = claims._claim_names;
    const overage =
      (typeof claimNames === 'object' && claimNames !== null && groupsClaim in claimNames) ||
      (groupsClaim === 'groups' && (claims.hasgroups === true || claims.hasgroups === 'true'));
    return {
      ...identity,
      subject: str(claims.oid)!,
      ...(overage ? { groups: [], groupsIncomplete: true } : {}),
    };
  }
}

export const entraKind: ConnectionKind = {
  kind: 'entra',
  displayName: 'Microsoft',
  validate: (spec, production) => [...entraProblems(spec), ...commonProblems(spec, production)],
  create: (spec, deps) => new EntraConnector(spec, deps),
  // Microsoft's UserInfo carries no `oid` (the subject here): without a refresh token there is nothing to re-read.
  revalidation: (spec) =>
    spec.storeTokens
      ? oidcRevalidation(spec)
      : { mode: 'login-only', note: 'No upstream refresh token (turn on "Ask the IdP for a refresh token" to get one): Microsoft cannot be asked again, so people are re-validated only at their next login.' },
};
