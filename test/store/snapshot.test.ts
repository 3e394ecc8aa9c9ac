// Proves snapshots are deterministic and consistent: members applying the same seeded command
// sequence produce byte-identical encodings and equal hashes (also when one restores from a
// snapshot midway); a snapshot taken before later writes and compactions still encodes exactly
// the state at its revision; a lease's end stays marked on its tombstones through a snapshot;
// damaged bytes are rejected with InvalidArgumentError, never a crash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidArgumentError } from '../../src/errors.ts';
import { Store } from '../../src/store/index.ts';
import { packr } from '../../src/store/codec.ts';
import { Gen, rng } from './gen.ts';
import { tryApply } from './support.ts';

test('same commands ⇒ same bytes and hash, with or without a restore midway', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const g = new Gen(seed);
    const a = new Store();
    let b = new Store();
    for (let i = 0; i < 60; i++) {
      const cmd = g.command(a.revision);
      tryApply(a, cmd);
      tryApply(b, cmd);
      if (i === 30) b = Store.restore(b.snapshot().encode());
    }
    assert.equal(b.snapshot().encode(), a.snapshot().encode(), `seed ${seed}`);
    assert.is(b.hash(), a.hash());
  }
});

test("a lease's end stays on its tombstones through a snapshot: a replayed watch still tells it from a delete", () => {
  const s = new Store();
  s.apply({ type: 'leaseGrant', id: 7, ttlMs: 1_000 });
  s.apply({ type: 'put', request: { key: 'a', value: new Uint8Array([1]), lease: 7 } });
  s.apply({ type: 'put', request: { key: 'b', value: new Uint8Array([2]), lease: 7 } });
  s.apply({ type: 'delete', request: { range: { key: 'b' } } });
  s.apply({ type: 'leaseRevoke', id: 7 });
  const restored = Store.restore(s.snapshot().encode());
  for (const store of [s, restored]) {
    const got: [string, string, number][] = [];
    const w = store.watch({ start: 'a', end: 'c' }, { startRevision: 1, onReady: () => {} });
    for (let r = w.next(); r !== undefined; r = w.next()) {
      if (r.kind === 'events') for (const e of r.events) got.push([e.type, e.kv.key, e.kv.lease]);
    }
    w.cancel();
    assert.equal(got, [['put', 'a', 7], ['put', 'b', 7], ['delete', 'b', 0], ['delete', 'a', 7]]);
  }
  assert.is(restored.hash(), s.hash());
});

test('different states hash differently', () => {
  const a = new Store();
  const b = new Store();
  a.apply({ type: 'put', request: { key: 'k', value: new Uint8Array([1]) } });
  b.apply({ type: 'put', request: { key: 'k', value: new Uint8Array([2]) } });
  assert.is.not(a.hash(), b.hash());
});

test('a snapshot is a consistent view at its revision', () => {
  const s = new Store();
  const g = new Gen(7);
  for (let i = 0; i < 200; i++) tryApply(s, g.command(s.revision));
  const expected = s.snapshot().encode();
  const snap = s.snapshot();
  for (let i = 0; i < 200; i++) tryApply(s, g.command(s.revision));
  s.apply({ type: 'put', request: { key: 'late', value: new Uint8Array(3) } });
  s.apply({ type: 'compact', revision: s.revision });
  assert.equal(snap.encode(), expected);
  const restored = Store.restore(expected);
  assert.is(restored.revision, snap.revision);
});

test('snapshots stay exact while keys are overwritten in place between and after them', () => {
  // Overwrites repoint a key's cell in place unless a snapshot may hold it: interleave snapshots
  // with repeated overwrites, deletes, failed (rolled back) txns and compactions of the same keys.
  const s = new Store();
  const g = new Gen(11);
  const v = (n: number): Uint8Array => new Uint8Array([n]);
  const taken: { snap: ReturnType<Store['snapshot']>; bytes: Uint8Array }[] = [];
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 40; i++) {
      const key = `k${i % 7}`;
      tryApply(s, { type: 'put', request: { key, value: v(round * 40 + i) } });
      tryApply(s, g.command(s.revision));
      tryApply(s, {
        type: 'txn',
        request: { compare: [], success: [{ type: 'put', request: { key, value: v(1) } }, { type: 'put', request: { key: 'x', value: v(2), lease: 999 } }], failure: [] },
      });
    }
    if (round % 2 === 1) tryApply(s, { type: 'delete', request: { range: { prefix: 'k' } } });
    if (round === 4) tryApply(s, { type: 'compact', revision: s.revision - 5 });
    const snap = s.snapshot();
    taken.push({ snap, bytes: s.snapshot().encode() });
  }
  for (const t of taken) assert.equal(t.snap.encode(), t.bytes);
});

test('damaged snapshot bytes are rejected with InvalidArgumentError', () => {
  const s = new Store();
  const g = new Gen(3);
  for (let i = 0; i < 100; i++) tryApply(s, g.command(s.revision));
  const good = s.snapshot().encode();
  const r = rng(11);
  for (let i = 0; i < 500; i++) {
    const bad = Uint8Array.from(good);
    const flips = 1 + Math.floor(r() * 4);
    for (let j = 0; j < flips; j++) bad[Math.floor(r() * bad.length)] = Math.floor(r() * 256);
    const cut = r() < 0.3 ? bad.subarray(0, Math.floor(r() * bad.length)) : bad;
    try {
      Store.restore(cut);
    } catch (err) {
      assert.instance(err, InvalidArgumentError, String(err));
    }
  }
  assert.throws(() => Store.restore(new Uint8Array([1, 2, 3])), (e: unknown) => e instanceof InvalidArgumentError);
});

/** The keys of every event a watcher from revision 1 replays, in order. */
function replayedKeys(s: Store): string[] {
  const w = s.watch({ prefix: '' }, { startRevision: 1, onReady: () => {} });
  const keys: string[] = [];
  for (let r = w.next(); r !== undefined; r = w.next()) if (r.kind === 'events') for (const e of r.events) keys.push(e.kv.key);
  w.cancel();
  return keys;
}

test('the multi section must list exactly the keys that wrote each revision; op order is kept', () => {
  const s = new Store();
  const v = new Uint8Array([1]);
  // Revision 1 writes b then a (op order against key order), revision 2 writes c alone.
  s.apply({ type: 'txn', request: { compare: [], success: [{ type: 'put', request: { key: 'b', value: v } }, { type: 'put', request: { key: 'a', value: v } }], failure: [] } });
  s.apply({ type: 'put', request: { key: 'c', value: v } });
  const parts = packr.unpack(s.snapshot().encode()) as unknown[];
  assert.equal(parts[6], [1, ['b', 'a']]);
  const withMulti = (multi: unknown[]): Uint8Array => packr.pack([...parts.slice(0, 6), multi]);
  const restored = Store.restore(withMulti([1, ['b', 'a']]));
  assert.equal(replayedKeys(restored), ['b', 'a', 'c'], 'replay in op order');
  assert.equal(replayedKeys(Store.restore(withMulti([1, ['a', 'b']]))), ['a', 'b', 'c'], 'key order listed: kept as listed');
  const bad: unknown[][] = [[], [1, ['b']], [1, ['b', 'a', 'a']], [1, ['b', 'b']], [1, ['a', 'c']], [1, ['a', 7]], [1, 'ab'], [1, ['b', 'a'], 2, ['c', 'd']], [2, ['c']]];
  for (const multi of bad) {
    assert.throws(() => Store.restore(withMulti(multi)), (e: unknown) => e instanceof InvalidArgumentError, JSON.stringify(multi));
  }
});

test.run();
