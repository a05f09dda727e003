// Layers import downward only (issue 15, design point 8; docs/ARCHITECTURE.md "Layers"): a module may import its own
// layer and the layers below it, never one above, and there is no import cycle between top-level modules. This is
// what keeps the edge (http/) free of protocol knowledge and the protocol core (oauth/) free of pages: first-party
// clients are injected from the top (gatehouse.ts), and the views sit in a bottom layer.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';

const SRC = resolve('src');

/** Lowest first. A module of rank r may import modules of rank ≤ r (same-rank imports are checked for cycles). */
export const LAYERS: Record<string, number> = {
  crypto: 0,
  cache: 0,
  net: 0,
  'log.ts': 0,
  'package-version.ts': 0,
  'heap-growth.ts': 0, // a V8 setting made at start (docs/PERFORMANCE.md, "Memory")
  'config.ts': 0, // the settings' schema; the checks of modules above it are added by configuration.ts
  'request-id.ts': 0, // the id every log line, audit row and error page of one request carries
  db: 2,
  views: 2,
  audit: 3,
  http: 4,
  metrics: 5,
  upstream: 6,
  policy: 7,
  oauth: 8,
  interaction: 9,
  reporting: 9,
  signals: 9.2, // what identity providers push (docs/UNIVERSAL-LOGOUT.md): global token revocation, Shared Signals
  approvals: 9.5, // per-call approval (docs/TOOL-APPROVALS.md): reads the reports' inventories
  admin: 9.6, // the admin service layer (docs/ARCHITECTURE.md "The admin service layer"): console, CLI and admin API call it
  console: 10,
  'admin-api': 10.2, // the admin API (docs/ADMIN-API.md): the service layer behind tokens or a console session
  account: 10.5, // the person's own pages; its sessions are the console's kind (console/sessions.ts)
  'app-deps.ts': 11,
  'policy-table.ts': 12,
  'app.ts': 13,
  'gatehouse.ts': 14,
  cluster: 15,
  'configuration.ts': 16,
  'main.ts': 17,
  'cli.ts': 18,
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const moduleOf = (file: string) => relative(SRC, file).split(sep)[0]!;

function imports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g)]
    .map((m) => m[1] ?? m[2]!)
    .filter((s) => s.startsWith('.'))
    .map((s) => resolve(file, '..', s.replace(/\.js$/, '.ts')));
}

const edges = files(SRC).flatMap((file) => imports(file).filter((t) => t.startsWith(SRC)).map((target) => ({ file, from: moduleOf(file), to: moduleOf(target) })));

describe('layers import downward only', () => {
  it('every top-level module of src/ has a layer', () => {
    const unknown = [...new Set(files(SRC).map(moduleOf))].filter((m) => !(m in LAYERS));
    expect(unknown).toEqual([]);
  });

  it('outside src/, a module imports only migrations/ and the kit (packages/resource-server/src, below every layer)', () => {
    const allowed = [SRC, resolve('migrations'), resolve('packages/resource-server/src')].map((dir) => dir + sep);
    const outside = files(SRC).flatMap((file) => imports(file).filter((t) => !allowed.some((dir) => t.startsWith(dir))).map((t) => `${relative(SRC, file)} → ${relative(process.cwd(), t)}`));
    expect(outside).toEqual([]);
  });

  it('no module imports a layer above its own', () => {
    const upward = edges.filter((e) => e.from !== e.to && LAYERS[e.to]! > LAYERS[e.from]!).map((e) => `${relative(SRC, e.file)} → ${e.to}`);
    expect(upward).toEqual([]);
  });

  it('http/ knows nothing of oauth/, and oauth/ nothing of console/ or interaction/', () => {
    const forbidden = edges.filter((e) => (e.from === 'http' && e.to === 'oauth') || (e.from === 'oauth' && (e.to === 'console' || e.to === 'interaction')));
    expect(forbidden.map((e) => `${relative(SRC, e.file)} → ${e.to}`)).toEqual([]);
  });

  it('there is no import cycle between top-level modules', () => {
    const graph = new Map<string, Set<string>>();
    for (const e of edges) if (e.from !== e.to) graph.set(e.from, (graph.get(e.from) ?? new Set()).add(e.to));
    const cycles: string[] = [];
    const visit = (node: string, path: string[]) => {
      if (path.includes(node)) return cycles.push([...path.slice(path.indexOf(node)), node].join(' → '));
      for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
      return undefined;
    };
    for (const node of graph.keys()) visit(node, []);
    expect(cycles).toEqual([]);
  });
});
