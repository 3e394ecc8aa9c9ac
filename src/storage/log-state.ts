/**
 * The durable log as both storages serve it: hard state, the latest snapshot and an in-memory
 * copy of the entries since the compaction point. It changes only when a write has become
 * durable (or, on open, while the WAL is replayed), so every read answers with durable data.
 */
import { storageAssert as assert } from '../assert.ts';
import { InvalidArgumentError } from '../errors.ts';
import type { ConfState, Entry, HardState, LogIndex, Snapshot, Term } from '../protocol/types.ts';
import { LogCompactedError, LogUnavailableError } from '../raft/types.ts';
import type { SaveBatch } from './types.ts';

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: '', commit: 0 });

export function emptySnapshot(): Snapshot {
  return { meta: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) };
}

/** The log shape a write must be checked against: what is durable plus what is queued before it. */
export interface LogProjection {
  lastIndex: LogIndex;
  snapshotIndex: LogIndex;
}

/**
 * Checks a batch against the projected log and advances the projection. Rejects with a typed
 * error before anything is written, so a bad call never fails the storage.
 */
export function checkBatch(batch: SaveBatch, p: LogProjection): void {
  if (batch.hardState !== undefined) checkHardState(batch.hardState);
  if (batch.snapshot !== undefined) {
    const meta = batch.snapshot.meta;
    if (!isIndex(meta.index) || !isIndex(meta.term) || meta.index <= p.snapshotIndex) {
      throw new InvalidArgumentError(`storage: snapshot index ${meta.index} is not after the current snapshot ${p.snapshotIndex}`);
    }
    p.snapshotIndex = meta.index;
    p.lastIndex = meta.index;
  }
  const entries = batch.entries;
  if (entries.length === 0) return;
  const first = (entries[0] as Entry).index;
  if (!isIndex(first) || first <= p.snapshotIndex || first > p.lastIndex + 1) {
    throw new InvalidArgumentError(
      `storage: entries start at ${first}, outside (${p.snapshotIndex}, ${p.lastIndex + 1}] (snapshot index, last index + 1)`,
    );
  }
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Entry;
    if (e.index !== first + i) throw new InvalidArgumentError(`storage: entry ${i} has index ${e.index}, expected ${first + i}`);
    if (!isIndex(e.term)) throw new InvalidArgumentError(`storage: entry ${e.index} has an invalid term`);
    if (e.type !== 'normal' && e.type !== 'confChange') throw new InvalidArgumentError(`storage: entry ${e.index} has an invalid type`);
    if (!(e.data instanceof Uint8Array)) throw new InvalidArgumentError(`storage: entry ${e.index} data is not a Uint8Array`);
  }
  p.lastIndex = first + entries.length - 1;
}

function checkHardState(hs: HardState): void {
  if (!isIndex(hs.term) || !isIndex(hs.commit) || typeof hs.vote !== 'string') {
    throw new InvalidArgumentError('storage: hard state has an invalid term, vote or commit');
  }
}

