// Client ID Metadata Documents (CIMD draft, draft-ietf-oauth-client-id-metadata-document):
// the rules Gatehouse adds to oidc-provider's built-in support, composed in this one place.
//
//   before a fetch (allowFetch)   client-id-url.ts (URL form) → domain-policy.ts (allow/block lists, the policy in
//                                 force: policy/settings.ts, the console's value else the environment's) → blocked by
//                                 an administrator (cimd-clients.ts)
//   the fetch itself (fetch)      guarded-fetch.ts: public addresses only, connect to the checked address, no
//                                 redirects, 200 + JSON only, timeout; document-lifetime.ts: cache per Cache-Control,
//                                 at most 24 h (failures are never cached: oidc-provider keeps only accepted ones)
//   the document (oidc-provider)  client_id equal to the URL, no client_secret_* / client_secret, 5 KiB, valid metadata
//   every use (allowClient)       domain policy and block again (a cached document outlives a new block), then the
//                                 client is recorded (first sight audited, last_seen_at throttled)
//
// Every refusal is remembered on its request, audited once as `cimd.refused` with the host and the reason, and
// shown to the person by the error page (provider.ts renderError → failureFor), instead of oidc-provider's terse
// "invalid_client".
import Provider, { type Client, type KoaContextWithOIDC } from 'oidc-provider';
import { requestOrigin, type AuditLog } from '../../audit/writer.js';
import type { CimdClients } from './cimd-clients.js';
import { clientIdHost, clientIdUrlProblem, looksLikeClientIdUrl } from './client-id-url.js';
import { documentLifetime, MAX_DOCUMENT_LIFETIME, withLifetime } from './document-lifetime.js';
import { DomainPolicy } from './domain-policy.js';
import type { PolicyReader } from '../../policy/settings.js';
import { guardedFetch, GuardedFetchError, type FetchFunction, type GuardedFetchOptions } from '../../net/guarded-fetch.js';

/** What tests may inject into the outgoing fetch; nothing here is reachable from configuration. */
export type CimdFetchOverrides = Pick<GuardedFetchOptions, 'ca' | 'resolve' | 'beforeConnect' | 'timeoutMs'>;

export interface CimdTrustOptions {
  config: { CIMD_ALLOWED_DOMAINS: readonly string[]; CIMD_BLOCKED_DOMAINS: readonly string[]; CIMD_ALLOW_PRIVATE_ADDRESSES: boolean };
  clients: CimdClients;
  audit: AuditLog;
  /** The policy in force (its CIMD lists); without it, the lists in `config` hold. */
  policy?: PolicyReader;
  fetch?: CimdFetchOverrides;
}

export type CimdFailureStage = 'url' | 'policy' | 'fetch' | 'document';

export interface CimdFailure {
  clientId: string;
  host: string;
  stage: CimdFailureStage;
  reason: string;
}

/** One sentence for the person and the audit log: which host, and why. */
export function failureMessage(f: CimdFailure): string {
  switch (f.stage) {
    case 'url':
      return `The application's client_id (${f.clientId}) is not a valid metadata document URL: ${f.reason}.`;
    case 'policy':
      return `Applications identified by a metadata document at ${f.host} are not accepted here: ${f.reason}.`;
    case 'fetch':
      return `The metadata document at ${f.host} could not be fetched: ${f.reason}.`;
    case 'document':
      return `The metadata document at ${f.host} was refused: ${f.reason}.`;
  }
}

// CIMD document size limit. The same as oidc-provider's fetchResponseBodyLimits default for the
// purpose, which stays in place behind it; enforced here too because oidc-provider's check fails with "stream is
// locked" instead of its own message when it cancels a stream it is iterating.
const DOCUMENT_LIMIT_BYTES = 5 * 1024;

