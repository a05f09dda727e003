// The kit's side of per-call approval (docs/TOOL-APPROVALS.md), against a fake Gatehouse on loopback (JWKS, the
// catalogue with its approvals map, and POST /mcp-server/tool-approvals answering what each test scripts) and real
// kit-protected servers: node:http, Express and Koa. What is checked: the call runs only when Gatehouse says approved
// or not required; the three forms a pending call is answered in; rejections, refusals and an unreachable Gatehouse
// never run the call; the request Gatehouse gets; the audit outcomes; the capability memory's bound.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { ClientCapabilities, MAX_REMEMBERED_CLIENTS } from '../../packages/resource-server/src/client-capabilities.js';
import { argumentsDigest, protectedResource, type ProtectedResource, type ProtectedResourceOptions, type ToolCallEvent } from '../../packages/resource-server/src/index.js';

const RESOURCE = 'https://mcp.example.test/mcp';
const CREDENTIALS = { clientId: 'notes server', clientSecret: 's3cret:x' };
const MODERN = '2026-07-28';

// --- the fake Gatehouse -----------------------------------------------------------------------------------------

let key: { privateKey: CryptoKey; jwk: JWK; kid: string };
let gatehouse: Server;
let issuer: string;
/** Every approval request Gatehouse got: the body and the Authorization header. */
let asked: Array<{ body: Record<string, any>; authorization: string | undefined }> = [];
/** What Gatehouse answers the next approval requests; 'hang-up' destroys the connection. */
let decide: (body: Record<string, any>) => { status: number; body: unknown } | 'hang-up';
const CATALOGUE = {
  resource: RESOURCE,
  name: 'Notes',
  scopes: {
    'notes:read': { description: 'Read', tools: ['read_note', 'search'] },
    'notes:write': { description: 'Write', tools: ['delete_note', 'archive_note', 'odd_tool'] },
  },
  approvals: { delete_note: 'each-call', archive_note: 'once-per-grant', odd_tool: 'sometimes' },
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => resolve(text));
  });
}

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  key = { privateKey, jwk: { ...jwk, kid, alg: 'ES256', use: 'sig' }, kid };
  gatehouse = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (url.pathname === '/jwks') return json(200, { keys: [key.jwk] });
    if (url.pathname === '/catalogue') return url.searchParams.get('resource') === RESOURCE ? json(200, CATALOGUE) : json(404, { error: 'invalid_target' });
    const text = await readBody(req);
    if (url.pathname === '/mcp-server/tool-approvals' && req.method === 'POST') {
      const body = JSON.parse(text) as Record<string, any>;
      asked.push({ body, authorization: req.headers.authorization });
      const answer = decide(body);
      if (answer === 'hang-up') return req.socket.destroy();
      return json(answer.status, answer.body);
    }
    if (url.pathname === '/mcp-server/tool-calls') return json(200, { accepted: 1 });
    json(404, { error: 'not_found' });
  });
  await new Promise<void>((r) => gatehouse.listen(0, '127.0.0.1', () => r()));
  issuer = `http://127.0.0.1:${(gatehouse.address() as AddressInfo).port}`;
});

const servers: Server[] = [];
const guards: ProtectedResource[] = [];
afterAll(async () => {
  for (const g of guards) await g.close(500);
  for (const s of [...servers, gatehouse]) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

let events: ToolCallEvent[] = [];
beforeEach(() => {
  asked = [];
  events = [];
  decide = () => ({ status: 200, body: { decision: 'approved' } });
});
// An allowed call is audited when its response finishes, which can be just after the client read it: let it land
// before the next test starts counting.
afterEach(() => new Promise((r) => setTimeout(r, 30)));

// --- tokens, requests, the protected servers ---------------------------------------------------------------------

interface Person {
  sub?: string;
  client_id?: string;
  scope?: string;
  email?: string;
}
const token = (p: Person = {}) =>
  new SignJWT({ client_id: p.client_id ?? 'client-1', scope: p.scope ?? 'notes:read notes:write', ...(p.email === undefined ? { email: 'rita@example.com' } : p.email ? { email: p.email } : {}) })
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
    .setIssuer(issuer)
    .setAudience(RESOURCE)
    .setSubject(p.sub ?? 'person-1')
    .setExpirationTime('5m')
    .sign(key.privateKey);

const call = (name: string, args?: unknown, extra: Record<string, unknown> = {}, id: unknown = 7) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, ...(args !== undefined ? { arguments: args } : {}), ...extra },
});
const modernMeta = (url = true) => ({
  _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': url ? { elicitation: { url: {} } } : { elicitation: { form: {} } } },
});
const initialize = (capabilities: Record<string, unknown>) => ({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities, clientInfo: { name: 'test', version: '1' } },
});

