// The admin API as its clients meet it (docs/ADMIN-API.md): an admin API client made the way `gatehouse client add
// --admin-api` makes one, its token from /token (client_credentials, resource = the API), JSON calls over real HTTP,
// and every answer checked against the OpenAPI document the server publishes.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { addStaticClient } from '../../src/oauth/static-clients.js';
import type { TestServer } from './server.js';

export interface ApiAnswer {
  status: number;
  json: any;
  headers: Headers;
}

export async function adminApiClient(gh: TestServer, scopes: 'admin:read' | 'admin:read admin:write', name = 'automation'): Promise<{ id: string; secret: string }> {
  const s = gh.services;
  const created = await addStaticClient({ db: s.handle.db, box: s.box, provider: gh.holder.provider, registry: s.registry }, { name, redirectUris: [], confidential: true, adminApi: scopes });
  return { id: created.client_id, secret: created.client_secret! };
}

export async function adminApiToken(gh: TestServer, client: { id: string; secret: string }, scope = 'admin:read admin:write'): Promise<string> {
  const res = await fetch(`${gh.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${gh.issuer}/admin/api/v1`, scope }),
  });
  const json = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !json.access_token) throw new Error(`no admin API token: ${res.status} ${JSON.stringify(json)}`);
  return json.access_token;
}

export async function call(url: string, init: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(url, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

/** Validates answers against the published OpenAPI document's response schema of each operation and status. */
export class OpenApiCheck {
  readonly #ajv: InstanceType<typeof Ajv2020>;
  readonly #document: any;

  constructor(document: any) {
    this.#document = document;
    this.#ajv = new Ajv2020({ strict: false, allErrors: true });
    (addFormats as unknown as (a: unknown) => void)(this.#ajv);
    this.#ajv.addSchema({ ...document, $id: 'openapi' });
  }

  /** The operation's response schema for this status must accept the body (the error shape for any 4xx). */
  check(operationId: string, answer: ApiAnswer): void {
    const found = Object.entries(this.#document.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op }))).find((x) => x.op.operationId === operationId);
    if (!found) throw new Error(`no operation ${operationId} in the document`);
    const status = String(answer.status);
    const response = found.op.responses[status];
    if (!response) throw new Error(`${operationId} answered ${status}, which the document does not list: ${JSON.stringify(answer.json)}`);
    const content = response.content?.['application/json'];
    if (!content) {
      if (answer.json !== undefined && answer.json !== '') throw new Error(`${operationId} ${status} has a body the document does not describe`);
      return;
    }
    const pointer = ['paths', found.path, found.method, 'responses', status, 'content', 'application/json', 'schema'].map((t) => encodeURIComponent(t.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');
    const validate = this.#ajv.compile({ $ref: `openapi#/${pointer}` });
    if (!validate(answer.json)) throw new Error(`${operationId} ${status} does not match the document: ${this.#ajv.errorsText(validate.errors)}\n${JSON.stringify(answer.json).slice(0, 500)}`);
  }
}
