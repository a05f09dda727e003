// Rate limits (issue #7): how often one source may knock on each door. Counters live in PostgreSQL
// (rate-limiter-flexible's Postgres store, table `rate_limits` from migration 003), so every instance shares them;
// the store reaches the database through knex, which also serves PGlite, and folds concurrent increments of one
// counter into one upsert (rate-limit-store.ts).
//
// "IP" below is the client address (TRUST_PROXY hops from the right of X-Forwarded-For; docs/SECURITY.md, "Issue
// 16") counted by source: an IPv4 address, or an IPv6 address's /64.
//
//   /register           per IP                          REGISTRATION_RATE_LIMIT / REGISTRATION_RATE_WINDOW
//   /token              per client_id and per IP        TOKEN_RATE_LIMIT, TOKEN_RATE_LIMIT_IP / TOKEN_RATE_WINDOW
//   /authorize          per IP                          AUTHORIZE_RATE_LIMIT / AUTHORIZE_RATE_WINDOW
//   password sign-in    failures per account and IP     LOGIN_RATE_LIMIT, LOGIN_RATE_LIMIT_IP / LOGIN_RATE_WINDOW
//   CIMD first use      per IP (a client_id URL never   CIMD_RATE_LIMIT / CIMD_RATE_WINDOW
//                       seen before costs a fetch and a row)
//
// Fixed windows; 0 turns a limit off. A refusal is 429 with Retry-After and `temporarily_unavailable` (RFC 6749
// defines no rate-limit code; `slow_down` belongs to the device flow), or the error page for a browser; never a
// redirect to a client. Only the first refusal of a window is audited, so a flood cannot turn into audit rows.
// Limiter errors are not swallowed: the request would fail on its next query anyway, and a brute-force guard that
// silently opens when its table misbehaves guards nothing (the error handler answers them like any database fault).
import type { Context } from 'koa';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import { memoize } from '../cache/memo.js';
import { sha256 } from '../crypto/digest.js';
import type { Db } from '../db/connection.js';
import { addressSource } from '../net/address-source.js';
import type { Views } from '../views/views.js';
import { rateLimitStore } from './rate-limit-store.js';

export type LimitName = 'register_ip' | 'token_client' | 'token_ip' | 'authorize_ip' | 'login_account' | 'login_ip' | 'cimd_ip';
export type KeyKind = 'ip' | 'client' | 'account';

export interface RateLimitVerdict {
  allowed: boolean;
  retryAfterSeconds: number;
  /** The refusal that crossed the limit: the one of its window that is audited. */
  firstRefusal: boolean;
}

const ALLOWED: RateLimitVerdict = { allowed: true, retryAfterSeconds: 0, firstRefusal: false };

/** One named limit: `points` per fixed window of `durationSeconds` per key; 0 points = off (no database work). */
export class RateLimit {
  readonly #limiter: RateLimiterPostgres | undefined;

  constructor(
    db: Db,
    readonly name: LimitName,
    readonly kind: KeyKind,
    readonly points: number,
    durationSeconds: number,
    options: { keyPrefix?: string; sweepExpired?: boolean } = {},
  ) {
    if (points <= 0) return;
    this.#limiter = new RateLimiterPostgres({
      storeClient: rateLimitStore(db),
      storeType: 'client',
      tableName: 'rate_limits',
      tableCreated: true, // created by migration 003
      keyPrefix: options.keyPrefix ?? name,
      points,
      duration: durationSeconds,
      // Every limit shares one table: one hourly sweep of expired rows is enough.
      clearExpiredByTimeout: options.sweepExpired ?? false,
    });
  }

  get enabled(): boolean {
    return !!this.#limiter;
  }

  async consume(key: string): Promise<RateLimitVerdict> {
    if (!this.#limiter) return ALLOWED;
    try {
      await this.#limiter.consume(this.#key(key));
      return ALLOWED;
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      // The counter is incremented atomically in one upsert, so exactly one request of a window sees points + 1.
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)), firstRefusal: res.consumedPoints === this.points + 1 };
    }
  }

  /** Forgets the key's counter (a successful sign-in clears its account's failures). */
  async reset(key: string): Promise<void> {
    if (this.#limiter) await this.#limiter.delete(this.#key(key));
  }

  /** Gives back one point (an attempt that turned out not to count). */
  async refund(key: string): Promise<void> {
    if (this.#limiter) await this.#limiter.reward(this.#key(key), 1);
  }

  // Client ids (CIMD URLs) and emails can be long and personal: the table keeps their digest. Addresses stay
  // readable, counted by source: an IPv6 /64 shares one budget, a mapped IPv4 is its IPv4 (net/address-source.ts).
  #key(key: string): string {
    return this.kind === 'ip' ? addressSource(key) : keyDigest(key);
  }
}

const keyDigest = memoize(sha256);

/** The email a person typed, as the per-account counter knows it (case and surrounding spaces do not matter). */
export function normaliseAccountKey(email: string): string {
  return email.trim().toLowerCase();
}

const WHAT: Record<LimitName, string> = {
  register_ip: 'too many registrations from this address',
  token_client: 'too many token requests for this client',
  token_ip: 'too many token requests from this address',
  authorize_ip: 'too many authorization requests from this address',
  login_account: 'too many failed sign-in attempts for this account',
  login_ip: 'too many failed sign-in attempts from this address',
  cimd_ip: 'too many new client metadata documents from this address',
};

