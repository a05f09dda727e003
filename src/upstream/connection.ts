// A connection is one configured upstream identity source: which kind of IdP, its client registration with that
// IdP, and the kind's options. Connections live in the database (see connections.ts); UPSTREAM_* seeds one.
// The settings are checked here, once, for the environment, the CLI and the console alike.
import { guardedFetch, type GuardedFetchOptions } from '../net/guarded-fetch.js';
import type { Connector } from './connector.js';
import type { LocalAccounts } from './local/accounts.js';

export const CONNECTION_KINDS = ['local', 'oidc', 'okta', 'entra', 'google', 'github'] as const;
export type ConnectionKindName = (typeof CONNECTION_KINDS)[number];

export interface ConnectionSpec {
  id: string; // stable slug: part of identity links, so never reused for another IdP
  name: string; // shown on the login page: "Continue with <name>"
  kind: ConnectionKindName;
  issuer?: string | undefined;
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  scopes: string[]; // empty: the kind's defaults
  tenant?: string | undefined; // entra
  allowedTenants: string[]; // entra multi-tenant
  hostedDomains: string[]; // google Workspace domains
  groupsClaim?: string | undefined; // oidc, okta, entra
  orgs: string[]; // github organisations
  storeTokens: boolean; // keep the upstream refresh/access token (encrypted) for the token vault
  // The IdP is on the organisation's own network: its requests may reach loopback, RFC 1918, CGNAT and ULA
  // addresses (never link-local or the cloud metadata service). Off, every request of the connection goes only
  // to public addresses (docs/SECURITY.md, "Issue 16").
  allowPrivateNetwork: boolean;
  // Accept identity assertions (ID-JAG) this IdP signs for its people (docs/ENTERPRISE-MANAGED-AUTHORIZATION.md):
  // a client then gets a token for an MCP server with no sign-in page. Off unless an administrator turns it on
  // (connectionSpec() fills false; optional only so specs written before it still type-check).
  idJag?: boolean | undefined;
  // The MCP server an assertion is for when it names none (Okta's carry no `resource`).
  idJagResource?: string | undefined;
}

export type SpecField = keyof ConnectionSpec;

export interface ConnectorDeps {
  /** Gatehouse's fixed callback, registered at the IdP: `${ISSUER}/upstream/callback`. */
  redirectUri: string;
  production: boolean;
  local: LocalAccounts;
  /** Tests only: serves the IdP's endpoints from a stub, in place of the guarded fetch. */
  fetch?: typeof fetch | undefined;
  /** Tests only: how the guarded fetch resolves names and a spy on its connects (never reachable by configuration). */
  guard?: Pick<GuardedFetchOptions, 'resolve' | 'beforeConnect' | 'ca'> | undefined;
}

// Upstream answers are larger than a CIMD document (an Entra discovery document, a JWKS with several keys) but
// still small; 10 s is openid-client's timeout here too.
const UPSTREAM_MAX_BODY = 256 * 1024;
const UPSTREAM_TIMEOUT_MS = 10_000;

/**
 * The fetch every outgoing request of a connection goes through: the SSRF guard of net/guarded-fetch.ts (resolve,
 * refuse special-use addresses unless the connection opted in to its private network, connect to the checked
 * address, no redirects), handing back any status so openid-client and the GitHub API reader see the IdP's errors.
 */
export function connectionFetch(spec: Pick<ConnectionSpec, 'allowPrivateNetwork'>, deps: Pick<ConnectorDeps, 'fetch' | 'guard'>): typeof fetch {
  if (deps.fetch) return deps.fetch;
  return guardedFetch({
    allowPrivateAddresses: false,
    allowPrivateNetwork: spec.allowPrivateNetwork,
    anyStatus: true,
    maxBodyBytes: UPSTREAM_MAX_BODY,
    timeoutMs: UPSTREAM_TIMEOUT_MS,
    ...deps.guard,
  }) as typeof fetch;
}

/** One IdP kind: a folder under src/upstream/ exporting one of these. */
export interface ConnectionKind {
  readonly kind: ConnectionKindName;
  readonly displayName: string;
  /** Problems with a connection's settings, each naming the field. */
  validate(spec: ConnectionSpec, production: boolean): Array<[SpecField, string]>;
  create(spec: ConnectionSpec, deps: ConnectorDeps): Connector;
  /** How this connection re-validates a person at refresh (docs/IDENTITY-LIFECYCLE.md): the console says it. */
  revalidation(spec: ConnectionSpec): RevalidationSupport;
}

/**
 * How a connection re-validates its people at refresh: `refresh-token` refreshes the stored upstream token (for
 * as long as the IdP keeps it), `access-token` re-reads with the access token kept from the login (until it
 * expires; then at the next login), `account` re-reads Gatehouse's own account, `login-only` waits for the next login.
 * `note` is the console's sentence.
 */
export interface RevalidationSupport {
  mode: 'refresh-token' | 'access-token' | 'account' | 'login-only';
  note: string;
}

/** The OpenID Connect kinds: a refresh token only when the connection keeps upstream tokens (it asks for offline access). */
export function oidcRevalidation(spec: ConnectionSpec): RevalidationSupport {
  return spec.storeTokens
    ? { mode: 'refresh-token', note: 'Re-validated at refresh with the upstream refresh token: groups, email and the account status come from the IdP again.' }
    : {
        mode: 'access-token',
        note: 'No upstream refresh token (turn on "Ask the IdP for a refresh token" to get one): people are re-validated with the access token from their login until it expires, then at their next login.',
      };
}

