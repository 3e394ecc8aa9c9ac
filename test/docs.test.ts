// Proves the documentation holds together: README.md is a landing page npm can show whole (at most
// 300 lines and 64 KB) with the commands a user and a newcomer need; every relative link in
// README.md and docs/*.md reaches an existing file (and its #anchor an existing heading, by
// GitHub's slug rules); every docs page is linked from the README; no development history and no
// reference to notes outside the repo remain; every section a comment in src/ or scripts/ cites
// by name exists; and every TypeScript sample imports only what the package exports, unless it is
// marked internal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

/** A sample that shows internals starts with this line (docs/contributing.md, "Documentation"). */
const INTERNAL_MARKER = '// internal: inside the repo, not part of the package';

const docPages = readdirSync(join(root, 'docs')).filter((n) => n.endsWith('.md')).sort().map((n) => `docs/${n}`);
const pages = ['README.md', ...docPages];
const readme = read('README.md');

/** The markdown outside fenced code blocks, line by line (fences hold code, not prose or links). */
function proseLines(markdown: string): string[] {
  const out: string[] = [];
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    else if (!inFence) out.push(line);
  }
  return out;
}

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m || m[1] === undefined) continue;
    const text = m[1].replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = text.toLowerCase().replace(/[^\p{L}\p{N}\p{M} _-]/gu, '').replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** Relative link targets of a page's prose: `[text](target)`, without web or mail addresses. */