export function refusalDescription(limit: RateLimit, verdict: RateLimitVerdict): string {
  return `${WHAT[limit.name]}; retry in ${verdict.retryAfterSeconds} s`;
}

/** Every limit of one Gatehouse, built from its configuration. */
export class RateLimits {
  readonly register: RateLimit;
  readonly tokenClient: RateLimit;
  readonly tokenIp: RateLimit;
  readonly authorizeIp: RateLimit;
  readonly loginAccount: RateLimit;
  readonly loginIp: RateLimit;
  readonly cimdIp: RateLimit;

  constructor(
    db: Db,
    config: Pick<
      Config,
      | 'REGISTRATION_RATE_LIMIT' | 'REGISTRATION_RATE_WINDOW' | 'TOKEN_RATE_LIMIT' | 'TOKEN_RATE_LIMIT_IP' | 'TOKEN_RATE_WINDOW'
      | 'AUTHORIZE_RATE_LIMIT' | 'AUTHORIZE_RATE_WINDOW' | 'LOGIN_RATE_LIMIT' | 'LOGIN_RATE_LIMIT_IP' | 'LOGIN_RATE_WINDOW'
      | 'CIMD_RATE_LIMIT' | 'CIMD_RATE_WINDOW'
    >,
    private readonly audit: AuditLog,
  ) {
    // 'register' is the prefix the registration limiter has always used: counters survive the upgrade.
    this.register = new RateLimit(db, 'register_ip', 'ip', config.REGISTRATION_RATE_LIMIT, config.REGISTRATION_RATE_WINDOW, { keyPrefix: 'register', sweepExpired: true });
    this.tokenClient = new RateLimit(db, 'token_client', 'client', config.TOKEN_RATE_LIMIT, config.TOKEN_RATE_WINDOW);
    this.tokenIp = new RateLimit(db, 'token_ip', 'ip', config.TOKEN_RATE_LIMIT_IP, config.TOKEN_RATE_WINDOW);
    this.authorizeIp = new RateLimit(db, 'authorize_ip', 'ip', config.AUTHORIZE_RATE_LIMIT, config.AUTHORIZE_RATE_WINDOW);
    this.loginAccount = new RateLimit(db, 'login_account', 'account', config.LOGIN_RATE_LIMIT, config.LOGIN_RATE_WINDOW);
    this.loginIp = new RateLimit(db, 'login_ip', 'ip', config.LOGIN_RATE_LIMIT_IP, config.LOGIN_RATE_WINDOW);
    this.cimdIp = new RateLimit(db, 'cimd_ip', 'ip', config.CIMD_RATE_LIMIT, config.CIMD_RATE_WINDOW);
  }

  /**
   * Counts one request against each limit (concurrently: one round trip of latency) and returns the refusal with
   * the longest wait, if any. The first refusal of each window is audited as `rate_limit.exceeded`.
   */
  async check(ctx: Context, checks: Array<[RateLimit, string]>, who: { clientId?: string | undefined; actor?: string | undefined } = {}): Promise<Refusal | undefined> {
    const active = checks.filter(([limit]) => limit.enabled);
    if (!active.length) return undefined;
    const verdicts = await Promise.all(active.map(([limit, key]) => limit.consume(key)));
    let refusal: Refusal | undefined;
    for (const [i, verdict] of verdicts.entries()) {
      if (verdict.allowed) continue;
      const limit = active[i]![0];
      if (verdict.firstRefusal) {
        await this.audit.record({
          type: 'rate_limit.exceeded',
          outcome: 'failure',
          actor: who.actor,
          clientId: who.clientId,
          reason: `${WHAT[limit.name]} (more than ${limit.points} in the window)`,
          details: { limit: limit.name, key: limit.kind, retry_after: verdict.retryAfterSeconds },
          ...requestOrigin(ctx),
        });
      }
      if (!refusal || verdict.retryAfterSeconds > refusal.verdict.retryAfterSeconds) refusal = { limit, verdict };
    }
    return refusal;
  }
}

export interface Refusal {
  limit: RateLimit;
  verdict: RateLimitVerdict;
}

/** The JSON answer to a refused API request (RFC 6749 §5.2 shape). */
export function answerJson(ctx: Context, refusal: Refusal): void {
  ctx.status = 429;
  ctx.set('Retry-After', String(refusal.verdict.retryAfterSeconds));
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: 'temporarily_unavailable', error_description: refusalDescription(refusal.limit, refusal.verdict) };
}

/** The error page for a person's browser; never a redirect, so a client learns nothing it did not earn. */
export function answerPage(ctx: Context, views: Views, refusal: Refusal): void {
  ctx.status = 429;
  ctx.set('Retry-After', String(refusal.verdict.retryAfterSeconds));
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'html';
  ctx.body = views.errorPage(ctx, {
    title: 'Too many attempts',
    error: 'temporarily_unavailable',
    description: `There have been ${WHAT[refusal.limit.name]}. Try again in ${waitText(refusal.verdict.retryAfterSeconds)}.`,
  });
}

export function waitText(seconds: number): string {
  return seconds < 120 ? `${seconds} seconds` : `${Math.ceil(seconds / 60)} minutes`;
}
