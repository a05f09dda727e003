// The admin API, mounted twice (docs/ADMIN-API.md): at <issuer>/admin/api/v1 for admin API clients' access tokens,
// and at <issuer>/console/api/v1 for an administrator's console session (whose cookie is sent only below /console).
// The same operations, schemas and service layer answer both.
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { packageVersion } from '../package-version.js';
import type { AdminServices } from '../admin/index.js';
import type { AuditLog } from '../audit/writer.js';
import type { RateLimits } from '../http/rate-limits.js';
import { adminApiAudience } from '../oauth/admin-api-audience.js';
import type { ClientRegistry } from '../oauth/client-registry.js';
import type { KeySet } from '../oauth/keys.js';
import type { Administrators } from '../console/admins.js';
import type { ConsoleSessions } from '../console/sessions.js';
import type { Accounts } from '../upstream/accounts.js';
import { bearerCaller, sessionCaller } from './caller.js';
import type { LocalCliKey } from './local-cli-credentials.js';
import { adminApiHandler } from './handler.js';
import { openApiDocument } from './openapi.js';
import { OPERATIONS } from './routes/index.js';

let document: Record<string, unknown> | undefined;

/** The OpenAPI document (built once: it depends on the code only). */
export function adminApiDocument(): Record<string, unknown> {
  document ??= openApiDocument(OPERATIONS, packageVersion());
  return document;
}

export interface AdminApiDeps {
  issuer: string;
  /** ISSUER's path ('' at a host's root). */
  base: string;
  services: AdminServices;
  audit: AuditLog;
  rateLimits: RateLimits;
  registry: ClientRegistry;
  keys: () => KeySet;
  /** The provider of the moment: the admin API client as it is now. */
  provider: () => Provider;
  sessions: ConsoleSessions;
  accounts: Accounts;
  admins: Administrators;
  /** The CLI's key when the server holds the embedded database (local-cli-credentials.ts). */
  localCli?: LocalCliKey | undefined;
}

/** The API for admin API clients' access tokens. */
export function adminApi(deps: AdminApiDeps): Middleware {
  return adminApiHandler({
    operations: OPERATIONS,
    services: deps.services,
    audit: deps.audit,
    rateLimits: deps.rateLimits,
    authenticate: bearerCaller({ issuer: deps.issuer, audience: adminApiAudience(deps.issuer), keys: deps.keys, registry: deps.registry, provider: deps.provider, localCli: deps.localCli }),
    openApi: adminApiDocument,
  });
}

/** The same API for an administrator's console session (route `console_api`). */
export function consoleApi(deps: AdminApiDeps): Middleware {
  return adminApiHandler({
    operations: OPERATIONS,
    services: deps.services,
    audit: deps.audit,
    rateLimits: deps.rateLimits,
    authenticate: sessionCaller({ issuer: deps.issuer, sessions: deps.sessions, accounts: deps.accounts, admins: deps.admins }),
    openApi: adminApiDocument,
  });
}