async function post(base: string, bearer: string, body: unknown): Promise<{ status: number; json: any; type: string | null }> {
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, type: res.headers.get('content-type') };
}

interface Protected {
  base: string;
  /** The bodies the MCP server's handler received (only requests the kit let through). */
  ran: unknown[];
}

async function listen(listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** What the MCP server answers: a plain JSON-RPC tools/call result. */
const served = (body: unknown) => JSON.stringify({ jsonrpc: '2.0', id: (body as { id?: unknown })?.id ?? null, result: { content: [{ type: 'text', text: 'ran' }] } });

function guardWith(options: Partial<ProtectedResourceOptions> = {}): ProtectedResource {
  const guard = protectedResource({
    issuer,
    resource: RESOURCE,
    report: { ...CREDENTIALS, flushIntervalMs: 50 },
    onToolCall: (e) => events.push(e),
    ...options,
  });
  guards.push(guard);
  return guard;
}

async function nodeServer(options: Partial<ProtectedResourceOptions> = {}): Promise<Protected> {
  const ran: unknown[] = [];
  const guard = guardWith(options);
  const base = await listen(guard.handler((_req, res, _identity, body) => {
    ran.push(structuredClone(body));
    res.writeHead(200, { 'content-type': 'application/json' }).end(served(body));
  }));
  return { base, ran };
}

let main: Protected;
beforeAll(async () => {
  main = await nodeServer();
});

/** Events arrive when the response finishes: allowed ones may land just after the client has read it. */
async function eventsSettled(count: number): Promise<ToolCallEvent[]> {
  for (let i = 0; i < 100 && events.length < count; i++) await new Promise((r) => setTimeout(r, 10));
  return events;
}

const pending = (extra: Record<string, unknown> = {}) => () => ({
  status: 200,
  body: { decision: 'pending', approval_id: 'appr-1', url: `${issuer}/account/approvals/appr-1`, expires_at: '2030-01-01T00:00:00Z', message: 'Gatehouse needs rita@example.com to approve this call of delete_note.', ...extra },
});

// --- the tests ------------------------------------------------------------------------------------------------

describe('asking Gatehouse', () => {
  it('sends the caller\'s token, the tool, the arguments and their digest, as the MCP server\'s client', async () => {
    const bearer = await token();
    const args = { id: '7', options: { b: 2, a: [1, 'x'] } };
    const res = await post(main.base, bearer, call('delete_note', args));
    expect(res.status).toBe(200);
    expect(asked).toHaveLength(1);
    const { body, authorization } = asked[0]!;
    expect(body).toEqual({ resource: RESOURCE, access_token: bearer, tool: 'delete_note', arguments: args, arguments_digest: argumentsDigest(args) });
    // SHA-256 (hex) of the RFC 8785 canonical JSON (docs/TOOL-APPROVALS.md), computed here independently.
    expect(body.arguments_digest).toBe(createHash('sha256').update('{"id":"7","options":{"a":[1,"x"],"b":2}}').digest('hex'));
    expect(authorization).toBe(`Basic ${Buffer.from('notes+server:s3cret%3Ax').toString('base64')}`);
  });

  it('sends {} for a call without arguments', async () => {
    await post(main.base, await token(), call('archive_note'));
    expect(asked[0]!.body.arguments).toEqual({});
    expect(asked[0]!.body.arguments_digest).toBe(createHash('sha256').update('{}').digest('hex'));
  });

  it('does not ask for a tool without approval, and runs it', async () => {
    const res = await post(main.base, await token(), call('read_note', { id: '1' }));
    expect(res.json.result.content[0].text).toBe('ran');
    expect(asked).toHaveLength(0);
  });

  it('takes a mode it does not know for approval required (fail closed)', async () => {
    decide = pending();
    const before = main.ran.length;
    const res = await post(main.base, await token(), call('odd_tool', {}));
    expect(asked).toHaveLength(1);
    expect(res.json.result.isError).toBe(true);
    expect(main.ran.length).toBe(before);
  });

  it('checks scopes first: a token without the tool\'s scope gets 403 and Gatehouse is not asked', async () => {
    const res = await post(main.base, await token({ scope: 'notes:read' }), call('delete_note', { id: '7' }));
    expect(res.status).toBe(403);
    expect(asked).toHaveLength(0);
  });
});

describe('Gatehouse\'s decision', () => {
  it('approved: the call runs, audited as allowed', async () => {
    const before = main.ran.length;
    const res = await post(main.base, await token(), call('delete_note', { id: '7' }));
    expect(res.json).toEqual({ jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'ran' }] } });
    expect(main.ran.length).toBe(before + 1);
    expect((await eventsSettled(1)).map((e) => [e.tool, e.outcome])).toEqual([['delete_note', 'allowed']]);
  });

  it('not_required: the call runs', async () => {
    decide = () => ({ status: 200, body: { decision: 'not_required' } });
    const before = main.ran.length;
    const res = await post(main.base, await token(), call('delete_note', { id: '7' }));
    expect(res.json.result.content[0].text).toBe('ran');
    expect(main.ran.length).toBe(before + 1);
  });

  it('rejected: a tool error naming the approval, the call not run, audited approval_rejected', async () => {
    decide = () => ({ status: 200, body: { decision: 'rejected', approval_id: 'appr-9' } });
    const before = main.ran.length;
    const res = await post(main.base, await token(), call('delete_note', { id: '7' }, {}, 'r1'));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      jsonrpc: '2.0',
      id: 'r1',
      result: { content: [{ type: 'text', text: 'The person rejected this call of delete_note in Gatehouse (approval appr-9).' }], isError: true },
    });
    expect(main.ran.length).toBe(before);
    expect(events.map((e) => [e.tool, e.outcome])).toEqual([['delete_note', 'approval_rejected']]);
    // Gatehouse's own message, when it gives one.
    decide = () => ({ status: 200, body: { decision: 'rejected', approval_id: 'appr-9', message: 'Rita rejected it.' } });
    expect((await post(main.base, await token(), call('delete_note', { id: '7' }))).json.result.content[0].text).toBe('Rita rejected it.');
  });

  it('pending is audited approval_required and never runs the call', async () => {
    decide = pending();
    const before = main.ran.length;
    await post(main.base, await token(), call('delete_note', { id: '7' }));
    expect(main.ran.length).toBe(before);
    expect(events.map((e) => [e.tool, e.outcome, e.sub, e.client_id])).toEqual([['delete_note', 'approval_required', 'person-1', 'client-1']]);
  });

  it('Gatehouse down (5xx, connection cut, unreachable) or answering nonsense: 503, never a run', async () => {
    const errors: Error[] = [];
    const unreachable = await nodeServer({ report: { ...CREDENTIALS, url: 'http://127.0.0.1:9' }, onError: (e) => errors.push(e) });
    const before = main.ran.length;
    const answers: Array<typeof decide> = [
      () => ({ status: 500, body: { error: 'server_error' } }),
      () => ({ status: 429, body: { error: 'temporarily_unavailable' } }),
      () => 'hang-up',
      () => ({ status: 200, body: { decision: 'maybe' } }),
      () => ({ status: 200, body: { decision: 'pending', approval_id: 'a' } }), // no url
      () => ({ status: 200, body: { decision: 'pending', approval_id: 'a', url: 'javascript:alert(1)' } }),
      () => ({ status: 200, body: 'approved' }),
    ];
    for (const answer of answers) {
      decide = answer;
      const res = await post(main.base, await token(), call('delete_note', { id: '7' }));
      expect(res.status).toBe(503);
      expect(res.json.error).toBe('temporarily_unavailable');
    }
    expect(main.ran.length).toBe(before);
    const res = await post(unreachable.base, await token(), call('delete_note', { id: '7' }));
    expect(res.status).toBe(503);
    expect(res.json.error_description).not.toContain('127.0.0.1:9'); // the reporting address stays with onError
    expect(unreachable.ran).toHaveLength(0);
    expect(errors.some((e) => e.message.includes('delete_note'))).toBe(true);
    expect(events.every((e) => e.outcome === 'approval_required')).toBe(true);
  });

  it('Gatehouse refusing the request (400): a tool error carrying its reason, the call not run', async () => {
    decide = () => ({ status: 400, body: { error: 'invalid_request', error_description: 'the access token has no grant' } });
    const before = main.ran.length;
    const res = await post(main.base, await token(), call('delete_note', { id: '7' }));
    expect(res.status).toBe(200);
    expect(res.json.result.isError).toBe(true);
    expect(res.json.result.content[0].text).toContain('the access token has no grant');
    expect(main.ran.length).toBe(before);
    expect(events.map((e) => e.outcome)).toEqual(['approval_required']);
  });
});

