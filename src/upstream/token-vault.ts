// The upstream token vault (docs/TOKEN-VAULT.md): per account and connection, the person's upstream tokens (sealed
// in upstream_tokens), their state and a single-flight refresh across instances. MCP servers reach it only through
// token exchange at /token (docs/DELEGATION.md); nothing here ever reaches a page or an MCP client otherwise.
//
// Single flight (docs/TOKEN-VAULT.md): one refresh per row at a time across every instance. The row lock is a lease,
// refresh_lease_until, taken by a conditional UPDATE before the upstream call and released by the UPDATE that stores
// its outcome — never a transaction held across the call (PGlite has one connection: it would stop the server). An
// instance that finds the lease held waits for it to clear and re-reads the row: it then uses the stored token and
// calls nobody. Within an instance, concurrent requests for the same row share one promise.
import type { AuditLog } from '../audit/writer.js';
import { TtlCache } from '../cache/ttl-cache.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/connection.js';
import type { Connections } from './connections.js';
import type { Accounts } from './accounts.js';
import { RefreshRefused, type RedirectConnector, type UpstreamTokens } from './connector.js';
import { OUTAGE_PREFIX, UpstreamTokenStore, type VaultRow } from './upstream-tokens.js';

export type VaultStatus = 'active' | 'needs_reauth' | 'revoked';

/** What the vault can give for one account, connection and request. */
export type VaultAnswer =
  | { kind: 'token'; accessToken: string; expiresAt?: Date | undefined; scope?: string | undefined }
  /** No upstream account of this connection is linked to the person (or its tokens were never kept). */
  | { kind: 'not_linked' }
  /** The IdP refused the stored refresh token, or the person revoked it: they must connect again. */
  | { kind: 'needs_reauth'; reason: string }
  /** The upstream grant does not cover these scopes: the person must consent to more (incremental consent). */
  | { kind: 'insufficient_scope'; missing: string[] };

/** The IdP could not be reached or failed: never a revocation; the caller answers temporarily_unavailable. */
export class VaultUnavailable extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds = 10,
  ) {
    super(message);
  }
}

export interface VaultRequest {
  /** Upstream scopes the caller needs (checked against what the person granted upstream). */
  scopes?: string[] | undefined;
  /** An upstream resource (Entra: `https://graph.microsoft.com`), for IdPs whose refresh tokens span resources. */
  resource?: string | undefined;
}

/** Who the linked account is at the IdP. */
export interface UpstreamAccount {
  issuer: string;
  subject: string;
}

/** The vault's interface, as the token exchange, the connect-account page and re-validation use it. */
export interface TokenVaultApi {
  /** A usable upstream access token, refreshed (once, wherever) when it expired or is about to. */
  accessToken(accountId: string, connectionId: string, request?: VaultRequest): Promise<VaultAnswer>;
  /** Keeps tokens a login or the connect-account page obtained: status active, the linked upstream account recorded. */
  link(accountId: string, connectionId: string, who: UpstreamAccount, tokens: UpstreamTokens): Promise<void>;
  /** The linked upstream account, if any (the connect-account page refuses a different one for a login connection). */
  linked(accountId: string, connectionId: string): Promise<(UpstreamAccount & { status: VaultStatus; scope: string | undefined }) | undefined>;
  /**
   * Runs `use` holding the row's refresh lease (the same single flight as a refresh): re-validation redeems the
   * stored refresh token only here, so a refresh token is never redeemed twice at once. What `use` returns as
   * `tokens` is stored before the lease is released.
   */
  exclusive<T>(accountId: string, connectionId: string, use: (tokens: UpstreamTokens | undefined) => Promise<ExclusiveOutcome<T>>): Promise<T>;
  /** The person disconnected the upstream account: the tokens are forgotten and the row is revoked (no upstream call). */
  disconnect(accountId: string, connectionId: string): Promise<boolean>;
}

/** What `exclusive`'s `use` did: its result, new tokens to keep, or the IdP's refusal of the refresh token. */
export interface ExclusiveOutcome<T> {
  result: T;
  tokens?: UpstreamTokens | undefined;
  /** The IdP refused the stored refresh token (invalid_grant): the row becomes needs_reauth. */
  refused?: string | undefined;
}

