// Connection administration (docs/ARCHITECTURE.md, "The admin service layer"): the upstream identity providers
// people log in with, added, updated, removed and tested here by every adapter, with one `connection.*` event
// naming the actor and `details.via`. A client secret is write-only: never in a view, an answer or an audit event.
// The environment's connection (UPSTREAM_*, source "env") is put back by every start, and one the configuration file
// manages is the file's (admin/managed.ts): both are refused, as conflicts audited as failures.
import type { AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import { GLOBAL_TOKEN_REVOCATION_PATH } from '../http/route-table.js';
import { newGlobalLogoutSecret } from '../signals/global-logout-secret.js';
import { receiverUrl } from '../signals/set-receiver.js';
import type { Logger } from '../log.js';
import { GuardedFetchError } from '../net/guarded-fetch.js';
import type { ConnectionSpec, SpecField } from '../upstream/connection.js';
import { ConnectionError, ConnectionExists, type Connections, type StoredConnection } from '../upstream/connections.js';
import type { DiscoveryReport } from '../upstream/connector.js';
import { auditedBy, type Actor } from './actor.js';
import { AdminError } from './admin-error.js';
import { assertNotManaged } from './managed.js';
import { checkVersion, versionOf } from './version.js';

/** A connection as administration shows it: everything but the secret, and whether one is stored. */
export type ConnectionView = Omit<StoredConnection, 'clientSecret'> & { hasClientSecret: boolean };

export const viewOf = ({ clientSecret, ...rest }: StoredConnection): ConnectionView => ({ ...rest, hasClientSecret: !!clientSecret });

/** Refused settings, each problem naming its field, so a form marks the field and the CLI names the flag. */
export class ConnectionRefused extends AdminError {
  constructor(
    code: 'invalid_request' | 'conflict',
    readonly problems: Array<[SpecField, string]>,
  ) {
    super(code, problems.map(([f, m]) => `${f}: ${m}`).join('; '), problems[0]?.[0]);
  }
}

export const FROM_ENVIRONMENT = 'This connection comes from the environment (UPSTREAM_*): change the environment and restart instead.';

export const TEST_REFUSED = 'Refused before connecting: the issuer\'s host is not a public address, and this connection does not allow a private network. If the identity provider is on your own network, tick "The identity provider is on a private network".';
export const TEST_UNREACHABLE = 'Could not reach the identity provider (no answer over HTTP). Check the issuer URL and that the server can reach it; the server log has the details.';
const TEST_ANSWERED = 'The identity provider answered, but not with a usable discovery document';

/**
 * What a test says (docs/SECURITY.md, "Issue 16"): three classes, never a socket error. Refused and closed, reset,
 * silent, TLS-failing or non-HTTP ports all read alike, so the test is not a port scanner; only an HTTP answer is
 * described (its status, or what openid-client found wrong with the document). The full reason goes to the log.
 */
export function testProblem(err: unknown): string {
  let guarded: GuardedFetchError | undefined;
  for (let e = err, depth = 0; e && depth < 6 && !guarded; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof GuardedFetchError) guarded = e;
  }
  if (guarded?.stage === 'refused') return TEST_REFUSED;
  if (guarded?.stage === 'unreachable') return TEST_UNREACHABLE;
  if (guarded) return `${TEST_ANSWERED}: ${guarded.reason}.`;
  const e = err as { name?: string; code?: string; message?: string };
  // openid-client's own timeout, or a fetch that never got an HTTP answer (a test stub's network error).
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || e?.code === 'OAUTH_TIMEOUT' || e instanceof TypeError) return TEST_UNREACHABLE;
  return `${TEST_ANSWERED}: ${e?.message ?? String(err)}.`;
}

/** The chain of causes, for the server log. */
function detailOf(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const x = e as { message?: string; code?: string };
    parts.push(`${x.message ?? String(e)}${x.code ? ` (${x.code})` : ''}`);
  }
  return parts.join(' <- ');
}

/**
 * An enabled connection whose test failed was not saved (docs/SECURITY.md, "Connections are tested before they go
 * live"): the adapter shows `problem` and asks whether to save it disabled or enable it anyway.
 */
export class ConnectionTestFailed extends AdminError {
  constructor(readonly problem: string) {
    super('conflict', `The test failed, so the connection was not saved enabled: ${problem}`, 'enabled');
  }
}

