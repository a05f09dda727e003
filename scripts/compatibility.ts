// The compatibility matrix of docs/COMPATIBILITY.md, built from what the tests declare (issue 23, item 7). A test file
// declares what it proves with marker comments, one per client or registration shape it drives:
//
//   // compatibility: client=sdk-v1 covers=dcr,cimd,refresh,step-up,bearer
//   // compatibility: registration=chatgpt covers=cimd,private_key_jwt,refresh
//
// test/unit/compatibility-matrix.test.ts checks that the table in docs/COMPATIBILITY.md equals the one built here and
// that each marked file really contains what its markers claim. `npm run compatibility` rewrites the table.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Subject {
  id: string;
  /** The row's name in the table. */
  name: string;
  /** What a file driving or replaying it must contain (a cheap check that the marker is not a wish). */
  evidence: RegExp;
  /** Said in the row when no test declares it. */
  whenAbsent: string;
}

/** MCP clients a test can drive end to end. A client no test drives still gets its row, saying so. */
export const CLIENTS: readonly Subject[] = [
  { id: 'sdk-v1', name: 'official TypeScript SDK v1 (`@modelcontextprotocol/sdk`)', evidence: /@modelcontextprotocol\/sdk\/client/, whenAbsent: 'not driven by any test' },
  { id: 'sdk-v2', name: 'official TypeScript SDK v2 (`@modelcontextprotocol/client`)', evidence: /@modelcontextprotocol\/client'/, whenAbsent: 'not driven by any test' },
  // The two programs are run from node_modules (spawned, as MCP hosts and people run them), not imported.
  { id: 'mcp-remote', name: 'mcp-remote 0.15 (the program)', evidence: /node_modules\/mcp-remote\//, whenAbsent: 'not driven by any test; its registration is replayed below' },
  { id: 'inspector-cli', name: 'MCP Inspector CLI v1 (`@modelcontextprotocol/inspector-cli`, what `inspector --cli` runs)', evidence: /node_modules\/@modelcontextprotocol\/inspector/, whenAbsent: 'not driven by any test' },
];

/** Registration shapes: real clients' DCR bodies or metadata documents, replayed over real HTTP. */
export const REGISTRATIONS: readonly Subject[] = [
  { id: 'claude-code', name: 'Claude Code', evidence: /Claude Code/, whenAbsent: 'not replayed' },
  { id: 'claude-ai', name: 'claude.ai', evidence: /https:\/\/claude\.ai\/api\/mcp\/auth_callback/, whenAbsent: 'not replayed' },
  { id: 'chatgpt', name: 'ChatGPT', evidence: /https:\/\/chatgpt\.com\/connector_platform_oauth_redirect/, whenAbsent: 'not replayed' },
  { id: 'vs-code', name: 'VS Code', evidence: /https:\/\/vscode\.dev\/redirect/, whenAbsent: 'not replayed' },
  { id: 'cursor', name: 'Cursor', evidence: /cursor:\/\/anysphere\./, whenAbsent: 'not replayed' },
  { id: 'mcp-remote', name: 'mcp-remote', evidence: /software_id/, whenAbsent: 'not replayed' },
];

export interface Capability {
  id: string;
  title: string;
  /** Every pattern must occur in a file whose marker claims the capability. */
  evidence: RegExp[];
}

export const CAPABILITIES: readonly Capability[] = [
  { id: 'dcr', title: 'DCR', evidence: [/postRegistration|registerClient|registerPublicClient|authProvider|sdkSignIn|\/register\b/] },
  { id: 'cimd', title: 'CIMD', evidence: [/DocumentHost|clientMetadataUrl/] },
  { id: 'step-up', title: 'step-up', evidence: [/insufficient_scope/] },
  { id: 'refresh', title: 'refresh', evidence: [/refresh_token|refreshAuthorization/] },
  { id: 'private_key_jwt', title: 'private_key_jwt', evidence: [/private_key_jwt/, /client_assertion/] },
  { id: 'bearer', title: 'calls an MCP server', evidence: [/callTool|Bearer /] },
];

export interface Marker {
  file: string;
  line: number;
  kind: 'client' | 'registration';
  id: string;
  covers: string[];
}

const MARKER = /^\s*\/\/ compatibility:(.*)$/;
const MARKER_SHAPE = /^ (client|registration)=([a-z0-9-]+) covers=([a-z_-]+(?:,[a-z_-]+)*)\s*$/;

export const ROOT = resolve(fileURLToPath(import.meta.url), '../..');

function testFiles(dir = 'test'): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...testFiles(path));
    else if (entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out.sort();
}

/** Every marker under test/, and every line that looks like a marker but is not one. */
export function readMarkers(): { markers: Marker[]; malformed: string[] } {
  const markers: Marker[] = [];
  const malformed: string[] = [];
  for (const file of testFiles()) {
    readFileSync(join(ROOT, file), 'utf8').split('\n').forEach((text, i) => {
      const m = MARKER.exec(text);
      if (!m) return;
      const shape = MARKER_SHAPE.exec(m[1]!);
      if (!shape) {
        malformed.push(`${file}:${i + 1}: ${text.trim()}`);
        return;
      }
      markers.push({ file, line: i + 1, kind: shape[1] as Marker['kind'], id: shape[2]!, covers: shape[3]!.split(',') });
    });
  }
  return { markers, malformed };
}

/** What is wrong with the markers: unknown names, and claims the marked file does not back. */
export function checkMarkers(markers: Marker[]): string[] {
  const problems: string[] = [];
  for (const marker of markers) {
    const where = `${marker.file}:${marker.line}`;
    const subjects = marker.kind === 'client' ? CLIENTS : REGISTRATIONS;
    const subject = subjects.find((s) => s.id === marker.id);
    const source = readFileSync(join(ROOT, marker.file), 'utf8');
    if (!subject) problems.push(`${where}: unknown ${marker.kind} "${marker.id}" (known: ${subjects.map((s) => s.id).join(', ')})`);
    else if (!subject.evidence.test(source)) problems.push(`${where}: claims ${marker.kind} ${marker.id}, but the file does not contain ${subject.evidence}`);
    for (const id of marker.covers) {
      const capability = CAPABILITIES.find((c) => c.id === id);
      if (!capability) {
        problems.push(`${where}: unknown capability "${id}" (known: ${CAPABILITIES.map((c) => c.id).join(', ')})`);
        continue;
      }
      for (const pattern of capability.evidence) {
        if (!pattern.test(source)) problems.push(`${where}: claims ${id}, but the file does not contain ${pattern}`);
      }
    }
  }
  return problems;
}

/** A link from docs/ to a test file, named by its path under test/. */
const link = (file: string) => `[\`${file.replace(/^test\//, '')}\`](../${file})`;

function table(kind: Marker['kind'], subjects: readonly Subject[], markers: Marker[]): string {
  const rows = [
    `| ${kind === 'client' ? 'client' : 'registration shape'} | ${CAPABILITIES.map((c) => c.title).join(' | ')} | proved by |`,
    `|---|${CAPABILITIES.map(() => ':-:').join('|')}|---|`,
  ];
  for (const subject of subjects) {
    const mine = markers.filter((m) => m.kind === kind && m.id === subject.id);
    if (!mine.length) {
      rows.push(`| ${subject.name} |${CAPABILITIES.map(() => ' — |').join('')} ${subject.whenAbsent} |`);
      continue;
    }
    const cells = CAPABILITIES.map((c) => (mine.some((m) => m.covers.includes(c.id)) ? '✓' : '—'));
    const files = [...new Set(mine.map((m) => m.file))].sort().map(link);
    rows.push(`| ${subject.name} | ${cells.join(' | ')} | ${files.join(', ')} |`);
  }
  return rows.join('\n');
}

/** One line per marker: which file proves which capability for which client or shape. */
function byFile(markers: Marker[]): string {
  const name = (m: Marker) => (m.kind === 'client' ? CLIENTS : REGISTRATIONS).find((s) => s.id === m.id)?.name ?? m.id;
  const title = (id: string) => CAPABILITIES.find((c) => c.id === id)?.title ?? id;
  return [...markers]
    .sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line)
    .map((m) => `- ${link(m.file)}: ${m.kind === 'client' ? 'client' : 'registration of'} ${name(m)} — ${m.covers.map(title).join(', ')}`)
    .join('\n');
}