export interface TokenVaultDeps {
  db: Db;
  box: SecretBox;
  connections: Connections;
  audit: AuditLog;
  /** Whose sign-in identity a row kept before the vault recorded the upstream account is. */
  accounts: Pick<Accounts, 'identities'>;
}

/** An access token must stay valid this long after it is handed out; otherwise it is refreshed first. */
export const MIN_VALIDITY_MS = 60_000;
// Outlives the connection's 10 s upstream timeout (and a re-validation's few calls); a lease left by a crashed
// instance frees itself.
const LEASE_MS = 30_000;
const POLL_MS = 50;
const RESOURCE_CACHE_MS = 3600_000;

interface ResourceToken {
  accessToken: string;
  expiresAt: Date | undefined;
  scope: string | undefined;
  /** The upstream account it was obtained for: a re-link to another account must never be handed it. */
  subject: string | null;
}

type Decision = { answer: VaultAnswer; markNeedsReauth?: string } | { refresh: true };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fresh = (expiresAt: Date | undefined) => !expiresAt || expiresAt.getTime() - Date.now() >= MIN_VALIDITY_MS;
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The requested scopes the grant lacks. Granted scopes are space- (OAuth 2) or comma-separated (GitHub); an empty
 * grant (GitHub App user tokens, an IdP that does not say) cannot be judged and lacks nothing. With a resource, a
 * scope may be granted in its full form (`https://graph.microsoft.com/Mail.Read`) or its short one.
 */
export function missingScopes(requested: string[] | undefined, granted: string | undefined, resource?: string): string[] {
  const have = new Set((granted ?? '').split(/[\s,]+/).filter(Boolean));
  if (!requested?.length || !have.size) return [];
  const prefix = resource ? `${resource.replace(/\/+$/, '')}/` : undefined;
  const short = (s: string) => (prefix && s.startsWith(prefix) ? s.slice(prefix.length) : s);
  const haveShort = new Set([...have].map(short));
  return requested.filter((s) => !have.has(s) && !haveShort.has(short(s)));
}

export class TokenVault implements TokenVaultApi {
  readonly store: UpstreamTokenStore;
  readonly #inflight = new Map<string, Promise<VaultAnswer>>();
  /** Other resources' access tokens (Entra): per instance, never in the row, which keeps the connection's own. */
  readonly #resourceTokens = new TtlCache<ResourceToken>(RESOURCE_CACHE_MS);

  constructor(private readonly deps: TokenVaultDeps) {
    this.store = new UpstreamTokenStore(deps.db, deps.box);
  }

  async accessToken(accountId: string, connectionId: string, request: VaultRequest = {}): Promise<VaultAnswer> {
    const connector = await this.#connector(connectionId);
    if (!connector) return { kind: 'not_linked' };
    const resource = request.resource && connector.multiResource ? request.resource.replace(/\/+$/, '') : undefined;
    const req: VaultRequest = { scopes: request.scopes, resource };
    const decided = await this.#settle(accountId, connectionId, await this.store.read(accountId, connectionId), req);
    if (decided) return decided;
    const id = `${accountId}\n${connectionId}\n${resource ?? ''}\n${(request.scopes ?? []).join(' ')}`;
    let flight = this.#inflight.get(id);
    if (!flight) {
      flight = this.#singleFlight(accountId, connectionId, req, connector).finally(() => this.#inflight.delete(id));
      this.#inflight.set(id, flight);
    }
    return flight;
  }

  async link(accountId: string, connectionId: string, who: UpstreamAccount, tokens: UpstreamTokens): Promise<void> {
    await this.store.save(accountId, connectionId, tokens, who);
  }

  async linked(accountId: string, connectionId: string): Promise<(UpstreamAccount & { status: VaultStatus; scope: string | undefined }) | undefined> {
    const row = await this.store.read(accountId, connectionId);
    if (!row) return undefined;
    let who = row.issuer && row.subject ? { issuer: row.issuer, subject: row.subject } : undefined;
    // Rows kept by a login before the vault recorded who: the sign-in identity of that connection is who.
    if (!who) {
      const identity = (await this.deps.accounts.identities(accountId)).find((i) => i.connectionId === connectionId);
      who = identity ? { issuer: identity.issuer, subject: identity.subject } : undefined;
    }
    return who ? { ...who, status: row.status, scope: row.tokens.scope } : undefined;
  }

