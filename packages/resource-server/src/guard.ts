// The kit's decision for one request, independent of the framework: answer it here (preflight, metadata, 401, 403,
// 413, 503) or let it through with the caller's verified identity and the parsed body. The order is the point:
//   1. OPTIONS preflight and the RFC 9728 metadata are public;
//   2. no bearer token → 401 with the challenge, before any body is read;
//   3. a token that is not valid for this resource → 401 invalid_token (RFC 6750 §3.1; never 400);
//   4. the body is read (or taken from a framework that parsed it) and inspected for `tools/call`, `resources/read`
//      and `prompts/get`;
//   5. a call with no rule (deny by default, unless the server allowed unmapped calls of that kind), or a scope the
//      request needs that the token lacks → 403 insufficient_scope; the whole request is refused, batch or not;
//   6. a tool call the catalogue marks for approval runs only once Gatehouse says a person approved it
//      (approval.ts, docs/TOOL-APPROVALS.md); until then the kit answers the call itself.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { jsonAnswer, jsonRpcError, oauthError, type Answer } from './answers.js';
import { stripOwnInputResponse, type ApprovalStep } from './approval.js';
import { bearerToken, challenge, scopeList } from './bearer.js';
import type { Catalogue, CatalogueSource } from './catalogue.js';
import { CORS_HEADERS, PREFLIGHT_HEADERS } from './cors.js';
import type { Identity } from './identity.js';
import { readJsonBody, type BodyRead } from './json-body.js';
import { metadataDocument } from './metadata.js';
import { decideScopes, resourceAlternatives, rulesFromCatalogue, callsIn, type Alternatives, type Ask, type Call, type ResourceRules, type ToolRules } from './tool-scopes.js';
import { InvalidTokenError, KeysUnavailableError, type TokenVerifier } from './verify-token.js';
import type { DecidedCall, RefusedOutcome, ToolCallRecorder } from './reporting/tool-call-recorder.js';

/** The most messages one JSON-RPC batch may hold (the official MCP SDK's own limit). */
export const MAX_BATCH_MESSAGES = 100;

export interface GuardConfig {
  issuer: string;
  /** Canonical resource URI. */
  resource: string;
  metadataUrl: string;
  metadataPaths: ReadonlySet<string>;
  verify: TokenVerifier;
  /** Gatehouse's catalogue: always read for a tool call (its approvals), and for the rules unless `toolRules`. */
  catalogue: CatalogueSource;
  /** Whether scopes_supported and the resource name come from the catalogue (neither set in code). */
  metadataFromCatalogue: boolean;
  approvals: ApprovalStep;
  scopes?: string[] | undefined;
  toolRules?: ToolRules | undefined;
  /** Absent: no resource is mapped. */
  resourceRules?: ResourceRules | undefined;
  /** Absent: no prompt is mapped. */
  promptRules?: ToolRules | undefined;
  /** Which kinds of call without a rule go through with the required scopes; the others are refused. */
  allowUnmapped: { tool: boolean; resource: boolean; prompt: boolean };
  requiredScopes: string[];
  resourceName?: string | undefined;
  maxBodyBytes: number;
  onError?: ((err: Error) => void) | undefined;
  /** Present when tool calls are audited (shipped to Gatehouse, or handed to `onToolCall`). */
  recorder?: ToolCallRecorder | undefined;
}

/** What an adapter knows about the request. */
export interface GuardRequest {
  req: IncomingMessage;
  method: string;
  /** Path and query, as on the request line. */
  url: string;
  /** Where the body comes from when a framework already parsed it; default: read from `req` (json-body.ts). */
  readBody?: (() => Promise<BodyRead>) | undefined;
}

export interface Authenticated {
  identity: Identity;
  /** The parsed JSON body (undefined for a request without one): pass it to the MCP transport. */
  body: unknown;
}

/** The tool calls of a decided request, for the audit: refused ones with why, or the allowed ones. */
type ToolCalls = { identity: Identity } & ({ refused: (DecidedCall & { outcome: RefusedOutcome })[] } | { allowed: DecidedCall[] });