export const BEGIN = '<!-- compatibility-matrix:begin (generated by `npm run compatibility` from the tests\' markers; do not edit) -->';
export const END = '<!-- compatibility-matrix:end -->';

/** The generated part of docs/COMPATIBILITY.md, markers included. */
export function renderMatrix(markers: Marker[]): string {
  return [
    BEGIN,
    '',
    '### MCP clients driven end to end',
    '',
    table('client', CLIENTS, markers),
    '',
    '### Registration shapes replayed',
    '',
    table('registration', REGISTRATIONS, markers),
    '',
    '### Which test proves what',
    '',
    byFile(markers),
    '',
    END,
  ].join('\n');
}

export const DOC = join(ROOT, 'docs/COMPATIBILITY.md');

/** The generated part as it stands in the document, or undefined when its markers are missing. */
export function currentMatrix(doc = readFileSync(DOC, 'utf8')): string | undefined {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  return start === -1 || end < start ? undefined : doc.slice(start, end + END.length);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { markers, malformed } = readMarkers();
  const problems = [...malformed.map((m) => `malformed marker: ${m}`), ...checkMarkers(markers)];
  if (problems.length) {
    process.stderr.write(`${problems.join('\n')}\n`);
    process.exit(1);
  }
  const doc = readFileSync(DOC, 'utf8');
  if (currentMatrix(doc) === undefined) {
    process.stderr.write(`${relative(ROOT, DOC)} has no ${BEGIN} … ${END} section\n`);
    process.exit(1);
  }
  const updated = doc.replace(currentMatrix(doc)!, renderMatrix(markers));
  if (updated !== doc) writeFileSync(DOC, updated);
  process.stdout.write(`${relative(ROOT, DOC)}: ${updated === doc ? 'already up to date' : 'matrix rewritten'} (${markers.length} markers)\n`);
}
