/**
 * A store view's records in the order of etcd's `key` bucket: by revision, then sub-revision
 * (the op's place in its txn). The store keeps records per key, so they are gathered from a walk
 * of the keys, sorted in runs of {@link RUN_RECORDS} (a few ms each, the event loop turning in
 * between) and merged through a heap while they are written: no synchronous stretch is O(keys),
 * and what is held is a reference per record, not a copy of its bytes.
 *
 * Sub-revisions: a revision that wrote several keys lists them in op order in the store's
 * revision log, and a key's place there is its sub-revision (its last place: a txn that wrote a
 * key twice leaves one record, the later). Compaction drops the log of revisions at or below the
 * compact revision; the records of those that survive (each key's live one) are numbered in key
 * order instead (nothing reads an etcd sub-revision but the bucket's order).
 */
import { mvccAssert as assert } from '../../assert.ts';
import type { Revision } from '../../store/key-index.ts';
import { forRetained } from '../../store/mvcc.ts';
import type { SnapshotView } from '../../store/snapshot-view.ts';

/** Records per sorted run: sorting 8,192 takes 1–3 ms. */
export const RUN_RECORDS = 8_192;
/** Keys walked (or records merged) between two looks at the clock. */
export const CLOCK_EVERY = 256;

/** Revisions are packed with a run position (< 2^13) into a double's 53 bits. */
const MAX_PACKED_REVISION = 2 ** 40;
const EMPTY_ORDER = new Uint32Array(0);

/** Sub-revision placeholder of a record whose revision's log was compacted away. */
const COMPACTED_SUB = -1;

interface Run {
  readonly recs: Revision[];
  readonly subs: number[];
  /** Positions into recs/subs, sorted by (modRevision, sub); ties stay in key order. */
  order: Uint32Array;
  at: number;
}

/** A key's sub-revision at `rev` from the revision log (0 for a single-key revision). */
function subOf(view: SnapshotView, key: string, rev: number): number {
  const entry = view.logAt(rev);
  if (entry === undefined) return COMPACTED_SUB;
  if (typeof entry === 'string') return 0;
  const at = entry.lastIndexOf(key);
  assert(at >= 0, `bolt: key ${JSON.stringify(key)} is in the log of revision ${rev}`);
  return at;
}

/**
 * Sorts a run by (revision, sub) with native numeric sorts of packed keys (a comparator sort of
 * 8,192 records took 10–25 ms): first by revision and position (position is key order), then
 * each group sharing a revision by sub and position.
 */
function sortRun(run: Run): void {
  const { recs, subs } = run;
  const n = recs.length;
  assert(n <= RUN_RECORDS, 'bolt: a run holds at most RUN_RECORDS records');
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const rev = (recs[i] as Revision).modRevision;
    assert(rev < MAX_PACKED_REVISION, 'bolt: revisions below 2^40');
    keys[i] = rev * RUN_RECORDS + i;
  }
  keys.sort();
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = (keys[i] as number) % RUN_RECORDS;
  const revAt = (i: number): number => (recs[order[i] as number] as Revision).modRevision;
  for (let from = 0; from < n; ) {
    let to = from + 1;
    while (to < n && revAt(to) === revAt(from)) to++;
    if (to - from > 1) {
      const group = new Float64Array(to - from);
      for (let i = from; i < to; i++) group[i - from] = ((subs[order[i] as number] as number) + 1) * RUN_RECORDS + (order[i] as number);
      group.sort();
      for (let i = from; i < to; i++) order[i] = (group[i - from] as number) % RUN_RECORDS;
    }
    from = to;
  }
  run.order = order;
}

export class RevisionOrder {
  readonly #runs: Run[] = [];
  readonly #heap: number[] = [];
  #records = 0;
  #last = -1;
  #lastSub = -1;

  /** Every retained record of `view`, gathered in slices (`pause` yields to the event loop). */
  static async gather(view: SnapshotView, pause: () => Promise<void>): Promise<RevisionOrder> {
    const order = new RevisionOrder();
    let run: Run = { recs: [], subs: [], order: EMPTY_ORDER, at: 0 };
    let sinceClock = 0;
    for (const [key, head] of view.heads()) {
      forRetained(head, view.compactRevision, (r) => {
        run.recs.push(r);
        run.subs.push(subOf(view, key, r.modRevision));
        if (run.recs.length === RUN_RECORDS) {
          order.#addRun(run);
          run = { recs: [], subs: [], order: EMPTY_ORDER, at: 0 };
        }
      });
      if (++sinceClock >= CLOCK_EVERY) {
        sinceClock = 0;
        await pause();
      }
    }
    if (run.recs.length > 0) order.#addRun(run);
    return order;
  }

  #addRun(run: Run): void {
    sortRun(run);
    this.#records += run.recs.length;
    this.#runs.push(run);
  }

  /** Records in all. */
  get records(): number {
    return this.#records;
  }

  /** Starts (again) from the first record: the plan and the write each take one pass. */
  rewind(): void {
    for (const run of this.#runs) run.at = 0;
    this.#heap.length = 0;
    for (let i = 0; i < this.#runs.length; i++) this.#push(i);
    this.#last = -1;
    this.#lastSub = -1;
  }

  /** The sub-revision of the record `next()` returned last. */
  get sub(): number {
    return this.#lastSub;
  }

  /** The next record in etcd's order (its sub-revision in `sub`), or undefined after the last. */
  next(): Revision | undefined {
    const top = this.#heap[0];
    if (top === undefined) return undefined;
    const run = this.#runs[top] as Run;
    const i = run.order[run.at++] as number;
    const rec = run.recs[i] as Revision;
    let sub = run.subs[i] as number;
    // Fix the heap: the top run's next record, or (the run done) the last run, sinks into place.
    if (run.at >= run.recs.length) {
      const tail = this.#heap.pop() as number;
      if (this.#heap.length > 0) this.#heap[0] = tail;
    }
    this.#siftDown();
    if (sub === COMPACTED_SUB) sub = rec.modRevision === this.#last ? this.#lastSub + 1 : 0;
    assert(rec.modRevision > this.#last || (rec.modRevision === this.#last && sub > this.#lastSub), 'bolt: records come out in (revision, sub) order');
    this.#last = rec.modRevision;
    this.#lastSub = sub;
    return rec;
  }

  /** The sort key of run `r`'s current record: revision, sub, then the run (key order). */
  #less(a: number, b: number): boolean {
    const ra = this.#runs[a] as Run;
    const rb = this.#runs[b] as Run;
    const ia = ra.order[ra.at] as number;
    const ib = rb.order[rb.at] as number;
    const d = (ra.recs[ia] as Revision).modRevision - (rb.recs[ib] as Revision).modRevision || (ra.subs[ia] as number) - (rb.subs[ib] as number);
    return d < 0 || (d === 0 && a < b);
  }

  #push(run: number): void {
    const h = this.#heap;
    h.push(run);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(h[i] as number, h[parent] as number)) break;
      [h[i], h[parent]] = [h[parent] as number, h[i] as number];
      i = parent;
    }
  }

  /** Sinks the root's run to its place (its current record changed). */
  #siftDown(): void {
    const h = this.#heap;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l] as number, h[m] as number)) m = l;
      if (r < h.length && this.#less(h[r] as number, h[m] as number)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] as number, h[i] as number];
      i = m;
    }
  }
}
