// Proves the Raft core keeps every safety invariant (election safety, log matching, leader
// completeness, state machine safety, monotonic commit, applied <= committed, linearizable
// ReadIndex) and liveness after healing, under a seeded deterministic simulation of 3- and
// 5-member clusters with drops, duplicates, reordering, delays, partitions, crashes with loss of
// unpersisted state, membership changes, snapshots and leadership transfers. Each seed is a
// whole scenario; a failure prints the seed, the invariant, a trace tail and the replay command.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FakeCore } from './fake-core.ts';
import { runSeed } from './cluster.ts';
import { createRawNode } from './raw-node-factory.ts';
import { runSeeds } from './run.ts';

/** Seed range and size chosen to stay well under 40 s on a 2-core machine. */
const FIRST_SEED = Number(process.env.QKV_SIM_FIRST_SEED ?? 1);
const SEEDS = Number(process.env.QKV_SIM_SEEDS ?? 250);
const STEPS = Number(process.env.QKV_SIM_STEPS ?? 1000);

test('the harness reports a core that never elects a leader as a liveness violation', () => {
  const r = runSeed({ seed: 1, createCore: (c) => new FakeCore(c), steps: 300, livenessTicks: 30 });
  assert.is(r.violation?.invariant, 'liveness');
});

test(`seeds ${FIRST_SEED}..${FIRST_SEED + SEEDS - 1} (${STEPS} steps each, 3 and 5 members) keep every invariant`, () => {
  const started = Date.now();
  const summary = runSeeds({ seeds: SEEDS, firstSeed: FIRST_SEED, steps: STEPS, createCore: createRawNode });
  const leaders = summary.results.reduce((s, r) => s + r.stats.leaders, 0);
  const snapshots = summary.results.reduce((s, r) => s + r.stats.snapshotsInstalled, 0);
  const reads = summary.results.reduce((s, r) => s + r.stats.readsReleased, 0);
  console.log(
    `  sim: seeds ${FIRST_SEED}..${FIRST_SEED + SEEDS - 1}, ${STEPS} steps each, in ${((Date.now() - started) / 1000).toFixed(1)}s: ` +
      `${leaders} leaders, ${snapshots} snapshots installed, ${reads} reads checked; ${summary.violations.length} violations`,
  );
  assert.equal(
    summary.violations.map((v) => `seed ${v.seed}: ${v.violation?.invariant}`),
    [],
    'violations (replay with: npm run sim -- --seeds 1 --first-seed <seed> --steps ' + STEPS + ' --verbose)',
  );
});

test.run();
