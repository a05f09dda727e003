// A browser session whose person may no longer sign in (an administrator disabled the account, or its IdP said the
// person is gone) is a session without a person: findAccount (oauth/provider.ts) finds nobody for it, and
// oidc-provider, which only asks whether the session names an account, went on to its consent checks without a
// grant and failed with a 500 — at /authorize and at the resume alike (outside attack, issue 22; docs/SECURITY.md).
// This check of the login prompt asks for a new sign-in instead: the login page, where the account is refused, or
// `login_required` for prompt=none. No code is issued either way.
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

const { Check } = interactionPolicy;

export function sessionAccountCheck() {
  return new Check('account_unavailable', 'the signed-in account may no longer sign in', 'login_required', (ctx: KoaContextWithOIDC) =>
    ctx.oidc.session?.accountId && !ctx.oidc.account ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
  );
}
