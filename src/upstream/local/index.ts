// Local accounts (email + argon2id password in Gatehouse's own database) as one more connection kind: the login
// page shows the Email/Password form when a connection of this kind exists.
import { commonProblems, type ConnectionKind, type SpecField } from '../connection.js';

export const localKind: ConnectionKind = {
  kind: 'local',
  displayName: 'Email and password',
  validate: (spec, production) => [
    ...(spec.issuer !== undefined ? [['issuer', 'not used by a local connection (set UPSTREAM_PROVIDER to use an IdP)'] as [SpecField, string]] : []),
    ...commonProblems(spec, production),
  ],
  create: (spec, deps) => deps.local.connector(spec.id),
  revalidation: () => ({ mode: 'account', note: 'Re-validated at refresh: the local account is read again (disabled or removed ends access).' }),
};
