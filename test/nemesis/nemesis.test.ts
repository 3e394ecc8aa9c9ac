// test-runner: solo
// Proves the fault-injection suite end to end on real member processes in network namespaces: a
// fixed-seed run of faults (partitions, kill -9, replacement with an empty data dir, SIGSTOP)
// finds no violation and leaves nothing undecided, while faults and operations did happen and
// every history was checked; a run whose reads are serializable (stale on followers, so not
// linearizable) is caught; and every namespace a run made is gone afterwards. Replay:
// `npm run nemesis -- --seconds 35 --seed 20261207`.
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runNemesis } from './runner.ts';
import { printSummary } from './summary.ts';

const seed = Number(process.env['QKV_NEMESIS_SEED'] ?? 20261207);
const quiet = process.env['QKV_TEST_LOG'] === '1' ? (line: string) => console.log(line) : () => {};

function ownNamespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith(`qkvn-${process.pid.toString(36)}-`));
}

test('35 s of faults: every history linearizable, every watch stream gap- and duplicate-free', async () => {
  const s = await runNemesis({ seconds: 35, seed, log: quiet });
  printSummary(s, (line) => console.log(line));
  assert.equal(s.violations, []);
  assert.equal(s.undecided, []);
  assert.ok(s.calls.ok > 1_000, `calls completed: ${s.calls.ok}`);
  assert.ok(Object.values(s.faults).reduce((a, b) => a + b, 0) >= 5, `faults: ${JSON.stringify(s.faults)}`);
  assert.equal(s.partitions.map((p) => p.name), ['cas-counter nem/c', 'multi-key txn', 'register nem/r0', 'register nem/r1', 'register nem/r2']);
  assert.ok(s.partitions.every((p) => p.result.kind === 'ok' && p.result.ops > 50));
  assert.ok(s.watchStreams >= 5, `watch streams: ${s.watchStreams}`);
  assert.ok(s.watchEvents >= s.historyEvents, 'the watch streams carried the history');
  assert.equal(ownNamespaces(), []);
});

test('serializable reads are caught as stale (the checker sees what the workload does)', async () => {
  const s = await runNemesis({ seconds: 8, seed, log: quiet, unsafeReads: true, keepHistories: false });
  assert.ok(s.violations.some((v) => v.startsWith('register ') || v.startsWith('cas-counter ')), `expected stale reads, got ${JSON.stringify(s.violations)}`);
  assert.equal(ownNamespaces(), []);
});

test.run();
