// Proves `encodeAsync()` is a drop-in for `encode()`: on seeded random stores (test/store/gen.ts)
// and with tiny slices (so the msgpack array headers switch between fix/16/32 forms) the bytes
// are identical, and they restore; on a 100k-key store a 5 ms interval keeps firing while it
// encodes (the event loop is never held for long); an aborted signal rejects the promise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Store } from '../../src/store/index.ts';
import { concatAsync } from '../../src/store/snapshot.ts';
import { Gen } from './gen.ts';
import { loopGaps, rejection, tryApply } from './support.ts';

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

test('byte-identical to encode() on random stores, any slice size', async () => {
  for (let seed = 1; seed <= 150; seed++) {
    const g = new Gen(seed);
    const s = new Store();
    for (let i = 0; i < 80; i++) tryApply(s, g.command(s.revision));
    const snap = s.snapshot();
    const sync = snap.encode();
    for (const yieldEvery of [1, 7, 50_000]) {
      assert.ok(same(await snap.encodeAsync({ yieldEvery }), sync), `seed ${seed} yieldEvery ${yieldEvery}; reproduce: node --import tsx test/store/encode-async.test.ts`);
    }
  }
});

test('byte-identical across the array 16 / array 32 header sizes, and restores', async () => {
  for (const n of [0, 1, 3, 2_999, 3_000, 13_107, 13_108, 20_000]) {
    const s = new Store();
    for (let i = 0; i < n; i++) s.apply({ type: 'put', request: { key: `k${i}`, value: Uint8Array.of(i & 0xff) } });
    const snap = s.snapshot();
    const bytes = await snap.encodeAsync({ yieldEvery: 997 });
    assert.ok(same(bytes, snap.encode()), `${n} keys`);
    assert.is(Store.restore(bytes).hash(), s.hash());
  }
});

test('multi-key revisions (a txn bulk load) are sliced too, byte-identical, and restore', async () => {
  const s = new Store();
  const value = new Uint8Array(10).fill(3);
  for (let t = 0; t < 300; t++) {
    const success = Array.from({ length: 1 + (t % 40) }, (_, j) => ({ type: 'put' as const, request: { key: `t${t}/k${j}`, value } }));
    s.apply({ type: 'txn', request: { compare: [], success, failure: [] } });
  }
  const snap = s.snapshot();
  const sync = snap.encode();
  for (const yieldEvery of [1, 5, 64, 8_192]) assert.ok(same(await snap.encodeAsync({ yieldEvery }), sync), `yieldEvery ${yieldEvery}`);
  assert.is(Store.restore(sync).hash(), s.hash());
});

test('concatAsync joins parts across slice boundaries exactly', async () => {
  const parts = [0, 1, 5 * 1024 * 1024, 3, 4 * 1024 * 1024, 0, 7].map((n, i) => new Uint8Array(n).fill(i + 1));
  const joined = await concatAsync(parts);
  assert.ok(same(joined, Buffer.concat(parts)));
  assert.is((await concatAsync([])).length, 0);
});

test('a 100k-key encode lets a 5 ms interval fire repeatedly', async () => {
  const s = new Store();
  const value = new Uint8Array(32).fill(7);
  for (let i = 0; i < 100_000; i++) s.apply({ type: 'put', request: { key: `key-${String(i).padStart(8, '0')}`, value } });
  const snap = s.snapshot();
  const t0 = performance.now();
  snap.encode();
  const blockedMs = performance.now() - t0;
  const { result: bytes, fired, worstGapMs, p90GapMs } = await loopGaps(() => snap.encodeAsync(), 5);
  assert.ok(bytes.length > 0);
  assert.ok(fired >= 3, `interval fired ${fired} times`);
  // Slices are ~8 ms. Bounds a loaded machine cannot break by preempting this process once: most
  // gaps are short, and none is as long as the synchronous encode.
  assert.ok(p90GapMs < 60, `90% of event-loop gaps under 60 ms (p90 ${p90GapMs.toFixed(0)} ms)`);
  assert.ok(worstGapMs < Math.max(150, blockedMs), `event loop held ${worstGapMs.toFixed(0)} ms (sync encode ${blockedMs.toFixed(0)} ms)`);
});

test('an aborted signal rejects', async () => {
  const s = new Store();
  for (let i = 0; i < 100; i++) s.apply({ type: 'put', request: { key: `k${i}`, value: Uint8Array.of(1) } });
  const ac = new AbortController();
  const p = s.snapshot().encodeAsync({ yieldEvery: 10, signal: ac.signal });
  ac.abort(new Error('stop'));
  assert.is(((await rejection(p)) as Error).message, 'stop');
});

test.run();
