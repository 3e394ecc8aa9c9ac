// Proves compaction frees history in bounded steps (mvcc.ts compact / continueCompaction): the
// compaction command itself hides everything below its revision at once without walking the
// history, freeing it in slices keeps the event loop turning, and the store freed in slices is
// the store freed in one go (same snapshot bytes, keys and value memory). Snapshots taken while
// history is still queued encode exactly what a fully compacted store encodes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CompactedError } from '../../src/errors.ts';
import { Store } from '../../src/store/index.ts';
import { loopGaps } from './support.ts';

const KEYS = 20_000;
const ROUNDS = 10;

/** KEYS keys overwritten ROUNDS times (200k revisions), then every other key deleted. */
function historyStore(): Store {
  const s = new Store();
  const value = new Uint8Array(32).fill(5);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < KEYS; i += 100) {
      const success = Array.from({ length: 100 }, (_, j) => ({ type: 'put' as const, request: { key: `/h/${String(i + j).padStart(8, '0')}`, value } }));
      s.apply({ type: 'txn', request: { compare: [], success, failure: [] } });
    }
  }
  for (let i = 0; i < KEYS; i += 2) s.apply({ type: 'delete', request: { range: { key: `/h/${String(i).padStart(8, '0')}` } } });
  return s;
}

test('compacting 200k revisions: the command is quick, the freeing goes in slices, the result is the same', async () => {
  const whole = historyStore();
  const sliced = historyStore();
  const rev = whole.revision;
  const before = whole.snapshot();

  let t0 = performance.now();
  whole.apply({ type: 'compact', revision: rev });
  const commandMs = performance.now() - t0;
  assert.throws(() => whole.range({ prefix: '/h/' }, { revision: rev - 1 }), (e: unknown) => e instanceof CompactedError, 'history below is gone at once');
  assert.is(whole.range({ prefix: '/h/' }, { countOnly: true }).count, KEYS / 2);
  t0 = performance.now();
  assert.is(whole.continueCompaction(), false);
  const blockedMs = performance.now() - t0;

  sliced.apply({ type: 'compact', revision: rev });
  // A snapshot while everything is still queued encodes the compacted state.
  const early = sliced.snapshot().encode();
  const { fired, worstGapMs } = await loopGaps(async () => {
    while (sliced.continueCompaction(8)) await new Promise((r) => setImmediate(r));
  }, 2);
  console.log(`  200k revisions: compact command ${commandMs.toFixed(1)} ms; freeing in one go ${blockedMs.toFixed(0)} ms, in slices longest event-loop gap ${worstGapMs.toFixed(0)} ms (${fired} timer callbacks)`);

  assert.ok(commandMs < blockedMs / 3, `the command took ${commandMs.toFixed(1)} ms of ${blockedMs.toFixed(0)} ms`);
  assert.ok(fired >= 3, `interval fired ${fired} times`);
  assert.ok(worstGapMs < blockedMs / 3, `event loop held ${worstGapMs.toFixed(0)} ms of ${blockedMs.toFixed(0)} ms`);
  assert.not.ok(sliced.compactionPending);
  assert.is(sliced.keyCount, whole.keyCount);
  assert.is(whole.keyCount, KEYS / 2, 'deleted keys are gone from the indexes');
  assert.equal(sliced.valueMemory(), whole.valueMemory());
  const bytes = whole.snapshot().encode();
  assert.ok(Buffer.from(sliced.snapshot().encode()).equals(bytes), 'same snapshot bytes');
  assert.ok(Buffer.from(early).equals(bytes), 'a snapshot taken before the freeing encodes the same');
  // A snapshot taken before the compaction still holds the old history.
  assert.is(Store.restore(before.encode()).range({ prefix: '/h/' }, { revision: rev - KEYS / 2, countOnly: true }).count, KEYS);
  sliced.checkInvariants();
});

test('writes, deletes and a second compaction between the slices', () => {
  const s = historyStore();
  const first = s.revision - 5;
  s.apply({ type: 'compact', revision: first });
  s.continueCompaction(0);
  assert.ok(s.compactionPending, 'one step frees a bounded part');
  s.apply({ type: 'put', request: { key: '/h/00000001', value: Uint8Array.of(9) } });
  s.apply({ type: 'delete', request: { range: { key: '/h/00000003' } } });
  s.apply({ type: 'compact', revision: s.revision });
  while (s.continueCompaction(0));
  s.checkInvariants();
  const fresh = Store.restore(s.snapshot().encode());
  assert.is(s.keyCount, fresh.keyCount);
  assert.equal(s.valueMemory().liveBytes, fresh.valueMemory().liveBytes);
  assert.equal(s.range({ key: '/h/00000001' }).kvs[0]?.value, Uint8Array.of(9));
  assert.is(s.range({ key: '/h/00000003' }).count, 0);
});

test.run();