describe('what the client is told while the person has not decided', () => {
  const URL_ = () => `${issuer}/account/approvals/appr-1`;
  const MESSAGE = 'Gatehouse needs rita@example.com to approve this call of delete_note.';
  beforeEach(() => {
    decide = pending();
  });

  it('a 2026-07-28 request declaring URL elicitation: an InputRequiredResult', async () => {
    const res = await post(main.base, await token(), call('delete_note', { id: '7' }, modernMeta(true)));
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^application\/json/);
    expect(res.json).toEqual({
      jsonrpc: '2.0',
      id: 7,
      result: { resultType: 'input_required', inputRequests: { gatehouse_approval: { method: 'elicitation/create', params: { mode: 'url', message: MESSAGE, url: URL_() } } } },
    });
  });

  it('a 2026-07-28 request without URL elicitation: the tool error, with resultType complete', async () => {
    const res = await post(main.base, await token(), call('delete_note', { id: '7' }, modernMeta(false)));
    expect(res.json.result).toEqual({ content: [{ type: 'text', text: `${MESSAGE} Open ${URL_()} to approve or reject it, then call the tool again.` }], isError: true, resultType: 'complete' });
    // Every result the kit writes itself for such a client says so: a rejection too.
    decide = () => ({ status: 200, body: { decision: 'rejected', approval_id: 'appr-9' } });
    expect((await post(main.base, await token(), call('delete_note', { id: '7' }, modernMeta(true)))).json.result.resultType).toBe('complete');
  });

  it('a client that declared URL elicitation at initialize: the error -32042 with the elicitation', async () => {
    const bearer = await token({ client_id: 'legacy-url', sub: 'person-2' });
    const init = await post(main.base, bearer, initialize({ elicitation: { url: {}, form: {} } }));
    expect(init.status).toBe(200); // initialize itself reached the MCP server
    const res = await post(main.base, bearer, call('delete_note', { id: '7' }, {}, 'x'));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      jsonrpc: '2.0',
      id: 'x',
      error: { code: -32042, message: MESSAGE, data: { elicitations: [{ mode: 'url', elicitationId: 'appr-1', url: URL_(), message: MESSAGE }] } },
    });
    // The same person through another client, or another person through this client, declared nothing.
    for (const other of [await token({ client_id: 'other', sub: 'person-2' }), await token({ client_id: 'legacy-url', sub: 'person-3' })]) {
      expect((await post(main.base, other, call('delete_note', { id: '7' }))).json.result.isError).toBe(true);
    }
    // A later initialize without it forgets it.
    await post(main.base, bearer, initialize({ elicitation: { form: {} } }));
    expect((await post(main.base, bearer, call('delete_note', { id: '7' }))).json.result.isError).toBe(true);
  });

  it('any other client: a tool error whose text carries the URL', async () => {
    const bearer = await token({ client_id: 'legacy-plain', sub: 'person-4' });
    await post(main.base, bearer, initialize({ elicitation: {} }));
    const res = await post(main.base, bearer, call('delete_note', { id: '7' }));
    expect(res.json).toEqual({
      jsonrpc: '2.0',
      id: 7,
      result: { content: [{ type: 'text', text: `${MESSAGE} Open ${URL_()} to approve or reject it, then call the tool again.` }], isError: true },
    });
  });

  it('without Gatehouse\'s message, names the person and the tool itself', async () => {
    decide = pending({ message: undefined });
    const res = await post(main.base, await token(), call('archive_note', {}));
    expect(res.json.result.content[0].text).toBe(`Gatehouse needs rita@example.com to approve this call of archive_note. Open ${URL_()} to approve or reject it, then call the tool again.`);
  });
});

