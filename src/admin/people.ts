// People administration (docs/ARCHITECTURE.md, "The admin service layer"; docs/PEOPLE.md): the console, the CLI and
// the admin API add local people (with an invitation link, never a password on screen), send password reset links,
// disable and enable accounts, set the local admin mark, revoke a person's grants and end their sessions here, with
// one set of rules and one `person.*` / `grants.revoked_all` audit event naming the actor and `details.via`. An
// action that does not apply (disabling a disabled person, yourself, or the last administrator; a reset link for
// someone without a password account) is refused with a conflict, audited as a failure. Who is an administrator is
// decided as the console decides it (admin/administrators.ts).
import type { AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import { deleteSessionsOfAccount, revokeGrantsOfAccount, sessionsOfAccount } from '../oauth/adapter.js';
import { Administrators, type AdministratorsDeps } from './administrators.js';
import type { Account, Accounts, LinkedIdentity } from '../upstream/accounts.js';
import type { Connections } from '../upstream/connections.js';
import { AccountError, type LocalAccounts } from '../upstream/local/accounts.js';
import { AccountLinks, linkUrl, type LinkKind } from '../upstream/local/account-links.js';
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
  /** Each identity linked to the account, with its connection's name (null once the connection is removed). */
  identities: Array<LinkedIdentity & { connectionName: string | null }>;
  /** When and why the IdP said the person is gone; null when it has not (or they signed in through it since). */
  deprovisioned: { at: Date; reason: string | null } | null;
}

/** A one-time link for a local person (upstream/local/account-links.ts): its URL is shown once and stored nowhere. */
export interface PersonLink {
  kind: LinkKind;
  url: string;
  expiresAt: Date;
}

export interface AddedPerson {
  person: Person;
  /** The invitation link, when no password was given: shown once, never audited. */
  invitation?: PersonLink | undefined;
}

/** One session of a person, as administration lists it: what kind, and its times (never an id or a cookie). */
export interface PersonSession {
  /** `console` the admin console, `account` the person's own pages, `sign_in` a browser sign-in at /authorize. */
  kind: 'console' | 'account' | 'sign_in';
  createdAt: Date;
  /** The last request seen (to within 30 s); null where not recorded (a browser sign-in). */
  lastSeenAt: Date | null;
  expiresAt: Date | null;
}

/** A store of a person's console or account-page sessions (console/sessions.ts, handed in from the top). */
export interface AppSessions {
  destroyForAccount(accountId: string): Promise<number | void>;
  listForAccount?(accountId: string): Promise<Array<{ createdAt: Date; lastSeenAt: Date; expiresAt: Date }>>;
}

export interface PeopleAdminDeps {
  db: Db;
  config: AdministratorsDeps['config'] & Pick<Config, 'ISSUER'>;
  policy: AdministratorsDeps['policy'];
  accounts: Accounts;
  users: LocalAccounts;
  connections: Pick<Connections, 'list'>;
  /** The person's console sessions: listed, ended when they are disabled or an administrator ends them. */
  sessions: AppSessions;
  /** The person's account-page sessions (`account_sessions`), listed and ended with the others. */
  accountSessions?: AppSessions | undefined;
  audit: AuditLog;
  /** The console's own rule, when the caller holds one (else one is built from these deps). */
  admins?: Administrators | undefined;
}

interface Lifecycle {
  identities: Map<string, LinkedIdentity[]>;
  deprovisionings: Map<string, { at: Date; reason: string | null }>;
  names: Map<string, string>;
}

// A person list is read whole and cut into pages in memory (admin/page.ts): bounded, as administration's tables are.
const MAX_PEOPLE = 100_000;

export class PeopleAdmin {
  readonly #admins: Administrators;
  readonly #links: AccountLinks;

  constructor(private readonly deps: PeopleAdminDeps) {
    this.#admins = deps.admins ?? new Administrators(deps);
    this.#links = new AccountLinks(deps.db, deps.users, deps.audit);
  }

