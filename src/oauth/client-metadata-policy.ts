// The one client-metadata policy: every source of clients passes it (docs/SECURITY.md, threats 1 and 4).
// Whatever brings a client into being — POST /register (RFC 7591), PUT /register/<id> (RFC 7592), a Client ID
// Metadata Document (CIMD draft), an administrator (`gatehouse client add`, the console) — its metadata goes through
// the rules below, in this order, told which source it came from. Each rule is one module under policies/, named
// for it, with the section it enforces in its first comment:
//
//   client-admin-properties   Gatehouse's own metadata (gatehouse_resource, gatehouse_machine_client) is set by an
//                             administrator only, never self-asserted
//   client-redirect-uris      https, http on loopback only, private-use schemes reverse-domain or REDIRECT_URI_SCHEMES;
//                             each in canonical form (canonical-redirect-uri.ts), as it is matched exactly
//   client-grant-types        authorization_code and refresh_token for everyone; client_credentials only for an
//                             admin-created confidential client; a metadata document is narrowed, not refused
//   client-scope              resource scopes dropped from the registered scope (it must not become a cap)
//   client-application-type   a private-use redirect scheme makes the client native
//
// A rule may normalise the metadata in place (RFC 7591 §2: the server may replace requested values with its own)
// or refuse it with a reason. A refusal is the OAuth error the rule names; what each caller does with it:
// registration.ts answers the request, static-clients.ts throws ClientInputError, and provider.ts's
// extraClientMetadata validator (client-metadata-hook.ts) throws it inside oidc-provider, where CIMD's trust.ts
// records it as `cimd.refused` and the error page shows it.
import { clientAdminProperties } from './policies/client-metadata/client-admin-properties.js';
import { clientApplicationType } from './policies/client-metadata/client-application-type.js';
import { clientGrantTypes } from './policies/client-metadata/client-grant-types.js';
import { clientRedirectUris } from './policies/client-metadata/client-redirect-uris.js';
import { clientScope } from './policies/client-metadata/client-scope.js';

export type ClientMetadata = Record<string, unknown>;

/**
 * Where the metadata comes from. `stored` is a client read back from storage or configuration: it passed the
 * policy when it was created, so only the narrowing that protects tokens is applied again, and nothing is refused
 * (a setting changed later, REDIRECT_URI_SCHEMES say, must not make a stored client unreadable).
 */
export type ClientSource = 'dynamic' | 'update' | 'cimd' | 'static-admin' | 'stored';

/** Returns a refusal reason, or undefined; may normalise `meta` in place. */
export type ClientMetadataRule = (meta: ClientMetadata, source: ClientSource) => string | undefined;

export interface MetadataPolicy {
  staticScopes: readonly string[];
  redirectUriSchemes: readonly string[];
}

export interface ClientMetadataRefusal {
  error: 'invalid_client_metadata' | 'invalid_redirect_uri';
  error_description: string;
  /** The rule that refused, for the audit log. */
  rule: string;
}

export type ClientMetadataDecision = { ok: true; metadata: ClientMetadata } | { ok: false; refusal: ClientMetadataRefusal };

interface NamedRule {
  name: string;
  error: ClientMetadataRefusal['error'];
  rule: ClientMetadataRule;
}

function rules(policy: MetadataPolicy): NamedRule[] {
  return [
    { name: 'client-admin-properties', error: 'invalid_client_metadata', rule: clientAdminProperties },
    { name: 'client-redirect-uris', error: 'invalid_redirect_uri', rule: clientRedirectUris(policy.redirectUriSchemes) },
    { name: 'client-grant-types', error: 'invalid_client_metadata', rule: clientGrantTypes },
    { name: 'client-scope', error: 'invalid_client_metadata', rule: clientScope(policy.staticScopes) },
    { name: 'client-application-type', error: 'invalid_client_metadata', rule: clientApplicationType },
  ];
}

/**
 * Applies every rule to `meta` for its source. `meta` is normalised in place (the decision's `metadata` is the same
 * object); the first refusal stops the rest.
 */
export function applyClientMetadataPolicy(meta: ClientMetadata, source: ClientSource, policy: MetadataPolicy): ClientMetadataDecision {
  for (const { name, error, rule } of rules(policy)) {
    const problem = rule(meta, source);
    if (problem) return { ok: false, refusal: { error, error_description: problem, rule: name } };
  }
  return { ok: true, metadata: meta };
}
