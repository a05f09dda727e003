// People administration (docs/ARCHITECTURE.md, "The admin service layer"): the console, the CLI and the admin API
// add local people, disable and enable accounts, set the local admin mark and revoke a person's grants here, with
// one set of rules and one `person.*` / `grants.revoked_all` audit event naming the actor and `details.via`. An
// action that does not apply (disabling a disabled person, yourself, or the last administrator) is refused with a
// conflict, audited as a failure. Who is an administrator is decided as the console decides it (admin/administrators.ts).
import type { AuditLog } from '../audit/writer.js';
import type { Db } from '../db/connection.js';
import { revokeGrantsOfAccount } from '../oauth/adapter.js';
import { Administrators, type AdministratorsDeps } from './administrators.js';
import type { Account, Accounts } from '../upstream/accounts.js';
import type { Connections } from '../upstream/connections.js';
import { AccountError, generatePassword, type LocalAccounts } from '../upstream/local/accounts.js';
import { auditedBy, type Actor } from './actor.js';
import { AdminError } from './admin-error.js';
import { compareKeys, pageOf, type Page, type PageRequest } from './page.js';

/** A person as administration sees them: their account, whether they are an administrator now, how they sign in. */
export interface Person {
  id: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  groups: string[];
  /** An administrator now, by the rule in force (admin/administrators.ts). */
  admin: boolean;
  /** The local admin mark of their password account; null when they have none (an IdP decides). */
  localAdmin: boolean | null;
  disabled: boolean;
  lastLoginAt: Date | null;
  /** The connections they signed in through (or, added locally, will). */
  connections: string[];
}

export interface AddedPerson {
  person: Person;
  /** The generated password, when none was given: shown once, never stored readable, never audited. */
  password?: string | undefined;
}

export interface PeopleAdminDeps {
  db: Db;
  config: AdministratorsDeps['config'];
  policy: AdministratorsDeps['policy'];
  accounts: Accounts;
  users: LocalAccounts;
  connections: Pick<Connections, 'list'>;
  /** Ends a disabled person's console sessions. */
  sessions: { destroyForAccount(accountId: string): Promise<void> };
  audit: AuditLog;
  /** The console's own rule, when the caller holds one (else one is built from these deps). */
  admins?: Administrators | undefined;
}

// A person list is read whole and cut into pages in memory (admin/page.ts): bounded, as administration's tables are.
const MAX_PEOPLE = 100_000;

export class PeopleAdmin {
  readonly #admins: Administrators;

  constructor(private readonly deps: PeopleAdminDeps) {
    this.#admins = deps.admins ?? new Administrators(deps);
  }