  async exclusive<T>(accountId: string, connectionId: string, use: (tokens: UpstreamTokens | undefined) => Promise<ExclusiveOutcome<T>>): Promise<T> {
    for (let waited = 0; ; ) {
      const row = await this.store.takeLease(accountId, connectionId, LEASE_MS);
      if (row) {
        let outcome: ExclusiveOutcome<T>;
        try {
          const t = row.tokens;
          outcome = await use(t.accessToken || t.refreshToken ? t : undefined);
        } catch (err) {
          await this.store.endLease(accountId, connectionId, {});
          throw err;
        }
        if (outcome.tokens) await this.store.endLease(accountId, connectionId, { tokens: outcome.tokens });
        else if (outcome.refused) {
          await this.store.endLease(accountId, connectionId, { refused: outcome.refused });
          await this.#auditNeedsReauth(accountId, connectionId, outcome.refused);
        } else await this.store.endLease(accountId, connectionId, {});
        return outcome.result;
      }
      // No row: nothing to redeem, so nothing to serialise.
      if (!(await this.store.read(accountId, connectionId))) return (await use(undefined)).result;
      if (waited > LEASE_MS * 2) throw new Error('token vault: the refresh lease was never released');
      await sleep(POLL_MS);
      waited += POLL_MS;
    }
  }

  async disconnect(accountId: string, connectionId: string): Promise<boolean> {
    return this.store.revoke(accountId, connectionId, 'disconnected by the person');
  }