describe('the modern retry', () => {
  it('removes the kit\'s own input response before the MCP server sees the request', async () => {
    const before = main.ran.length;
    const retry = call('delete_note', { id: '7' }, { ...modernMeta(true), inputResponses: { gatehouse_approval: { action: 'accept' } } });
    const res = await post(main.base, await token(), retry);
    expect(res.json.result.content[0].text).toBe('ran');
    expect(main.ran.length).toBe(before + 1);
    const seen = main.ran.at(-1) as { params: Record<string, unknown> };
    expect(seen.params).toEqual({ name: 'delete_note', arguments: { id: '7' }, ...modernMeta(true) });
    // The server's own input responses (and its requestState) are left for it.
    const mixed = call('delete_note', { id: '7' }, { inputResponses: { gatehouse_approval: { action: 'accept' }, confirm: { action: 'accept', content: { ok: true } } }, requestState: 'abc' });
    await post(main.base, await token(), mixed);
    expect((main.ran.at(-1) as { params: Record<string, unknown> }).params).toEqual({ name: 'delete_note', arguments: { id: '7' }, inputResponses: { confirm: { action: 'accept', content: { ok: true } } }, requestState: 'abc' });
  });
});

describe('the modern retry while the person decides', () => {
  const opened = (action = 'accept') => call('delete_note', { id: '7' }, { ...modernMeta(true), inputResponses: { gatehouse_approval: { action } } });

  it('a retry sent as soon as the client opened the page waits for the decision, then runs', async () => {
    const waiting = await nodeServer({ approvalWaitMs: 10_000 });
    let n = 0;
    decide = () => (++n < 3 ? pending()() : { status: 200, body: { decision: 'approved' } });
    const res = await post(waiting.base, await token(), opened());
    expect(res.json.result.content[0].text).toBe('ran');
    expect(asked).toHaveLength(3);
    expect(waiting.ran).toHaveLength(1);
  });

  it('waits at most approvalWaitMs, then tells the client to wait again; nothing runs', async () => {
    const waiting = await nodeServer({ approvalWaitMs: 1500 });
    decide = pending();
    const res = await post(waiting.base, await token(), opened());
    expect(res.json.result.resultType).toBe('input_required');
    expect(asked).toHaveLength(2);
    expect(waiting.ran).toHaveLength(0);
  });

  it('a rejection during the wait ends it with the tool error', async () => {
    const waiting = await nodeServer({ approvalWaitMs: 10_000 });
    let n = 0;
    decide = () => (++n < 2 ? pending()() : { status: 200, body: { decision: 'rejected', approval_id: 'appr-1', message: 'Rita rejected this call of delete_note in Gatehouse.' } });
    const res = await post(waiting.base, await token(), opened());
    expect(res.json.result).toEqual({ content: [{ type: 'text', text: 'Rita rejected this call of delete_note in Gatehouse.' }], isError: true, resultType: 'complete' });
    expect(waiting.ran).toHaveLength(0);
  });

  it('a client that declined to open the page, or a first call, is answered at once', async () => {
    decide = pending();
    expect((await post(main.base, await token(), opened('decline'))).json.result.resultType).toBe('input_required');
    expect((await post(main.base, await token(), call('delete_note', { id: '7' }, modernMeta(true)))).json.result.resultType).toBe('input_required');
    expect(asked).toHaveLength(2);
  });
});

