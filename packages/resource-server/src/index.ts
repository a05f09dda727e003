// @gatehouse/resource-server — the kit an MCP server imports to delegate authorization to Gatehouse (MCP
// authorization spec 2025-11-25; RFC 9728, RFC 6750, RFC 9068, RFC 8707). It ships alone: only `jose` and node
// built-ins, nothing else from Gatehouse's src/.
//
// What one guard does for the MCP endpoint it protects:
// - serves RFC 9728 metadata at /.well-known/oauth-protected-resource<path of resource> and at the root form;
// - answers a request without a bearer token with 401 and `WWW-Authenticate: Bearer scope="…",
//   resource_metadata="<absolute URL>"`, and a token not valid here with 401 `error="invalid_token"`;
// - verifies JWT access tokens locally (signature against Gatehouse's cached JWKS, iss, typ at+jwt, exp/nbf, aud =
//   this resource in canonical form, ES256/RS256 only);
// - checks `tools/call`, `resources/read` and `prompts/get` (single or batch) against the scope rules (`toolScopes`
//   or Gatehouse's catalogue, `resourceScopes`, `promptScopes`): a missing scope gets 403
//   `error="insufficient_scope", scope="<needed + granted>"`, which makes MCP clients step up; a call with no rule
//   gets the same 403 whatever the token holds (deny by default; `unmappedTools: 'allow'`, … opt out per kind);
// - runs a tool call the catalogue marks for approval only once Gatehouse says a person approved it, and answers the
//   caller itself meanwhile (approval.ts; needs `report`; docs/TOOL-APPROVALS.md);
// - hands the handler the verified identity and the parsed body, and sets `req.auth` for the MCP SDK;
// - CORS on every response it handles.
//
//   const guard = protectedResource({ issuer: 'https://auth.example.com', resource: 'https://mcp.example.com/mcp' });
//   // buildServer(): a new McpServer with your tools (stateless transport); tools read extra.authInfo (= req.auth)
//
// node:http —
//   http.createServer(async (req, res) => {
//     const auth = await guard.authenticate(req, res);       // undefined: the kit already answered
//     if (!auth) return;                                     // auth.identity: sub, clientId, scopes, …
//     const server = buildServer();
//     const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
//     res.on('close', () => { transport.close(); server.close(); });
//     await server.connect(transport);
//     await transport.handleRequest(req, res, auth.body);     // the kit read the body: pass it on
//   }).listen(3000);
//   // or http.createServer(guard.handler((req, res, identity, body) => …))
//
// Express —   app.use(guard.express());  // then req.auth, res.locals.identity, req.body (parsed by it if no parser ran)
//             app.post('/mcp', … transport.handleRequest(req, res, req.body));
// Koa —       app.use(guard.koa());      // then ctx.state.identity, ctx.req.auth, ctx.request.body
//             app.use(async (ctx) => { ctx.respond = false; … transport.handleRequest(ctx.req, ctx.res, ctx.request.body); });
import type { IncomingMessage, ServerResponse } from 'node:http';
import { expressMiddleware, type ExpressMiddleware } from './adapters/express.js';
import { koaMiddleware, type KoaMiddleware } from './adapters/koa.js';
import { authenticateNode, nodeHandler, type NodeHandler } from './adapters/node.js';
import { ApprovalStep } from './approval.js';
import { CatalogueSource } from './catalogue.js';
import { canonicalResource, metadataUrl } from './canonical-resource.js';
import { Guard, type Authenticated } from './guard.js';
import { DEFAULT_MAX_BODY_BYTES } from './json-body.js';
import { metadataPaths } from './metadata.js';
import { resourceRules, rulesFromMap } from './tool-scopes.js';
import { createTokenVerifier, type TokenVerifier } from './verify-token.js';
import { GatehouseApi, type ReportCredentials } from './reporting/gatehouse-api.js';
import { InventoryReporter, type ToolDescription } from './reporting/inventory-reporter.js';
import { DEFAULT_WATCH_BYTES } from './reporting/response-watch.js';
import { ToolCallQueue, type QueueOptions, type QueueStats, type ToolCallEvent } from './reporting/tool-call-queue.js';
import { ToolCallRecorder } from './reporting/tool-call-recorder.js';

