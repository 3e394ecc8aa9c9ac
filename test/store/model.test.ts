// Proves the store matches a naive reference model (test/store/model.ts: full state per revision
// as sorted arrays) on thousands of seeded random command sequences: every apply result or typed
// error, ranges at past revisions, txn outcomes, compaction errors, lease tables, watch streams
// from random past start revisions, and snapshot/restore equivalence. A failure prints the seed;
// replay one seed with: STORE_SEED=<seed> node --import tsx test/store/model.test.ts
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isQuorumError } from '../../src/errors.ts';
import { Store } from '../../src/store/index.ts';
import type { KeyRange, WatchResponse, Watcher } from '../../src/store/types.ts';
import { Gen } from './gen.ts';
import { Model } from './model.ts';
import { plain } from './support.ts';
import type { ModelEvent } from './model.ts';

const SEQUENCES = Number(process.env.STORE_SEQUENCES ?? 2000);
const STEPS = Number(process.env.STORE_STEPS ?? 40);

type Outcome = { ok: true; value: unknown } | { ok: false; code: string; name: string };
function run(f: () => unknown): Outcome {
  try {
    return { ok: true, value: plain(f()) };
  } catch (err) {
    if (!isQuorumError(err)) throw err;
    return { ok: false, code: err.code, name: err.name };
  }
}

interface Tracked {
  readonly w: Watcher;
  readonly range: KeyRange;
  readonly start: number;
  readonly opts: { prevKv: boolean; noPut: boolean; noDelete: boolean };
  readonly got: ModelEvent[];
  readonly revsSeen: Set<number>;
  cancelled: WatchResponse | undefined;
}

function drain(t: Tracked, maxResponses: number): void {
  for (let i = 0; i < maxResponses; i++) {
    const resp = t.w.next();
    if (resp === undefined) return;
    assert.is(t.cancelled, undefined, 'nothing after a terminal response');
    if (resp.kind === 'cancelled') {
      t.cancelled = resp;
      continue;
    }
    if (resp.kind === 'progress') continue;
    const revs = new Set(resp.events.map((e) => e.kv.modRevision));
    for (const r of revs) {
      assert.not.ok(t.revsSeen.has(r), `revision ${r} split across responses`);
      t.revsSeen.add(r);
    }
    assert.is(resp.revision, resp.events[resp.events.length - 1]?.kv.modRevision);
    for (const ev of resp.events) t.got.push({ rev: ev.kv.modRevision, ev });
  }
}

function checkWatcher(t: Tracked, model: Model, seed: number): void {
  drain(t, 100_000);
  const expected = model.expectedEvents(t.range, t.start, t.opts);
  if (t.cancelled !== undefined) {
    assert.is(t.cancelled.kind, 'cancelled');
    if (t.cancelled.kind !== 'cancelled') return;
    assert.is(t.cancelled.reason, 'compacted', `seed ${seed}`);
    assert.equal(t.got, expected.slice(0, t.got.length), `seed ${seed}: prefix before compaction`);
    const c = t.cancelled.compactRevision ?? -1;
    const lastRev = t.got.length > 0 ? (t.got[t.got.length - 1] as ModelEvent).rev : t.start - 1;
    assert.ok(c > lastRev || c >= t.start, `seed ${seed}: compacted at ${c} after delivering up to ${lastRev}`);
    assert.ok(c <= model.compactRevision);
    return;
  }
  assert.equal(t.got, expected, `seed ${seed}: watch ${JSON.stringify(t.range)} from ${t.start}`);
}

function runSequence(seed: number): void {
  const g = new Gen(seed);
  const store = new Store();
  const model = new Model();
  const watchers: Tracked[] = [];
  for (let step = 0; step < STEPS; step++) {
    const cmd = g.command(model.revision);
    const a = run(() => store.apply(cmd));
    const b = run(() => model.apply(cmd));
    assert.equal(a, b, `seed ${seed} step ${step}: ${JSON.stringify(cmd)}`);
    assert.is(store.revision, model.revision);
    assert.is(store.compactRevision, model.compactRevision);
    // A read at a random revision with random options.
    const range = g.range();
    const options = g.rangeOptions(model.revision) ?? {};
    assert.equal(run(() => store.range(range, options)), run(() => model.range(range, options)), `seed ${seed} step ${step}: range`);
    if (g.chance(0.15)) {
      const wr = g.range();
      const start = g.int(model.revision + 2);
      const opts = { prevKv: g.chance(0.5), noPut: g.chance(0.15), noDelete: g.chance(0.15) };
      const t: Tracked = {
        w: store.watch(wr, { startRevision: start, ...opts, onReady: () => {} }),
        range: wr,
        start: start === 0 ? model.revision + 1 : start,
        opts,
        got: [],
        revsSeen: new Set(),
        cancelled: undefined,
      };
      watchers.push(t);
    }
    for (const t of watchers) if (g.chance(0.3)) drain(t, 1 + g.int(3));
  }
  for (const t of watchers) checkWatcher(t, model, seed);
  assert.equal(store.leases(), model.leaseList(), `seed ${seed}: leases`);
  for (let id = 1; id <= 4; id++) assert.equal(store.lease(id), model.leaseInfo(id));
  // Snapshot round trip: same reads at every readable revision, same hash, same bytes.
  const bytes = store.snapshot().encode();
  const restored = Store.restore(bytes);
  assert.is(restored.hash(), store.hash());
  for (let rev = Math.max(1, model.compactRevision); rev <= model.revision; rev++) {
    assert.equal(plain(restored.range({ prefix: '' }, { revision: rev })), plain(store.range({ prefix: '' }, { revision: rev })));
  }
  // The restored store continues identically.
  for (let i = 0; i < 10; i++) {
    const cmd = g.command(model.revision);
    assert.equal(run(() => restored.apply(cmd)), run(() => store.apply(cmd)), `seed ${seed}: after restore`);
  }
  assert.equal(restored.snapshot().encode(), store.snapshot().encode(), `seed ${seed}: snapshot bytes`);
}

test('store matches the reference model on random sequences', () => {
  const only = process.env.STORE_SEED;
  const base = Number(process.env.STORE_BASE_SEED ?? 1);
  const seeds = only !== undefined ? [Number(only)] : Array.from({ length: SEQUENCES }, (_, i) => base + i);
  for (const seed of seeds) {
    try {
      runSequence(seed);
    } catch (err) {
      console.error(`model test failed at seed ${seed}; replay: STORE_SEED=${seed} node --import tsx test/store/model.test.ts`);
      throw err;
    }
  }
});

test.run();
