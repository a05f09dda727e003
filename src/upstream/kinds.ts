// Every connection kind, in one visible place. Adding an IdP means adding its folder and one line here.
import type { ConnectionKind, ConnectionKindName } from './connection.js';
import { entraKind } from './entra/index.js';
import { githubKind } from './github/index.js';
import { googleKind } from './google/index.js';
import { localKind } from './local/index.js';
import { oidcKind } from './oidc/index.js';
import { oktaKind } from './okta/index.js';

export const KINDS: Record<ConnectionKindName, ConnectionKind> = {
  local: localKind,
  oidc: oidcKind,
  okta: oktaKind,
  entra: entraKind,
  google: googleKind,
  github: githubKind,
};