  /** What the views of these accounts share: their identities, deprovisioning and the connections' names, read at once. */
  async #lifecycle(ids: string[]): Promise<Lifecycle> {
    const [identities, deprovisionings, connections] = await Promise.all([
      this.deps.accounts.linkedIdentities(ids),
      this.deps.accounts.deprovisionings(ids),
      this.deps.connections.list(),
    ]);
    return { identities, deprovisionings, names: new Map(connections.map((c) => [c.id, c.name])) };
  }

  async #view(account: Account, lifecycle?: Lifecycle): Promise<Person> {
    const { identities, deprovisionings, names } = lifecycle ?? (await this.#lifecycle([account.id]));
    const linked = identities.get(account.id) ?? [];
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
      connections: [...new Set(linked.map((i) => i.connectionId))],
      identities: linked.map((i) => ({ ...i, connectionName: names.get(i.connectionId) ?? null })),
      deprovisioned: deprovisionings.get(account.id) ?? null,
    };
  }

  /** People by email (those without one last), then id; `q` matches part of the email or name. */
  async list(request: PageRequest & { q?: string | undefined } = {}): Promise<Page<Person>> {
    const q = request.q?.trim().slice(0, 200) || undefined;
    const all = await this.deps.accounts.list({ q, offset: 0, limit: MAX_PEOPLE });
    const keyOf = (a: Account) => [a.email === null ? 1 : 0, a.email ?? '', a.id];
    const sorted = all.slice(0, MAX_PEOPLE).sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
    const page = pageOf(sorted, keyOf, request);
    const lifecycle = await this.#lifecycle(page.items.map((a) => a.id));
    return { items: await Promise.all(page.items.map((a) => this.#view(a, lifecycle))), next: page.next };
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
   * Adds a local person (a password account; `gatehouse user add`). Without a password (the usual way) they get an
   * invitation link, valid 7 days, where they choose one themselves: no password is ever shown to the administrator.
   * A given password (`--password-stdin`, for automation) is set as is and never answered. Their account exists at
   * once, so they can be listed, disabled or made an administrator before their first sign-in.
   */
  async addLocal(actor: Actor, input: { email: string; name?: string | undefined; admin?: boolean | undefined; password?: string | undefined }): Promise<AddedPerson> {
    const local = (await this.deps.connections.list()).find((c) => c.kind === 'local')?.id ?? 'local';
    let account: Account;
    let invitation: PersonLink | undefined;
    try {
      account = await this.deps.db.transaction(async (trx) => {
        const user = await this.deps.users.create({ email: input.email, password: input.password, name: input.name, isAdmin: !!input.admin }, trx);
        const added = await this.deps.accounts.addLocal(user, local, trx);
        // The person and their invitation commit together: never a person nobody can ever sign in as.
        if (input.password === undefined) invitation = this.#shown(await this.#links.create('invitation', user.id, actor.label, trx));
        return added;
      });
    } catch (err) {
      if (!(err instanceof AccountError)) throw err;
      const exists = /already exists/.test(err.message);
      const { via, actorId, ...who } = auditedBy(actor);
      await this.deps.audit.record({ type: 'person.added', outcome: 'failure', ...who, reason: err.message, details: { email: input.email.slice(0, 254), admin: !!input.admin, via, actorId } });
      throw new AdminError(exists ? 'conflict' : 'invalid_request', err.message, /password/.test(err.message) ? 'password' : 'email');
    }
    await this.#record(actor, 'person.added', 'success', account, { details: { admin: !!input.admin, connection: local, invited: !!invitation, ...(invitation ? { linkExpiresAt: invitation.expiresAt } : {}) } });
    return { person: await this.#view(account), ...(invitation ? { invitation } : {}) };
  }

  #shown(link: { token: string; kind: LinkKind; expiresAt: Date }): PersonLink {
    return { kind: link.kind, url: linkUrl(this.deps.config.ISSUER, link.token), expiresAt: link.expiresAt };
  }

  /**
   * A one-time link where a local person sets a new password (1 hour), replacing their earlier reset link; for someone
   * who never set one (an invitation not used), a new invitation (7 days) instead. Nothing else changes: their
   * password, sessions and grants stay until the link is used, and using it changes the password only. Refused for a
   * person without a password account: their identity provider keeps their password.
   */
  async resetPassword(actor: Actor, id: string): Promise<{ person: Person; link: PersonLink }> {
    const person = await this.#known(id);
    const [userId] = await this.#localUsers(person.id);
    const user = userId ? await this.deps.users.findById(userId) : undefined;
    if (!user) {
      return this.#conflict(actor, 'person.password_reset_link', person, 'This person has no password account: their identity provider manages how they sign in, so there is no password to reset here.');
    }
    const kind: LinkKind = user.passwordSet ? 'password_reset' : 'invitation';
    const link = this.#shown(await this.#links.create(kind, user.id, actor.label));
    await this.#record(actor, kind === 'invitation' ? 'person.invited' : 'person.password_reset_link', 'success', person, { details: { kind, linkExpiresAt: link.expiresAt } });
    return { person: (await this.find(person.id))!, link };
  }

  /** Everything a person is signed in with: console, account pages and browser sign-ins at /authorize, newest first. */
  async sessions(id: string): Promise<PersonSession[]> {
    const person = await this.#known(id);
    const area = async (kind: 'console' | 'account', store: AppSessions | undefined): Promise<PersonSession[]> =>
      ((await store?.listForAccount?.(person.id)) ?? []).map((s) => ({ kind, ...s }));
    const [consoleSessions, accountSessions, browser] = await Promise.all([
      area('console', this.deps.sessions),
      area('account', this.deps.accountSessions),
      sessionsOfAccount(this.deps.db, person.id),
    ]);
    const signIns = browser.map((s): PersonSession => ({ kind: 'sign_in', createdAt: s.createdAt, lastSeenAt: s.loginAt, expiresAt: s.expiresAt }));
    return [...consoleSessions, ...accountSessions, ...signIns].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }

  /**
   * Ends every session of a person (console, account pages, browser sign-ins, so /authorize asks them to sign in
   * again); their grants stay (revokeGrants ends those). Ending none is not a refusal: the person is signed out either way.
   */
  async endSessions(actor: Actor, id: string): Promise<{ person: Person; ended: Record<PersonSession['kind'], number> }> {
    const person = await this.#known(id);
    const count = (n: number | void) => (typeof n === 'number' ? n : 0);
    const ended = {
      console: count(await this.deps.sessions.destroyForAccount(person.id)),
      account: count(await this.deps.accountSessions?.destroyForAccount(person.id)),
      sign_in: await deleteSessionsOfAccount(this.deps.db, person.id),
    };
    await this.#record(actor, 'person.sessions_ended', 'success', person, { details: { ended } });
    return { person: (await this.find(person.id))!, ended };
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
