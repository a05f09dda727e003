// The kit is published alone as `gatehouse/resource-server` (dist/resource-server, built by tsconfig.kit.json):
// it may import only jose, node built-ins and its own files. An import of the rest of src/ would build, then fail
// in every MCP server that installs the package.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const KIT = resolve('src/resource-server');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('the kit ships alone', () => {
  it.each(files(KIT).map((f) => [relative(KIT, f), f]))('%s imports only jose, node: built-ins and the kit', (_name, file) => {
    const source = readFileSync(file, 'utf8');
    const specifiers = [...source.matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2]!);
    for (const spec of specifiers) {
      if (spec.startsWith('.')) expect(resolve(file, '..', spec).startsWith(KIT)).toBe(true);
      else expect(spec === 'jose' || spec.startsWith('node:')).toBe(true);
    }
  });
});
