// The admin API's operations called by the CLI (docs/ADMIN-API.md, "The CLI"): over HTTP when a server is running
// (GATEHOUSE_URL and an admin API client's credentials, or the local server's own credentials file), or in-process
// on the database when none is. Either way the same operation validates the same input and answers the same JSON, so
// the CLI's `--json` output is the API's answer and the two cannot disagree.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from 'koa';
import type { Actor } from '../admin/actor.js';
import { AdminError } from '../admin/admin-error.js';
import type { AdminServices } from '../admin/index.js';
import { ADMIN_API_PATH } from '../oauth/admin-api-audience.js';
import { ApiError, parse } from './handler.js';
import { OPERATIONS } from './routes/index.js';

export interface Invocation {
  params?: Record<string, string>;
  query?: Record<string, string | undefined>;
  body?: unknown;
  version?: string | undefined;
}

/** A refusal in the API's one error shape, whichever way the call went. */
export class InvokeError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }

  toJSON() {
    return { error: this.error, error_description: this.message, ...(this.field ? { field: this.field } : {}), status: this.status };
  }
}

export interface Invoker {
  invoke(operationId: string, input?: Invocation): Promise<unknown>;
  /** Where the calls go: 'database' or the server's URL. */
  readonly target: string;
}

const byId = (id: string) => {
  const op = OPERATIONS.find((o) => o.id === id);
  if (!op) throw new Error(`no admin API operation ${id}`);
  return op;
};

const defined = (q: Record<string, string | undefined> = {}) => Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined)) as Record<string, string>;

/** In-process, on the database the command opened. */
export function localInvoker(services: AdminServices, actor: Actor): Invoker {
  return {
    target: 'database',
    async invoke(id, input = {}) {
      const op = byId(id);
      try {
        const result = await op.handle({
          params: parse(op.params, input.params ?? {}, 'path'),
          query: parse(op.query?.strict(), defined(input.query), 'query'),
          body: parse(op.body, input.body ?? (op.body ? {} : undefined), 'body'),
          actor,
          services,
          expectedVersion: input.version,
          ctx: undefined as unknown as Context,
        });
        return result.body;
      } catch (err) {
        if (err instanceof AdminError) throw new InvokeError(err.status, err.code, err.message, err.field);
        if (err instanceof ApiError) throw new InvokeError(err.status, err.error, err.message, err.field);
        throw err;
      }
    },
  };
}

export interface RemoteTarget {
  /** The server's ISSUER (the token's resource is `<issuer>/admin/api/v1`). */
  issuer: string;
  /** Where to connect, when not the issuer (the local server's loopback address). */
  url?: string | undefined;
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  /** The local server's key (local-cli-credentials.ts), used as the bearer itself. */
  key?: string | undefined;
}

/** Over HTTP: a client_credentials token for the admin API, then the operation's request. */
export function remoteInvoker(target: RemoteTarget, fetchImpl: typeof fetch = fetch): Invoker {
  const base = (target.url ?? target.issuer).replace(/\/$/, '');
  let token: { value: string; until: number } | undefined;
  const accessToken = async (): Promise<string> => {
    if (target.key) return target.key;
    if (token && token.until > Date.now()) return token.value;
    let res: Response;
    try {
      res = await fetchImpl(`${base}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encodeURIComponent(target.clientId ?? '')}:${encodeURIComponent(target.clientSecret ?? '')}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${target.issuer}${ADMIN_API_PATH}` }),
        // A redirect from the token endpoint is not followed: the credentials would go where it points.
        redirect: 'manual',
      });
    } catch (err) {
      throw new InvokeError(503, 'temporarily_unavailable', `Gatehouse at ${base} cannot be reached: ${(err as Error).message}`);
    }
    if (res.status >= 300 && res.status < 400) throw new InvokeError(502, 'server_error', `${base}/token answered with a redirect (${res.status}): is GATEHOUSE_URL the server's ISSUER?`);
    const json = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
    if (!res.ok || !json.access_token) throw new InvokeError(res.status === 200 ? 502 : res.status, json.error ?? 'invalid_client', `The admin API client was refused a token: ${json.error_description ?? json.error ?? res.status}`);
    token = { value: json.access_token, until: Date.now() + Math.max(0, (json.expires_in ?? 60) - 30) * 1000 };
    return token.value;
  };
  return {
    target: base,
    async invoke(id, input = {}) {
      const op = byId(id);
      const path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(input.params?.[name] ?? ''));
      const query = new URLSearchParams(defined(input.query)).toString();
      const headers: Record<string, string> = { authorization: `Bearer ${await accessToken()}` };
      if (input.body !== undefined) headers['content-type'] = 'application/json';
      if (input.version) headers['if-match'] = `"${input.version}"`;
      let res: Response;
      try {
        res = await fetchImpl(`${base}${ADMIN_API_PATH}${path}${query ? `?${query}` : ''}`, { method: op.method.toUpperCase(), headers, body: input.body === undefined ? undefined : JSON.stringify(input.body), redirect: 'manual' });
      } catch (err) {
        throw new InvokeError(503, 'temporarily_unavailable', `Gatehouse at ${base} cannot be reached: ${(err as Error).message}`);
      }
      if (res.status >= 300 && res.status < 400) throw new InvokeError(502, 'server_error', `${base} answered with a redirect (${res.status}): is GATEHOUSE_URL the server's ISSUER?`);
      const text = await res.text();
      // A streamed answer (the audit export) comes back as its lines, as in-process.
      if (res.ok && op.produces) return { lines: text, next: res.headers.get('gatehouse-next-cursor') };
      let json: Record<string, unknown> | undefined;
      try {
        json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
      } catch {
        throw new InvokeError(502, 'server_error', `${base} answered ${res.status} with something other than JSON: is GATEHOUSE_URL a Gatehouse?`);
      }
      if (!res.ok) throw new InvokeError(res.status, String(json?.error ?? 'server_error'), String(json?.error_description ?? res.statusText), typeof json?.field === 'string' ? json.field : undefined);
      return json;
    },
  };
}

/** The local server's key for the CLI (written by the server into its data directory; mode 0600). */
export const LOCAL_CLI_FILE = 'admin-cli.json';

export function localServerTarget(dataDir: string): RemoteTarget | undefined {
  try {
    const raw = JSON.parse(readFileSync(join(dataDir, LOCAL_CLI_FILE), 'utf8')) as Record<string, unknown>;
    if (typeof raw.issuer !== 'string' || typeof raw.key !== 'string') return undefined;
    return { issuer: raw.issuer, url: typeof raw.url === 'string' ? raw.url : undefined, key: raw.key };
  } catch {
    return undefined;
  }
}
