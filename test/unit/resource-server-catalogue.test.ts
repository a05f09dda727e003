// The kit's copy of Gatehouse's catalogue: fetched once, fresh for a while, then refreshed in the background while
// the stale copy keeps serving — also when Gatehouse is down — and never a request left hanging on it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CatalogueSource, parseCatalogue } from '../../packages/resource-server/src/catalogue.js';

const RESOURCE = 'https://mcp.example.test/mcp';
const doc = (tools: string[]) => ({ resource: RESOURCE, name: 'Example', scopes: { 'tools:read': { description: 'Read', tools } } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fetch that answers from a script, counting calls. */
function scripted(...answers: (() => Response | Promise<Response>)[]) {
  let i = 0;
  const f = (async () => answers[Math.min(i++, answers.length - 1)]!()) as unknown as typeof fetch;
  return { fetch: f, calls: () => i };
}
const ok = (body: unknown) => () => Response.json(body);
const down = () => () => Promise.reject(new TypeError('fetch failed'));

describe('the catalogue cache', () => {
  it('fetches once while fresh', async () => {
    const s = scripted(ok(doc(['search'])));
    const source = new CatalogueSource({ url: 'http://gh/catalogue', resource: RESOURCE, fetch: s.fetch });
    expect((await source.get())?.scopes['tools:read']?.tools).toEqual(['search']);
    await source.get();
    await source.get();
    expect(s.calls()).toBe(1);
  });

  it('serves the stale copy at once after the TTL and picks up the refreshed one', async () => {
    const s = scripted(ok(doc(['a'])), ok(doc(['b'])));
    const source = new CatalogueSource({ url: 'http://gh/catalogue', resource: RESOURCE, fetch: s.fetch, ttlMs: 20 });
    expect((await source.get())?.scopes['tools:read']?.tools).toEqual(['a']);
    await sleep(30);
    expect((await source.get())?.scopes['tools:read']?.tools).toEqual(['a']); // stale, refresh started
    await sleep(5);
    expect((await source.get())?.scopes['tools:read']?.tools).toEqual(['b']);
  });

  it('keeps serving the last good copy while Gatehouse is down (stale-while-error), and reports the failure', async () => {
    const errors: Error[] = [];
    const s = scripted(ok(doc(['a'])), down());
    const source = new CatalogueSource({ url: 'http://gh/catalogue', resource: RESOURCE, fetch: s.fetch, ttlMs: 10, retryMs: 0, onError: (e) => errors.push(e) });
    await source.get();
    for (let i = 0; i < 3; i++) {
      await sleep(15);
      expect((await source.get())?.scopes['tools:read']?.tools).toEqual(['a']);
    }
    await sleep(5);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('without any copy, answers undefined and does not ask again before retryMs', async () => {
    const s = scripted(() => new Response('{"error":"invalid_target"}', { status: 404 }), ok(doc(['a'])));
    const source = new CatalogueSource({ url: 'http://gh/catalogue', resource: RESOURCE, fetch: s.fetch, retryMs: 30 });
    expect(await source.get()).toBeUndefined();
    expect(await source.get()).toBeUndefined();
    expect(s.calls()).toBe(1);
    await sleep(35);
    expect(await source.get()).toBeDefined();
  });

  it('shares one fetch between concurrent requests', async () => {
    const s = scripted(async () => {
      await sleep(20);
      return Response.json(doc(['a']));
    });
    const source = new CatalogueSource({ url: 'http://gh/catalogue', resource: RESOURCE, fetch: s.fetch });
    await Promise.all([source.get(), source.get(), source.get()]);
    expect(s.calls()).toBe(1);
  });

  describe('against a server that never answers', () => {
    let server: Server;
    let url: string;
    beforeAll(async () => {
      server = createServer(() => undefined); // accepts, never responds
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/catalogue`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });

    it('gives up after timeoutMs', async () => {
      const source = new CatalogueSource({ url, resource: RESOURCE, timeoutMs: 100 });
      const started = Date.now();
      expect(await source.get()).toBeUndefined();
      expect(Date.now() - started).toBeLessThan(2000);
    });
  });
});

describe('reading a catalogue document', () => {
  it('keeps descriptions and tools, defaults what is missing', () => {
    expect(parseCatalogue({ resource: 'https://MCP.example.test:443/mcp', scopes: { a: { tools: ['x'] }, b: {} } }, RESOURCE)).toEqual({
      resource: RESOURCE,
      scopes: { a: { description: 'a', tools: ['x'] }, b: { description: 'b', tools: [] } },
      approvals: {},
    });
  });

  it('reads the approval modes, taking any mode it does not know for each-call (fail closed)', () => {
    const approvals = { delete_note: 'each-call', archive: 'once-per-grant', odd: 'sometimes', none: null, Once: 'ONCE-PER-GRANT', __proto__tool: 1 };
    const parsed = parseCatalogue({ resource: RESOURCE, scopes: {}, approvals }, RESOURCE).approvals;
    expect(parsed).toEqual({ delete_note: 'each-call', archive: 'once-per-grant', odd: 'each-call', none: 'each-call', Once: 'each-call', __proto__tool: 'each-call' });
    // A tool named like an Object.prototype member is an ordinary entry, and one not listed is not inherited.
    const proto = parseCatalogue(JSON.parse(`{"resource":"${RESOURCE}","scopes":{},"approvals":{"__proto__":"once-per-grant"}}`), RESOURCE).approvals;
    expect(Object.hasOwn(proto, '__proto__')).toBe(true);
    expect(proto['__proto__' as string]).toBe('once-per-grant');
    expect(Object.hasOwn(proto, 'toString')).toBe(false);
  });

  it.each([
    ['another resource', { resource: 'https://other.test/mcp', scopes: {} }],
    ['no scopes', { resource: RESOURCE }],
    ['scopes as a list', { resource: RESOURCE, scopes: ['a'] }],
    ['tools not strings', { resource: RESOURCE, scopes: { a: { tools: [1] } } }],
    ['not an object', 'catalogue'],
    ['approvals as a list', { resource: RESOURCE, scopes: {}, approvals: ['delete_note'] }],
    ['approvals as a string', { resource: RESOURCE, scopes: {}, approvals: 'each-call' }],
  ])('refuses %s', (_name, body) => {
    expect(() => parseCatalogue(body, RESOURCE)).toThrow();
  });
});
