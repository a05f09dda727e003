// When and from where each grant was last used, for the person's connected-apps page (docs/CONNECTED-APPS.md). This
// module owns `grant_activity`: one row per grant, written when the grant's code is redeemed and on refreshes.
//
// It runs on the token endpoint's hot path, so a use costs at most one write per grant per WRITE_INTERVAL_MS on this
// instance (sooner only when the address or user agent changed), and never holds or fails the token response: the
// write is started and not awaited, and a failure is logged (docs/CONNECTED-APPS.md, "What is recorded, and when").
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { affectedRows } from '../db/affected-rows.js';
import type { Db } from '../db/connection.js';
import { storable } from '../db/storable-text.js';
import { TtlCache } from '../cache/ttl-cache.js';

const WRITE_INTERVAL_MS = 60_000;
const USER_AGENT_MAX = 300;
const SWEEP_BATCH = 1000;

export interface GrantUse {
  grantId: string;
  accountId: string;
  clientId: string;
  ip?: string | undefined;
  userAgent?: string | undefined;
}

export interface GrantActivityRecord {
  grantId: string;
  accountId: string;
  clientId: string;
  firstUsedAt: Date;
  lastUsedAt: Date;
  lastIp: string | null;
  lastUserAgent: string | null;
}

interface Row {
  grant_id: string;
  account_id: string;
  client_id: string;
  first_used_at: Date | string;
  last_used_at: Date | string;
  last_ip: string | null;
  last_user_agent: string | null;
}

const toRecord = (r: Row): GrantActivityRecord => ({
  grantId: r.grant_id,
  accountId: r.account_id,
  clientId: r.client_id,
  firstUsedAt: new Date(r.first_used_at),
  lastUsedAt: new Date(r.last_used_at),
  lastIp: r.last_ip,
  lastUserAgent: r.last_user_agent,
});

const clip = (value: string | undefined, max: number) => (value ? storable(value.slice(0, max)) : null);

export class GrantActivity {
  // What this instance wrote for each grant within the interval (bounded like every per-instance cache).
  readonly #written = new TtlCache<{ ip: string | null; userAgent: string | null }>(WRITE_INTERVAL_MS);
  readonly #inFlight = new Set<Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  /** Notes a use of the grant; returns at once. The write, when one is due, runs in the background. */
  record(use: GrantUse): void {
    const ip = clip(use.ip, 100);
    const userAgent = clip(use.userAgent, USER_AGENT_MAX);
    const last = this.#written.peek(use.grantId);
    if (last && last.ip === ip && last.userAgent === userAgent) return;
    this.#written.set(use.grantId, { ip, userAgent });
    const write = this.#write(use, new Date(), ip, userAgent).catch(this.onError);
    this.#inFlight.add(write);
    void write.finally(() => this.#inFlight.delete(write));
  }

  async #write(use: GrantUse, at: Date, ip: string | null, userAgent: string | null): Promise<void> {
    await this.db('grant_activity')
      .insert({ grant_id: use.grantId, account_id: use.accountId, client_id: use.clientId, first_used_at: at, last_used_at: at, last_ip: ip, last_user_agent: userAgent })
      .onConflict('grant_id')
      .merge(['last_used_at', 'last_ip', 'last_user_agent']);
  }

  /** Settles the writes started so far (before the database closes). */
  async settled(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }

  /** The activity of each of a person's grants, by grant id (a grant never used since it was given has none). */
  async ofAccount(accountId: string): Promise<Map<string, GrantActivityRecord>> {
    const rows = (await this.db('grant_activity').where({ account_id: accountId })) as Row[];
    return new Map(rows.map((r) => [r.grant_id, toRecord(r)]));
  }

  /** Deletes the activity of grants just revoked. */
  async forget(grantIds: readonly string[]): Promise<void> {
    for (const id of grantIds) this.#written.delete(id);
    if (grantIds.length) await this.db('grant_activity').whereIn('grant_id', [...grantIds]).delete();
  }

  /** The expiry sweep: deletes rows whose grant is gone or expired, in batches. Returns how many went. */
  async deleteOrphans(batch = SWEEP_BATCH): Promise<number> {
    let total = 0;
    for (;;) {
      const result = await this.db.raw(
        `delete from grant_activity where grant_id in (
           select a.grant_id from grant_activity a
           where not exists (
             select 1 from oidc_payloads g
             where g.model = 'Grant' and g.id = a.grant_id and (g.expires_at is null or g.expires_at > ?))
           limit ?)`,
        [new Date(), batch],
      );
      const count = affectedRows(result);
      total += count;
      if (count < batch) return total;
    }
  }
}

/**
 * Records a grant's use when the token endpoint issued tokens for a code or a refresh token (oidc-provider's
 * `grant.success`). The address is ctx.ip, which TRUST_PROXY governs (http/client-address.ts).
 */
export function recordGrantUse(provider: Provider, activity: GrantActivity): void {
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const grantType = ctx.oidc?.params?.grant_type;
    if (grantType !== 'authorization_code' && grantType !== 'refresh_token') return;
    const grant = ctx.oidc.entities.Grant;
    const grantId = grant?.jti;
    const accountId = grant?.accountId;
    const clientId = grant?.clientId ?? ctx.oidc.client?.clientId;
    if (!grantId || !accountId || !clientId) return;
    activity.record({ grantId, accountId, clientId, ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined });
  });
}
