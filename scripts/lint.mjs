// The lint (docs/contributing.md, "Layering rule"): oxlint with .oxlintrc.json (no `any`, the one-way layer imports, the pure Raft core's
// banned globals and modules), then the project rules oxlint cannot express, checked here. Prints
// one `file:line: problem` per finding and exits non-zero when there is any.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const src = join(root, 'src');

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function isComment(line) {
  const t = line.trim();
  return t.startsWith('//') || t.startsWith('*') || t.startsWith('/*');
}

const problems = [];

// 1. oxlint. Its binary ships inside the npm package (a devDependency), so `npm ci` installs it.
const bin = join(root, 'node_modules', '.bin', 'oxlint');
const ox = spawnSync(bin, ['-c', join(root, '.oxlintrc.json'), '--format', 'unix', '--deny-warnings', 'src', 'test', 'bench', 'examples', 'scripts'], { cwd: root, encoding: 'utf8' });
if (ox.error !== undefined) problems.push(`oxlint did not run: ${ox.error.message} (run npm ci)`);
for (const line of ox.stdout.split('\n')) if (/^\S+:\d+:\d+: /.test(line)) problems.push(line);
if (ox.status !== 0 && problems.length === 0) problems.push(`oxlint failed (exit ${ox.status}): ${ox.stderr.trim()}`);

// 2. No `async`/`await` in src/raft: a state transition runs to completion synchronously
// (oxlint bans the Promise global there, but has no rule against the syntax).
for (const file of walk(join(src, 'raft'))) {
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (!isComment(line) && /\b(await|async)\b/.test(line)) problems.push(`${relative(root, file)}:${i + 1}: async code in the pure Raft core: ${line.trim()}`);
  });
}

// 3. The layer arrows for dynamic `import()`, which oxlint's no-restricted-imports does not see.
// Each folder lists the src folders (and top-level modules) it must not load.
const upper = ['node', 'recipes', 'gateway', 'grpc', 'cli', 'index.ts', 'create-node.ts'];
const forbidden = {
  raft: upper, store: upper, storage: upper, transport: upper, protocol: upper,
  node: ['recipes', 'gateway', 'grpc', 'cli', 'index.ts', 'create-node.ts'],
  recipes: ['grpc', 'cli', 'index.ts', 'create-node.ts'], gateway: ['grpc', 'cli', 'index.ts', 'create-node.ts'],
  grpc: ['cli', 'index.ts', 'create-node.ts'], cli: ['index.ts'],
};
for (const file of walk(src)) {
  const layer = relative(src, file).split('/')[0];
  const banned = forbidden[layer] ?? (layer === 'index.ts' ? [] : ['index.ts']);
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (isComment(line)) return;
    for (const m of line.matchAll(/import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
      const target = relative(src, resolve(dirname(file), m[1])).split('/')[0];
      if (banned.includes(target)) problems.push(`${relative(root, file)}:${i + 1}: src/${layer} must not import ${m[1]}`);
    }
  });
}

for (const p of problems) console.log(p);
console.log(problems.length === 0 ? 'lint: clean' : `lint: ${problems.length} problem(s)`);
process.exit(problems.length === 0 ? 0 : 1);
