// The kit is its own package, `@gatehouse/resource-server` (packages/resource-server, built to its dist/ by its
// tsconfig.json), whose only runtime dependency is jose: it may import only jose, node built-ins and its own files.
// An import of anything else — Gatehouse's src/, another package — would build, then fail in every MCP server that
// installs the package (test/integration/kit-package.test.ts installs the packed tarball and runs it).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const PACKAGE = resolve('packages/resource-server');
const KIT = join(PACKAGE, 'src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('the kit ships alone', () => {
  it.each(files(KIT).map((f) => [relative(KIT, f), f]))('%s imports only jose, node: built-ins and the kit', (_name, file) => {
    const source = readFileSync(file, 'utf8');
    const specifiers = [...source.matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2]!);
    for (const spec of specifiers) {
      if (spec.startsWith('.')) expect(resolve(file, '..', spec).startsWith(KIT + '/')).toBe(true);
      else expect(spec === 'jose' || spec.startsWith('node:')).toBe(true);
    }
  });

  it('declares jose as its only runtime dependency, at the range Gatehouse itself uses', () => {
    const pkg = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; peerDependencies?: unknown; optionalDependencies?: unknown };
    const root = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies).toEqual({ jose: root.dependencies.jose });
    expect(pkg.peerDependencies).toBeUndefined();
    expect(pkg.optionalDependencies).toBeUndefined();
  });
});
