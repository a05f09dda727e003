// What the OpenID Connect scopes mean in words, the same on the consent page (routes.ts) and on the person's
// connected-apps page (account/connected-apps.ts).
export const OIDC_SCOPE_TEXT: Readonly<Record<string, string>> = {
  openid: 'Confirm who you are',
  email: 'See your email address',
  profile: 'See your name',
  offline_access: 'Stay connected while you are away',
};
