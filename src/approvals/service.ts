// Per-call approval of tool calls (docs/TOOL-APPROVALS.md): what the MCP server's request and the person's decision
// do, each checked, changed and audited here, so the API route and the account pages only translate HTTP.
import type Provider from 'oidc-provider';
import { approvalArgumentsProblem, argumentsDigest } from '../../packages/resource-server/src/reporting/canonical-json.js';
import type { AuditLog } from '../audit/writer.js';
import type { ResourceRegistry } from '../oauth/resources.js';
import type { McpServerInventories } from '../reporting/inventory.js';
import { invalidRequest } from '../reporting/report-refusal.js';
import type { Reporter } from '../reporting/reporter-client.js';
import type { Accounts, Account } from '../upstream/accounts.js';
import type { AccessTokenChecker } from '../oauth/access-token.js';
import { approvalModes } from './modes.js';
import type { Approval, Binding, ToolApprovals } from './store.js';
import type { ApprovalWebhook } from './webhook.js';

export interface ApprovalRequestBody {
  access_token: string;
  tool: string;
  arguments: Record<string, unknown>;
  arguments_digest: string;
}

export type ApprovalAnswer =
  | { decision: 'not_required' }
  | { decision: 'approved'; approval_id: string; mode: string }
  | { decision: 'pending'; approval_id: string; url: string; expires_at: string; message: string }
  | { decision: 'rejected'; approval_id: string; message: string };

type Origin = { ip?: string | undefined; userAgent?: string | undefined };

export interface ApprovalServiceDeps {
  issuer: string;
  store: ToolApprovals;
  tokens: AccessTokenChecker;
  resources: ResourceRegistry;
  inventories: McpServerInventories;
  accounts: Accounts;
  provider: () => Provider;
  audit: AuditLog;
  webhook?: ApprovalWebhook | undefined;
}

/** Live pending requests per person, client and MCP server. */
export const MAX_PENDING = 20;

export type DecideRefusal = 'not_found' | 'not_yours' | 'expired' | 'decided';

export class ApprovalService {
  constructor(private readonly deps: ApprovalServiceDeps) {}

  urlOf(id: string): string {
    return `${this.deps.issuer}/account/approvals/${id}`;
  }

  /** The modes of a resource's tools, as the public catalogue publishes them. */
  async modesOf(resourceUri: string): Promise<Record<string, string>> {
    const resource = await this.deps.resources.find(resourceUri);
    if (!resource) return {};
    return approvalModes(resource, await this.deps.inventories.find(resource.uri));
  }