/** A DNS domain name (Workspace domains, Entra tenant domains). */
export const DOMAIN_NAME = /^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const SLUG = /^[a-z0-9][a-z0-9-]{0,39}$/;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

// The optional settings each kind reads. A setting a kind ignores is refused rather than dropped: an operator who
// sets hostedDomains on an okta connection must not believe a restriction is in force when it is not.
const USES: Record<ConnectionKindName, SpecField[]> = {
  local: [],
  // idJag needs an issuer and its JWKS: the OpenID Connect kinds have both, GitHub and local accounts neither.
  oidc: ['issuer', 'clientId', 'clientSecret', 'scopes', 'groupsClaim', 'storeTokens', 'allowPrivateNetwork', 'idJag', 'idJagResource'],
  okta: ['issuer', 'clientId', 'clientSecret', 'scopes', 'groupsClaim', 'storeTokens', 'allowPrivateNetwork', 'idJag', 'idJagResource'],
  entra: ['issuer', 'clientId', 'clientSecret', 'scopes', 'tenant', 'allowedTenants', 'groupsClaim', 'storeTokens', 'allowPrivateNetwork', 'idJag', 'idJagResource'],
  google: ['issuer', 'clientId', 'clientSecret', 'scopes', 'hostedDomains', 'storeTokens', 'allowPrivateNetwork', 'idJag', 'idJagResource'],
  github: ['issuer', 'clientId', 'clientSecret', 'scopes', 'orgs', 'storeTokens', 'allowPrivateNetwork'],
};
/** The optional settings a kind reads (the console shows these fields for it). */
export function connectionFields(kind: ConnectionKindName): readonly SpecField[] {
  return USES[kind];
}
const OPTIONAL: SpecField[] = ['issuer', 'clientId', 'clientSecret', 'scopes', 'tenant', 'allowedTenants', 'hostedDomains', 'groupsClaim', 'orgs', 'storeTokens', 'allowPrivateNetwork', 'idJag', 'idJagResource'];

function isSet(value: unknown): boolean {
  return Array.isArray(value) ? value.length > 0 : value !== undefined && value !== false && value !== '';
}

/** The checks every kind shares. */
export function commonProblems(spec: ConnectionSpec, production: boolean): Array<[SpecField, string]> {
  const problems: Array<[SpecField, string]> = [];
  for (const field of OPTIONAL) {
    // issuer is judged by each kind (entra and google derive theirs and say so).
    if (field !== 'issuer' && isSet(spec[field]) && !USES[spec.kind].includes(field)) {
      const what = field === 'idJag' || field === 'idJagResource' ? ': identity assertions need an OpenID Connect issuer and its keys (oidc, okta, entra, google)' : '';
      problems.push([field, `not used by ${/^[aeiou]/.test(spec.kind) ? 'an' : 'a'} ${spec.kind} connection${what}`]);
    }
  }
  if (!SLUG.test(spec.id)) problems.push(['id', 'must be 1-40 lower-case letters, digits or dashes']);
  // A connection id is a key of an MCP server's delegation policy (docs/DELEGATION.md): never an object's own machinery.
  else if (spec.id === 'constructor' || spec.id === 'prototype') problems.push(['id', `${spec.id} is a reserved name`]);
  if (!spec.name.trim() || spec.name.length > 60) problems.push(['name', 'must be 1-60 characters']);
  if (spec.kind !== 'local' && !spec.clientId) problems.push(['clientId', `required for a ${spec.kind} connection`]);
  if (spec.issuer !== undefined) problems.push(...issuerProblems(spec.issuer, production));
  if (spec.groupsClaim !== undefined && !/^[A-Za-z0-9_:./-]{1,100}$/.test(spec.groupsClaim)) {
    problems.push(['groupsClaim', 'must be a claim name']);
  }
  if (spec.idJagResource !== undefined && USES[spec.kind].includes('idJagResource')) problems.push(...idJagResourceProblems(spec.idJagResource));
  return problems;
}

/** An MCP server's resource URI (RFC 8707): absolute, no fragment. Whether it is registered is asked at each request. */
function idJagResourceProblems(uri: string): Array<[SpecField, string]> {
  const url = URL.canParse(uri) ? new URL(uri) : undefined;
  if (!url || !/^https?:$/.test(url.protocol)) return [['idJagResource', 'must be an absolute http(s) URL (an MCP server\'s resource URI)']];
  if (url.hash || uri.includes('#')) return [['idJagResource', 'must not have a fragment']];
  return [];
}

/** https, or http on a loopback host outside production (a local test IdP). */
export function issuerProblems(issuer: string, production: boolean): Array<[SpecField, string]> {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return [['issuer', 'must be an absolute https URL']];
  }
  if (url.search || url.hash) return [['issuer', 'must not have a query or fragment']];
  if (url.protocol === 'https:') return [];
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname) && !production) return [];
  return [['issuer', production ? 'must be https' : 'must be https (http only for a loopback test IdP)']];
}

/** openid-client refuses plain http unless told: only a loopback test IdP outside production gets that. */
export function insecureAllowed(issuer: string, production: boolean): boolean {
  return !production && new URL(issuer).protocol === 'http:';
}
