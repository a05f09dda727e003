// What the identity providers' endpoints are built from (src/policy-table.ts hands them in).
import type { AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import type { PersonRevocation } from '../oauth/person-revocation.js';
import type { Accounts } from '../upstream/accounts.js';
import type { Connections } from '../upstream/connections.js';
import type { IdpKeys } from './idp-jwt.js';

export interface SignalsDeps {
  config: Pick<Config, 'ISSUER'>;
  db: Db;
  connections: Connections;
  accounts: Accounts;
  personRevocation: PersonRevocation;
  audit: AuditLog;
  idpKeys: IdpKeys;
}

/** How the audit log names a connection acting as the caller. */
export const connectionActor = (connectionId: string) => `connection:${connectionId}`;
