// Signing key administration (docs/ARCHITECTURE.md, "The admin service layer"): the keys with their state, never
// their private halves, and rotation with delayed activation (oauth/keys.ts, rotateKeysNow: 0 s on the embedded
// database, two key-reload intervals on PostgreSQL so every instance publishes a key before any signs with it).
// One `keys.rotated` event whichever adapter rotated, naming the actor and `details.via`.
import type { AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/connection.js';
import { describeSigningKeys, rotateKeysNow, type SigningKeyInfo } from '../oauth/keys.js';
import { auditedBy, type Actor } from './actor.js';
import { AdminError } from './admin-error.js';

export type { SigningKeyInfo };

export interface KeyAdminDeps {
  db: Db;
  box: SecretBox;
  config: Pick<Config, 'embedded' | 'KEY_RELOAD_INTERVAL' | 'ACCESS_TOKEN_TTL'>;
  audit: AuditLog;
  /** Makes this process publish the new keys at once (the server's key holder); the CLI has none to reload. */
  reloadKeys: () => Promise<unknown>;
}

// A delay longer than a day is a typing mistake, not a plan: the old keys would sign all the while.
const MAX_ACTIVATION_DELAY = 86_400;

export class KeyAdmin {
  constructor(private readonly deps: KeyAdminDeps) {}

  /** Every key with its state (next, current, retired), newest first. */
  list(): Promise<SigningKeyInfo[]> {
    return describeSigningKeys(this.deps.db);
  }

  /**
   * Adds a new key per algorithm, published now and signing from `activateInSeconds` on (default: the rule above);
   * the current keys stay published until the tokens they signed have expired.
   */
  async rotate(actor: Actor, options: { activateInSeconds?: number | undefined } = {}): Promise<{ kids: string[]; activatesAt: Date }> {
    const delay = options.activateInSeconds;
    if (delay !== undefined && (!Number.isInteger(delay) || delay < 0 || delay > MAX_ACTIVATION_DELAY)) {
      throw new AdminError('invalid_request', `The activation delay must be a whole number of seconds from 0 to ${MAX_ACTIVATION_DELAY}.`, 'activate_in');
    }
    const { config } = this.deps;
    const rotated = await rotateKeysNow(this.deps.db, this.deps.box, {
      embedded: config.embedded, keyReloadInterval: config.KEY_RELOAD_INTERVAL, accessTokenTtl: config.ACCESS_TOKEN_TTL, activateInSeconds: delay,
    });
    const { via, actorId, ...who } = auditedBy(actor);
    await this.deps.audit.record({ type: 'keys.rotated', outcome: 'success', ...who, details: { kids: rotated.kids, activatesAt: rotated.activatesAt.toISOString(), via, actorId } });
    await this.deps.reloadKeys();
    return rotated;
  }
}
