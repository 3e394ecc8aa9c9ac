// Proves `Store.restoreAsync()` is a drop-in for `Store.restore()`: on seeded random stores
// (test/store/gen.ts), with slices from one array slot up, both build the same store (same bytes,
// same hash) that then answers the same commands identically; on damaged bytes both reject with
// InvalidArgumentError or both accept; values larger than the decoder's window restore; an
// aborted signal rejects; and at 200k keys the event loop keeps turning: the longest gap between
// timer callbacks while restoring in slices is a fraction of what one synchronous restore blocks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidArgumentError, isQuorumError } from '../../src/errors.ts';
import { Store } from '../../src/store/index.ts';
import type { Command, CommandResult } from '../../src/store/types.ts';
import { Gen, rng } from './gen.ts';
import { loopGaps, rejection } from './support.ts';

const REPRODUCE = 'reproduce: node --import tsx test/store/restore-async.test.ts';

/** The result of applying `cmd`, or the error code it was rejected with. */
function outcome(s: Store, cmd: Command): CommandResult | string {
  try {
    return s.apply(cmd);
  } catch (err) {
    if (!isQuorumError(err)) throw err;
    return err.code;
  }
}

function seededStore(seed: number, commands: number): { store: Store; gen: Gen } {
  const gen = new Gen(seed);
  const store = new Store();
  for (let i = 0; i < commands; i++) outcome(store, gen.command(store.revision));
  return { store, gen };
}

test('same store as restore() on random stores, for any slice size, and the same later behaviour', async () => {
  for (let seed = 1; seed <= 120; seed++) {
    const { store, gen } = seededStore(seed, 80);
    const bytes = store.snapshot().encode();
    const sync = Store.restore(bytes);
    for (const yieldEvery of [1, 7, 50_000]) {
      const restored = await Store.restoreAsync(bytes, undefined, { yieldEvery });
      assert.equal(restored.snapshot().encode(), bytes, `seed ${seed} yieldEvery ${yieldEvery}; ${REPRODUCE}`);
      assert.is(restored.hash(), sync.hash());
      assert.equal(restored.leases(), sync.leases());
    }
    const restored = await Store.restoreAsync(bytes, undefined, { yieldEvery: 3 });
    for (let i = 0; i < 40; i++) {
      const cmd = gen.command(sync.revision);
      assert.equal(outcome(restored, cmd), outcome(sync, cmd), `seed ${seed} step ${i}; ${REPRODUCE}`);
    }
    assert.is(restored.hash(), sync.hash());
    assert.equal(restored.range({ start: '' }, { revision: sync.compactRevision }), sync.range({ start: '' }, { revision: sync.compactRevision }));
  }
});

test('damaged bytes: rejected with InvalidArgumentError exactly when restore() rejects them', async () => {
  const { store } = seededStore(3, 100);
  const good = store.snapshot().encode();
  const r = rng(12);
  let rejected = 0;
  for (let i = 0; i < 400; i++) {
    const bad = Uint8Array.from(good);
    const flips = 1 + Math.floor(r() * 4);
    for (let j = 0; j < flips; j++) bad[Math.floor(r() * bad.length)] = Math.floor(r() * 256);
    const cut = r() < 0.3 ? bad.subarray(0, Math.floor(r() * bad.length)) : bad;
    let syncError: unknown;
    try {
      Store.restore(cut);
    } catch (err) {
      syncError = err;
    }
    try {
      await Store.restoreAsync(cut, undefined, { yieldEvery: 1 + (i % 5) });
      assert.is(syncError, undefined, `case ${i}: restore() rejected what restoreAsync() accepted`);
    } catch (err) {
      assert.instance(err, InvalidArgumentError, String(err));
      assert.instance(syncError, InvalidArgumentError, `case ${i}: restoreAsync() rejected what restore() accepted`);
      rejected++;
    }
  }
  assert.ok(rejected > 300, `${rejected} of 400 damaged snapshots rejected`);
  for (const bytes of [new Uint8Array(0), new Uint8Array([1, 2, 3]), Uint8Array.of(0x97), Uint8Array.from([...good, 0])]) {
    assert.instance(await rejection(Store.restoreAsync(bytes)), InvalidArgumentError);
  }
});

test('values, histories and lease tables larger than the decoder window restore', async () => {
  const s = new Store();
  for (let id = 1; id <= 20_000; id++) s.apply({ type: 'leaseGrant', id, ttlMs: 60_000 + id });
  s.apply({ type: 'put', request: { key: 'leased', value: Uint8Array.of(1), lease: 19_999 } });
  const big = new Uint8Array(300_000).map((_, i) => i & 0xff);
  for (let i = 0; i < 3_000; i++) s.apply({ type: 'put', request: { key: `k${i % 700}`, value: i % 1000 === 0 ? big : Uint8Array.of(i & 0xff) } });
  const bytes = s.snapshot().encode();
  for (const yieldEvery of [1, 1_000, 50_000]) {
    const restored = await Store.restoreAsync(bytes, undefined, { yieldEvery });
    assert.equal(restored.snapshot().encode(), bytes);
  }
  assert.equal(Store.restore(bytes).snapshot().encode(), bytes);
});

test('an aborted signal rejects; bad options and limits reject', async () => {
  const { store } = seededStore(5, 200);
  const bytes = store.snapshot().encode();
  const ac = new AbortController();
  const p = Store.restoreAsync(bytes, undefined, { yieldEvery: 5, signal: ac.signal });
  ac.abort(new Error('stop'));
  assert.is(((await rejection(p)) as Error).message, 'stop');
  for (const [limits, options] of [
    [undefined, { yieldEvery: 0 }],
    [undefined, { sliceMs: 0 }],
    [{ maxTxnOps: -1 }, {}],
  ] as const) {
    const err = await rejection(Store.restoreAsync(bytes, limits, options));
    assert.ok(err instanceof InvalidArgumentError || err instanceof RangeError, String(err));
  }
});

test('200k keys: restoring in slices keeps the event loop turning', async () => {
  const s = new Store();
  const value = new Uint8Array(16).fill(7);
  for (let i = 0; i < 200_000; i++) s.apply({ type: 'put', request: { key: `/keys/${String(i).padStart(12, '0')}`, value } });
  const bytes = s.snapshot().encode();
  const t0 = performance.now();
  const sync = Store.restore(bytes);
  const blockedMs = performance.now() - t0;
  const { result: restored, fired, worstGapMs } = await loopGaps(() => Store.restoreAsync(bytes), 2);
  console.log(`  200k keys: restore() blocked ${blockedMs.toFixed(0)} ms; restoreAsync() longest event-loop gap ${worstGapMs.toFixed(0)} ms (${fired} timer callbacks)`);
  // (Byte equality is proven above on smaller stores; hash() here would encode 200k keys twice.)
  assert.is(restored.revision, sync.revision);
  assert.is(restored.keyCount, sync.keyCount);
  assert.equal(restored.range({ key: '/keys/000000123456' }), sync.range({ key: '/keys/000000123456' }));
  assert.ok(fired >= 5, `interval fired ${fired} times`);
  assert.ok(worstGapMs < blockedMs / 3, `event loop held ${worstGapMs.toFixed(0)} ms of ${blockedMs.toFixed(0)} ms`);
});

test.run();
