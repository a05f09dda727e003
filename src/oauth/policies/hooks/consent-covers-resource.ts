// Consent is per person, client, resource and scope: oidc-provider asks again for a new scope,
// but not for a new resource requested with no scope. This check closes that gap: a remembered grant for one MCP
// server never silently yields tokens for another.
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { sessionAccountCheck } from './session-account.js';

const { Check } = interactionPolicy;

/**
 * Recorded in a grant for each consented resource. oidc-provider drops a resource whose granted scope is empty, so
 * consent to a scope-less request would otherwise leave no trace. The double quote is outside RFC 6749's
 * scope-token grammar, so no real scope can collide with it, and issued tokens only ever carry scopes the
 * resource defines, so it never appears in a token.
 */
export const RESOURCE_CONSENT_MARKER = '"consented"';

export function consentCoversResourceCheck() {
  return new Check('rs_not_granted', 'requested resource not granted', (ctx: KoaContextWithOIDC) => {
    const { oidc } = ctx;
    const granted = oidc.grant?.resources ?? {};
    for (const indicator of Object.keys(oidc.resourceServers ?? {})) {
      if (!(indicator in granted)) return Check.REQUEST_PROMPT;
    }
    return Check.NO_NEED_TO_PROMPT;
  });
}

/** oidc-provider's prompts with Gatehouse's checks: a session's person must still exist, consent covers the resource. */
export function interactionPolicyWithResourceConsent() {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(sessionAccountCheck(), 0);
  policy.get('consent')!.checks.add(consentCoversResourceCheck());
  return policy;
}
