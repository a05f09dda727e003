// What the person in the browser reads when oidc-provider cannot go on and cannot send them back to the application
// (an unknown client, a redirect URI that is not registered, an expired sign-in…). oidc-provider's own wording ("client
// is invalid") is written for developers; the page says what happened and what to do in plain words, keeps the error
// code, and folds the provider's wording away for the application's developer (docs/ARCHITECTURE.md, "Error pages").
// Pure: the error page itself is rendered by provider.ts (renderError).

export interface PersonWording {
  title: string;
  description: string;
  /** What the person can do next; the page's default ("start again from your application") when absent. */
  next?: string;
}

const ASK_DEVELOPER = 'The application needs to be fixed by whoever makes it; there is nothing you can change on this page.';

/** Wording chosen by oidc-provider's description, for errors whose code alone is too broad. */
const BY_DESCRIPTION: ReadonlyArray<[RegExp, PersonWording]> = [
  [
    /^(interaction session (id cookie )?not found|session not found|session principal changed)$/,
    {
      title: 'This sign-in has expired',
      description: 'This sign-in was not found: it may have expired, been finished already, or been opened in another browser.',
      next: 'Go back to your application and sign in again from there.',
    },
  ],
  [
    /requires PKCE|code_challenge/,
    { title: 'The application’s sign-in request is not secure enough', description: `This server requires every sign-in request to be protected with PKCE, and this one was not. ${ASK_DEVELOPER}` },
  ],
  [
    /^missing required parameter/,
    { title: 'The application’s sign-in request is incomplete', description: `The application left out information this server needs to sign you in. ${ASK_DEVELOPER}` },
  ],
  [
    /authorization request has expired|request has expired/,
    { title: 'This sign-in has expired', description: 'The sign-in request is too old to continue.', next: 'Go back to your application and sign in again from there.' },
  ],
];

/** Wording by error code (RFC 6749 §4.1.2.1, RFC 8707, OpenID Connect Core §3.1.2.6). */
const BY_CODE: Readonly<Record<string, PersonWording>> = {
  invalid_client: {
    title: 'This application is not known here',
    description: 'The application you came from is not registered with this server, or its registration was removed or has expired.',
    next: 'Go back to your application and connect it again; if this keeps happening, ask your administrator.',
  },
  invalid_redirect_uri: {
    title: 'This application asked to send you to an address it did not register',
    description: `To protect you, this server only sends you back to addresses the application registered, and this one was not among them. ${ASK_DEVELOPER}`,
  },
  invalid_target: {
    title: 'The application asked for an MCP server this server does not know',
    description: 'The MCP server the application asked to reach is not registered here, or the application may not use it.',
    next: 'Check the server’s address in your application, or ask your administrator to register it.',
  },
  invalid_scope: {
    title: 'The application asked for permissions that are not available',
    description: 'The permissions (scopes) the application asked for are not offered here, or not to this application.',
  },
  unauthorized_client: {
    title: 'This application may not sign you in this way',
    description: `The application asked to sign you in in a way its registration does not allow. ${ASK_DEVELOPER}`,
  },
  unsupported_response_type: {
    title: 'This application may not sign you in this way',
    description: `The application asked for a kind of answer this server does not give. ${ASK_DEVELOPER}`,
  },
  invalid_request: {
    title: 'The application’s sign-in request could not be understood',
    description: `The request the application sent is not one this server can act on. ${ASK_DEVELOPER}`,
  },
  invalid_request_object: {
    title: 'The application’s sign-in request could not be understood',
    description: `The signed request the application sent could not be read. ${ASK_DEVELOPER}`,
  },
  access_denied: { title: 'Access was not allowed', description: 'The sign-in was stopped and the application was not given access.' },
  login_required: { title: 'You need to sign in', description: 'The application asked to continue without showing a sign-in page, but you are not signed in.' },
  consent_required: { title: 'Your approval is needed', description: 'The application asked to continue without asking you, but it needs your approval first.' },
  interaction_required: { title: 'Your action is needed', description: 'The application asked to continue without showing a page, but this sign-in needs you.' },
  temporarily_unavailable: {
    title: 'Temporarily unavailable',
    description: 'This server cannot complete the sign-in right now.',
    next: 'Wait a moment, then start again from your application.',
  },
  server_error: {
    title: 'Something went wrong',
    description: 'This server met an unexpected problem and could not complete the sign-in.',
    next: 'Start again from your application; if it keeps happening, give your administrator the request id below.',
  },
};

const FALLBACK: PersonWording = { title: 'Sign-in could not continue', description: `The application’s sign-in request could not be completed. ${ASK_DEVELOPER}` };

/** The words for the person; the caller keeps `error` as the code shown and the description as the technical detail. */
export function personWording(error: string, description: string | undefined): PersonWording {
  if (description) {
    for (const [pattern, wording] of BY_DESCRIPTION) if (pattern.test(description)) return wording;
  }
  return BY_CODE[error] ?? FALLBACK;
}
