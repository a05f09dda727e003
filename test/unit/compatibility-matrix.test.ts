// docs/COMPATIBILITY.md cannot go stale (issue 23, item 7): its matrix is what the tests' marker comments declare
// (scripts/compatibility.ts), each marker is backed by its file, and a test file that drives an MCP SDK client
// declares it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkMarkers, CLIENTS, currentMatrix, readMarkers, REGISTRATIONS, renderMatrix, ROOT } from '../../scripts/compatibility.js';

const { markers, malformed } = readMarkers();

describe('the compatibility markers in test/', () => {
  it('are all well-formed (client=… or registration=…, then covers=a,b)', () => {
    expect(malformed).toEqual([]);
  });

  it('name known clients, shapes and capabilities, and each marked file contains what its marker claims', () => {
    expect(checkMarkers(markers)).toEqual([]);
  });

  it('cover every registration shape the issue names', () => {
    const replayed = new Set(markers.filter((m) => m.kind === 'registration').map((m) => m.id));
    expect(REGISTRATIONS.map((r) => r.id).filter((id) => !replayed.has(id))).toEqual([]);
  });

  it('are declared by every test file that drives an official SDK client (its transport, or its registerClient)', () => {
    const undeclared: string[] = [];
    const files = [...new Set(markers.map((m) => m.file))];
    const walk = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(`${dir}/${e.name}`) : e.name.endsWith('.test.ts') ? [`${dir}/${e.name}`] : []));
    for (const file of walk('test')) {
      const source = readFileSync(join(ROOT, file), 'utf8');
      if (!/new StreamableHTTPClientTransport\w*\(|\bregisterClient\(/.test(source)) continue;
      const declared = markers.filter((m) => m.file === file && m.kind === 'client').map((m) => m.id);
      for (const client of CLIENTS.filter((c) => c.id.startsWith('sdk-'))) {
        if (client.evidence.test(source) && !declared.includes(client.id)) undeclared.push(`${file}: drives ${client.id} without a "client=${client.id}" marker`);
      }
      if (!files.includes(file) && !declared.length) undeclared.push(`${file}: drives an SDK client without any marker`);
    }
    expect(undeclared).toEqual([]);
  });

  it('are declared by every test file that runs mcp-remote or the Inspector CLI from node_modules', () => {
    const programs = CLIENTS.filter((c) => !c.id.startsWith('sdk-'));
    expect(programs.map((c) => c.id)).toEqual(['mcp-remote', 'inspector-cli']);
    const undeclared: string[] = [];
    const walk = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(`${dir}/${e.name}`) : e.name.endsWith('.test.ts') ? [`${dir}/${e.name}`] : []));
    for (const file of walk('test')) {
      const source = readFileSync(join(ROOT, file), 'utf8');
      for (const program of programs) {
        if (program.evidence.test(source) && !markers.some((m) => m.file === file && m.kind === 'client' && m.id === program.id)) undeclared.push(`${file}: runs ${program.id} without a "client=${program.id}" marker`);
      }
    }
    expect(undeclared).toEqual([]);
  });
});

describe('docs/COMPATIBILITY.md', () => {
  it('holds exactly the matrix the markers declare (npm run compatibility rewrites it)', () => {
    const expected = renderMatrix(markers);
    const current = currentMatrix();
    if (current !== expected) {
      // The whole expected section, to paste or to compare with what `npm run compatibility` writes.
      process.stderr.write(`docs/COMPATIBILITY.md is stale; run \`npm run compatibility\`. Expected:\n\n${expected}\n`);
    }
    expect(current).toBe(expected);
  });

  it('shows a client no test drives as not driven, rather than leaving it out', () => {
    const matrix = currentMatrix() ?? '';
    for (const client of CLIENTS) {
      expect(matrix).toContain(`| ${client.name} |`);
      if (!markers.some((m) => m.kind === 'client' && m.id === client.id)) expect(matrix).toContain(client.whenAbsent);
    }
  });
});