describe('arguments a person could not be shown', () => {
  it('arguments nested 5,000 deep: a tool error, Gatehouse not asked, the server still up', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const res = await fetch(`${main.base}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_note","arguments":{"id":1,"x":${deep}}}}`,
    });
    const json = (await res.json()) as { result: { isError: boolean; content: Array<{ text: string }> } };
    expect(json.result.isError).toBe(true);
    expect(json.result.content[0]!.text).toContain('nested deeper than 30 levels');
    expect(asked).toHaveLength(0);
    expect((await post(main.base, await token(), call('read_note', { id: '1' }))).json.result.content[0].text).toBe('ran');
  });

  it('a number JSON cannot represent (1e999 is Infinity, written as null): a tool error, never asked', async () => {
    const res = await fetch(`${main.base}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_note","arguments":{"id":1,"confirm":-1e999}}}',
    });
    const json = (await res.json()) as { result: { isError: boolean; content: Array<{ text: string }> } };
    expect(json.result.content[0]!.text).toContain('cannot represent');
    expect(asked).toHaveLength(0);
  });

  it('a tools/call notification (no id) gets an empty 202 and never runs', async () => {
    const before = main.ran.length;
    const { id: _id, ...notification } = call('delete_note', { id: '7' });
    const res = await fetch(`${main.base}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(notification),
    });
    expect(res.status).toBe(202);
    expect(await res.text()).toBe('');
    expect(main.ran.length).toBe(before);
    expect(asked).toHaveLength(0);
  });
});

