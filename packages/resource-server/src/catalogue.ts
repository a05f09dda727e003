// This server's entry in Gatehouse's public catalogue (`GET ${issuer}/catalogue?resource=<uri>`): its scopes,
// their descriptions, the MCP tools each unlocks, and which tools run only after a person approved the call
// (`approvals`, docs/TOOL-APPROVALS.md). The admin edits the catalogue in one place (Gatehouse) and the
// consent page and this kit both read it, so what a person consents to is what the server enforces.
//
// Cached per instance: fresh for 60 s (Gatehouse answers max-age=60); after that the stale copy keeps serving while
// one background fetch refreshes it, and keeps serving if that fetch fails (stale-while-error). Only a server that
// never got the catalogue waits for it, at most `timeoutMs`, and after a failure it does not ask again for
// `retryMs`, so an unreachable Gatehouse costs a request milliseconds, never a hang.
import { tryCanonicalResource } from './canonical-resource.js';

export interface Catalogue {
  resource: string;
  name?: string;
  description?: string;
  scopes: Record<string, { description: string; tools: string[] }>;
  /** Tool name → its approval mode; a tool not listed needs none. Null-prototype: look up with Object.hasOwn. */
  approvals: Record<string, ApprovalMode>;
}

/** docs/TOOL-APPROVALS.md, "Which tools need approval". */
export type ApprovalMode = 'each-call' | 'once-per-grant';

export interface CatalogueSourceOptions {
  url: string;
  /** This server's canonical resource: the catalogue must be about it. */
  resource: string;
  fetch?: typeof fetch | undefined;
  onError?: ((err: Error) => void) | undefined;
  ttlMs?: number;
  timeoutMs?: number;
  retryMs?: number;
}

const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** Checks the shape rather than trusting it: a bad answer is a failed fetch, never a half-read rule set. */
export function parseCatalogue(json: unknown, resource: string): Catalogue {
  const doc = json as Record<string, unknown> | null;
  if (typeof doc !== 'object' || doc === null || typeof doc.resource !== 'string') throw new Error('catalogue: not a catalogue document');
  if (tryCanonicalResource(doc.resource) !== resource) throw new Error(`catalogue: it is for ${doc.resource}, not ${resource}`);
  if (typeof doc.scopes !== 'object' || doc.scopes === null || Array.isArray(doc.scopes)) throw new Error('catalogue: scopes must be an object');
  const scopes: Catalogue['scopes'] = {};
  for (const [name, raw] of Object.entries(doc.scopes as Record<string, unknown>)) {
    const entry = (typeof raw === 'object' && raw !== null ? raw : {}) as { description?: unknown; tools?: unknown };
    if (entry.tools !== undefined && !strings(entry.tools)) throw new Error(`catalogue: tools of ${name} must be strings`);
    scopes[name] = { description: typeof entry.description === 'string' ? entry.description : name, tools: entry.tools ?? [] };
  }
  if (doc.approvals !== undefined && (typeof doc.approvals !== 'object' || doc.approvals === null || Array.isArray(doc.approvals))) {
    throw new Error('catalogue: approvals must be an object');
  }
  // A tool name is any string, `__proto__` included: no prototype to write through.
  const approvals = Object.create(null) as Catalogue['approvals'];
  for (const [tool, mode] of Object.entries((doc.approvals ?? {}) as Record<string, unknown>)) {
    // A mode this kit does not know (a newer Gatehouse's, or a typo) is the strictest it knows: fail closed.
    approvals[tool] = mode === 'once-per-grant' ? 'once-per-grant' : 'each-call';
  }
  return {
    resource,
    ...(typeof doc.name === 'string' ? { name: doc.name } : {}),
    ...(typeof doc.description === 'string' ? { description: doc.description } : {}),
    scopes,
    approvals,
  };
}

export class CatalogueSource {
  #value: Catalogue | undefined;
  #fetchedAt = 0;
  #failedAt = 0;
  #inFlight: Promise<Catalogue | undefined> | undefined;

  constructor(private readonly options: CatalogueSourceOptions) {}

  /** The catalogue, possibly stale; undefined only if it has never been fetched. */
  async get(): Promise<Catalogue | undefined> {
    const { ttlMs = 60_000, retryMs = 5_000 } = this.options;
    const now = Date.now();
    if (this.#value) {
      if (now - this.#fetchedAt >= ttlMs && now - this.#failedAt >= retryMs) void this.#refresh();
      return this.#value;
    }
    if (now - this.#failedAt < retryMs) return undefined;
    return this.#refresh();
  }

  #refresh(): Promise<Catalogue | undefined> {
    this.#inFlight ??= this.#fetch().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #fetch(): Promise<Catalogue | undefined> {
    const { url, resource, timeoutMs = 5_000 } = this.options;
    try {
      const res = await (this.options.fetch ?? fetch)(url, {
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new Error(`catalogue: ${url} answered ${res.status}`);
      }
      this.#value = parseCatalogue(await res.json(), resource);
      this.#fetchedAt = Date.now();
    } catch (err) {
      this.#failedAt = Date.now();
      this.options.onError?.(err instanceof Error ? err : new Error(String(err)));
    }
    return this.#value;
  }
}
