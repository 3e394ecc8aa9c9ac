// Proves the progress line of long CLI commands: on a terminal, `snapshot save`, `backup` and
// `snapshot restore` draw a line that reaches 100 % of the snapshot's size; without a terminal
// they write nothing extra; redraws are spaced by REDRAW_INTERVAL_MS (checked with a fake clock).
// In-process: one member with its client endpoint on a free loopback port, and the CLI's runCli.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../src/cli/program.ts';
import { progressLine, progressText, REDRAW_INTERVAL_MS } from '../../src/cli/progress-line.ts';
import { clientUrlOf, createNode, memoryStorage } from '../../src/index.ts';
import type { QuorumNode } from '../../src/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'qkv-progress-'));
let node: QuorumNode;
let url = '';
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

test.before(async () => {
  node = await createNode({ id: 'p1', storage: memoryStorage(), logger: quiet, heartbeatMs: 20, electionTimeoutMs: 200, client: { port: 0 } });
  await node.ready();
  const value = 'v'.repeat(32 * 1024);
  for (let i = 0; i < 20; i++) await node.put(`/big/${i}`, value);
  url = clientUrlOf(node) ?? '';
});

test.after(async () => {
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(tty: boolean, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(['--endpoints', url, ...argv], { out: (s) => void (out += s), err: (s) => void (err += s), tty });
  return { code, out, err };
}

test('snapshot save and backup draw a progress line to 100 % on a terminal', async () => {
  const file = join(dir, 'a.snap');
  const save = await run(true, 'snapshot', 'save', file);
  assert.is(save.code, 0, save.err);
  const size = statSync(file).size;
  assert.match(save.err, /^\rsaving snapshot .*a\.snap: /);
  assert.ok(save.err.endsWith(`${progressText(`saving snapshot ${file}:`, size, size)}\n`), save.err);
  assert.match(save.err, /\(100%\)\n$/);
  const backup = await run(true, 'backup', '--backup-dir', dir, '--backup-file', 'b.snap');
  assert.is(backup.code, 0, backup.err);
  assert.match(backup.err, /saving backup .*b\.snap: .*\(100%\)\n$/);
});

test('without a terminal the commands write nothing extra', async () => {
  const save = await run(false, 'snapshot', 'save', join(dir, 'c.snap'));
  assert.is(save.code, 0);
  assert.is(save.err, '');
  assert.match(save.out, /^Snapshot saved at /);
});

test('snapshot restore shows its progress on a terminal', async () => {
  const file = join(dir, 'a.snap');
  const restore = await run(true, 'snapshot', 'restore', file, '--data-dir', join(dir, 'restored'), '--name', 'r1');
  assert.is(restore.code, 0, restore.err);
  assert.match(restore.err, /restoring .*a\.snap: .*\(100%\)\n$/);
  assert.match(restore.out, /^Restored snapshot /);
});

test('redraws are at least REDRAW_INTERVAL_MS apart; done() draws the last state', () => {
  let now = 0;
  const writes: string[] = [];
  const line = progressLine({ out() {}, err: (s) => void writes.push(s), tty: true }, 'x:', () => now);
  line.update(1, 10);
  now += REDRAW_INTERVAL_MS / 2;
  line.update(2, 10);
  now += REDRAW_INTERVAL_MS;
  line.update(3, 10);
  line.done();
  assert.is(writes.length, 4, writes.join('|'));
  assert.ok(writes[0]?.includes('(10%)'));
  assert.ok(writes[1]?.includes('(30%)'));
  assert.ok(writes[2]?.includes('(30%)'));
  assert.is(writes[3], '\n');
});

test.run();