  async #connector(connectionId: string): Promise<RedirectConnector | undefined> {
    const connection = await this.deps.connections.find(connectionId);
    if (!connection) return undefined;
    const connector = this.deps.connections.connector(connection);
    return connector.kind === 'redirect' ? connector : undefined;
  }

  /** An answer from the row as it is (recording a needs_reauth it implies), or undefined when a refresh is needed. */
  async #settle(accountId: string, connectionId: string, row: VaultRow | undefined, req: VaultRequest): Promise<VaultAnswer | undefined> {
    const d = this.#decide(accountId, connectionId, row, req);
    if ('refresh' in d) return undefined;
    if (d.markNeedsReauth && (await this.store.markNeedsReauth(accountId, connectionId, d.markNeedsReauth))) await this.#auditNeedsReauth(accountId, connectionId, d.markNeedsReauth);
    return d.answer;
  }

  #decide(accountId: string, connectionId: string, row: VaultRow | undefined, req: VaultRequest): Decision {
    if (!row) return { answer: { kind: 'not_linked' } };
    if (row.status !== 'active') {
      const reason = row.statusDetail ?? (row.status === 'revoked' ? 'the upstream account was disconnected' : 'the identity provider refused the stored refresh token');
      return { answer: { kind: 'needs_reauth', reason } };
    }
    const t = row.tokens;
    if (!t.accessToken && !t.refreshToken) return { answer: { kind: 'not_linked' } };
    if (req.resource) {
      const hit = this.#resourceTokens.peek(this.#resourceKey(accountId, connectionId, req.resource));
      if (hit && hit.subject === row.subject && fresh(hit.expiresAt)) return { answer: this.#tokenAnswer(hit, req) };
      if (!t.refreshToken) {
        const reason = `no upstream refresh token is kept to obtain a token for ${req.resource}`;
        return { answer: { kind: 'needs_reauth', reason } };
      }
      return { refresh: true };
    }
    const missing = missingScopes(req.scopes, t.scope);
    if (missing.length) return { answer: { kind: 'insufficient_scope', missing } };
    if (t.accessToken && fresh(t.expiresAt)) return { answer: { kind: 'token', accessToken: t.accessToken, expiresAt: t.expiresAt, scope: t.scope } };
    if (!t.refreshToken) {
      const reason = 'the upstream access token expired and no refresh token is kept';
      return { answer: { kind: 'needs_reauth', reason }, markNeedsReauth: reason };
    }
    return { refresh: true };
  }

  #tokenAnswer(token: { accessToken: string; expiresAt?: Date | undefined; scope?: string | undefined }, req: VaultRequest): VaultAnswer {
    const missing = missingScopes(req.scopes, token.scope, req.resource);
    if (missing.length) return { kind: 'insufficient_scope', missing };
    return { kind: 'token', accessToken: token.accessToken, expiresAt: token.expiresAt, scope: token.scope };
  }

  #resourceKey(accountId: string, connectionId: string, resource: string): string {
    return `${accountId}\n${connectionId}\n${resource}`;
  }

  /**
   * Takes the lease and refreshes, or waits for whoever holds it and uses what they stored. A waiter that sees the
   * holder record an outage answers unavailable too rather than asking the IdP again.
   */
  async #singleFlight(accountId: string, connectionId: string, req: VaultRequest, connector: RedirectConnector): Promise<VaultAnswer> {
    // Set while waiting for someone else's lease: the row's updated_at when first seen held.
    let heldSince: Date | undefined;
    for (let waited = 0; ; ) {
      // A waiter re-reads before it tries the lease again: the holder's outcome is the answer, not a reason to call.
      const taken = heldSince ? undefined : await this.store.takeLease(accountId, connectionId, LEASE_MS);
      if (taken) {
        // Someone may have refreshed between our read and the lease: use theirs, call nobody.
        const d = this.#decide(accountId, connectionId, taken, req);
        if (!('refresh' in d)) {
          await this.store.endLease(accountId, connectionId, {});
          return (await this.#settle(accountId, connectionId, taken, req))!;
        }
        return this.#redeem(accountId, connectionId, taken, req, connector);
      }
      const seen = await this.store.read(accountId, connectionId);
      const answer = await this.#settle(accountId, connectionId, seen, req);
      if (answer) return answer;
      const held = seen!.leaseUntil && seen!.leaseUntil.getTime() > Date.now();
      if (!held) {
        if (heldSince && seen!.updatedAt > heldSince && seen!.statusDetail?.startsWith(OUTAGE_PREFIX)) {
          throw new VaultUnavailable(`the identity provider could not refresh the token: ${seen!.statusDetail.slice(OUTAGE_PREFIX.length)}`);
        }
        // Released with nothing we can use (a re-validation that refreshed nothing, a crashed holder): try ourselves.
        heldSince = undefined;
        continue;
      }
      heldSince ??= seen!.updatedAt;
      if (waited > LEASE_MS * 2) throw new VaultUnavailable('the upstream refresh lease was never released');
      await sleep(POLL_MS);
      waited += POLL_MS;
    }
  }

  /** Holding the lease: the one upstream call, its outcome stored in the UPDATE that frees the lease. */
  async #redeem(accountId: string, connectionId: string, row: VaultRow, req: VaultRequest, connector: RedirectConnector): Promise<VaultAnswer> {
    let refreshed;
    try {
      refreshed = await connector.refresh(row.tokens, { scopes: req.scopes, resource: req.resource });
    } catch (err) {
      if (err instanceof RefreshRefused) {
        await this.store.endLease(accountId, connectionId, { refused: err.reason });
        await this.#auditNeedsReauth(accountId, connectionId, err.reason);
        return { kind: 'needs_reauth', reason: err.reason };
      }
      // Never a revocation: the status and the refresh token stay as they are (docs/TOKEN-VAULT.md).
      const detail = messageOf(err);
      await this.store.endLease(accountId, connectionId, { outage: detail }).catch(() => undefined);
      await this.deps.audit.record({ type: 'vault.refresh_failed', outcome: 'failure', actor: accountId, reason: detail.slice(0, 500), details: { accountId, connector: connectionId } }).catch(() => undefined);
      throw new VaultUnavailable(`the identity provider could not refresh the token: ${detail}`);
    }
    const forResource = refreshed.resource !== undefined;
    await this.store.endLease(accountId, connectionId, { tokens: refreshed, refreshOnly: forResource });
    const token = { accessToken: refreshed.accessToken!, expiresAt: refreshed.expiresAt, scope: refreshed.scope ?? (forResource ? undefined : row.tokens.scope) };
    if (forResource) {
      this.#resourceTokens.set(this.#resourceKey(accountId, connectionId, req.resource!), { ...token, subject: row.subject });
      return this.#tokenAnswer(token, req);
    }
    return { kind: 'token', ...token };
  }

  async #auditNeedsReauth(accountId: string, connectionId: string, reason: string): Promise<void> {
    await this.deps.audit.record({ type: 'vault.needs_reauth', outcome: 'failure', actor: accountId, reason: reason.slice(0, 500), details: { accountId, connector: connectionId } });
  }
}
