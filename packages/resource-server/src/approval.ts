// Per-call approval (docs/TOOL-APPROVALS.md): a `tools/call` of a tool the catalogue marks for approval runs only
// once Gatehouse says a person approved it. The kit asks Gatehouse on every such call (POST
// /mcp-server/tool-approvals, with the caller's own token, which Gatehouse verifies and binds the approval to), and
// answers the caller itself while the person has not decided, in the form the client understands ("What the client
// is told"):
//   1. a request of protocol revision 2026-07-28 or later that declares URL elicitation: an InputRequiredResult;
//   2. a client that declared URL elicitation at initialize: the JSON-RPC error -32042 (URLElicitationRequiredError);
//   3. anyone else: a tool error whose text carries the URL.
// Whatever goes wrong, the call does not run: no credentials to ask with → a tool error; Gatehouse unreachable or
// answering nonsense → 503; Gatehouse refusing the request (4xx) → a tool error with its reason.
import { jsonRpcErrorFor, jsonRpcResult, toolError, type Answer } from './answers.js';
import { ClientCapabilities, isObject } from './client-capabilities.js';
import type { Identity } from './identity.js';
import { approvalArgumentsProblem, argumentsDigest } from './reporting/canonical-json.js';
import type { GatehouseApi } from './reporting/gatehouse-api.js';

/** The first protocol revision whose requests carry their version and capabilities in `_meta`. */
export const STATELESS_REVISION = '2026-07-28';
const PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';
const CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
/** The key of the kit's own round trip in `inputRequests` / `inputResponses`. */
export const INPUT_KEY = 'gatehouse_approval';
/** URLElicitationRequiredError (MCP 2025-11-25). */
export const URL_ELICITATION_REQUIRED = -32042;

export type ApprovalDecision =
  /** Run the call (approved, or Gatehouse says no approval is needed). */
  | { run: true }
  /** Answer the caller; the call does not run. */
  | { answer: Answer; outcome: 'approval_required' | 'approval_rejected' }
  /** Gatehouse could not be asked: 503, the call does not run. */
  | { unavailable: Error };

export interface ApprovalStepOptions {
  /** Absent without `report` credentials: such a kit cannot ask, so it refuses. */
  api?: GatehouseApi | undefined;
  /**
   * How long a 2026-07-28 retry whose client opened the approval page (`action: "accept"`) waits for the person's
   * decision before it is told to wait again; default 45 s (the MCP SDK's clients give up on a request after 60 s).
   * Such a client retries as soon as the page is open, long before anyone could have decided, so answering at once
   * would only make it loop.
   */
  waitMs?: number | undefined;
  /** Between two questions to Gatehouse while waiting; default 1 s. */
  pollMs?: number | undefined;
  capabilities?: ClientCapabilities | undefined;
  onError?: ((err: Error) => void) | undefined;
}

/** How the client wants to be told, read from the request and from what it declared at initialize. */
interface ClientForm {
  /** Revision 2026-07-28 or later: every result the kit writes says `resultType`. */
  modern: boolean;
  urlElicitation: boolean;
}

export class ApprovalStep {
  readonly capabilities: ClientCapabilities;

  constructor(private readonly options: ApprovalStepOptions) {
    this.capabilities = options.capabilities ?? new ClientCapabilities();
  }

  /** Remembers what an `initialize` the kit lets through declares. */
  initialized(identity: Identity, params: unknown): void {
    this.capabilities.declared(ClientCapabilities.key(identity.clientId, identity.sub), isObject(params) ? params.capabilities : undefined);
  }

