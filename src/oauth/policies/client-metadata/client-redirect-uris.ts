// docs/SECURITY.md (Protocol, "Exact redirect URIs"; threat 4), RFC 8252 §7 and OAuth 2.1 §2.3.1 (redirect URIs):
// every redirect URI a client declares passes
// redirect-uri-rules.ts — https; plain http only on a loopback address; a private-use scheme only when it is a
// reverse domain name or listed in REDIRECT_URI_SCHEMES; and each in canonical form (canonical-redirect-uri.ts),
// since it is matched as one exact string. The same for a registered client, an update, a client an
// administrator creates and a Client ID Metadata Document: a document is fetched from the client's own domain,
// which vouches for the client_id, not for where codes may be sent, so a document listing a plain-http foreign
// host or an unlisted scheme is refused as a whole (not narrowed: dropping the URI the client is about to use
// would only fail later, with a less useful message).
import type { ClientMetadataRule } from '../../client-metadata-policy.js';
import { redirectUriProblem } from './redirect-uri-rules.js';

export function clientRedirectUris(allowedSchemes: readonly string[]): ClientMetadataRule {
  return (meta, source) => {
    if (source === 'stored') return undefined; // checked when it was created; see ClientSource
    const uris = meta.redirect_uris;
    if (!Array.isArray(uris)) return undefined; // oidc-provider reports missing/invalid redirect_uris itself
    for (const [i, uri] of uris.entries()) {
      if (typeof uri !== 'string') return 'redirect_uris must be strings';
      const problem = redirectUriProblem(uri, allowedSchemes, `redirect_uris[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  };
}