export interface ProtectedResourceOptions {
  /** Gatehouse's ISSUER, exactly (published byte for byte in authorization_servers, compared with `iss`). */
  issuer: string;
  /** This MCP server's canonical URI, e.g. https://mcp.example.com/mcp, as registered in Gatehouse. */
  resource: string;
  /** scopes_supported in the metadata; default: the scopes of Gatehouse's catalogue for this resource. */
  scopes?: string[];
  /**
   * Tool name → every scope it needs (`[]`: only the required scopes); default 'catalogue': the tools each scope
   * unlocks, from Gatehouse. A tool in neither is refused (403) unless `unmappedTools: 'allow'`.
   */
  toolScopes?: Record<string, string[]> | 'catalogue';
  /** 'allow': a tool with no rule needs only the required scopes. Default 'deny'. */
  unmappedTools?: 'allow' | 'deny';
  /**
   * `resources/read`: [URI pattern, every scope it needs]. A pattern is an exact URI, or a prefix ending in `*`
   * (`notes://*`); a `*` anywhere else throws. A URI matching several patterns needs all their scopes. A URI no
   * pattern matches is refused unless `unmappedResources: 'allow'` — also when `resourceScopes` is not given.
   */
  resourceScopes?: Array<[pattern: string, scopes: string[]]>;
  /** 'allow': a resource no pattern matches needs only the required scopes. Default 'deny'. */
  unmappedResources?: 'allow' | 'deny';
  /** `prompts/get`: prompt name → every scope it needs. An unnamed prompt is refused unless `unmappedPrompts: 'allow'`. */
  promptScopes?: Record<string, string[]>;
  /** 'allow': a prompt with no rule needs only the required scopes. Default 'deny'. */
  unmappedPrompts?: 'allow' | 'deny';
  /** Scopes every request needs (whatever it calls, mapped or allowed unmapped); default none. */
  requiredScopes?: string[];
  /** resource_name in the metadata; default: the name in Gatehouse's catalogue, when the catalogue is used. */
  resourceName?: string;
  /** Default `${issuer}/jwks`. */
  jwksUri?: string;
  /** Default `${issuer}/catalogue?resource=<resource>`. */
  catalogueUrl?: string;
  /** Used for the JWKS and the catalogue (tests, proxies). */
  fetch?: typeof fetch;
  /** Seconds of clock skew allowed on exp/nbf; default 0. */
  clockTolerance?: number;
  /** Largest JSON body read, in bytes; default 1 MiB (larger: 413). */
  maxBodyBytes?: number;
  /** Told about what makes the kit answer 503 (JWKS or catalogue unreachable) and handler errors; never tokens. */
  onError?: (err: Error) => void;
  /**
   * Report to Gatehouse as this MCP server's confidential client (`gatehouse client add --confidential --resource
   * <resource>`): the tool inventory (`reportTools`) and every tool call (docs/MCP-SERVER-REPORTING.md in Gatehouse).
   */
  report?: ReportOptions;
  /**
   * How long a 2026-07-28 client's retry, sent as soon as it opened the approval page, waits for the person's decision
   * before it is answered "still waiting" (polling Gatehouse each second); default 45,000 ms, under the 60 s an MCP SDK client waits for an answer (docs/TOOL-APPROVALS.md).
   */
  approvalWaitMs?: number;
  /** Called with every tool-call event (the same the kit ships), e.g. for a local log; it must not throw. */
  onToolCall?: (event: ToolCallEvent) => void;
}

export interface ReportOptions extends ReportCredentials, QueueOptions {
  /**
   * Where Gatehouse's reporting API is reached, if not at the issuer (e.g. an address inside your network). Reports
   * go over node:http(s), not the `fetch` option.
   */
  url?: string;
  /** false: report the inventory only, not the tool calls. Default true. */
  toolCalls?: boolean;
  /** How often the inventory is sent again when nothing changed; default one hour. */
  heartbeatMs?: number;
  /** Largest response copied to see how a tool call ended; default 256 KiB (beyond: outcome `unknown`). */
  watchBytes?: number;
}

export interface ProtectedResource {
  /** The canonical resource URI (what the metadata publishes and `aud` must name). */
  readonly resource: string;
  /** The absolute URL of the RFC 9728 metadata (the challenge's resource_metadata). */
  readonly metadataUrl: string;
  /** node:http — answers (and resolves undefined) or resolves `{ identity, body }`. */
  authenticate(req: IncomingMessage, res: ServerResponse): Promise<Authenticated | undefined>;
  /** node:http — a request listener that calls `handler` for authorized requests only. */
  handler(handler: NodeHandler): (req: IncomingMessage, res: ServerResponse) => void;
  express(): ExpressMiddleware;
  koa(): KoaMiddleware;
  /** Verifies one access token (throws InvalidTokenError, or KeysUnavailableError). */
  verify: TokenVerifier;
  /** The metadata's scopes_supported as it stands (fetches the catalogue if that is where they come from). */
  scopesSupported(): Promise<string[] | undefined>;
  /**
   * Reports the server's tools (MCP `tools/list` entries: name, title, description, annotations) with the rule
   * the kit enforces for each; call at start and whenever the list changes. Resolves whether Gatehouse has it; a
   * failure is retried in the background. Throws only on a malformed list, or without `report` credentials.
   */
  reportTools(tools: readonly ToolDescription[]): Promise<boolean>;
  /** The tool-call queue's counters (all zero without `report`). */
  reportingStats(): QueueStats;
  /** Sends the tool calls still queued (at most `timeoutMs`, default 5 s) and stops reporting: call on shutdown. */
  close(timeoutMs?: number): Promise<QueueStats>;
}