  /** The MCP server's question for one call (POST /mcp-server/tool-approvals); throws a ReportRefusal. */
  async request(reporter: Reporter, body: ApprovalRequestBody, origin: Origin): Promise<ApprovalAnswer> {
    const { deps } = this;
    let binding: Binding;
    try {
      const t = await deps.tokens.check(body.access_token, reporter.resource);
      binding = { resource: reporter.resource, clientId: t.clientId, accountId: t.accountId, grantId: t.grantId, tool: body.tool, argumentsDigest: body.arguments_digest };
    } catch (err) {
      throw invalidRequest((err as Error).message, reporter.clientId);
    }
    const problem = approvalArgumentsProblem(body.arguments);
    if (problem) throw invalidRequest(`arguments ${problem}`, reporter.clientId);
    if (argumentsDigest(body.arguments) !== body.arguments_digest) throw invalidRequest('arguments_digest is not the SHA-256 of the canonical JSON of arguments (RFC 8785)', reporter.clientId);
    const modes = await this.modesOf(reporter.resource);
    const mode = Object.hasOwn(modes, body.tool) ? (modes[body.tool] as 'each-call' | 'once-per-grant') : undefined;
    if (!mode) return { decision: 'not_required' };
    const account = await deps.accounts.findById(binding.accountId);
    if (!account || account.disabled) throw invalidRequest('the token\'s subject is unknown or disabled', reporter.clientId);
    const grant = await deps.provider().Grant.find(binding.grantId).catch(() => undefined);
    if (!grant || grant.accountId !== binding.accountId || grant.clientId !== binding.clientId) throw invalidRequest('the token\'s grant has been revoked', reporter.clientId);

    const row = (a: Approval, type: string, extra: Record<string, unknown> = {}) =>
      deps.audit.record({ type, outcome: 'success', actor: actorOf(account), clientId: a.clientId, resource: a.resource, ...origin, details: auditDetails(a, extra) });

    const used = await deps.store.use(binding, mode);
    if (used) {
      await row(used, 'tool.approval.used');
      return { decision: 'approved', approval_id: used.id, mode };
    }
    const rejected = await deps.store.takeRejection(binding, mode);
    if (rejected) return { decision: 'rejected', approval_id: rejected.id, message: `${nameOf(account)} rejected this call of ${body.tool} in Gatehouse.` };
    const message = `${nameOf(account)} must approve this call of ${body.tool} in Gatehouse before it runs.`;
    const waiting = await deps.store.pending(binding, mode);
    if (waiting) return { decision: 'pending', approval_id: waiting.id, url: this.urlOf(waiting.id), expires_at: waiting.expiresAt.toISOString(), message };
    // An agent calling in a loop must not bury the person (and the webhook) in requests: past the cap, nothing new.
    if ((await deps.store.pendingCount(binding)) >= MAX_PENDING) {
      throw invalidRequest(`${MAX_PENDING} calls already wait for this person's approval from this client: they must decide or let them expire first`, reporter.clientId);
    }
    const created = await deps.store.create(binding, mode, body.arguments);
    await row(created, 'tool.approval.requested');
    if (deps.webhook) {
      const client = await deps.provider().Client.find(created.clientId).catch(() => undefined);
      void deps.webhook.send({
        type: 'tool.approval.requested',
        approval_id: created.id,
        url: this.urlOf(created.id),
        expires_at: created.expiresAt.toISOString(),
        tool: created.tool,
        resource: created.resource,
        client_id: created.clientId,
        client_name: typeof client?.clientName === 'string' ? client.clientName : null,
        subject: account.id,
        email: account.email,
      });
    }
    return { decision: 'pending', approval_id: created.id, url: this.urlOf(created.id), expires_at: created.expiresAt.toISOString(), message };
  }

  /** The person's decision from the approval page; the refusal says why nothing changed. */
  async decide(id: string, account: Account, decision: 'approved' | 'rejected', origin: Origin): Promise<{ approval: Approval } | { refused: DecideRefusal; approval?: Approval }> {
    const { deps } = this;
    const decided = await deps.store.decide(id, account.id, decision);
    if (decided) {
      await deps.audit.record({ type: `tool.approval.${decision}`, outcome: 'success', actor: actorOf(account), clientId: decided.clientId, resource: decided.resource, ...origin, details: auditDetails(decided) });
      return { approval: decided };
    }
    const found = await deps.store.find(id);
    const refused = this.whyNot(found, account) ?? 'decided';
    if (refused === 'not_yours') {
      await deps.audit.record({ type: 'tool.approval.refused', outcome: 'failure', actor: actorOf(account), clientId: found!.clientId, resource: found!.resource, reason: 'only the person the call is made for may decide', ...origin, details: auditDetails(found!) });
    }
    return found && refused !== 'not_yours' ? { refused, approval: found } : { refused };
  }

  /** Why a request cannot be decided by this person now (undefined: it can). */
  whyNot(approval: Approval | undefined, account: Account): DecideRefusal | undefined {
    if (!approval) return 'not_found';
    if (approval.accountId !== account.id) return 'not_yours';
    if (approval.status !== 'pending') return approval.status === 'expired' ? 'expired' : 'decided';
    if (approval.expiresAt.getTime() <= Date.now()) return 'expired';
    return undefined;
  }

  /** Expires what is past its time (audited) and purges what ended long ago. */
  async sweep(): Promise<number> {
    const expired = await this.deps.store.sweep();
    for (const a of expired) {
      await this.deps.audit.record({ type: 'tool.approval.expired', outcome: 'failure', actor: 'system', clientId: a.clientId, resource: a.resource, reason: a.decidedAt ? 'approved but not used in time' : 'not decided in time', details: auditDetails(a, { subject: a.accountId }) });
    }
    return expired.length;
  }
}

const actorOf = (a: Account) => a.email ?? a.id;
const nameOf = (a: Account) => a.name ?? a.email ?? 'The person signed in';

/** What an audit row says of an approval: never the arguments, only their digest. */
function auditDetails(a: Approval, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { tool: a.tool, approval_id: a.id, mode: a.mode, arguments_digest: a.argumentsDigest, grant_id: a.grantId, ...extra };
}
