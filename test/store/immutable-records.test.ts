// Proves what handing out the store's own records rests on (src/store/key-index.ts): on seeded
// random sequences with multi-key transactions that write and then fail (rolled back), snapshots
// taken at random points and encoded later (sync and sliced, while applies go on) give the bytes
// they had when taken; every record handed out by get, point and prefix ranges and txn reads is
// never changed by later writes, rollbacks, compactions or restores; the indexes agree after
// every command (only heads hold slots). Replay one seed: STORE_SEED=<seed> node --import tsx test/store/immutable-records.test.ts
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isQuorumError } from '../../src/errors.ts';
import { Store } from '../../src/store/index.ts';
import type { StoreSnapshot } from '../../src/store/snapshot.ts';
import type { Command, StoredKeyValue, TxnOp } from '../../src/store/types.ts';
import { Gen, KEYS } from './gen.ts';

const SEEDS = Number(process.env['STORE_SEEDS'] ?? 300);
const ONLY = process.env['STORE_SEED'] === undefined ? undefined : Number(process.env['STORE_SEED']);

const print = (kv: StoredKeyValue): string => `${kv.key}|${[...kv.value].join(',')}|${kv.createRevision}|${kv.modRevision}|${kv.version}|${kv.lease}`;
const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** A transaction that writes some keys and then fails on its last op: everything rolls back. */
function failingTxn(g: Gen): Command {
  const ops: TxnOp[] = KEYS.filter(() => g.chance(0.5)).map((key) =>
    g.chance(0.3) ? { type: 'delete', request: { range: { key } } } : { type: 'put', request: { key, value: g.value() } },
  );
  ops.push({ type: 'put', request: { key: 'zz', value: g.value(), expect: { version: 99 } } });
  return { type: 'txn', request: { compare: [], success: ops, failure: [] } };
}

test(`records never change once handed out; snapshots keep their bytes (${ONLY === undefined ? SEEDS : 1} seeds)`, async () => {
  const seeds = ONLY === undefined ? Array.from({ length: SEEDS }, (_, i) => i + 1) : [ONLY];
  for (const seed of seeds) {
    const where = (step: number): string => `seed ${seed} step ${step} (replay: STORE_SEED=${seed} node --import tsx test/store/immutable-records.test.ts)`;
    const g = new Gen(seed);
    let s = new Store();
    const snaps: { snap: StoreSnapshot; bytes: Uint8Array; later?: Promise<Uint8Array> }[] = [];
    const handed: { kv: StoredKeyValue; was: string }[] = [];
    const keep = (kv: StoredKeyValue | undefined): void => {
      if (kv !== undefined) handed.push({ kv, was: print(kv) });
    };
    for (let step = 0; step < 80; step++) {
      const cmd = g.chance(0.15) ? failingTxn(g) : g.command(s.revision);
      try {
        const r = s.apply(cmd);
        if (r.type === 'txn') for (const op of r.result.results) if (op.type === 'range') op.result.kvs.forEach(keep);
      } catch (err) {
        if (!isQuorumError(err)) throw err;
      }
      s.checkInvariants();
      for (const k of ['a', 'aa', 'b', 'c']) {
        keep(s.get(k));
        s.range({ key: k }).kvs.forEach(keep);
      }
      s.range({ prefix: '' }).kvs.forEach(keep);
      if (g.chance(0.15)) {
        const snap = s.snapshot();
        snaps.push({ snap, bytes: snap.encode() });
      }
      const pick = snaps[g.int(Math.max(1, snaps.length))];
      if (g.chance(0.05) && pick !== undefined) pick.later ??= pick.snap.encodeAsync({ yieldEvery: 1 });
      if (g.chance(0.02)) s = Store.restore(s.snapshot().encode());
      if (g.chance(0.02)) await new Promise((r) => setImmediate(r));
      for (const h of handed) assert.is(print(h.kv), h.was, `${where(step)}: a handed-out record changed`);
    }
    for (const t of snaps) {
      assert.ok(same(t.snap.encode(), t.bytes), `seed ${seed}: the snapshot at ${t.snap.revision} changed`);
      if (t.later !== undefined) assert.ok(same(await t.later, t.bytes), `seed ${seed}: a sliced encode differs`);
    }
  }
});

test.run();
