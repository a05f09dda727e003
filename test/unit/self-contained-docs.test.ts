// The repository's documentation stands on its own (issue 23, item 6): nothing cites a design file or an article
// outside the checkout, design citations name docs/DESIGN.md's sections (not numbers that drift), and every relative
// link in README.md and docs/*.md reaches a file that exists and, for an #anchor into a markdown file, a heading (or
// an explicit <a id>) that exists under GitHub's slug rules.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve('.');

/** Tracked files (git), or every file outside node_modules, .git and build output when there is no git checkout. */
function trackedFiles(): string[] {
  try {
    return execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
      .split('\0')
      .filter(Boolean);
  } catch {
    const out: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        if (['node_modules', '.git', 'dist', 'data', 'coverage'].includes(entry.name)) continue;
        const path = dir ? `${dir}/${entry.name}` : entry.name;
        if (entry.isDirectory()) walk(path);
        else out.push(path);
      }
    };
    walk('');
    return out;
  }
}

/** Text of a file, or undefined for a binary one (a NUL byte) or one gone from the work tree. */
function text(path: string): string | undefined {
  const full = join(ROOT, path);
  if (!existsSync(full) || !statSync(full).isFile()) return undefined;
  const buf = readFileSync(full);
  return buf.includes(0) ? undefined : buf.toString('utf8');
}

// Built from parts so this file does not match itself.
const FORBIDDEN: Array<{ what: string; pattern: RegExp }> = [
  { what: 'a path outside the repository', pattern: new RegExp(['\\.\\.', 'shared'].join('/')) },
  { what: 'the design file outside the repository', pattern: new RegExp(['shared', 'DESIGN\\.md'].join('/')) },
  { what: 'a numbered design section (cite docs/DESIGN.md by section name)', pattern: new RegExp(`DESIGN\\.md ${'§'}`) },
  { what: 'a seed article outside the repository', pattern: new RegExp(`\\bseed ${'0'}\\d\\d\\b|\\bseeds/`, 'i') },
];

describe('nothing cites a file outside the repository', () => {
  it('no tracked file outside node_modules cites a path beside the checkout, the design file there, a numbered design section or a seed article', () => {
    const hits: string[] = [];
    for (const path of trackedFiles()) {
      if (path.split('/').includes('node_modules')) continue;
      const body = text(path);
      if (body === undefined) continue;
      body.split('\n').forEach((line, i) => {
        for (const { what, pattern } of FORBIDDEN) if (pattern.test(line)) hits.push(`${path}:${i + 1}: ${what}: ${line.trim().slice(0, 160)}`);
      });
    }
    expect(hits).toEqual([]);
  });

  it('docs/DESIGN.md exists, so the citations have somewhere to point', () => {
    expect(existsSync(join(ROOT, 'docs/DESIGN.md'))).toBe(true);
  });
});

/** Lines outside fenced code blocks, each with inline code spans blanked (links in code are not links). */
function proseLines(markdown: string): Array<{ line: string; n: number }> {
  const out: Array<{ line: string; n: number }> = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((raw, i) => {
    const opening = /^\s{0,3}(`{3,}|~{3,})/.exec(raw);
    if (fence) {
      if (opening && opening[1]![0] === fence[0] && opening[1]!.length >= fence.length && raw.trim() === opening[1]) fence = undefined;
      return;
    }
    if (opening) {
      fence = opening[1]!;
      return;
    }
    out.push({ line: raw.replace(/(`+)[\s\S]*?\1/g, (m) => ' '.repeat(m.length)), n: i + 1 });
  });
  return out;
}

/** GitHub's heading anchor: the rendered text, lower-cased, punctuation removed, spaces to hyphens. */
function githubSlug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/`([^`]*)`/g, '$1') // code spans: their content
    .replace(/(\*\*|__|\*)(?=\S)([\s\S]*?\S)\1/g, '$2'); // emphasis markers
  return rendered
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

const anchorCache = new Map<string, Set<string>>();
/** Every anchor a markdown file offers: heading slugs (duplicates numbered as GitHub does) and explicit ids. */
function anchorsOf(path: string): Set<string> {
  let anchors = anchorCache.get(path);
  if (anchors) return anchors;
  anchors = new Set();
  const seen = new Map<string, number>();
  const body = readFileSync(path, 'utf8');
  let fence: string | undefined;
  for (const raw of body.split('\n')) {
    const opening = /^\s{0,3}(`{3,}|~{3,})/.exec(raw);
    if (fence) {
      if (opening && opening[1]![0] === fence[0] && raw.trim() === opening[1]) fence = undefined;
      continue;
    }
    if (opening) {
      fence = opening[1]!;
      continue;
    }
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(raw);
    if (heading) {
      const base = githubSlug(heading[1]!);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count ? `${base}-${count}` : base);
    }
    for (const m of raw.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  }
  anchorCache.set(path, anchors);
  return anchors;
}

/** Relative link targets of a markdown file: inline links, images and reference definitions. */
function relativeLinks(markdown: string): Array<{ target: string; n: number }> {
  const out: Array<{ target: string; n: number }> = [];
  for (const { line, n } of proseLines(markdown)) {
    const targets = [
      ...[...line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!),
      ...[...line.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/g)].map((m) => m[1]!),
      ...[...line.matchAll(/<a\s[^>]*href="([^"]+)"/g)].map((m) => m[1]!),
    ];
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue; // https:, mailto:, …
      out.push({ target, n });
    }
  }
  return out;
}

const MARKDOWN = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('relative links in README.md and docs/*.md resolve', () => {
  it.each(MARKDOWN)('%s: every relative link reaches an existing file, and every #anchor an existing heading', (file) => {
    const from = join(ROOT, file);
    const broken: string[] = [];
    for (const { target, n } of relativeLinks(readFileSync(from, 'utf8'))) {
      const hash = target.indexOf('#');
      const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
      const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
      const resolved = pathPart ? resolve(dirname(from), pathPart.split('?')[0]!) : from;
      if (!resolved.startsWith(ROOT) || !existsSync(resolved)) {
        broken.push(`${file}:${n}: ${target}: no such file (${relative(ROOT, resolved)})`);
        continue;
      }
      if (anchor && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor.toLowerCase())) {
        broken.push(`${file}:${n}: ${target}: no heading with that anchor in ${relative(ROOT, resolved)}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('githubSlug follows GitHub', () => {
  it.each([
    ['Decisions and deviations', 'decisions-and-deviations'],
    ['Issue 16: first-admin setup and token lifetimes', 'issue-16-first-admin-setup-and-token-lifetimes'],
    ['Resource-server kit (`@gatehouse/resource-server`)', 'resource-server-kit-gatehouseresource-server'],
    ['Registration (DCR, RFC 7591 and 7592)', 'registration-dcr-rfc-7591-and-7592'],
    ['Any OpenID Connect provider (Keycloak, Auth0, Authentik, PingOne, …)', 'any-openid-connect-provider-keycloak-auth0-authentik-pingone-'],
  ])('%s → #%s', (heading, slug) => {
    expect(githubSlug(heading)).toBe(slug);
  });
});
