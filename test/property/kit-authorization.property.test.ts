// Fuzz of the resource-server kit's Authorization header handling (RFC 6750 §2.1, §3; RFC 9068): a node:http MCP
// endpoint protected by `protectedResource()` receives random Authorization headers — random schemes and spacing,
// random tokens, JWT-shaped garbage, a real token one character off, the real token with a wrong scheme or
// duplicated. Never a 5xx, never a crash; a refusal is 400/401 with a Bearer challenge; the handler behind the guard
// runs only for the real token presented as `Bearer <token>`.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { protectedResource } from '../../packages/resource-server/src/index.js';
import { makeFixture, type Fixture } from '../../bench/fixture.js';
import { FUZZ_RUNS, fuzzTimeout, inLanes, mutated, send, text, tokenish } from './fuzz-config.js';

let fx: Fixture;
let server: Server;
let url: string;
let served = 0;

beforeAll(async () => {
  fx = await makeFixture();
  const guard = protectedResource({ issuer: fx.issuer, resource: fx.resource, scopes: ['tools:read', 'tools:write'], toolScopes: { deploy: ['tools:write'] } });
  server = createServer(guard.handler((_req, res) => {
    served++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
  }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await fx?.close();
});

const header = () => fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'DPoP', 'Token', 'Bearer:', ''), fc.constantFrom(' ', '  ', '\t', ''), fc.oneof(tokenish, mutated(fx.token), text)).map(([s, sp, t]) => `${s}${sp}${t}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Basic ', 'DPoP ', 'bearer,', 'Bearer  Bearer '), fc.constant(fx.token)).map(([s, t]) => `${s}${t}`) },
  { weight: 1, arbitrary: fc.constantFrom(`Bearer ${fx.token}, Bearer ${fx.token}`, `Bearer ${fx.token} x`, `Bearer ${fx.token}.`, `Bearer .${fx.token}`, `Bearer ${fx.token.split('.').slice(0, 2).join('.')}.`,
    `Bearer ${fx.token.split('.').slice(0, 2).join('.')}`, 'Bearer', 'Bearer ', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', ',') },
  { weight: 1, arbitrary: text },
);

const headerSafe = (v: string) => /^[\t\x20-\x7e\x80-\xff]*$/.test(v) && v === v.trim();
const isTheRealBearer = (v: string) => new RegExp(`^bearer +${fx.token.replace(/[.]/g, '\\.')}$`, 'i').test(v);

describe('the kit with random Authorization headers', () => {
  it(`never a 5xx; 400/401 with a Bearer challenge; the handler runs only for the real token (${FUZZ_RUNS} cases)`, async () => {
    await inLanes(() =>
      fc.asyncProperty(header(), fc.constantFrom('POST', 'GET'), async (value, method) => {
        if (!headerSafe(value)) return; // fetch cannot send it: no client can
        const before = served;
        const res = await send(url, {
          method,
          headers: { authorization: value, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          ...(method === 'POST' ? { body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' } : {}),
        });
        if (res.status >= 500) throw new Error(`5xx for ${JSON.stringify(value.slice(0, 200))}: ${res.status} ${res.text.slice(0, 200)}`);
        if (res.status === 200) {
          if (!isTheRealBearer(value)) throw new Error(`authorized a malformed header: ${JSON.stringify(value.slice(0, 300))}`);
          if (served === before) throw new Error('200 without the handler');
          return;
        }
        if (![400, 401].includes(res.status)) throw new Error(`unexpected ${res.status} for ${JSON.stringify(value.slice(0, 200))}: ${res.text.slice(0, 200)}`);
        if (!/^Bearer\b/.test(res.headers.get('www-authenticate') ?? '')) throw new Error(`refusal without a Bearer challenge: ${res.status} ${res.headers.get('www-authenticate')}`);
      }),
    );
  }, fuzzTimeout(5));

  it('the real token still passes (the guard kept nothing bad from the storm)', async () => {
    const before = served;
    const res = await send(url, { method: 'POST', headers: { authorization: `Bearer ${fx.token}`, 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' });
    expect(res.status).toBe(200);
    expect(served).toBe(before + 1);
  });
});
