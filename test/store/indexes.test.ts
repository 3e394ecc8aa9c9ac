// Proves the store's two indexes never drift apart: on seeded random command sequences (puts,
// deletes, txns that fail and roll back, compactions, lease grants and revokes; test/store/gen.ts)
// interleaved with snapshots (whose tree clones make later writes take the copy-on-write path) and
// restores (sync and in slices), the hash index and the B-tree hold the same key → head records
// after every command, and every key history runs newest first (Store.checkInvariants).
// Replay one seed with: STORE_SEED=<seed> node --import tsx test/store/indexes.test.ts
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Store } from '../../src/store/index.ts';
import { Gen } from './gen.ts';
import { tryApply } from './support.ts';

const SEQUENCES = Number(process.env.STORE_SEQUENCES ?? 400);
const ONLY = process.env.STORE_SEED === undefined ? undefined : Number(process.env.STORE_SEED);

test('hash index and B-tree agree after every command', async () => {
  const seeds = ONLY === undefined ? Array.from({ length: SEQUENCES }, (_, i) => i + 1) : [ONLY];
  for (const seed of seeds) {
    const g = new Gen(seed);
    let s = new Store();
    const snaps: ReturnType<Store['snapshot']>[] = [];
    for (let step = 0; step < 60; step++) {
      tryApply(s, g.command(s.revision));
      if (g.chance(0.05)) tryApply(s, { type: 'compact', revision: Math.max(1, s.revision - g.int(5)) });
      // Compacted history is freed in steps, interleaved with later commands (0 ms: one step).
      if (g.chance(0.3)) s.continueCompaction(g.chance(0.5) ? 0 : Infinity);
      if (g.chance(0.1)) snaps.push(s.snapshot());
      if (g.chance(0.03)) s = g.chance(0.5) ? Store.restore(s.snapshot().encode()) : await Store.restoreAsync(s.snapshot().encode(), undefined, { yieldEvery: 1 + g.int(9) });
      try {
        s.checkInvariants();
      } catch (err) {
        assert.unreachable(`seed ${seed} step ${step}: ${(err as Error).message}; reproduce: STORE_SEED=${seed} node --import tsx test/store/indexes.test.ts`);
      }
    }
    // Snapshots taken along the way still restore to stores whose indexes agree.
    for (const snap of snaps) Store.restore(snap.encode()).checkInvariants();
  }
});

test('a key deleted, compacted away and written again is in both indexes once', () => {
  const s = new Store();
  const value = Uint8Array.of(1);
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 200; i++) s.apply({ type: 'put', request: { key: `k${i}`, value } });
    s.snapshot();
    s.apply({ type: 'delete', request: { range: { prefix: 'k1' } } });
    s.apply({ type: 'compact', revision: s.revision });
    s.checkInvariants();
    assert.ok(s.compactionPending, 'the history is freed later, in steps');
    assert.is(s.continueCompaction(), false);
    assert.not.ok(s.compactionPending);
    s.checkInvariants();
    assert.is(s.keyCount, 200 - 111);
  }
});

test.run();
