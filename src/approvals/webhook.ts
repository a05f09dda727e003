// APPROVAL_WEBHOOK_URL (docs/TOOL-APPROVALS.md, "Webhook"): each new approval request is POSTed to the operator's
// receiver, signed with HMAC-SHA256 over "<timestamp>.<body>" under APPROVAL_WEBHOOK_SECRET so the receiver can tell
// it came from Gatehouse and is fresh. The URL is the operator's own configuration (often an internal chat bridge),
// so it is not held to the public-address rule of net/guarded-fetch.ts. Best effort: one attempt, 5 s, never awaited by
// the MCP server's request; a failure is audited.
import { createHmac } from 'node:crypto';
import type { AuditLog } from '../audit/writer.js';

export interface WebhookEvent {
  type: 'tool.approval.requested';
  approval_id: string;
  url: string;
  expires_at: string;
  tool: string;
  resource: string;
  client_id: string;
  client_name: string | null;
  subject: string;
  email: string | null;
}

export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export class ApprovalWebhook {
  constructor(
    private readonly url: string,
    private readonly secret: string,
    private readonly audit: AuditLog,
    private readonly timeoutMs = 5000,
  ) {}

  /** Resolves when the attempt ended; never rejects. */
  async send(event: WebhookEvent): Promise<void> {
    const body = JSON.stringify(event);
    const timestamp = String(Math.floor(Date.now() / 1000));
    let problem: string | undefined;
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
        headers: { 'content-type': 'application/json', 'x-gatehouse-timestamp': timestamp, 'x-gatehouse-signature': webhookSignature(this.secret, timestamp, body) },
        body,
      });
      await res.body?.cancel();
      if (res.status < 200 || res.status >= 300) problem = `the receiver answered ${res.status}`;
    } catch (err) {
      problem = (err as Error).message;
    }
    if (problem) {
      await this.audit
        .record({ type: 'tool.approval.webhook_failed', outcome: 'failure', reason: problem.slice(0, 300), clientId: event.client_id, resource: event.resource, details: { approval_id: event.approval_id, tool: event.tool } })
        .catch(() => undefined);
    }
  }
}