  async #view(account: Account, connections?: string[]): Promise<Person> {
    const locals = (await this.deps.accounts.localUsersOf([account.id])).get(account.id) ?? [];
    const marks = locals.length ? await Promise.all(locals.map((u) => this.deps.users.findById(u))) : [];
    return {
      id: account.id,
      email: account.email,
      emailVerified: account.emailVerified,
      name: account.name,
      groups: account.groups,
      admin: await this.#admins.isAdmin(account),
      localAdmin: marks.some((u) => u) ? marks.some((u) => u?.isAdmin) : null,
      disabled: account.disabled,
      lastLoginAt: account.lastLoginAt,
      connections: connections ?? [...new Set((await this.deps.accounts.identities(account.id)).map((i) => i.connectionId))],
    };
  }

  /** People by email (those without one last), then id; `q` matches part of the email or name. */
  async list(request: PageRequest & { q?: string | undefined } = {}): Promise<Page<Person>> {
    const q = request.q?.trim().slice(0, 200) || undefined;
    const all = await this.deps.accounts.list({ q, offset: 0, limit: MAX_PEOPLE });
    const keyOf = (a: Account) => [a.email === null ? 1 : 0, a.email ?? '', a.id];
    const sorted = all.slice(0, MAX_PEOPLE).sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
    const page = pageOf(sorted, keyOf, request);
    return { items: await Promise.all(page.items.map((a) => this.#view(a, a.connections))), next: page.next };
  }

  /** The person with this account id; undefined when unknown. */
  async find(id: string): Promise<Person | undefined> {
    const account = id && id.length <= 200 ? await this.deps.accounts.findById(id) : undefined;
    return account ? this.#view(account) : undefined;
  }

  async #known(id: string): Promise<Account> {
    const account = id && id.length <= 200 ? await this.deps.accounts.findById(id) : undefined;
    if (!account) throw new AdminError('not_found', 'There is no such person.');
    return account;
  }

  async #record(actor: Actor, type: string, outcome: 'success' | 'failure', person: Pick<Account, 'id' | 'email'>, extra: { reason?: string; details?: Record<string, unknown> } = {}): Promise<void> {
    const { via, actorId, ...who } = auditedBy(actor);
    await this.deps.audit.record({ type, outcome, ...who, ...(extra.reason ? { reason: extra.reason } : {}), details: { accountId: person.id, email: person.email, via, actorId, ...extra.details } });
  }

  async #conflict(actor: Actor, type: string, person: Account, reason: string): Promise<never> {
    await this.#record(actor, type, 'failure', person, { reason });
    throw new AdminError('conflict', reason);
  }

  /** Whether an administrator other than this account exists now (an IdP's ADMIN_EMAILS / ADMIN_GROUPS count). */
  async #otherAdministrator(exceptId: string): Promise<boolean> {
    const all = await this.deps.accounts.list({ offset: 0, limit: MAX_PEOPLE });
    const admins = await this.#admins.among(all.filter((a) => a.id !== exceptId));
    return admins.size > 0;
  }

  async #localUsers(accountId: string): Promise<string[]> {
    return (await this.deps.accounts.localUsersOf([accountId])).get(accountId) ?? [];
  }

  /**
   * Adds a person with a password (a local account; `gatehouse user add`): without a password one is generated and
   * returned once. Their account exists at once, so they can be listed, disabled or made an administrator before
   * their first sign-in.
   */
  async addLocal(actor: Actor, input: { email: string; name?: string | undefined; admin?: boolean | undefined; password?: string | undefined }): Promise<AddedPerson> {
    const password = input.password ?? generatePassword();
    const local = (await this.deps.connections.list()).find((c) => c.kind === 'local')?.id ?? 'local';
    let account: Account;
    try {
      account = await this.deps.db.transaction(async (trx) => {
        const user = await this.deps.users.create({ email: input.email, password, name: input.name, isAdmin: !!input.admin }, trx);
        return this.deps.accounts.addLocal(user, local, trx);
      });
    } catch (err) {
      if (!(err instanceof AccountError)) throw err;
      const exists = /already exists/.test(err.message);
      const { via, actorId, ...who } = auditedBy(actor);
      await this.deps.audit.record({ type: 'person.added', outcome: 'failure', ...who, reason: err.message, details: { email: input.email.slice(0, 254), admin: !!input.admin, via, actorId } });
      throw new AdminError(exists ? 'conflict' : 'invalid_request', err.message, /password/.test(err.message) ? 'password' : 'email');
    }
    await this.#record(actor, 'person.added', 'success', account, { details: { admin: !!input.admin, connection: local } });
    return { person: await this.#view(account), ...(input.password === undefined ? { password } : {}) };
  }

  /**
   * Disables an account: refused at sign-in and at token refresh, every grant revoked, console sessions ended. Never
   * one's own account, nor the last administrator: someone must be left to enable it again from the console.
   */
  async disable(actor: Actor, id: string): Promise<{ person: Person; grantsRevoked: number }> {
    const person = await this.#known(id);
    if (person.disabled) return this.#conflict(actor, 'person.disabled', person, 'This person is already disabled.');
    if (actor.kind === 'person' && actor.id === person.id) {
      return this.#conflict(actor, 'person.disabled', person, 'You cannot disable your own account: you would lock yourself out of the console. Ask another administrator.');
    }
    if ((await this.#admins.isAdmin(person)) && !(await this.#otherAdministrator(person.id))) {
      return this.#conflict(actor, 'person.disabled', person, 'This is the last administrator: make someone else an administrator first.');
    }
    await this.deps.accounts.setDisabled(person.id, true);
    // Password login checks `users` itself: keep it in step, so both say the same thing.
    for (const userId of await this.#localUsers(person.id)) await this.deps.users.setDisabled(userId, true);
    const revoked = await revokeGrantsOfAccount(this.deps.db, person.id);
    await this.deps.sessions.destroyForAccount(person.id);
    await this.#record(actor, 'person.disabled', 'success', person, { details: { grantsRevoked: revoked.length } });
    return { person: (await this.find(person.id))!, grantsRevoked: revoked.length };
  }

  /** Lets a disabled person sign in again. */
  async enable(actor: Actor, id: string): Promise<Person> {
    const person = await this.#known(id);
    if (!person.disabled) return this.#conflict(actor, 'person.enabled', person, 'This person is not disabled.');
    await this.deps.accounts.setDisabled(person.id, false);
    for (const userId of await this.#localUsers(person.id)) await this.deps.users.setDisabled(userId, false);
    await this.#record(actor, 'person.enabled', 'success', person);
    return (await this.find(person.id))!;
  }

  /**
   * Sets the local admin mark of a person's password account. Someone who signs in through an IdP has no mark:
   * ADMIN_EMAILS / ADMIN_GROUPS decide for them (admin/administrators.ts).
   */
  async makeAdmin(actor: Actor, id: string): Promise<Person> {
    const person = await this.#known(id);
    const users = await this.#localUsers(person.id);
    if (!users.length) return this.#conflict(actor, 'person.admin_granted', person, 'This person has no password account: ADMIN_EMAILS or ADMIN_GROUPS decide whether they are an administrator.');
    if ((await this.find(person.id))!.localAdmin) return this.#conflict(actor, 'person.admin_granted', person, 'This person is already marked as an administrator.');
    for (const userId of users) await this.deps.users.setAdmin(userId, true);
    await this.#record(actor, 'person.admin_granted', 'success', person);
    return (await this.find(person.id))!;
  }

  /** Clears the local admin mark; never the last administrator's (nor, so, one's own when one is the last). */
  async unmakeAdmin(actor: Actor, id: string): Promise<Person> {
    const person = await this.#known(id);
    const users = await this.#localUsers(person.id);
    if (!users.length || !(await this.find(person.id))!.localAdmin) return this.#conflict(actor, 'person.admin_revoked', person, 'This person is not marked as an administrator.');
    if ((await this.#admins.isAdmin(person)) && !(await this.#otherAdministrator(person.id))) {
      return this.#conflict(actor, 'person.admin_revoked', person, 'This is the last administrator: make someone else an administrator first.');
    }
    for (const userId of users) await this.deps.users.setAdmin(userId, false);
    await this.#record(actor, 'person.admin_revoked', 'success', person);
    return (await this.find(person.id))!;
  }

  /** Revokes every grant of a person (their refresh tokens stop at once); returns the grant ids revoked. */
  async revokeGrants(actor: Actor, id: string): Promise<{ person: Person; grantIds: string[] }> {
    const person = await this.#known(id);
    const revoked = await revokeGrantsOfAccount(this.deps.db, person.id);
    await this.#record(actor, 'grants.revoked_all', 'success', person, { details: { grantIds: revoked, count: revoked.length } });
    return { person: (await this.find(person.id))!, grantIds: revoked };
  }
}
