// The kit's reporting parts on their own (docs/MCP-SERVER-REPORTING.md): the canonical digest of arguments, reading
// how a call ended from the response the MCP server wrote, the bounded tool-call queue (batches, retries with the
// same batch id, drops counted and told, flush on close) and the recorder's cleaning of hostile fields. Against a
// live Gatehouse: test/integration/kit-reporting.test.ts.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { argumentsDigest, canonicalJson } from '../../packages/resource-server/src/reporting/canonical-json.js';
import { GatehouseApi } from '../../packages/resource-server/src/reporting/gatehouse-api.js';
import { messagesIn, watchResponse, type CallResult } from '../../packages/resource-server/src/reporting/response-watch.js';
import { ToolCallQueue, type ToolCallEvent } from '../../packages/resource-server/src/reporting/tool-call-queue.js';
import { storableText, ToolCallRecorder } from '../../packages/resource-server/src/reporting/tool-call-recorder.js';

describe('canonical JSON and the arguments digest', () => {
  it('sorts keys at every depth and writes no whitespace (RFC 8785 for parsed JSON)', () => {
    expect(canonicalJson({ b: 1, a: [{ z: true, y: null }, 'x'], c: { e: 1.5, d: 'é' } })).toBe('{"a":[{"y":null,"z":true},"x"],"b":1,"c":{"d":"é","e":1.5}}');
    // UTF-16 code unit order, as JCS says: upper case before lower case, "\u00e9" after "z".
    expect(canonicalJson({ é: 1, z: 2, Z: 3 })).toBe('{"Z":3,"z":2,"é":1}');
  });

  it('digests arguments nested far deeper than a recursive walk could (any token holder chooses them)', () => {
    const deep = JSON.parse(`{"a":${'['.repeat(50_000)}${']'.repeat(50_000)}}`);
    expect(argumentsDigest(deep)).toMatch(/^[0-9a-f]{64}$/);
    expect(canonicalJson(JSON.parse('[[[{"b":[1,{"d":2,"c":3}]}]]]'))).toBe('[[[{"b":[1,{"c":3,"d":2}]}]]]');
  });

  it('gives the same digest whatever the key order, and {} for absent arguments', () => {
    expect(argumentsDigest({ id: 7, text: 'secret value' })).toBe(argumentsDigest(JSON.parse('{"text":"secret value","id":7}')));
    expect(argumentsDigest(undefined)).toBe(createHash('sha256').update('{}').digest('hex'));
    expect(argumentsDigest({ id: 7 })).not.toBe(argumentsDigest({ id: 8 }));
    expect(argumentsDigest({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('reading how calls ended from the response', () => {
  it('reads a JSON body, a batch, and an event stream', () => {
    expect(messagesIn('{"jsonrpc":"2.0","id":1,"result":{}}', 'application/json')).toEqual([{ jsonrpc: '2.0', id: 1, result: {} }]);
    expect(messagesIn('[{"id":1,"result":{}},{"id":2,"error":{"code":-1}}]', 'application/json; charset=utf-8')).toHaveLength(2);
    const sse = 'event: message\ndata: {"jsonrpc":"2.0","id":"a","result":{"isError":true}}\n\nevent: message\ndata: {"jsonrpc":"2.0",\ndata: "id":2,"result":{}}\n\n';
    expect(messagesIn(sse, 'text/event-stream')).toEqual([{ jsonrpc: '2.0', id: 'a', result: { isError: true } }, { jsonrpc: '2.0', id: 2, result: {} }]);
    expect(messagesIn('not json', 'application/json')).toEqual([]);
    expect(messagesIn('{"id":1}', 'text/html')).toEqual([]);
  });

  /** A real response on a real socket: the handler writes what `write` does; resolves the watch's results. */
  async function watched(ids: unknown[], write: (res: ServerResponse) => void, limit = 1 << 16, waitMs?: number): Promise<CallResult[]> {
    let results!: Promise<CallResult[]>;
    const server: Server = createServer((_req, res) => {
      res.setHeader('Access-Control-Allow-Origin', '*'); // as the kit does (admit) before the server writes
      results = new Promise((resolve) => watchResponse(res, ids, limit, resolve, waitMs));
      write(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => {
      const req = request({ port, host: '127.0.0.1', path: '/' }, (res: IncomingMessage) => {
        res.resume();
        res.on('end', resolve);
        res.on('error', () => resolve());
        res.on('aborted', () => resolve());
      });
      req.on('error', () => resolve());
      req.end();
    });
    const out = await results;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    return out;
  }

  it('tells a result, a result with isError and a JSON-RPC error apart, by request id', async () => {
    const results = await watched([1, 'two', 3, 4], (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: message\ndata: {"jsonrpc":"2.0","id":"two","result":{"isError":true,"content":[]}}\n\n');
      res.write(Buffer.from('event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"content":[]}}\n\n'));
      res.end('event: message\ndata: {"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"bad"}}\n\n');
    });
    // id 4 has no answer in the response.
    expect(results).toEqual(['allowed', 'tool_error', 'tool_error', 'unknown']);
  });

  it('does not take the string "1" for the id 1', async () => {
    const batch = '[{"jsonrpc":"2.0","id":"1","result":{}},{"jsonrpc":"2.0","id":2,"result":{}}]';
    expect(await watched([1, 2], (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(batch))).toEqual(['unknown', 'allowed']);
    // A content type set with setHeader is read too.
    expect(await watched([2], (res) => { res.setHeader('Content-Type', 'application/json'); res.end(batch); })).toEqual(['allowed']);
  });

  it('cannot tell which call an answer is for when a batch repeats an id: every call with it is unknown', async () => {
    const answers = '[{"jsonrpc":"2.0","id":1,"result":{"isError":true}},{"jsonrpc":"2.0","id":2,"result":{}}]';
    expect(await watched([1, 1, 2], (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(answers))).toEqual(['unknown', 'unknown', 'allowed']);
  });

  it('records a response still open after its wait as unknown (a client that stops reading)', async () => {
    let held!: ServerResponse;
    const started = Date.now();
    const results = await watched([1], (res) => {
      held = res;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: message\n');
      setTimeout(() => res.end(), 2500); // ends well after the watch gave up (swept each second)
    }, 1 << 16, 100);
    expect(results).toEqual(['unknown']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(held.writableFinished).toBe(true);
  });

  it('gives up copying past its bound, and a cut response ends as unknown', async () => {
    expect(await watched([1], (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`{"jsonrpc":"2.0","id":1,"result":{"text":"${'x'.repeat(5000)}"}}`), 1000)).toEqual(['unknown']);
    expect(
      await watched([1], (res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: message\n');
        setTimeout(() => res.destroy(), 10);
      }),
    ).toEqual(['unknown']);
  });
});

/** A Gatehouse stand-in for the tool-call endpoint: answers with `status()` and keeps every body it got. */
async function reportSink(status: () => number) {
  const bodies: Array<{ batch_id: string; dropped: number; events: ToolCallEvent[]; resource: string }> = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(text));
      const code = status();
      res.writeHead(code, { 'content-type': 'application/json' }).end(code === 200 ? '{"accepted":1}' : '{"error":"temporarily_unavailable"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, bodies, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const event = (n: number): ToolCallEvent => ({ at: new Date().toISOString(), tool: `t${n}`, sub: 's', client_id: 'c', scopes: [], outcome: 'allowed', duration_ms: 1, arguments_sha256: '0'.repeat(64) });
const api = (url: string) => new GatehouseApi({ issuer: url, resource: 'https://mcp.example.com/mcp', credentials: { clientId: 'notes server', clientSecret: 's3cret:x' } });

describe('the tool-call queue', () => {
  it('authenticates with HTTP Basic, form-urlencoding id and secret (RFC 6749 §2.3.1), and names its resource', async () => {
    let authorization = '';
    const server = createServer((req, res) => {
      authorization = req.headers.authorization ?? '';
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const result = await api(`http://127.0.0.1:${(server.address() as AddressInfo).port}`).postToolCalls({ events: [] });
    await new Promise<void>((r) => server.close(() => r()));
    expect(result.ok).toBe(true);
    expect(Buffer.from(authorization.replace(/^Basic /, ''), 'base64').toString()).toBe('notes+server:s3cret%3Ax');
  });

  it('sends in batches, keeps a batch id across retries, and counts drops once the queue is full', async () => {
    let up = false;
    const sink = await reportSink(() => (up ? 200 : 503));
    const queue = new ToolCallQueue(api(sink.url), { limit: 5, batchSize: 3, flushIntervalMs: 10 });
    for (let i = 0; i < 8; i++) queue.push(event(i));
    expect(queue.stats()).toMatchObject({ queued: 5, dropped: 3 });
    // Gatehouse is down: the first batch is tried, refused, and tried again later with the same id.
    await new Promise((r) => setTimeout(r, 50));
    expect(sink.bodies.length).toBeGreaterThanOrEqual(1);
    const firstId = sink.bodies[0]!.batch_id;
    up = true;
    const stats = await queue.close(5000);
    expect(stats).toMatchObject({ queued: 0, sent: 5, dropped: 3 });
    expect(stats.failures).toBeGreaterThanOrEqual(1);
    const accepted = sink.bodies.filter((_, i) => i >= sink.bodies.length - 2);
    expect(accepted[0]!.batch_id).toBe(firstId);
    expect(accepted.map((b) => b.events.map((e) => e.tool))).toEqual([['t0', 't1', 't2'], ['t3', 't4']]);
    // The drops travel with the first batch Gatehouse accepts, and only once.
    expect(accepted.map((b) => b.dropped)).toEqual([3, 0]);
    expect(sink.bodies.every((b) => b.resource === 'https://mcp.example.com/mcp')).toBe(true);
    await sink.close();
  });

  it('drops a batch Gatehouse refuses as malformed (400) instead of holding every later one back', async () => {
    let calls = 0;
    const sink = await reportSink(() => (++calls === 1 ? 400 : 200));
    const queue = new ToolCallQueue(api(sink.url), { batchSize: 2, flushIntervalMs: 10 });
    for (let i = 0; i < 4; i++) queue.push(event(i));
    const stats = await queue.close(5000);
    expect(stats).toMatchObject({ queued: 0, sent: 2, dropped: 2 });
    expect(sink.bodies.at(-1)!.dropped).toBe(2);
    await sink.close();
  });

  it('bounds a batch in bytes, splits one Gatehouse finds too large (413), and drops events too old to be accepted', async () => {
    const bodies: Array<{ batch_id: string; events: ToolCallEvent[]; dropped: number }> = [];
    const server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        const body = JSON.parse(text);
        bodies.push(body);
        // This Gatehouse takes at most 3 events a batch.
        if (body.events.length > 3) return res.writeHead(413, { 'content-type': 'application/json' }).end('{"error":"invalid_request"}');
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":1}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const queue = new ToolCallQueue(api(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), { batchSize: 500, flushIntervalMs: 10 });
    const old = { ...event(99), at: new Date(Date.now() - 8 * 86_400_000).toISOString() };
    queue.push(old);
    // Client ids of 2,048 characters of control characters: each event may take 12 kB of JSON.
    for (let i = 0; i < 10; i++) queue.push({ ...event(i), client_id: '\u0001'.repeat(2048) });
    const stats = await queue.close(5000);
    await new Promise<void>((r) => server.close(() => r()));
    expect(stats).toMatchObject({ queued: 0, sent: 10, dropped: 1 });
    expect(bodies.every((b) => Buffer.byteLength(JSON.stringify(b)) < 1024 * 1024)).toBe(true);
    const accepted = bodies.filter((b) => b.events.length <= 3);
    expect(accepted.flatMap((b) => b.events.map((e) => e.tool))).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`));
    expect(accepted[0]!.dropped).toBe(1); // the stale event, told once
    expect(new Set(bodies.map((b) => b.batch_id)).size).toBe(bodies.length); // a split batch goes under a new id
  });

  it('keeps every batch under the 1 MiB body limit of Gatehouse, however large its events', async () => {
    const sink = await reportSink(() => 200);
    const queue = new ToolCallQueue(api(sink.url), { batchSize: 500, flushIntervalMs: 10 });
    for (let i = 0; i < 200; i++) queue.push({ ...event(i), client_id: `https://c.example/${'\u0001'.repeat(2000)}`, tool: '\u0002'.repeat(256) });
    expect(await queue.close(5000)).toMatchObject({ queued: 0, sent: 200, dropped: 0 });
    expect(sink.bodies.length).toBeGreaterThan(1);
    expect(sink.bodies.reduce((n, b) => n + b.events.length, 0)).toBe(200);
    await sink.close();
  });

  it('never waits on an unreachable Gatehouse to accept an event, and close() gives up at its deadline', async () => {
    const queue = new ToolCallQueue(new GatehouseApi({ issuer: 'http://127.0.0.1:9', resource: 'https://m/mcp', credentials: { clientId: 'a', clientSecret: 'b' } }), { limit: 1000, flushIntervalMs: 5 });
    const started = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) queue.push(event(i));
    const pushMs = Number(process.hrtime.bigint() - started) / 1e6;
    expect(queue.stats().queued).toBe(1000);
    // Not a timing assertion on the product: a sanity bound showing push does no I/O (a thousand sends would take seconds).
    expect(pushMs).toBeLessThan(1000);
    const before = Date.now();
    const stats = await queue.close(300);
    expect(Date.now() - before).toBeLessThan(3000);
    expect(stats.queued).toBe(1000);
  });
});

describe('the recorder', () => {
  it('makes every field acceptable to Gatehouse: NUL, lone surrogates, lengths, scope tokens', () => {
    expect(storableText('a\u0000b\ud800', 10, '-')).toBe('a\uFFFDb\uFFFD');
    expect(storableText('', 10, '(empty)')).toBe('(empty)');
    expect(storableText('x'.repeat(300), 256, '-')).toHaveLength(256);
    const seen: ToolCallEvent[] = [];
    const recorder = new ToolCallRecorder({ onToolCall: (e) => seen.push(e), watchBytes: 1024 });
    const identity = { token: 't', sub: 'u1', clientId: 'c1', scopes: [], resource: 'https://m/mcp', claims: {} };
    recorder.refused(identity, [{ call: { kind: 'tool', name: '\u0000'.repeat(3), args: { password: 'hunter2' } }, scopes: ['ok', 'bad scope', '"'], outcome: 'refused_unmapped' }]);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ tool: '\uFFFD\uFFFD\uFFFD', sub: 'u1', client_id: 'c1', scopes: ['ok'], outcome: 'refused_unmapped', duration_ms: 0 });
    expect(JSON.stringify(seen[0])).not.toContain('hunter2');
    expect(seen[0]!.arguments_sha256).toBe(argumentsDigest({ password: 'hunter2' }));
  });
});

describe('what the kit says it is', () => {
  it('reports the version its package.json has', async () => {
    const { KIT } = await import('../../packages/resource-server/src/reporting/inventory-reporter.js');
    const pkg = JSON.parse(readFileSync('packages/resource-server/package.json', 'utf8')) as { name: string; version: string };
    expect(KIT).toEqual({ name: pkg.name, version: pkg.version });
  });
});
