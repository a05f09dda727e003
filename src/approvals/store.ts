// The approval requests of tool calls (this module owns `tool_approvals`; docs/TOOL-APPROVALS.md). A request is bound
// to everything a retry must match — resource, client, subject, grant, tool and, for `each-call`, the digest of the
// arguments — and moves pending → approved | rejected | expired once. Each state change is one conditional
// statement, so a decision, a use and the expiry sweep never overwrite each other, and of concurrent retries with one
// approval exactly one consumes it. The arguments are sealed (SECRET_KEY): only the approval page opens them.
import { randomBytes } from 'node:crypto';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/connection.js';
import type { ApprovalMode } from '../oauth/resources.js';

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

export interface Binding {
  resource: string;
  clientId: string;
  accountId: string;
  grantId: string;
  tool: string;
  argumentsDigest: string;
}

export interface Approval extends Binding {
  id: string;
  mode: ApprovalMode;
  status: ApprovalStatus;
  createdAt: Date;
  expiresAt: Date;
  decidedAt: Date | null;
  usedAt: Date | null;
}

interface Row {
  id: string;
  resource: string;
  client_id: string;
  account_id: string;
  grant_id: string;
  tool: string;
  arguments_digest: string;
  arguments_sealed: string;
  mode: ApprovalMode;
  status: ApprovalStatus;
  created_at: Date | string;
  expires_at: Date | string;
  decided_at: Date | string | null;
  used_at: Date | string | null;
}

const date = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

function toApproval(r: Row): Approval {
  return {
    id: r.id,
    resource: r.resource,
    clientId: r.client_id,
    accountId: r.account_id,
    grantId: r.grant_id,
    tool: r.tool,
    argumentsDigest: r.arguments_digest,
    mode: r.mode,
    status: r.status,
    createdAt: new Date(r.created_at),
    expiresAt: new Date(r.expires_at),
    decidedAt: date(r.decided_at),
    usedAt: date(r.used_at),
  };
}

/** A standing once-per-grant approval lasts as long as a grant can (oauth/provider.ts, ttl.Grant). */
const STANDING_MS = 365 * 24 * 3600 * 1000;
/** Ended requests are kept a day for the person's and the admin's view, then deleted with their arguments. */
const KEEP_ENDED_MS = 24 * 3600 * 1000;
const purpose = (id: string) => `tool-approval-arguments:${id}`;