/** Turns the error oidc-provider threw while resolving a document into a stage and a reason. */
export function describeResolutionError(err: unknown): { stage: CimdFailureStage; reason: string } {
  let current: unknown = err;
  for (let depth = 0; current && depth < 6; depth++) {
    if (current instanceof GuardedFetchError) return { stage: 'fetch', reason: current.reason };
    if (current instanceof SyntaxError) return { stage: 'document', reason: 'it is not valid JSON' };
    const e = current as { message?: string; error?: string; error_description?: string; cause?: unknown };
    if (e.message === 'response too large') return { stage: 'fetch', reason: `the document is larger than ${DOCUMENT_LIMIT_BYTES / 1024} KB` };
    if (e.error_description === 'client_secret is mandatory property') {
      // No token_endpoint_auth_method means RFC 7591's default, client_secret_basic: a secret no document can hold.
      return { stage: 'document', reason: 'it names no token_endpoint_auth_method, and the default (client_secret_basic) needs a shared secret a metadata document cannot have; use "none" or "private_key_jwt"' };
    }
    if (e.error === 'invalid_client_metadata' || e.error === 'invalid_redirect_uri') {
      return { stage: 'document', reason: String(e.error_description ?? e.error) };
    }
    if (!e.cause) return { stage: 'fetch', reason: String(e.error_description ?? e.message ?? 'unknown error') };
    current = e.cause;
  }
  return { stage: 'fetch', reason: 'unknown error' };
}

export class CimdTrust {
  readonly fetch: FetchFunction;
  // The DomainPolicy built from the lists last seen: rebuilt only when they change, not per request.
  #domains: { key: string; policy: DomainPolicy } | undefined;
  // Per request (the Koa context): refusals already recorded, and document fetches allowFetch approved.
  readonly #failures = new WeakMap<object, Map<string, CimdFailure>>();
  readonly #approved = new WeakMap<object, Set<string>>();

