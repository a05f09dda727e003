// Fuzz of the paths of every route (issue 15: every rule holds for every spelling the server answers). For each
// route of the table (src/http/route-table.ts — a new route is fuzzed without editing this file), random spellings
// of its path — letter case flipped, slashes doubled or added, characters percent-encoded (either hex case), dot
// segments, NUL, lone surrogates and malformed percent-encoding inserted — are sent with the route's own methods and
// a body that would register a client or ask for a token. Properties: never a 5xx; a spelling the edge does not
// resolve to a route (RouteResolver, the server's own) is refused with 400/404 and an OAuth error, sets no cookie
// and redirects nowhere; and no spelling but the canonical `/register` ever stores a client.
import fc from 'fast-check';
import { RouteResolver } from '../../src/http/route-resolution.js';
import { ROUTE_TABLE, type RouteSpec } from '../../src/http/route-table.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { rawRequest } from '../helpers/raw-http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { FUZZ_ENV, FUZZ_RUNS, FUZZ_SEED, fuzzTimeout } from './fuzz-config.js';

let db: TestDatabase;
let gh: TestServer;
const resolver = new RouteResolver();

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer({ ...db.env, ...FUZZ_ENV, METRICS_TOKEN: 'fuzz-metrics-token' });
});
afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

const REGISTRATION = JSON.stringify({ redirect_uris: ['http://127.0.0.1:1/cb'], token_endpoint_auth_method: 'none', client_name: 'path fuzz' });
const FORM = 'grant_type=client_credentials&client_id=x&scope=tools:read';

const concrete = (spec: RouteSpec) => spec.path.replace(/:([A-Za-z]+)/g, (_, name: string) => `p${name}`);

type Edit = (path: string, at: number) => string;
const hex = (c: string, upper: boolean) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')[upper ? 'toUpperCase' : 'toLowerCase']()}`;
const EDITS: Record<string, Edit> = {
  flipCase: (p, i) => p.slice(0, i) + (p[i] === p[i]!.toUpperCase() ? p[i]!.toLowerCase() : p[i]!.toUpperCase()) + p.slice(i + 1),
  upper: (p) => p.toUpperCase(),
  encodeUpper: (p, i) => p.slice(0, i) + hex(p[i]!, true) + p.slice(i + 1),
  encodeLower: (p, i) => p.slice(0, i) + hex(p[i]!, false) + p.slice(i + 1),
  doubleSlash: (p, i) => { const j = p.lastIndexOf('/', i); return `${p.slice(0, j)}/${p.slice(j)}`; },
  trailingSlash: (p) => `${p}/`,
  dotSegment: (p, i) => { const j = p.lastIndexOf('/', i); return `${p.slice(0, j)}/.${p.slice(j)}`; },
  dotDot: (p, i) => { const j = p.lastIndexOf('/', i); return `${p.slice(0, j)}/x/..${p.slice(j)}`; },
  encodedDot: (p, i) => { const j = p.lastIndexOf('/', i); return `${p.slice(0, j)}/%2E${p.slice(j)}`; },
  nul: (p, i) => `${p.slice(0, i)}%00${p.slice(i)}`,
  badPercent: (p, i) => `${p.slice(0, i)}%Z${p.slice(i)}`,
  loneSurrogate: (p, i) => `${p.slice(0, i)}%ED%A0%80${p.slice(i)}`,
  encodedSlash: (p, i) => { const j = p.lastIndexOf('/', i); return j > 0 ? `${p.slice(0, j)}%2F${p.slice(j + 1)}` : `${p}%2F`; },
};

const spelling = fc
  .record({
    spec: fc.constantFrom(...ROUTE_TABLE),
    edits: fc.array(fc.tuple(fc.constantFrom(...Object.keys(EDITS)), fc.nat()), { minLength: 1, maxLength: 3 }),
    methodPick: fc.nat(),
    query: fc.constantFrom('', '?a=1', '?a=%00', '?resource=https://x/&resource=https://y/'),
  })
  .map(({ spec, edits, methodPick, query }) => {
    let path = concrete(spec);
    for (const [name, at] of edits) path = EDITS[name]!(path, 1 + (at % Math.max(1, path.length - 1))); // a request target starts with "/"
    const methods = spec.methods;
    return { spec, path, query, method: methods[methodPick % methods.length]! };
  });

async function storedClients(): Promise<number> {
  const row = (await gh.services.handle.db('oidc_payloads').where({ model: 'Client' }).count('id as n').first()) as { n: string | number };
  return Number(row.n);
}

it(
  `every spelling of every route: no 5xx, refused at the edge unless it is a canonical route, nothing stored (${FUZZ_RUNS} cases)`,
  async () => {
    // One lane: the property counts stored clients, which a concurrent canonical registration would change.
    await fc.assert(
      fc.asyncProperty(spelling, async ({ path, method, query }) => {
        const before = await storedClients();
        const body = method === 'POST' || method === 'PUT' ? (path.toLowerCase().includes('register') ? REGISTRATION : FORM) : undefined;
        const res = await rawRequest(gh.issuer, `${path}${query}`, {
          method,
          headers: { 'content-type': body === REGISTRATION ? 'application/json' : 'application/x-www-form-urlencoded', authorization: 'Bearer fuzz-metrics-token' },
          body,
        });
        const what = `${method} ${path}${query} → ${res.status} ${res.text.slice(0, 200)}`;
        if (res.status >= 500) throw new Error(`5xx: ${what}`);
        const resolved = resolver.resolve(method, path);
        if (resolved.kind !== 'route') {
          if (![400, 404, 405].includes(res.status)) throw new Error(`an unresolved spelling was answered: ${what}`);
          if (method !== 'HEAD' && typeof res.json().error !== 'string') throw new Error(`not an OAuth error: ${what}`);
          if (res.headers['set-cookie'] || res.headers.location) throw new Error(`a refused spelling set a cookie or redirected: ${what}`);
        }
        const after = await storedClients();
        const canonicalRegistration = resolved.kind === 'route' && resolved.route.id === 'registration' && method === 'POST' && !query.includes('%00');
        if (after !== before && !canonicalRegistration) throw new Error(`a client was stored through ${what}`);
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS, endOnFailure: true },
    );
  },
  fuzzTimeout(40),
);