export class ToolApprovals {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    /** APPROVAL_TTL in milliseconds: the time to decide, and to use an each-call approval. */
    private readonly ttlMs: number,
  ) {}

  /** The binding's columns; a once-per-grant approval covers the tool whatever its arguments. */
  #match(b: Binding, mode: ApprovalMode) {
    const where: Record<string, string> = { resource: b.resource, client_id: b.clientId, account_id: b.accountId, grant_id: b.grantId, tool: b.tool, mode };
    if (mode === 'each-call') where.arguments_digest = b.argumentsDigest;
    return where;
  }

  /**
   * Spends an approval that matches: an each-call one is consumed here (one statement; a concurrent retry skips the
   * locked row and finds nothing), a once-per-grant one stands. Undefined when there is none.
   */
  async use(b: Binding, mode: ApprovalMode): Promise<Approval | undefined> {
    const live = this.db('tool_approvals').where(this.#match(b, mode)).where({ status: 'approved' }).whereNull('used_at').where('expires_at', '>', new Date());
    if (mode === 'once-per-grant') {
      const row = (await live.first()) as Row | undefined;
      return row && toApproval(row);
    }
    const pick = live.clone().select('id').orderBy('decided_at').limit(1).forUpdate().skipLocked();
    const rows = (await this.db('tool_approvals').whereIn('id', pick).whereNull('used_at').update({ used_at: new Date() }).returning('*')) as Row[];
    return rows[0] && toApproval(rows[0]);
  }

  /** A rejection of this call not yet told to the MCP server; telling it spends it. */
  async takeRejection(b: Binding, mode: ApprovalMode): Promise<Approval | undefined> {
    const pick = this.db('tool_approvals').where(this.#match(b, mode)).where({ status: 'rejected' }).whereNull('used_at').where('decided_at', '>', new Date(Date.now() - this.ttlMs)).select('id').limit(1).forUpdate().skipLocked();
    const rows = (await this.db('tool_approvals').whereIn('id', pick).whereNull('used_at').update({ used_at: new Date() }).returning('*')) as Row[];
    return rows[0] && toApproval(rows[0]);
  }

  /** The live pending request for this call, if the person was already asked. */
  async pending(b: Binding, mode: ApprovalMode): Promise<Approval | undefined> {
    const row = (await this.db('tool_approvals').where(this.#match(b, mode)).where({ status: 'pending' }).where('expires_at', '>', new Date()).orderBy('created_at', 'desc').first()) as Row | undefined;
    return row && toApproval(row);
  }

  /** Live pending requests of one person for one client on one server (the cap on what an agent can pile up). */
  async pendingCount(b: Pick<Binding, 'resource' | 'clientId' | 'accountId'>): Promise<number> {
    const row = (await this.db('tool_approvals').where({ resource: b.resource, client_id: b.clientId, account_id: b.accountId, status: 'pending' }).where('expires_at', '>', new Date()).count({ n: '*' }).first()) as { n: string | number } | undefined;
    return Number(row?.n ?? 0);
  }

  async create(b: Binding, mode: ApprovalMode, args: unknown): Promise<Approval> {
    const id = randomBytes(24).toString('base64url');
    const now = new Date();
    const row = {
      id,
      resource: b.resource,
      client_id: b.clientId,
      account_id: b.accountId,
      grant_id: b.grantId,
      tool: b.tool,
      arguments_digest: b.argumentsDigest,
      arguments_sealed: this.box.seal(JSON.stringify(args), purpose(id)),
      mode,
      status: 'pending' as const,
      created_at: now,
      expires_at: new Date(now.getTime() + this.ttlMs),
    };
    await this.db('tool_approvals').insert(row);
    return toApproval({ ...row, decided_at: null, used_at: null });
  }

  async find(id: string): Promise<Approval | undefined> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) return undefined;
    const row = (await this.db('tool_approvals').where({ id }).first()) as Row | undefined;
    return row && toApproval(row);
  }

  /** The arguments of a request, for its page. */
  async argumentsOf(id: string): Promise<unknown> {
    const row = (await this.db('tool_approvals').where({ id }).select('arguments_sealed').first()) as Pick<Row, 'arguments_sealed'> | undefined;
    return row ? (JSON.parse(this.box.open(row.arguments_sealed, purpose(id))) as unknown) : undefined;
  }

  /**
   * The subject's decision on a pending, unexpired request of their own; undefined if it was not that (the caller
   * reads the request again to say why). An approval opens the window to use it: APPROVAL_TTL for each-call.
   */
  async decide(id: string, accountId: string, decision: 'approved' | 'rejected'): Promise<Approval | undefined> {
    const now = new Date();
    const expiresAt = this.db.raw(`case when mode = 'once-per-grant' then ?::timestamptz else ?::timestamptz end`, [new Date(now.getTime() + STANDING_MS), new Date(now.getTime() + this.ttlMs)]);
    const rows = (await this.db('tool_approvals')
      .where({ id, account_id: accountId, status: 'pending' })
      .where('expires_at', '>', now)
      .update({ status: decision, decided_at: now, ...(decision === 'approved' ? { expires_at: expiresAt } : {}) })
      .returning('*')) as Row[];
    return rows[0] && toApproval(rows[0]);
  }

  /** The person's requests still waiting for them, newest first. */
  async pendingFor(accountId: string, limit = 50): Promise<Approval[]> {
    const rows = (await this.db('tool_approvals').where({ account_id: accountId, status: 'pending' }).where('expires_at', '>', new Date()).orderBy('created_at', 'desc').limit(limit)) as Row[];
    return rows.map(toApproval);
  }

  /**
   * Marks pending requests and unused each-call approvals past their time as expired (returned, to be audited), and
   * deletes requests that ended more than a day ago — their sealed arguments with them.
   */
  async sweep(now = new Date()): Promise<Approval[]> {
    const expired = (await this.db('tool_approvals')
      .where('expires_at', '<=', now)
      .where((q) => q.where({ status: 'pending' }).orWhere((a) => a.where({ status: 'approved' }).whereNull('used_at')))
      .update({ status: 'expired' })
      .returning('*')) as Row[];
    const before = new Date(now.getTime() - KEEP_ENDED_MS);
    await this.db('tool_approvals')
      .where('created_at', '<', before)
      .where((q) => q.whereIn('status', ['rejected', 'expired']).orWhereNotNull('used_at'))
      .delete();
    return expired.map(toApproval);
  }
}
