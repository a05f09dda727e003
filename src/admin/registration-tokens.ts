// Registration token administration (docs/ARCHITECTURE.md, "The admin service layer"): the initial access tokens
// dynamic registration asks for under REGISTRATION=closed. A token's value is returned once, at creation, and
// stored only as its digest (oauth/initial-access-tokens.ts): lists name tokens by a digest prefix. One
// `registration_token.*` event per change, naming the actor and `details.via`, never the value.
import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/writer.js';
import { sha256 } from '../crypto/digest.js';
import type { Db } from '../db/connection.js';
import { deleteInitialAccessToken, findInitialAccessToken, listInitialAccessTokens, TOKEN_ID_LENGTH, type InitialAccessTokenInfo } from '../oauth/initial-access-tokens.js';
import { auditedBy, type Actor } from './actor.js';
import { AdminError } from './admin-error.js';

export type { InitialAccessTokenInfo };

export interface CreatedRegistrationToken extends InitialAccessTokenInfo {
  /** The bearer value: shown once. */
  token: string;
}

export interface RegistrationTokenAdminDeps {
  db: Db;
  /** The provider of the moment: tokens are its InitialAccessToken model, so expiry stays oidc-provider's. */
  provider: () => Provider;
  audit: AuditLog;
}

export const DEFAULT_TOKEN_LIFETIME = 86_400;
const MAX_TOKEN_LIFETIME = 365 * 86_400;

export class RegistrationTokenAdmin {
  constructor(private readonly deps: RegistrationTokenAdminDeps) {}

  /** The live tokens, oldest first, without their values. */
  list(): Promise<InitialAccessTokenInfo[]> {
    return listInitialAccessTokens(this.deps.db);
  }

  /** A new token valid for `expiresIn` seconds (default a day); its value is in the answer and nowhere else. */
  async create(actor: Actor, options: { expiresIn?: number | undefined } = {}): Promise<CreatedRegistrationToken> {
    const expiresIn = options.expiresIn || DEFAULT_TOKEN_LIFETIME;
    if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_TOKEN_LIFETIME) {
      throw new AdminError('invalid_request', `The lifetime must be a whole number of seconds from 1 to ${MAX_TOKEN_LIFETIME}.`, 'expires_in');
    }
    const token = await new (this.deps.provider().InitialAccessToken)({ expiresIn }).save();
    const id = sha256(token).slice(0, TOKEN_ID_LENGTH);
    const stored = await findInitialAccessToken(this.deps.db, id);
    const expiresAt = stored?.expiresAt ?? new Date(Date.now() + expiresIn * 1000);
    const { via, actorId, ...who } = auditedBy(actor);
    await this.deps.audit.record({ type: 'registration_token.created', outcome: 'success', ...who, details: { id, expires_at: expiresAt.toISOString(), via, actorId } });
    return { id, token, createdAt: stored?.createdAt ?? new Date(), expiresAt };
  }

  /** Revokes a token by its id (digest prefix): registrations presenting it are refused from now on. */
  async revoke(actor: Actor, id: string): Promise<InitialAccessTokenInfo> {
    const found = await findInitialAccessToken(this.deps.db, id);
    if (!found || !(await deleteInitialAccessToken(this.deps.db, id))) throw new AdminError('not_found', 'There is no such registration token.');
    const { via, actorId, ...who } = auditedBy(actor);
    await this.deps.audit.record({ type: 'registration_token.revoked', outcome: 'success', ...who, details: { id, via, actorId } });
    return found;
  }
}