/**
 * How a save that leaves a connection enabled treats its test: `required` runs it first and refuses with
 * ConnectionTestFailed when it fails (the console, until the admin confirms); `skipped` saves as asked (the admin
 * API, the CLI and the configuration file, which test with their own call; a confirmed "enable anyway").
 */
export type TestBeforeEnabling = 'required' | 'skipped';

/** A stored connection's settings, without what the store adds (its source, state, marks and dates). */
function specOfStored(c: StoredConnection): ConnectionSpec {
  const { source: _s, managedBy: _m, hasGlobalLogoutSecret: _g, enabled: _e, createdAt: _c, updatedAt: _u, ...spec } = c;
  return spec;
}

export interface ConnectionTest {
  connection: ConnectionView;
  /** What discovery found; undefined for a kind with nothing to discover, or on a problem. */
  report?: DiscoveryReport | undefined;
  /** What went wrong, in plain words (testProblem). */
  problem?: string | undefined;
}

export interface ConnectionAdminDeps {
  connections: Connections;
  audit: AuditLog;
  log: Pick<Logger, 'warn'>;
  /** Where the IdP's logout goes (the global logout secret's answer names it). */
  config?: Pick<Config, 'ISSUER'> | undefined;
}

/** Where a connection's identity provider sends logout (docs/UNIVERSAL-LOGOUT.md). */
export interface LogoutEndpoints {
  globalTokenRevocation: string;
  securityEvents: string;
}

export interface GlobalLogoutSecret {
  connection: ConnectionView;
  /** Shown once: only its digest is stored. */
  secret: string;
  endpoints: LogoutEndpoints;
}

type Verb = 'added' | 'updated' | 'removed' | 'tested' | 'enabled' | 'disabled' | 'global_logout_secret_rotated' | 'global_logout_secret_cleared';

// What a connection's `source` records of who added it (the console shows it).
const SOURCE: Record<Actor['kind'], string> = { person: 'console', cli: 'cli', api_client: 'api', config: 'config' };

export class ConnectionAdmin {
  constructor(private readonly deps: ConnectionAdminDeps) {}

  /** Every connection, the environment's first, then in the order they were added. */
  async list(): Promise<ConnectionView[]> {
    return (await this.deps.connections.list()).map(viewOf);
  }

  async find(id: string): Promise<ConnectionView | undefined> {
    const found = id && id.length <= 200 ? await this.deps.connections.find(id) : undefined;
    return found ? viewOf(found) : undefined;
  }