export function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export class LogState {
  #hardState: HardState = EMPTY_HARD_STATE;
  #snapshot: Snapshot = emptySnapshot();
  // Invariant: #entries[i].index === #offset + i, and #offset <= snapshot index + 1, so every
  // entry in (snapshot index, lastIndex] is in memory. Entries in [#offset, snapshot index] are
  // the ones kept behind an application snapshot for followers that are slightly behind (the
  // driver compacts up to a bounded catch-up window, not up to the snapshot).

  #entries: Entry[] = [];
  #offset: LogIndex = 1;
  /** Term of the entry at `#offset - 1` (known from a segment header or the last compaction). */
  #baseTerm: Term = 0;

  /** Starts the log after `prevIndex` (a segment header on replay). */
  resetAt(prevIndex: LogIndex, prevTerm: Term): void {
    this.#entries = [];
    this.#offset = prevIndex + 1;
    this.#baseTerm = prevTerm;
  }

  get hardState(): HardState {
    return this.#hardState;
  }

  setHardState(hs: HardState): void {
    this.#hardState = hs;
  }

  initialState(): { readonly hardState: HardState; readonly confState: ConfState } {
    return { hardState: this.#hardState, confState: this.#snapshot.meta.confState };
  }

  /** The first entry that can be read: the compaction point + 1 (at most snapshot index + 1). */
  firstIndex(): LogIndex {
    return Math.min(this.#offset, this.#snapshot.meta.index + 1);
  }

  lastIndex(): LogIndex {
    return Math.max(this.#offset - 1 + this.#entries.length, this.#snapshot.meta.index);
  }

  /** Index of the first entry held in memory (the compaction point + 1). */
  get offset(): LogIndex {
    return this.#offset;
  }

  term(index: LogIndex): Term {
    const snap = this.#snapshot.meta;
    if (index === snap.index) return snap.term;
    if (index < this.firstIndex() - 1) throw new LogCompactedError(index);
    if (index > this.lastIndex()) throw new LogUnavailableError(index);
    if (index === this.#offset - 1) return this.#baseTerm;
    const e = this.#entries[index - this.#offset];
    assert(e !== undefined, `entry ${index} missing below offset ${this.#offset}`);
    return e.term;
  }

  entries(lo: LogIndex, hi: LogIndex, maxBytes: number): Entry[] {
    assert(lo <= hi, `entries(${lo}, ${hi}): lo > hi`);
    if (lo < this.firstIndex()) throw new LogCompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new LogUnavailableError(hi - 1);
    if (lo === hi) return [];
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.#entries[i - this.#offset];
      assert(e !== undefined, `entry ${i} missing`);
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.#snapshot;
  }

  /** A snapshot received from the leader: replaces the whole log up to its index. */
  installSnapshot(snap: Snapshot): void {
    this.#snapshot = snap;
    this.#entries = [];
    this.#offset = snap.meta.index + 1;
    this.#baseTerm = snap.meta.term;
  }

  /** Replaces the snapshot object without touching the log (end of replay: the real data). */
  replaceSnapshot(snap: Snapshot): void {
    this.#snapshot = snap;
  }

  /**
   * A snapshot the application made. The entries at or below it stay readable until compact()
   * drops them (the driver keeps a bounded catch-up window for slow followers); a reopen keeps
   * only the entries after the snapshot (trimToSnapshot).
   */
  setSnapshot(snap: Snapshot): void {
    assert(snap.meta.index <= this.lastIndex(), 'snapshot past the last index');
    assert(snap.meta.index >= this.#offset - 1, 'snapshot below the compaction point');
    this.#snapshot = snap;
  }

  /** Appends entries, replacing any suffix from the first one's index on (§5.3). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = (entries[0] as Entry).index;
    assert(first >= this.#offset, `append at ${first} below the in-memory offset ${this.#offset}`);
    assert(first <= this.#offset + this.#entries.length, `append at ${first} leaves a gap`);
    const log = this.#entries;
    const keep = first - this.#offset;
    if (log.length !== keep) log.length = keep;
    for (let i = 0; i < entries.length; i++) log.push(entries[i] as Entry);
  }

  /** Drops in-memory entries before `index` (which is at most snapshot index + 1). */
  compact(index: LogIndex): void {
    if (index <= this.#offset) return;
    assert(index <= this.#snapshot.meta.index + 1, 'compact past the snapshot');
    const drop = Math.min(index - this.#offset, this.#entries.length);
    const lastDropped = this.#entries[drop - 1];
    this.#baseTerm = drop === index - this.#offset && lastDropped !== undefined ? lastDropped.term : this.#snapshot.meta.term;
    this.#entries.splice(0, drop);
    this.#offset = index;
  }

  /** Drops entries at or below the snapshot index (they are never served). */
  trimToSnapshot(): void {
    this.compact(this.#snapshot.meta.index + 1);
  }

  clone(): LogState {
    const c = new LogState();
    c.#hardState = this.#hardState;
    c.#snapshot = this.#snapshot;
    c.#entries = this.#entries.slice();
    c.#offset = this.#offset;
    c.#baseTerm = this.#baseTerm;
    return c;
  }
}
