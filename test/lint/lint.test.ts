// Proves the lint (scripts/lint.mjs: oxlint plus the project rules) guards the layer arrows and
// the pure Raft core: the clean tree passes, and each deliberately bad file written into the tree
// makes it fail naming that file. Every bad file is removed again, whatever happens.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

function lint(): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'lint.mjs')], { cwd: root, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** Runs the lint with `text` written at `path` (relative to the repository), then removes it. */
function lintWith(path: string, text: string): { status: number | null; out: string } {
  const file = join(root, path);
  const dir = dirname(file);
  // A probe in a folder that does not exist yet (a new layer) takes that folder with it.
  const newDir = !existsSync(dir);
  try {
    if (newDir) mkdirSync(dir, { recursive: true });
    writeFileSync(file, text);
    return lint();
  } finally {
    rmSync(newDir ? dir : file, { recursive: true, force: true });
  }
}

test('the clean tree passes', () => {
  const r = lint();
  assert.is(r.status, 0, r.out);
  assert.match(r.out, /lint: clean/);
});

const bad: readonly (readonly [string, string, string])[] = [
  ['src/node imports recipes', 'src/node/zz-lint-probe.ts', "import { acquireLock } from '../recipes/index.ts';\nexport const probe = acquireLock;\n"],
  ['src/node loads the gateway lazily', 'src/node/zz-lint-probe.ts', "export const probe = (): Promise<unknown> => import('../gateway/server.ts');\n"],
  ['src/recipes imports the package entry', 'src/recipes/zz-lint-probe.ts', "import type { QuorumNode } from '../index.ts';\nexport type Probe = QuorumNode;\n"],
  ['src/gateway imports grpc', 'src/gateway/zz-lint-probe.ts', "import { createGrpcServer } from '../grpc/server.ts';\nexport const probe = createGrpcServer;\n"],
  ['src/node loads grpc lazily', 'src/node/zz-lint-probe.ts', "export const probe = (): Promise<unknown> => import('../grpc/server.ts');\n"],
  ['src/gateway imports the client endpoint', 'src/gateway/zz-lint-probe.ts', "import { startClientEndpoint } from '../client-endpoint.ts';\nexport const probe = startClientEndpoint;\n"],
  ['src/grpc imports v2', 'src/grpc/zz-lint-probe.ts', "import type { Probe as P } from '../v2/zz-absent.ts';\nexport type Probe = P;\n"],
  ['src/v2 imports grpc', 'src/v2/zz-lint-probe.ts', "import { createGrpcServer } from '../grpc/server.ts';\nexport const probe = createGrpcServer;\n"],
  ['src/ops imports the cli', 'src/ops/zz-lint-probe.ts', "import type { Probe as P } from '../cli/zz-absent.ts';\nexport type Probe = P;\n"],
  ['src/store imports node', 'src/store/zz-lint-probe.ts', "import type { QuorumNode } from '../node/node.ts';\nexport type Probe = QuorumNode;\n"],
  ['src/raft reads the clock', 'src/raft/zz-lint-probe.ts', 'export const probe = (): number => Date.now();\n'],
  ['src/raft draws Math.random', 'src/raft/zz-lint-probe.ts', 'export const probe = (): number => Math.random();\n'],
  ['src/raft sets a timer', 'src/raft/zz-lint-probe.ts', 'export const probe = (f: () => void): unknown => setTimeout(f, 1);\n'],
  ['src/raft imports node:fs', 'src/raft/zz-lint-probe.ts', "import { readFileSync } from 'node:fs';\nexport const probe = readFileSync;\n"],
  ['src/raft awaits', 'src/raft/zz-lint-probe.ts', 'export async function probe(p: PromiseLike<number>): Promise<number> {\n  return await p;\n}\n'],
  ['a new src folder imports the package entry', 'src/zz-lint-probe-layer/probe.ts', "import type { QuorumNode } from '../index.ts';\nexport type Probe = QuorumNode;\n"],
  ['a top-level src module imports the package entry', 'src/zz-lint-probe.ts', "import { createNode } from './index.ts';\nexport const probe = createNode;\n"],
  ['src uses Record<string, any>', 'src/node/zz-lint-probe.ts', 'export const probe: Record<string, any> = {};\n'],
];

for (const [what, path, text] of bad) {
  test(`the lint fails naming the file when ${what}`, () => {
    const r = lintWith(path, text);
    assert.is(r.status, 1, r.out);
    assert.ok(r.out.includes(path), `the output names ${path}:\n${r.out}`);
  });
}

test.run();