  constructor(private readonly options: CimdTrustOptions) {
    const guarded = guardedFetch({ ...options.fetch, allowPrivateAddresses: options.config.CIMD_ALLOW_PRIVATE_ADDRESSES });
    this.fetch = async (input, init) => {
      // A metadata document (a fetch allowFetch just approved for this request) gets the 5 KiB limit, must be
      // served as JSON, and gets Gatehouse's cache lifetime; anything else (a client's jwks_uri) keeps
      // oidc-provider's own rules, behind the same address guard.
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const ctx = Provider.ctx;
      if (!ctx || !this.#approved.get(ctx)?.has(url)) return guarded(input, init);
      const response = await guarded(input, init, { maxBodyBytes: DOCUMENT_LIMIT_BYTES, requireJsonMediaType: true });
      return withLifetime(response, documentLifetime(response.headers));
    };
  }

  /** The `features.clientIdMetadataDocument` configuration. */
  feature() {
    return {
      enabled: true,
      ack: 'draft-02',
      allowFetch: (ctx: KoaContextWithOIDC, clientId: string) => this.#allowFetch(ctx, clientId),
      allowClient: (ctx: KoaContextWithOIDC, client: Client) => this.#allowClient(ctx, client),
      // The lifetime is computed by document-lifetime.ts; 0 lets "no-store" mean what it says.
      cacheDuration: { min: 0, max: MAX_DOCUMENT_LIFETIME },
    };
  }

  /**
   * PATCH of an oidc-provider 9.13.3 internal: the static `Client.find` (lib/models/client.js), which client
   * authentication and the authorization error handler call (test/unit/oidc-provider-patches.test.ts guards both).
   * Wraps Client.find so that every CIMD refusal, wherever oidc-provider meets it (authorization, token, revocation
   * …), is recorded with its reason. oidc-provider's authorization error handler looks the client up a second time
   * to decide where to send the error; the recorded failure also stops that second lookup from fetching again.
   */
  attach(provider: Provider): void {
    const Client = provider.Client as unknown as { find(id: unknown, ...rest: unknown[]): Promise<unknown> };
    const find = Client.find.bind(Client);
    Client.find = async (id: unknown, ...rest: unknown[]) => {
      if (typeof id !== 'string' || !looksLikeClientIdUrl(id)) return find(id, ...rest);
      try {
        const client = await find(id, ...rest);
        if (!client) await this.#refuse(Provider.ctx, id, 'url', clientIdUrlProblem(id) ?? 'it does not follow the client identifier URL rules');
        return client;
      } catch (err) {
        const { stage, reason } = describeResolutionError(err);
        await this.#refuse(Provider.ctx, id, stage, reason);
        throw err;
      }
    };
  }

  /** The CIMD refusal recorded for this request, if any (for the error page). */
  failureFor(ctx: object): CimdFailure | undefined {
    const failures = this.#failures.get(ctx);
    return failures ? [...failures.values()][0] : undefined;
  }

  async #allowFetch(ctx: KoaContextWithOIDC | undefined, clientId: string): Promise<boolean> {
    if (ctx && this.#failures.get(ctx)?.has(clientId)) return false; // refused once in this request: no second fetch
    const urlProblem = clientIdUrlProblem(clientId);
    if (urlProblem) return this.#refuse(ctx, clientId, 'url', urlProblem);
    if (!(await this.#hostAndBlockAllowed(ctx, clientId))) return false;
    if (ctx) {
      const approved = this.#approved.get(ctx) ?? new Set<string>();
      approved.add(clientId);
      this.#approved.set(ctx, approved);
    }
    return true;
  }

  async #allowClient(ctx: KoaContextWithOIDC | undefined, client: Client): Promise<boolean> {
    if (!(await this.#hostAndBlockAllowed(ctx, client.clientId))) return false;
    const clientName = typeof client.clientName === 'string' ? client.clientName : undefined;
    if (await this.options.clients.seen(client.clientId, clientName)) {
      await this.options.audit.record({
        type: 'cimd.client_seen',
        outcome: 'success',
        clientId: client.clientId,
        details: { host: clientIdHost(client.clientId), client_name: clientName ?? null },
        ...requestMeta(ctx),
      });
    }
    return true;
  }

  async #domainPolicy(): Promise<DomainPolicy> {
    const lists = this.options.policy ? await this.options.policy.effective() : this.options.config;
    const key = JSON.stringify([lists.CIMD_ALLOWED_DOMAINS, lists.CIMD_BLOCKED_DOMAINS]);
    if (this.#domains?.key !== key) this.#domains = { key, policy: DomainPolicy.fromConfig(lists.CIMD_ALLOWED_DOMAINS, lists.CIMD_BLOCKED_DOMAINS) };
    return this.#domains.policy;
  }

  // Checked before every fetch and on every use of a cached document, so a host blocked in the console is refused
  // at its next request even while its document is still cached.
  async #hostAndBlockAllowed(ctx: KoaContextWithOIDC | undefined, clientId: string): Promise<boolean> {
    const hostProblem = (await this.#domainPolicy()).problem(new URL(clientId).hostname);
    if (hostProblem) return this.#refuse(ctx, clientId, 'policy', hostProblem);
    if (await this.options.clients.isBlocked(clientId)) return this.#refuse(ctx, clientId, 'policy', 'an administrator blocked this client');
    return true;
  }

  /** Records a refusal once per request and client_id (audited), and returns false for the hook that refused. */
  async #refuse(ctx: KoaContextWithOIDC | undefined, clientId: string, stage: CimdFailureStage, reason: string): Promise<false> {
    const failure: CimdFailure = { clientId, host: clientIdHost(clientId), stage, reason };
    if (ctx) {
      const failures = this.#failures.get(ctx) ?? new Map<string, CimdFailure>();
      if (failures.has(clientId)) return false;
      failures.set(clientId, failure);
      this.#failures.set(ctx, failures);
    }
    await this.options.audit.record({
      type: 'cimd.refused',
      outcome: 'failure',
      clientId,
      reason: failureMessage(failure),
      details: { host: failure.host, stage },
      ...requestMeta(ctx),
    });
    return false;
  }
}

function requestMeta(ctx: KoaContextWithOIDC | undefined) {
  return ctx ? requestOrigin(ctx) : {};
}
