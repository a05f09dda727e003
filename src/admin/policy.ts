// Policy administration (docs/ARCHITECTURE.md, "The admin service layer"): every adapter sets a policy setting or
// hands it back to the environment here. A value is parsed exactly as its environment variable; a person may not
// save (or reset to) a sign-in restriction that would refuse their own next sign-in (policy/self-lockout.ts) — the
// CLI, an API client and the configuration file sign in as nobody, and the CLI stays the break-glass path. A change
// writes one `policy.updated|reset` event naming the actor and `details.via`; a refusal (a stale version too) is the
// same type, failed.
import type { AuditLog } from '../audit/writer.js';
import type { Config, PolicySettingName } from '../config.js';
import { selfLockout } from '../policy/self-lockout.js';
import { isPolicySetting, PolicyError, type PolicyEntry, type PolicySettings } from '../policy/settings.js';
import type { Accounts } from '../upstream/accounts.js';
import type { LocalAccounts } from '../upstream/local/accounts.js';
import { Administrators } from './administrators.js';
import { auditedBy, type Actor } from './actor.js';
import { AdminError } from './admin-error.js';
import { assertNotManaged } from './managed.js';
import { checkVersion, versionOf } from './version.js';

/** What administration shows of a setting. */
export interface PolicyView {
  name: PolicySettingName;
  effective: unknown;
  environment: unknown;
  overridden: boolean;
  updated_by: string | null;
  updated_at: string | null;
  managed_by: string | null;
}

export interface PolicyAdminDeps {
  config: Config;
  policy: PolicySettings;
  accounts: Accounts;
  users: LocalAccounts;
  audit: AuditLog;
}

export const policyView = (e: PolicyEntry): PolicyView => ({
  name: e.name,
  effective: e.effective,
  environment: e.environment,
  overridden: e.overridden,
  updated_by: e.updatedBy,
  updated_at: e.updatedAt?.toISOString() ?? null,
  managed_by: e.managedBy,
});

export class PolicyAdmin {
  constructor(private readonly deps: PolicyAdminDeps) {}

  /** Each setting with its value in force, the environment's, who overrode it and who manages it. */
  async entries(): Promise<PolicyEntry[]> {
    return this.deps.policy.entries();
  }

  /** One setting; not_found for a name that is not a policy setting (ADMIN_EMAILS and ADMIN_GROUPS never are). */
  async entry(name: string): Promise<PolicyEntry> {
    if (!isPolicySetting(name)) throw new AdminError('not_found', `${name.slice(0, 100)} is not a policy setting.`, 'name');
    return (await this.entries()).find((e) => e.name === name)!;
  }

  /** The version an optimistic update names (docs/ADMIN-API.md, "Versions"). */
  version(entry: PolicyEntry): string {
    return versionOf(policyView(entry));
  }

  /** Overrides a setting with a value written as its environment variable would be ("" for an empty list). */
  async set(actor: Actor, name: string, raw: string, expectedVersion?: string): Promise<PolicyEntry> {
    const current = await this.entry(name);
    const setting = current.name;
    await this.#guardManaged(actor, 'updated', current, raw);
    await this.#guardVersion(actor, 'updated', current, raw, expectedVersion);
    let value: unknown;
    try {
      value = this.deps.policy.parse(setting, raw);
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err;
      return this.#refuse(actor, 'updated', setting, raw, err.message);
    }
    const lockout = await this.#lockout(actor, setting, value);
    if (lockout) return this.#refuse(actor, 'updated', setting, raw, lockout);
    const stored = await this.deps.policy.set(setting, raw, actor.label);
    await this.#record(actor, 'updated', 'success', { setting, value: stored });
    return this.entry(setting);
  }

  /** Hands a setting back to the environment's value. */
  async reset(actor: Actor, name: string, expectedVersion?: string): Promise<PolicyEntry> {
    const current = await this.entry(name);
    const setting = current.name;
    const environment = this.deps.config[setting];
    await this.#guardManaged(actor, 'reset', current, environment);
    await this.#guardVersion(actor, 'reset', current, environment, expectedVersion);
    // Handing ALLOWED_* back to the environment must not lock the admin out either.
    const lockout = await this.#lockout(actor, setting, environment);
    if (lockout) return this.#refuse(actor, 'reset', setting, environment, lockout);
    await this.deps.policy.reset(setting);
    await this.#record(actor, 'reset', 'success', { setting, value: environment });
    return this.entry(setting);
  }

