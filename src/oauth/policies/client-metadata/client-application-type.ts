// RFC 8252 §7.1 / OIDC Registration §2: a client whose redirect URI uses a private-use scheme is a native app.
// Desktop MCP clients (Cursor's `cursor://…` callback, for one) register without `application_type`, which
// defaults to `web`, and oidc-provider then refuses every non-http(s) redirect URI. When the field is absent and a
// redirect URI has a private-use scheme, the client is made `native`, which it is. An explicit value is never
// changed.
import type { ClientMetadataRule } from '../../client-metadata-policy.js';

export const clientApplicationType: ClientMetadataRule = (meta, source) => {
  if (source === 'stored' || meta.application_type !== undefined || !Array.isArray(meta.redirect_uris)) return undefined;
  const privateUse = meta.redirect_uris.some((u) => {
    const url = typeof u === 'string' ? URL.parse(u) : null;
    return !!url && url.protocol !== 'http:' && url.protocol !== 'https:';
  });
  if (privateUse) meta.application_type = 'native';
  return undefined;
};
