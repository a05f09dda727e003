// Okta: plain OpenID Connect, with the two issuer shapes Okta has. The org authorization server
// (`https://acme.okta.com`, no path) is the one every Okta org has; it knows a `groups` scope that releases the
// groups claim set up on the app's Sign On tab. A custom authorization server (`https://acme.okta.com/oauth2/default`,
// or `/oauth2/<authServerId>`) defines its own scopes and claims: asking it for an undefined `groups` scope fails
// the whole login with invalid_scope, so there the groups claim is added on the server itself and no scope is sent.
// Any other path is a pasted endpoint, not an issuer (`/oauth2/v1/authorize`…), and is refused at configuration.
import { commonProblems, issuerProblems, type ConnectionKind, type ConnectionSpec, type ConnectorDeps, type SpecField, oidcRevalidation } from '../connection.js';
import { DEFAULT_OIDC_SCOPES, OidcConnector, requireIssuer } from '../oidc/index.js';

/** A custom authorization server's issuer path: /oauth2/default or /oauth2/aus…; `v1` is the org server's API. */
const CUSTOM_AS_PATH = /^\/oauth2\/(?!v1$)[A-Za-z0-9]+$/;

/** The issuer's path without a trailing slash; undefined when it is neither an org nor a custom server. */
function oktaServer(issuer: URL): { org: boolean; issuer: URL } | undefined {
  const path = issuer.pathname.replace(/\/+$/, '');
  if (path === '') return { org: true, issuer: new URL(issuer.origin) };
  if (CUSTOM_AS_PATH.test(path)) return { org: false, issuer: new URL(issuer.origin + path) };
  return undefined;
}

function oktaIssuerProblems(spec: ConnectionSpec, production: boolean): Array<[SpecField, string]> {
  if (!spec.issuer || issuerProblems(spec.issuer, production).length) return []; // reported by the common checks
  if (oktaServer(new URL(spec.issuer))) return [];
  return [['issuer', 'must be the org authorization server (https://<org>.okta.com, no path) or a custom authorization server (https://<org>.okta.com/oauth2/default or /oauth2/<authServerId>)']];
}

export class OktaConnector extends OidcConnector {
  constructor(spec: ConnectionSpec, deps: ConnectorDeps) {
    // Discovery compares the configured issuer with the published one byte for byte: drop a trailing slash first.
    const issuer = new URL(spec.issuer!);
    super(spec, deps, oktaServer(issuer)?.issuer ?? issuer);
  }

  /** The org server releases the app's groups claim only for the `groups` scope; a custom server needs none. */
  protected override defaultScopes(): string[] {
    return oktaServer(new URL(this.spec.issuer!))?.org ? [...DEFAULT_OIDC_SCOPES, 'groups'] : DEFAULT_OIDC_SCOPES;
  }
}

export const oktaKind: ConnectionKind = {
  kind: 'okta',
  displayName: 'Okta',
  validate: (spec, production) => [...requireIssuer(spec), ...oktaIssuerProblems(spec, production), ...commonProblems(spec, production)],
  create: (spec, deps) => new OktaConnector(spec, deps),
  revalidation: oidcRevalidation,
};
