// The two calls of Gatehouse's reporting API (docs/MCP-SERVER-REPORTING.md), authenticated as the MCP server's own
// confidential client with HTTP Basic (RFC 6749 §2.3.1: id and secret form-urlencoded, then base64). Each call says
// whether it is worth retrying: a network failure, a timeout, 429 or a 5xx is; a 400 is not (the same body will be
// refused again); 401/403 mean the credentials or the link to the resource are wrong, which an administrator may
// fix, so they are retried too, slowly.
export interface ReportCredentials {
  clientId: string;
  clientSecret: string;
}

export type SendResult = { ok: true; body: unknown } | { ok: false; retry: boolean; error: Error };

export interface GatehouseApiOptions {
  /** Gatehouse's ISSUER (no trailing slash needed). */
  issuer: string;
  /** The canonical resource this server reports for (every body names it). */
  resource: string;
  credentials: ReportCredentials;
  fetch?: typeof fetch | undefined;
  timeoutMs?: number | undefined;
}

const formEncode = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');

export class GatehouseApi {
  readonly #base: string;
  readonly #authorization: string;

  constructor(private readonly options: GatehouseApiOptions) {
    const { clientId, clientSecret } = options.credentials;
    if (typeof clientId !== 'string' || !clientId || typeof clientSecret !== 'string' || !clientSecret) {
      throw new TypeError('report: clientId and clientSecret are required (gatehouse client add --confidential --resource …)');
    }
    this.#base = options.issuer.replace(/\/+$/, '');
    this.#authorization = `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`;
  }

  putInventory(body: unknown): Promise<SendResult> {
    return this.#send('PUT', '/mcp-server/inventory', body);
  }

  postToolCalls(body: unknown): Promise<SendResult> {
    return this.#send('POST', '/mcp-server/tool-calls', body);
  }

  async #send(method: string, path: string, body: unknown): Promise<SendResult> {
    const url = `${this.#base}${path}`;
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(url, {
        method,
        headers: { authorization: this.#authorization, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ resource: this.options.resource, ...(body as object) }),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      return { ok: false, retry: true, error: new Error(`report: ${method} ${url} failed: ${(err as Error).message}`) };
    }
    const text = await res.text().catch(() => '');
    let json: unknown;
    try {
      json = text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      json = undefined;
    }
    if (res.status === 200) return { ok: true, body: json };
    const described = json as { error?: unknown; error_description?: unknown } | undefined;
    const reason = typeof described?.error === 'string' ? `${described.error}${typeof described.error_description === 'string' ? `: ${described.error_description}` : ''}` : text.slice(0, 200);
    return { ok: false, retry: res.status !== 400 && res.status !== 413, error: new Error(`report: ${method} ${url} answered ${res.status} ${reason}`) };
  }
}

/** Exponential backoff with full jitter: a random delay up to min(cap, base × 2^attempt). */
export function backoffMs(attempt: number, baseMs = 1000, capMs = 60_000): number {
  return Math.round(Math.random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16)));
}
