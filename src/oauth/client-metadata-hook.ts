// Where the client-metadata policy meets oidc-provider: its supported hook `extraClientMetadata.validator`, which
// oidc-provider runs on every Client it builds — a registration, an update, each use of a Client ID Metadata
// Document (freshly fetched or cached), and every client read back from storage or configuration — with the
// metadata object it is about to validate, which the hook may change ("To modify the current client metadata
// values … simply modify the passed in `metadata` argument", oidc-provider's documentation). It is the one place
// a metadata document becomes a Client (lib/helpers/client_id_metadata_document.js → addClient → new Client), so
// the policy narrows or refuses the document there, before oidc-provider's own schema checks run.
//
// oidc-provider calls the validator once per extra property, in order; the policy runs on the first call only.
// `ctx` is given for registration and update requests only; a metadata document is recognised by its client_id
// (an https URL: no other client can have one — registration mints `dyn_` ids, administrators `gh_` ones).
// Registration and update requests also passed the policy in registration.ts before oidc-provider parsed them;
// running it again here is idempotent and keeps the rule independent of that middleware.
import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { clientKind } from './client-kind.js';
import { applyClientMetadataPolicy, type ClientMetadata, type ClientSource, type MetadataPolicy } from './client-metadata-policy.js';
import { ADMIN_PROPERTIES } from './policies/client-metadata/client-admin-properties.js';

function sourceOf(ctx: KoaContextWithOIDC | undefined, meta: ClientMetadata): ClientSource {
  const route = ctx?.oidc?.route;
  if (route === 'registration') return 'dynamic';
  if (route === 'client_update') return 'update';
  if (typeof meta.client_id === 'string' && clientKind(meta.client_id) === 'cimd') return 'cimd';
  return 'stored';
}

export function clientMetadataHook(policy: MetadataPolicy): NonNullable<Configuration['extraClientMetadata']> {
  return {
    properties: [...ADMIN_PROPERTIES],
    validator(ctx, key, _value, metadata) {
      if (key !== ADMIN_PROPERTIES[0]) return;
      const meta = metadata as ClientMetadata;
      const decision = applyClientMetadataPolicy(meta, sourceOf(ctx, meta), policy);
      // CustomOIDCProviderError keeps the rule's error code (invalid_redirect_uri or invalid_client_metadata).
      if (!decision.ok) throw new errors.CustomOIDCProviderError(decision.refusal.error, decision.refusal.error_description);
    },
  };
}