describe('calls the kit cannot ask about', () => {
  it('a batch with a call needing approval is refused whole: nothing runs, Gatehouse is not asked', async () => {
    const before = main.ran.length;
    const res = await post(main.base, await token(), [call('read_note', { id: '1' }, {}, 1), call('delete_note', { id: '7' }, {}, 2)]);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(-32600);
    expect(res.json.error.message).toBe("delete_note needs a person's approval and cannot be called in a batch");
    expect(main.ran.length).toBe(before);
    expect(asked).toHaveLength(0);
    expect(events.map((e) => [e.tool, e.outcome])).toEqual([['read_note', 'refused_batch'], ['delete_note', 'approval_required']]);
    // A batch of calls needing none goes through.
    expect((await post(main.base, await token(), [call('read_note', {}, {}, 1), call('search', {}, {}, 2)])).status).toBe(200);
  });

  it('without report credentials: a tool error saying the server cannot ask, never a run', async () => {
    const local = await nodeServer({ report: undefined });
    const res = await post(local.base, await token(), call('delete_note', { id: '7' }, {}, 3));
    expect(res.status).toBe(200);
    expect(res.json.id).toBe(3);
    expect(res.json.result.isError).toBe(true);
    expect(res.json.result.content[0].text).toContain('cannot ask for it (it has no Gatehouse credentials)');
    expect(local.ran).toHaveLength(0);
    expect(asked).toHaveLength(0);
    expect(events.map((e) => e.outcome)).toEqual(['approval_required']);
    // Tools without approval still run.
    expect((await post(local.base, await token(), call('read_note', {}))).json.result.content[0].text).toBe('ran');
  });
});

describe('rules in code', () => {
  it('still take the approvals from the catalogue', async () => {
    const local = await nodeServer({ scopes: ['notes:read', 'notes:write'], toolScopes: { delete_note: ['notes:write'], read_note: ['notes:read'] } });
    decide = pending();
    const res = await post(local.base, await token(), call('delete_note', { id: '7' }));
    expect(res.json.result.isError).toBe(true);
    expect(asked).toHaveLength(1);
    expect(local.ran).toHaveLength(0);
    decide = () => ({ status: 200, body: { decision: 'approved' } });
    expect((await post(local.base, await token(), call('delete_note', { id: '7' }))).json.result.content[0].text).toBe('ran');
  });

  it('answer 503 for a tool call while the catalogue was never fetched; other requests pass', async () => {
    const local = await nodeServer({
      scopes: ['notes:read'],
      toolScopes: { read_note: ['notes:read'] },
      catalogueUrl: `${issuer}/catalogue?resource=${encodeURIComponent('https://unknown.test/mcp')}`,
      onError: () => undefined,
    });
    expect((await post(local.base, await token(), call('read_note', {}))).status).toBe(503);
    expect((await post(local.base, await token(), { jsonrpc: '2.0', id: 1, method: 'tools/list' })).status).toBe(200);
    expect(local.ran).toHaveLength(1);
  });
});