function linksOf(markdown: string): string[] {
  const links: string[] = [];
  for (const line of proseLines(markdown)) {
    const withoutCode = line.replace(/`[^`]*`/g, '');
    for (const m of withoutCode.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1];
      if (target !== undefined && !/^[a-z][a-z0-9+.-]*:/i.test(target)) links.push(target);
    }
  }
  return links;
}

/** Fenced ```ts blocks of a page. */
function tsBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  let current: string[] | undefined;
  for (const line of markdown.split('\n')) {
    if (current === undefined) {
      if (/^\s*```(ts|typescript)\s*$/.test(line)) current = [];
    } else if (/^\s*```\s*$/.test(line)) {
      blocks.push(current.join('\n'));
      current = undefined;
    } else current.push(line);
  }
  return blocks;
}

/** Names the package root exports: runtime values, plus type-only names of its export lists. */
async function packageExports(): Promise<Set<string>> {
  const names = new Set(Object.keys(await import('../src/index.ts')));
  for (const file of ['src/index.ts', 'src/recipes/index.ts', 'src/errors.ts']) {
    const text = read(file);
    for (const m of text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
      for (const part of (m[1] ?? '').split(',')) {
        const name = part.trim().split(/\s+as\s+/).pop()?.trim();
        if (name) names.add(name);
      }
    }
    for (const m of text.matchAll(/export\s+(?:type|interface|class|function|const|async function)\s+([A-Za-z_$][\w$]*)/g)) {
      if (m[1]) names.add(m[1]);
    }
  }
  return names;
}

/** What `import … from '<specifier>'` may name: the package's `exports` map entries. */
function exportedSpecifiers(): Set<string> {
  const pkg = JSON.parse(read('package.json')) as { name: string; exports: Record<string, unknown> };
  return new Set(Object.keys(pkg.exports).map((sub) => (sub === '.' ? pkg.name : `${pkg.name}/${sub.replace(/^\.\//, '')}`)));
}

test('README.md is a landing page npm shows whole: at most 300 lines and 64 KB', () => {
  const lines = readme.split('\n').length - (readme.endsWith('\n') ? 1 : 0);
  assert.ok(lines <= 300, `README.md has ${lines} lines (at most 300)`);
  const bytes = Buffer.byteLength(readme, 'utf8');
  assert.ok(bytes <= 64 * 1024, `README.md is ${bytes} bytes (at most 64 KB)`);
});

test('README shows the install command and the newcomer commands', () => {
  for (const cmd of ['npm install quorumkv', 'npm ci', 'npm test', 'npm run demo']) {
    assert.ok(readme.includes(cmd), `README lacks ${cmd}`);
  }
});

test('every relative link in README.md and docs/*.md resolves, anchors included', () => {
  const problems: string[] = [];
  for (const page of pages) {
    for (const link of linksOf(read(page))) {
      const [pathPart = '', anchor] = link.split('#', 2);
      const target = pathPart === '' ? join(root, page) : resolve(dirname(join(root, page)), decodeURI(pathPart));
      if (!target.startsWith(root) || !existsSync(target)) {
        problems.push(`${page}: ${link} (no such file)`);
        continue;
      }
      if (anchor !== undefined && anchor !== '') {
        if (!target.endsWith('.md') || statSync(target).isDirectory()) continue;
        const anchors = anchorsOf(readFileSync(target, 'utf8'));
        if (!anchors.has(anchor)) problems.push(`${page}: ${link} (no heading #${anchor} in ${relative(root, target)})`);
      }
    }
  }
  assert.equal(problems, []);
});

test('every docs page is linked from README.md', () => {
  const linked = new Set(linksOf(readme).map((l) => l.split('#')[0]));
  const missing = docPages.filter((p) => !linked.has(p));
  assert.equal(missing, [], `README.md does not link ${missing.join(', ')}`);
});

test('README and docs describe the present: no development history', () => {
  const history = [
    /\bsessions? \d/i,
    /\bsession-\d/i,
    /\bend of session\b/i,
    /\bin session\b/i,
    /\bthis session\b/i,
    /\bthe session's runs\b/i,
    /\bother engineers\b/i,
    /\bthe lead\b/i,
    /\bfrom the review\b/i,
    /\bwe were asked\b/i,
    /\bbisect/i,
    /\bAI\b|\bagents?\b/,
  ];
  const problems: string[] = [];
  for (const page of pages) {
    read(page).split('\n').forEach((line, i) => {
      for (const re of history) if (re.test(line)) problems.push(`${page}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.equal(problems, []);
});

test('design and style notes are referenced only inside the repo (docs/design.md, docs/contributing.md)', () => {
  const allowed = new Set(['docs/design.md', 'docs/contributing.md']);
  const problems: string[] = [];
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir)).flatMap((n) => {
      const p = `${dir}/${n}`;
      if (n === 'node_modules' || n.startsWith('.')) return [];
      return statSync(join(root, p)).isDirectory() ? walk(p) : [p];
    });
  const files = ['README.md', 'CHANGELOG.md', ...['src', 'test', 'bench', 'scripts', 'examples', 'docs'].flatMap(walk)];
  const notes = ['DESIGN', 'STYLE'].map((n) => `${n}.md`);
  for (const file of files) {
    if (allowed.has(file) || file === 'test/docs.test.ts' || !/\.(ts|mjs|js|md|json)$/.test(file)) continue;
    const text = read(file);
    for (const note of notes) if (text.includes(note)) problems.push(`${file} mentions ${note}`);
  }
  assert.equal(problems, []);
});

/** A cited name is a heading, or the bold lead of a paragraph or list item (`**Name.**`, `- **Name** (…)`). */
function citedAs(line: string, name: string): boolean {
  if (/^#{1,6}\s/.test(line)) return line.replace(/^#+\s+/, '').trim() === name;
  const lead = /^\s*(?:[-*]\s+)?\*\*([^*]+)\*\*/.exec(line)?.[1];
  return lead !== undefined && lead.replace(/[.:]$/, '').trim() === name;
}

test('comments in src/ and scripts/ that cite a docs section by name cite one that exists', () => {
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir)).flatMap((n) => {
      const p = `${dir}/${n}`;
      return statSync(join(root, p)).isDirectory() ? walk(p) : /\.(ts|mjs)$/.test(n) ? [p] : [];
    });
  const problems: string[] = [];
  for (const file of ['src', 'scripts'].flatMap(walk)) {
    // Comments wrap: join continuation lines (` * ` or `// `) so a cited name may span two lines.
    const text = read(file).replace(/\n\s*(?:\*|\/\/)\s*/g, ' ');
    for (const m of text.matchAll(/docs\/([\w-]+)\.md(?:,|\s)\s*\(?"([^"]+)"/g)) {
      const page = `docs/${m[1] ?? ''}.md`;
      const heading = m[2] ?? '';
      if (!existsSync(join(root, page))) problems.push(`${file}: ${page} does not exist`);
      else if (!proseLines(read(page)).some((l) => citedAs(l, heading))) {
        problems.push(`${file}: no heading "${heading}" in ${page}`);
      }
    }
  }
  assert.equal(problems, []);
});

test('every ts sample imports only what the package exports, or is marked internal', async () => {
  const specifiers = exportedSpecifiers();
  const names = await packageExports();
  const problems: string[] = [];
  for (const page of pages) {
    for (const block of tsBlocks(read(page))) {
      if (block.trimStart().startsWith(INTERNAL_MARKER)) continue;
      for (const m of block.matchAll(/import\s+(type\s+)?([\s\S]*?)\s+from\s+['"]([^'"]+)['"]/g)) {
        const specifier = m[3] ?? '';
        if (!specifiers.has(specifier)) {
          problems.push(`${page}: imports from '${specifier}' (the package exports ${[...specifiers].join(', ')})`);
          continue;
        }
        const list = /\{([^}]*)\}/.exec(m[2] ?? '');
        for (const part of (list?.[1] ?? '').split(',')) {
          const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]?.trim();
          if (name && !names.has(name)) problems.push(`${page}: '${name}' is not exported by '${specifier}'`);
        }
      }
    }
  }
  assert.equal(problems, []);
});

test.run();