  /** Adds a host to CIMD_BLOCKED_DOMAINS (the console's Block host on a CIMD client): every client_id URL on it is refused. */
  async blockCimdHost(actor: Actor, host: string): Promise<PolicyEntry> {
    const current = await this.entry('CIMD_BLOCKED_DOMAINS');
    const listed = Array.isArray(current.effective) ? (current.effective as string[]) : [];
    if (listed.includes(host.toLowerCase())) {
      const reason = `The host ${host} is already blocked.`;
      await this.#record(actor, 'updated', 'failure', { setting: current.name, host }, reason);
      throw new AdminError('conflict', reason, 'host');
    }
    return this.set(actor, current.name, [...listed, host].join(', '));
  }

  /**
   * Marks a stored setting as managed by a configuration file, or releases it (the file's apply audits the change);
   * false when the setting follows the environment (nothing stored to mark).
   */
  async markManaged(name: PolicySettingName, file: string | null): Promise<boolean> {
    return this.deps.policy.setManagedBy(name, file);
  }

  /** Why the value would refuse the person saving it their next sign-in; never for an actor that is not a person. */
  async #lockout(actor: Actor, name: PolicySettingName, value: unknown): Promise<string | undefined> {
    if (actor.kind === 'api_client') return this.#everyAdminLockedOut(name, value);
    if (actor.kind !== 'person') return undefined;
    const account = await this.deps.accounts.findById(actor.id);
    if (!account) return undefined;
    return selfLockout(account, await this.deps.policy.effective(), name, value);
  }

  /**
   * For a program (an admin API client): refused when no administrator could sign in afterwards. A person is held to
   * their own sign-in above; the CLI and the configuration file are the operator's way back in and are not held.
   */
  async #everyAdminLockedOut(name: PolicySettingName, value: unknown): Promise<string | undefined> {
    if (name !== 'ALLOWED_EMAIL_DOMAINS' && name !== 'ALLOWED_GROUPS') return undefined;
    const accounts = await this.deps.accounts.list({ offset: 0, limit: 10_000 });
    const admins = await new Administrators(this.deps).among(accounts);
    if (!admins.size) return undefined;
    const policy = await this.deps.policy.effective();
    const stillIn = accounts.some((a) => admins.has(a.id) && selfLockout(a, policy, name, value) === undefined);
    return stillIn ? undefined : `${name}: this would stop every administrator from signing in to the console. Change it with the CLI (gatehouse policy set) if that is what you want.`;
  }

  async #guardManaged(actor: Actor, verb: 'updated' | 'reset', e: PolicyEntry, value: unknown): Promise<void> {
    try {
      assertNotManaged(actor, e.managedBy);
    } catch (err) {
      await this.#record(actor, verb, 'failure', { setting: e.name, value: shortened(value) }, (err as Error).message);
      throw err;
    }
  }

  /** A stale version is a refused change: audited as its failure (docs/ADMIN-API.md, "Versions"). */
  async #guardVersion(actor: Actor, verb: 'updated' | 'reset', e: PolicyEntry, value: unknown, expectedVersion: string | undefined): Promise<void> {
    try {
      checkVersion(policyView(e), expectedVersion);
    } catch (err) {
      await this.#record(actor, verb, 'failure', { setting: e.name, value: shortened(value) }, (err as Error).message);
      throw err;
    }
  }

  async #refuse(actor: Actor, verb: 'updated' | 'reset', setting: PolicySettingName, value: unknown, reason: string): Promise<never> {
    await this.#record(actor, verb, 'failure', { setting, value: shortened(value) }, reason);
    throw new AdminError('invalid_request', reason, 'value');
  }

  async #record(actor: Actor, verb: 'updated' | 'reset', outcome: 'success' | 'failure', details: Record<string, unknown>, reason?: string): Promise<void> {
    const { via, actorId, ...who } = auditedBy(actor);
    await this.deps.audit.record({ type: `policy.${verb}`, outcome, ...who, ...(reason ? { reason } : {}), details: { ...details, via, actorId } });
  }
}

const shortened = (value: unknown) => (typeof value === 'string' ? value.slice(0, 500) : value);