export function protectedResource(options: ProtectedResourceOptions): ProtectedResource {
  const issuerUrl = new URL(options.issuer); // throws on a relative or malformed issuer
  if (issuerUrl.protocol !== 'https:' && issuerUrl.protocol !== 'http:') throw new TypeError('issuer must be an http(s) URL');
  const resource = canonicalResource(options.resource);
  const allows = (key: 'unmappedTools' | 'unmappedResources' | 'unmappedPrompts'): boolean => {
    const value = options[key] ?? 'deny';
    if (value !== 'allow' && value !== 'deny') throw new TypeError(`${key} must be 'allow' or 'deny'`);
    return value === 'allow';
  };
  const toolScopes = options.toolScopes ?? 'catalogue';
  const usesCatalogue = toolScopes === 'catalogue' || options.scopes === undefined;
  const base = options.issuer.replace(/\/+$/, '');
  // Always: besides the rules, the catalogue says which tools need a person's approval (docs/TOOL-APPROVALS.md).
  const catalogue = new CatalogueSource({
    url: options.catalogueUrl ?? `${base}/catalogue?resource=${encodeURIComponent(resource)}`,
    resource,
    fetch: options.fetch,
    onError: options.onError,
  });
  const report = options.report;
  const api = report ? new GatehouseApi({ issuer: report.url ?? options.issuer, resource, credentials: report }) : undefined;
  const queue = api && report?.toolCalls !== false ? new ToolCallQueue(api, report, options.onError) : undefined;
  const recorder = queue || options.onToolCall ? new ToolCallRecorder({ queue, onToolCall: options.onToolCall, watchBytes: report?.watchBytes ?? DEFAULT_WATCH_BYTES, onError: options.onError }) : undefined;
  const verify = createTokenVerifier({ issuer: options.issuer, resource, jwksUri: options.jwksUri, fetch: options.fetch, clockTolerance: options.clockTolerance });
  const guard = new Guard({
    issuer: options.issuer,
    resource,
    metadataUrl: metadataUrl(resource),
    metadataPaths: metadataPaths(resource),
    verify,
    catalogue,
    metadataFromCatalogue: usesCatalogue,
    approvals: new ApprovalStep({ api, onError: options.onError, waitMs: options.approvalWaitMs }),
    scopes: options.scopes,
    toolRules: toolScopes === 'catalogue' ? undefined : rulesFromMap(toolScopes),
    resourceRules: options.resourceScopes ? resourceRules(options.resourceScopes) : undefined,
    promptRules: options.promptScopes ? rulesFromMap(options.promptScopes) : undefined,
    allowUnmapped: { tool: allows('unmappedTools'), resource: allows('unmappedResources'), prompt: allows('unmappedPrompts') },
    requiredScopes: options.requiredScopes ?? [],
    resourceName: options.resourceName,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    onError: options.onError,
    recorder,
  });
  const inventory = api
    ? new InventoryReporter(
        api,
        { rulesFor: () => guard.toolRuleLookup(), unmappedTools: allows('unmappedTools') ? 'allow' : 'deny', requiredScopes: options.requiredScopes ?? [] },
        { heartbeatMs: report?.heartbeatMs, onError: options.onError },
      )
    : undefined;
  const idle: QueueStats = { queued: 0, sent: 0, dropped: 0, failures: 0 };
  return {
    resource,
    metadataUrl: guard.config.metadataUrl,
    authenticate: (req, res) => authenticateNode(guard, req, res),
    handler: (handler) => nodeHandler(guard, handler),
    express: () => expressMiddleware(guard),
    koa: () => koaMiddleware(guard),
    verify,
    scopesSupported: () => guard.scopesSupported(),
    reportTools: (tools) => {
      if (!inventory) throw new TypeError('reportTools needs the report option (the MCP server\'s client id and secret)');
      return inventory.report(tools);
    },
    reportingStats: () => queue?.stats() ?? { ...idle },
    close: async (timeoutMs) => {
      inventory?.close();
      const stats = queue ? await queue.close(timeoutMs) : { ...idle };
      api?.close();
      return stats;
    },
  };
}

export type { Authenticated } from './guard.js';
export type { ReportCredentials } from './reporting/gatehouse-api.js';
export type { AuthInfo, Identity } from './identity.js';
export type { NodeHandler } from './adapters/node.js';
export type { ExpressMiddleware, ExpressLikeRequest, ExpressLikeResponse } from './adapters/express.js';
export type { KoaMiddleware, KoaLikeContext } from './adapters/koa.js';
export type { ProtectedResourceMetadata } from './metadata.js';
export { canonicalResource } from './canonical-resource.js';
export type { ToolDescription } from './reporting/inventory-reporter.js';
export type { QueueStats, ToolCallEvent } from './reporting/tool-call-queue.js';
export { argumentsDigest, canonicalJson } from './reporting/canonical-json.js';
export { createTokenVerifier, InvalidTokenError, KeysUnavailableError, type TokenVerifier, type VerifierOptions } from './verify-token.js';
