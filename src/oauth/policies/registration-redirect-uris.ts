// Applies the redirect URI rules (redirect-uri-rules.ts) to every registered redirect_uri.
import type { ClientMetadataRule } from '../registration.js';
import { redirectUriProblem } from './redirect-uri-rules.js';

export function registrationRedirectUris(allowedSchemes: readonly string[]): ClientMetadataRule {
  return (meta) => {
    const uris = meta.redirect_uris;
    if (!Array.isArray(uris)) return undefined; // oidc-provider reports missing/invalid redirect_uris itself
    for (const uri of uris) {
      if (typeof uri !== 'string') return 'redirect_uris must be strings';
      const problem = redirectUriProblem(uri, allowedSchemes);
      if (problem) return problem;
    }
    return undefined;
  };
}