  async #known(id: string): Promise<StoredConnection> {
    // As stored now, not the 2 s cache: a change is checked and made on what another instance may just have written.
    const found = id && id.length <= 200 ? await this.deps.connections.current(id) : undefined;
    if (!found) throw new AdminError('not_found', 'There is no such connection.');
    return found;
  }

  async #record(actor: Actor, verb: Verb, outcome: 'success' | 'failure', details: Record<string, unknown>, reason?: string): Promise<void> {
    const { via, actorId, ...who } = auditedBy(actor);
    await this.deps.audit.record({ type: `connection.${verb}`, outcome, ...who, ...(reason ? { reason: reason.slice(0, 500) } : {}), details: { ...details, via, actorId } });
  }

  /** The environment's or the file's connection, refused for anyone else: audited as a failure. */
  async #changeable(actor: Actor, verb: Verb, c: StoredConnection): Promise<void> {
    try {
      if (c.source === 'env') throw new AdminError('conflict', FROM_ENVIRONMENT);
      assertNotManaged(actor, c.managedBy);
    } catch (err) {
      await this.#record(actor, verb, 'failure', { id: c.id, kind: c.kind }, c.source === 'env' ? 'defined by the environment' : `managed by ${c.managedBy}`);
      throw err;
    }
  }

  /** Adds a connection (the login page offers "Continue with <name>"); refuses invalid settings or a taken id. */
  async add(actor: Actor, spec: ConnectionSpec, options: { enabled?: boolean; testing?: TestBeforeEnabling } = {}): Promise<ConnectionView> {
    const enabled = options.enabled ?? true;
    if (enabled && options.testing === 'required' && !(await this.deps.connections.find(spec.id))) await this.#testBeforeEnabling(actor, 'added', spec);
    let saved: StoredConnection;
    try {
      saved = await this.deps.connections.add(spec, SOURCE[actor.kind], enabled);
    } catch (err) {
      if (!(err instanceof ConnectionError)) throw err;
      const exists = err instanceof ConnectionExists;
      await this.#record(actor, 'added', 'failure', { id: spec.id.slice(0, 60), kind: String(spec.kind).slice(0, 40), problems: err.problems.map(([f, m]) => `${f}: ${m}`) }, exists ? 'connection exists' : 'invalid settings');
      throw new ConnectionRefused(exists ? 'conflict' : 'invalid_request', err.problems);
    }
    await this.#record(actor, 'added', 'success', { id: saved.id, kind: saved.kind, name: saved.name, issuer: saved.issuer ?? null, allowPrivateNetwork: saved.allowPrivateNetwork, idJag: !!saved.idJag, idJagResource: saved.idJagResource ?? null, enabled: saved.enabled });
    return viewOf(saved);
  }

  /**
   * Changes a connection's settings (not its id or kind). `keepSecret` keeps the stored client secret whatever
   * `spec` says, so a form never has to show it. `expectedVersion` (versionOf a view) refuses a stale update.
   */
  async update(actor: Actor, spec: ConnectionSpec, options: { keepSecret: boolean; enabled?: boolean | undefined; testing?: TestBeforeEnabling }, expectedVersion?: string): Promise<ConnectionView> {
    const c = await this.#known(spec.id);
    await this.#changeable(actor, 'updated', c);
    try {
      checkVersion(viewOf(c), expectedVersion);
    } catch (err) {
      await this.#record(actor, 'updated', 'failure', { id: c.id, kind: c.kind }, 'stale version');
      throw err;
    }
    if ((options.enabled ?? c.enabled) && options.testing === 'required' && c.kind === spec.kind) {
      await this.#testBeforeEnabling(actor, 'updated', options.keepSecret ? { ...spec, clientSecret: c.clientSecret } : spec);
    }
    let saved: StoredConnection;
    try {
      saved = await this.deps.connections.update(spec, { keepSecret: options.keepSecret, enabled: options.enabled });
    } catch (err) {
      if (!(err instanceof ConnectionError)) throw err;
      await this.#record(actor, 'updated', 'failure', { id: c.id, kind: c.kind, problems: err.problems.map(([f, m]) => `${f}: ${m}`) }, 'invalid settings');
      throw new ConnectionRefused('invalid_request', err.problems);
    }
    await this.#record(actor, 'updated', 'success', {
      id: saved.id, kind: saved.kind, name: saved.name, issuer: saved.issuer ?? null, allowPrivateNetwork: saved.allowPrivateNetwork, idJag: !!saved.idJag, idJagResource: saved.idJagResource ?? null, credentialReplaced: !options.keepSecret && !!spec.clientSecret,
      enabled: saved.enabled,
    });
    return viewOf(saved);
  }

  /**
   * Offers a connection on the sign-in page again (`required`: only once its test passes), or takes it off
   * (its settings, linked identities and kept tokens stay). The environment's and the file's are refused.
   */
  async setEnabled(actor: Actor, id: string, enabled: boolean, testing: TestBeforeEnabling = 'skipped'): Promise<ConnectionView> {
    const c = await this.#known(id);
    const verb = enabled ? 'enabled' : 'disabled';
    await this.#changeable(actor, verb, c);
    if (c.enabled === enabled) {
      await this.#record(actor, verb, 'failure', { id: c.id, kind: c.kind }, `already ${verb}`);
      throw new AdminError('conflict', `This connection is already ${verb}.`);
    }
    if (enabled && testing === 'required') await this.#testBeforeEnabling(actor, verb, specOfStored(c));
    // The flag only: the settings are not written back, so an edit made meanwhile elsewhere stays.
    const saved = await this.deps.connections.setEnabled(c.id, enabled);
    if (!saved) throw new AdminError('not_found', 'There is no such connection.');
    await this.#record(actor, verb, 'success', { id: c.id, kind: c.kind, ...(enabled && testing === 'skipped' ? { tested: false } : {}) });
    return viewOf(saved);
  }

  /**
   * The test an enabled connection passes before it is saved (docs/SECURITY.md, "Connections are tested before they
   * go live"). Settings with problems are not tested: the save refuses them, naming the fields. A failure is
   * audited as the change's failure and refused with ConnectionTestFailed; nothing is written.
   */
  async #testBeforeEnabling(actor: Actor, verb: Verb, spec: ConnectionSpec): Promise<void> {
    if (this.deps.connections.problems(spec).length) return;
    let problem: string | undefined;
    try {
      await this.deps.connections.discover(spec);
    } catch (err) {
      problem = testProblem(err);
      this.deps.log.warn({ connection: spec.id, reason: detailOf(err) }, 'connection test before enabling failed');
    }
    if (!problem) return;
    await this.#record(actor, verb, 'failure', { id: spec.id.slice(0, 60), kind: spec.kind, issuer: spec.issuer ?? null, test: 'failed' }, `test failed: ${problem}`);
    throw new ConnectionTestFailed(problem);
  }

  /** Removes a connection: accounts linked through it stay; its stored upstream tokens are deleted. */
  async remove(actor: Actor, id: string): Promise<ConnectionView> {
    const c = await this.#known(id);
    await this.#changeable(actor, 'removed', c);
    await this.deps.connections.remove(c.id);
    await this.#record(actor, 'removed', 'success', { id: c.id, kind: c.kind, name: c.name });
    return viewOf(c);
  }

  /** Runs a connection's discovery now and says what was found, or what went wrong in plain words (audited). */
  async test(actor: Actor, id: string): Promise<ConnectionTest> {
    const c = await this.#known(id);
    let report: DiscoveryReport | undefined;
    let problem: string | undefined;
    try {
      report = await this.deps.connections.discover(c);
    } catch (err) {
      problem = testProblem(err);
      this.deps.log.warn({ connection: c.id, reason: detailOf(err) }, 'connection test failed');
    }
    await this.#record(actor, 'tested', problem ? 'failure' : 'success', { id: c.id, kind: c.kind, ...(report ? { issuer: report.issuer, fetched: report.fetched } : {}) }, problem);
    return { connection: viewOf(c), report, problem };
  }

  /** The URLs a connection's identity provider sends logout to (docs/UNIVERSAL-LOGOUT.md). */
  endpoints(id: string): LogoutEndpoints {
    const issuer = this.deps.config?.ISSUER ?? '';
    return { globalTokenRevocation: `${issuer}${GLOBAL_TOKEN_REVOCATION_PATH}`, securityEvents: receiverUrl(issuer, id) };
  }

  /**
   * Makes a new global token revocation credential for the connection (docs/UNIVERSAL-LOGOUT.md), replacing any
   * earlier one at once. Only its SHA-256 is stored; the secret is answered here once and never audited. Allowed on
   * the environment's and a configuration file's connections too: the credential is not one of their settings.
   */
  async rotateGlobalLogoutSecret(actor: Actor, id: string): Promise<GlobalLogoutSecret> {
    const c = await this.#known(id);
    const { secret, hash } = newGlobalLogoutSecret();
    if (!(await this.deps.connections.setGlobalLogoutSecretHash(c.id, hash))) throw new AdminError('not_found', 'There is no such connection.');
    await this.#record(actor, 'global_logout_secret_rotated', 'success', { id: c.id, kind: c.kind, replaced: c.hasGlobalLogoutSecret });
    return { connection: viewOf({ ...c, hasGlobalLogoutSecret: true }), secret, endpoints: this.endpoints(c.id) };
  }

  /** Removes the connection's global logout credential: calls with it are refused from now on. */
  async clearGlobalLogoutSecret(actor: Actor, id: string): Promise<ConnectionView> {
    const c = await this.#known(id);
    if (!c.hasGlobalLogoutSecret) {
      await this.#record(actor, 'global_logout_secret_cleared', 'failure', { id: c.id, kind: c.kind }, 'no global logout secret');
      throw new AdminError('conflict', 'This connection has no global logout secret.');
    }
    await this.deps.connections.setGlobalLogoutSecretHash(c.id, null);
    await this.#record(actor, 'global_logout_secret_cleared', 'success', { id: c.id, kind: c.kind });
    return viewOf({ ...c, hasGlobalLogoutSecret: false });
  }

  /** Marks a connection as the configuration file's (or nobody's): the file's own bookkeeping, not audited. */
  async markManaged(id: string, file: string | null): Promise<void> {
    if (!(await this.deps.connections.setManagedBy(id, file))) throw new AdminError('not_found', 'There is no such connection.');
  }

  /** The version of a connection, for an optimistic update. */
  static version(c: ConnectionView): string {
    return versionOf(c);
  }
}