  /** One `tools/call` message (not in a batch) of a tool that needs approval. */
  async check(identity: Identity, message: Record<string, unknown>, tool: string): Promise<ApprovalDecision> {
    const params = isObject(message.params) ? message.params : {};
    const id = message.id;
    const form = this.#form(identity, params);
    const complete = form.modern ? { resultType: 'complete' } : {};
    const api = this.options.api;
    if (!api) {
      const text = `${tool} needs a person's approval in Gatehouse, and this server cannot ask for it (it has no Gatehouse credentials). The call was not run.`;
      return { answer: toolError(id, text, complete), outcome: 'approval_required' };
    }
    const args = params.arguments ?? {};
    const problem = approvalArgumentsProblem(args);
    if (problem) {
      const text = `The arguments of this call of ${tool} ${problem}: they cannot be shown to a person for approval, so the call was not run.`;
      return { answer: toolError(id, text, complete), outcome: 'approval_required' };
    }
    const question = { access_token: identity.token, tool, arguments: args, arguments_digest: argumentsDigest(args) };
    let sent = await api.requestApproval(question);
    if (form.modern && form.urlElicitation && ownInputResponse(params)?.action === 'accept') {
      const { waitMs = 45_000, pollMs = 1000 } = this.options;
      for (const until = Date.now() + waitMs; sent.ok && isObject(sent.body) && sent.body.decision === 'pending' && Date.now() + pollMs <= until; ) {
        await new Promise((resolve) => setTimeout(resolve, pollMs));
        sent = await api.requestApproval(question);
      }
    }
    if (!sent.ok) {
      const refused = sent.status !== undefined && sent.status >= 400 && sent.status < 500 && sent.status !== 408 && sent.status !== 429;
      if (!refused) return { unavailable: new Error(`approval of ${tool} could not be asked: ${sent.error.message}`) };
      this.options.onError?.(sent.error);
      const text = `Gatehouse refused to ask for approval of this call of ${tool}: ${sent.description ?? `HTTP ${sent.status}`}. The call was not run.`;
      return { answer: toolError(id, text, complete), outcome: 'approval_required' };
    }
    const answer = isObject(sent.body) ? sent.body : {};
    const message_ = typeof answer.message === 'string' && answer.message ? answer.message : undefined;
    const approvalId = typeof answer.approval_id === 'string' ? answer.approval_id : undefined;
    switch (answer.decision) {
      case 'not_required':
      case 'approved':
        return { run: true };
      case 'rejected': {
        const text = message_ ?? `The person rejected this call of ${tool} in Gatehouse${approvalId ? ` (approval ${approvalId})` : ''}.`;
        return { answer: toolError(id, text, complete), outcome: 'approval_rejected' };
      }
      case 'pending': {
        const url = typeof answer.url === 'string' && isWebUrl(answer.url) ? answer.url : undefined;
        if (!url || !approvalId) return { unavailable: new Error(`approval of ${tool}: Gatehouse answered pending without an approval_id and an http(s) url`) };
        const text = message_ ?? `Gatehouse needs ${identity.email ?? 'the person who signed in'} to approve this call of ${tool}.`;
        return { answer: pendingAnswer(id, form, text, url, approvalId), outcome: 'approval_required' };
      }
      default:
        return { unavailable: new Error(`approval of ${tool}: Gatehouse answered no known decision`) };
    }
  }

  #form(identity: Identity, params: Record<string, unknown>): ClientForm {
    const meta = isObject(params._meta) ? params._meta : undefined;
    const version = meta?.[PROTOCOL_VERSION];
    // Revisions are dates (YYYY-MM-DD), so they order as strings; anything else is not a revision.
    if (typeof version === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(version) && version >= STATELESS_REVISION) {
      const capabilities = meta?.[CLIENT_CAPABILITIES];
      const elicitation = isObject(capabilities) ? capabilities.elicitation : undefined;
      return { modern: true, urlElicitation: isObject(elicitation) && isObject(elicitation.url) };
    }
    return { modern: false, urlElicitation: this.capabilities.urlElicitation(ClientCapabilities.key(identity.clientId, identity.sub)) };
  }
}

function pendingAnswer(id: unknown, form: ClientForm, message: string, url: string, approvalId: string): Answer {
  if (form.modern && form.urlElicitation) {
    return jsonRpcResult(id, { resultType: 'input_required', inputRequests: { [INPUT_KEY]: { method: 'elicitation/create', params: { mode: 'url', message, url } } } });
  }
  if (!form.modern && form.urlElicitation) {
    return jsonRpcErrorFor(id, URL_ELICITATION_REQUIRED, message, { elicitations: [{ mode: 'url', elicitationId: approvalId, url, message }] });
  }
  const sentence = /[.!?]$/.test(message) ? message : `${message}.`;
  return toolError(id, `${sentence} Open ${url} to approve or reject it, then call the tool again.`, form.modern ? { resultType: 'complete' } : {});
}

function isWebUrl(text: string): boolean {
  try {
    const { protocol } = new URL(text);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * A modern client's retry carries the answer to the kit's own input request (`inputResponses.gatehouse_approval`):
 * removed from the message before it is handed on, so the MCP server never sees the kit's round trip. In place,
 * because a framework's parsed body (Express `req.body`) is what the route hands the server.
 */
/** The client's answer to the kit's own input request on a 2026-07-28 retry, if it carries one. */
function ownInputResponse(params: Record<string, unknown>): Record<string, unknown> | undefined {
  const responses = params.inputResponses;
  if (!isObject(responses) || !Object.hasOwn(responses, INPUT_KEY)) return undefined;
  const own = responses[INPUT_KEY];
  return isObject(own) ? own : undefined;
}

export function stripOwnInputResponse(message: unknown): void {
  if (!isObject(message) || !isObject(message.params)) return;
  const responses = message.params.inputResponses;
  if (!isObject(responses) || !Object.hasOwn(responses, INPUT_KEY)) return;
  delete responses[INPUT_KEY];
  if (Object.keys(responses).length === 0) delete message.params.inputResponses;
}