describe('Express and Koa write the kit\'s answers as given', () => {
  let expressBase: string;
  let koaBase: string;
  const ran: unknown[] = [];
  beforeAll(async () => {
    const app = express();
    app.use(express.json());
    app.use(guardWith().express());
    app.post('/mcp', (req, res) => {
      ran.push(structuredClone(req.body));
      res.type('application/json').send(served(req.body));
    });
    expressBase = await listen(app);
    const koa = new Koa();
    koa.use(guardWith().koa());
    koa.use(async (ctx) => {
      const body = (ctx.request as { body?: unknown }).body;
      ran.push(structuredClone(body));
      ctx.type = 'application/json';
      ctx.body = served(body);
    });
    koaBase = await listen(koa.callback());
  });

  it('a pending call (HTTP 200 with a JSON-RPC body) and a 503, through both', async () => {
    for (const base of [expressBase, koaBase]) {
      decide = pending();
      const res = await post(base, await token(), call('delete_note', { id: '7' }, modernMeta(true)));
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^application\/json/);
      expect(res.json.result.resultType).toBe('input_required');
      decide = () => ({ status: 500, body: {} });
      expect((await post(base, await token(), call('delete_note', { id: '7' }))).status).toBe(503);
    }
    expect(ran).toHaveLength(0);
  });

  it('an approved modern retry reaches the route without the kit\'s input response (Express parsed the body first)', async () => {
    for (const base of [expressBase, koaBase]) {
      const res = await post(base, await token(), call('delete_note', { id: '7' }, { inputResponses: { gatehouse_approval: { action: 'accept' } } }));
      expect(res.json.result.content[0].text).toBe('ran');
      expect((ran.at(-1) as { params: Record<string, unknown> }).params).toEqual({ name: 'delete_note', arguments: { id: '7' } });
    }
  });
});

describe('the memory of declared capabilities', () => {
  it(`holds at most ${MAX_REMEMBERED_CLIENTS.toLocaleString('en')} clients, forgetting the least recently declared`, () => {
    expect(MAX_REMEMBERED_CLIENTS).toBe(10_000);
    const memory = new ClientCapabilities();
    const url = { elicitation: { url: {} } };
    memory.declared('first', url);
    memory.declared('second', url);
    for (let i = 0; i < MAX_REMEMBERED_CLIENTS - 2; i++) memory.declared(`k${i}`, url);
    expect(memory.size).toBe(MAX_REMEMBERED_CLIENTS);
    memory.declared('first', url); // declared again: now the most recent
    memory.declared('one more', url);
    expect(memory.size).toBe(MAX_REMEMBERED_CLIENTS);
    expect(memory.urlElicitation('second')).toBe(false); // evicted
    expect(memory.urlElicitation('first')).toBe(true);
    expect(memory.urlElicitation('one more')).toBe(true);
  });

  it('remembers only an object at capabilities.elicitation.url', () => {
    const memory = new ClientCapabilities();
    const cases: Array<[unknown, boolean]> = [[{ elicitation: { url: {} } }, true], [{ elicitation: { url: true } }, false], [{ elicitation: {} }, false], [{}, false], [undefined, false], [{ elicitation: { url: [] } }, false]];
    cases.forEach(([capabilities, expected], i) => {
      memory.declared(`c${i}`, capabilities);
      expect(memory.urlElicitation(`c${i}`)).toBe(expected);
    });
    expect(ClientCapabilities.key('client', 'sub')).toBe('client\nsub');
  });
});