export type Outcome = { answer: Answer; toolCalls?: ToolCalls } | { pass: Authenticated; toolCalls?: ToolCalls };

export class Guard {
  #rulesFrom: unknown;
  #rules: ToolRules = new Map();

  constructor(readonly config: GuardConfig) {}

  async decide(request: GuardRequest): Promise<Outcome> {
    const { config } = this;
    if (request.method === 'OPTIONS') return { answer: { status: 204, headers: { ...PREFLIGHT_HEADERS } } };
    const path = pathOf(request.url);
    if (config.metadataPaths.has(path)) return { answer: await this.metadata(request.method) };

    const token = bearerToken(request.req.headers.authorization);
    if (!token) {
      // RFC 6750 §3.1: a request with no credentials gets the challenge without an error code.
      return { answer: oauthError(401, 'unauthorized', 'a bearer access token is required', { 'WWW-Authenticate': challenge({ resourceMetadata: config.metadataUrl, scope: await this.initialScope() }) }) };
    }
    let identity: Identity;
    try {
      identity = await config.verify(token);
    } catch (err) {
      if (err instanceof InvalidTokenError) {
        const header = challenge({ error: 'invalid_token', errorDescription: err.message, resourceMetadata: config.metadataUrl, scope: await this.initialScope() });
        return { answer: oauthError(401, 'invalid_token', err.message, { 'WWW-Authenticate': header }) };
      }
      return { answer: this.unavailable(err) };
    }

    const read: BodyRead =
      request.method === 'GET' || request.method === 'HEAD'
        ? { ok: true, body: undefined }
        : await (request.readBody ?? (() => readJsonBody(request.req, config.maxBodyBytes)))();
    if (!read.ok) return { answer: read.answer };
    // A JSON-RPC batch larger than the MCP SDK serves is refused before anything in it is checked or audited: one
    // request must not become thousands of audit events (docs/SECURITY.md, "Issue 17").
    if (Array.isArray(read.body) && read.body.length > MAX_BATCH_MESSAGES) {
      return { answer: jsonRpcError(400, -32600, `A JSON-RPC batch may hold at most ${MAX_BATCH_MESSAGES} messages`) };
    }

    const calls = callsIn(read.body);
    let rules = config.toolRules;
    // The catalogue is read for every tool call, also with rules in code: it says which tools need a person's
    // approval, and a server that cannot know must not run one (docs/TOOL-APPROVALS.md).
    let catalogue: Catalogue | undefined;
    if (calls.some((c) => c.kind === 'tool')) {
      catalogue = await config.catalogue.get();
      if (!catalogue) return { answer: this.unavailable(new Error('the tool→scope catalogue is unavailable')) };
      rules ??= this.catalogueRules(catalogue);
    }
    const asks = calls.map((call): Ask => ({ call, alternatives: this.alternatives(call, rules) }));
    const granted = new Set(identity.scopes);
    const { needed, missing, unmapped, perCall } = decideScopes(asks, config.requiredScopes, granted);
    type Decided = DecidedCall & { mapped: boolean };
    /** The audit of this request's tool calls: allowed (no `refuse`), or refused, each with the outcome `refuse` gives it. */
    const toolCalls = (refuse?: (d: Decided) => RefusedOutcome): ToolCalls | undefined => {
      if (!config.recorder) return undefined;
      const decided = asks.flatMap(({ call }, i): Decided[] => (call.kind === 'tool' ? [{ call, scopes: perCall[i] ?? [...config.requiredScopes], mapped: perCall[i] !== undefined }] : []));
      if (!decided.length) return undefined;
      if (!refuse) return { identity, allowed: decided };
      return { identity, refused: decided.map((d) => ({ ...d, outcome: refuse(d) })) };
    };
    const scopeOutcome = (d: Decided): RefusedOutcome => (!d.mapped ? 'refused_unmapped' : d.scopes.every((s) => granted.has(s)) ? 'refused_batch' : 'refused_scope');
    if (missing.length || unmapped.length) {
      // MCP spec, "Scope Challenge Handling": name what this request needs plus what the token already has, so a
      // client that replaces its scope with ours (the TypeScript SDK does) keeps its other permissions. A call with
      // no rule is refused the same way (one refusal shape, before the MCP server sees any of the request), but no
      // scope unlocks it: the description says so, and a client that steps up gets the same 403 again.
      const scope = scopeList(needed, identity.scopes);
      const reasons: string[] = [];
      if (unmapped.length) reasons.push(`${listed(unmapped)} ${unmapped.length === 1 ? 'is' : 'are'} not mapped to any scope on this server (denied by default)`);
      if (missing.length) reasons.push(`${calls.length ? listed(calls) : 'this request'} needs the scope ${missing.join(' ')}`);
      const description = reasons.join('; ');
      const header = challenge({ error: 'insufficient_scope', scope, resourceMetadata: config.metadataUrl, errorDescription: description });
      return { answer: oauthError(403, 'insufficient_scope', description, { 'WWW-Authenticate': header }, { scope: scope.join(' ') }), toolCalls: toolCalls(scopeOutcome) };
    }

    const approvals = catalogue?.approvals;
    const needApproval = approvals ? calls.filter((c) => c.kind === 'tool' && Object.hasOwn(approvals, c.name)) : [];
    if (needApproval.length) {
      const waits = (d: Decided) => needApproval.includes(d.call);
      if (Array.isArray(read.body)) {
        // One approval is for one call: a batch cannot wait for a person (docs/TOOL-APPROVALS.md).
        const names = listedNames(needApproval);
        const message = `${names} ${needApproval.length === 1 ? 'needs' : 'need'} a person's approval and cannot be called in a batch`;
        return { answer: jsonRpcError(400, -32600, message), toolCalls: toolCalls((d) => (waits(d) ? 'approval_required' : 'refused_batch')) };
      }
      const message = read.body as Record<string, unknown>;
      // A tools/call without an id is a notification: it gets no answer (an empty 202), and never runs.
      if (!Object.hasOwn(message, 'id')) return { answer: { status: 202, headers: { ...CORS_HEADERS } }, toolCalls: toolCalls(() => 'approval_required') };
      // Whatever fails while asking must not escape: the caller's request listener may not catch (a 503, never a crash).
      const decision = await config.approvals.check(identity, message, needApproval[0]!.name).catch((err: unknown) => ({ unavailable: err instanceof Error ? err : new Error(String(err)) }));
      if ('unavailable' in decision) {
        // The details (the reporting address may be an internal one) go to onError, not to the caller.
        const answer = this.unavailable(decision.unavailable, 'Gatehouse could not be asked whether a person approved this call; try again shortly');
        return { answer, toolCalls: toolCalls(() => 'approval_required') };
      }
      if ('answer' in decision) return { answer: decision.answer, toolCalls: toolCalls(() => decision.outcome) };
    }
    for (const message of Array.isArray(read.body) ? read.body : [read.body]) {
      if (typeof message !== 'object' || message === null) continue;
      const { method, params } = message as { method?: unknown; params?: unknown };
      if (method === 'tools/call') stripOwnInputResponse(message);
      else if (method === 'initialize') config.approvals.initialized(identity, params);
    }
    return { pass: { identity, body: read.body }, toolCalls: toolCalls() };
  }

