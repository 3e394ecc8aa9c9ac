// test-runner: solo
// Proves StoreSnapshot.hashKv (etcd's HashKV): on seeded random command sequences, two stores that
// applied the same commands hash alike at every revision, also when one of them went on writing,
// or was rebuilt from a snapshot, or compacted at the same point at a different moment; one
// changed value changes the hash; revisions outside [compact, current] are typed errors; a 100k-key
// hash lets the event loop turn.
// Replay one seed with: STORE_SEED=<seed> node --import tsx test/store/hash-kv.test.ts
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CompactedError, FutureRevisionError, InvalidArgumentError } from '../../src/errors.ts';
import { Store } from '../../src/store/store.ts';
import type { Command } from '../../src/store/types.ts';
import { Gen } from './gen.ts';
import { loopGaps, rejection, tryApply } from './support.ts';

const SEQUENCES = Number(process.env.STORE_SEQUENCES ?? 60);
const ONLY = process.env.STORE_SEED === undefined ? undefined : Number(process.env.STORE_SEED);

const hashAt = async (s: Store, rev?: number): Promise<number> => (await s.snapshot().hashKv(rev)).hash;

/** Seeded commands without compactions (the test places those itself). */
function commands(seed: number, n: number): Command[] {
  const g = new Gen(seed);
  const shadow = new Store();
  const out: Command[] = [];
  while (out.length < n) {
    const c = g.command(shadow.revision);
    if (c.type === 'compact') continue;
    tryApply(shadow, c);
    out.push(c);
  }
  return out;
}

function storeOf(cmds: readonly Command[]): Store {
  const s = new Store();
  for (const c of cmds) tryApply(s, c);
  return s;
}

test('same commands, same hash at every revision — after more writes, a restore, or a compaction applied later', async () => {
  const seeds = ONLY === undefined ? Array.from({ length: SEQUENCES }, (_, i) => i + 1) : [ONLY];
  for (const seed of seeds) {
    const cmds = commands(seed, 60);
    const a = storeOf(cmds);
    const b = storeOf([...cmds, ...commands(seed + 1000, 20)]);
    const restored = Store.restore(b.snapshot().encode());
    for (let rev = 1; rev <= a.revision; rev++) {
      const h = await hashAt(a, rev);
      assert.is(await hashAt(b, rev), h, `seed ${seed} rev ${rev}: a store that wrote on`);
      assert.is(await hashAt(restored, rev), h, `seed ${seed} rev ${rev}: a restored store`);
    }
    // Compaction at c: one store compacts right away, the other after more writes.
    const c = Math.max(1, Math.floor(a.revision / 2));
    a.apply({ type: 'compact', revision: c });
    b.apply({ type: 'compact', revision: c });
    for (let rev = c; rev <= a.revision; rev++) assert.is(await hashAt(b, rev), await hashAt(a, rev), `seed ${seed} rev ${rev} compacted at ${c}`);
    assert.is((await b.snapshot().hashKv(c)).compactRevision, c);
  }
});

test('one different value changes the hash', async () => {
  const cmds = commands(7, 40);
  const a = storeOf(cmds);
  const b = storeOf(cmds);
  a.apply({ type: 'put', request: { key: 'k', value: Uint8Array.of(1) } });
  b.apply({ type: 'put', request: { key: 'k', value: Uint8Array.of(2) } });
  assert.is.not(await hashAt(a), await hashAt(b));
  assert.is(await hashAt(a, a.revision - 1), await hashAt(b, b.revision - 1), 'the revisions before the difference still agree');
});

test('revisions outside [compact revision, revision] are typed errors', async () => {
  const s = storeOf(commands(3, 30));
  s.apply({ type: 'put', request: { key: 'z', value: Uint8Array.of(9) } });
  s.apply({ type: 'compact', revision: s.revision - 1 });
  const view = s.snapshot();
  assert.instance(await rejection(view.hashKv(s.revision + 1)), FutureRevisionError);
  assert.instance(await rejection(view.hashKv(s.revision - 2)), CompactedError);
  assert.instance(await rejection(view.hashKv(-1)), InvalidArgumentError);
  assert.is((await view.hashKv()).revision, s.revision);
  assert.instance(await rejection(view.hashKv(0)), CompactedError, 'revision 0 (the empty store) is compacted too');
  assert.is((await new Store().snapshot().hashKv(0)).revision, 0);
});

test('a 100k-key hash lets a 5 ms interval fire repeatedly', async () => {
  const s = new Store();
  const value = new Uint8Array(64).fill(3);
  for (let i = 0; i < 100_000; i++) s.apply({ type: 'put', request: { key: `key-${String(i).padStart(8, '0')}`, value } });
  const { fired, p90GapMs } = await loopGaps(() => s.snapshot().hashKv(), 5);
  assert.ok(fired >= 3, `interval fired ${fired} times`);
  assert.ok(p90GapMs < 60, `90% of event-loop gaps under 60 ms (p90 ${p90GapMs.toFixed(0)} ms)`);
});

test.run();