  /** Hands a decided request's tool calls to the audit; `res` is where an allowed call's result will be written. */
  record(outcome: Outcome, res: ServerResponse): void {
    const calls = outcome.toolCalls;
    const recorder = this.config.recorder;
    if (!calls || !recorder) return;
    try {
      if ('refused' in calls) recorder.refused(calls.identity, calls.refused);
      else recorder.allowed(calls.identity, calls.allowed, res);
    } catch (err) {
      // The audit never fails a call.
      this.config.onError?.(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** The rule for one call; [[]] (nothing beyond the required scopes) for an unmapped call of an allowed kind. */
  private alternatives(call: Call, tools: ToolRules | undefined): Alternatives | undefined {
    const { config } = this;
    const found =
      call.kind === 'tool' ? tools?.get(call.name)
      : call.kind === 'prompt' ? config.promptRules?.get(call.name)
      : config.resourceRules && resourceAlternatives(call.name, config.resourceRules);
    return found?.length ? found : config.allowUnmapped[call.kind] ? [[]] : undefined;
  }

  /**
   * The rule the kit enforces for each tool, for the inventory: alternatives, [] for none (the inventory's policy
   * says what happens to those). Undefined while the catalogue has never been fetched.
   */
  async toolRuleLookup(): Promise<((tool: string) => Alternatives) | undefined> {
    let rules = this.config.toolRules;
    if (!rules) {
      const catalogue = await this.config.catalogue.get();
      if (!catalogue) return undefined;
      rules = this.catalogueRules(catalogue);
    }
    const found = rules;
    return (tool) => found.get(tool) ?? [];
  }

  /** scopes_supported: the configured ones, else the catalogue's (absent if it never could be fetched). */
  async scopesSupported(): Promise<string[] | undefined> {
    if (this.config.scopes) return this.config.scopes;
    const catalogue = await this.config.catalogue.get();
    return catalogue ? Object.keys(catalogue.scopes) : undefined;
  }

  /** The scope a 401 suggests: what every request needs, else everything (what spec clients fall back to anyway). */
  private async initialScope(): Promise<string[] | undefined> {
    return this.config.requiredScopes.length ? this.config.requiredScopes : this.scopesSupported();
  }

  private async metadata(method: string): Promise<Answer> {
    if (method !== 'GET' && method !== 'HEAD') return oauthError(405, 'invalid_request', 'use GET', { Allow: 'GET, HEAD, OPTIONS' });
    const name = this.config.resourceName ?? (this.config.metadataFromCatalogue ? (await this.config.catalogue.get())?.name : undefined);
    const doc = metadataDocument({ resource: this.config.resource, issuer: this.config.issuer, scopes: await this.scopesSupported(), name });
    return jsonAnswer(200, doc, { 'Cache-Control': 'public, max-age=60' }); // for HEAD, node and Koa drop the body
  }

  private catalogueRules(catalogue: object): ToolRules {
    if (this.#rulesFrom !== catalogue) {
      this.#rules = rulesFromCatalogue((catalogue as { scopes: Record<string, { tools: string[] }> }).scopes);
      this.#rulesFrom = catalogue;
    }
    return this.#rules;
  }

  private unavailable(err: unknown, publicDescription?: string): Answer {
    const error = err instanceof Error ? err : new Error(String(err));
    this.config.onError?.(error);
    const description = publicDescription ?? (err instanceof KeysUnavailableError ? 'the authorization server keys are unavailable' : error.message);
    return oauthError(503, 'temporarily_unavailable', description, { 'Retry-After': '5' });
  }
}

/** At most five calls named (a batch can hold thousands); each name or URI cut to 100 characters. */
function listed(calls: readonly Call[]): string {
  const named = calls.slice(0, 5).map(describe).join(', ');
  return calls.length > 5 ? `${named} and ${calls.length - 5} more` : named;
}

/** Tool names for a message, at most five, each cut to 100 characters. */
function listedNames(calls: readonly Call[]): string {
  const named = calls.slice(0, 5).map((c) => (c.name.length > 100 ? `${c.name.slice(0, 100)}…` : c.name)).join(', ');
  return calls.length > 5 ? `${named} and ${calls.length - 5} more` : named;
}

function describe(call: Call): string {
  const name = call.name.length > 100 ? `${call.name.slice(0, 100)}…` : call.name;
  return call.kind === 'tool' ? `calling ${name}` : call.kind === 'prompt' ? `getting the prompt ${name}` : `reading ${name}`;
}

/** The path of a request target, whether origin-form (`/mcp?x`) or absolute-form (`http://h/mcp`). */
function pathOf(url: string): string {
  if (url.startsWith('/')) {
    const q = url.indexOf('?');
    return q === -1 ? url : url.slice(0, q);
  }
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}
