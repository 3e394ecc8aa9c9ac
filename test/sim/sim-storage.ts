/**
 * The simulator's durable log: a {@link LogStorage} that holds only what the simulated driver has
 * "persisted". Entries and hard state handed out in a Ready become visible (and survive a crash)
 * only when the driver calls {@link SimStorage.persist}; a crash simply drops the RawNode, whose
 * unstable (unpersisted) entries die with it, while this object lives on as the disk.
 */
import type { ConfState, Entry, HardState, LogIndex, Snapshot, Term } from '../../src/protocol/types.ts';
import { EMPTY_SNAPSHOT } from '../../src/protocol/types.ts';
import type { LogStorage } from '../../src/raft/types.ts';
import { LogCompactedError, LogUnavailableError } from '../../src/raft/types.ts';

/** Raised by the storage when the core hands it something no correct core would (a gap, a rewrite below the snapshot). */
export class StorageMisuse extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageMisuse';
  }
}

export class SimStorage implements LogStorage {
  #hardState: HardState = { term: 0, vote: '', commit: 0 };
  /** Membership as of the snapshot (or the bootstrap membership when there is no snapshot). */
  #confState: ConfState;
  #snapshot: Snapshot = EMPTY_SNAPSHOT;
  /** Invariant: #entries[k].index === #snapshot.meta.index + 1 + k. */
  #entries: Entry[] = [];

  constructor(bootstrap: ConfState) {
    this.#confState = { voters: [...bootstrap.voters], learners: [...bootstrap.learners] };
  }

  initialState(): { readonly hardState: HardState; readonly confState: ConfState } {
    return { hardState: this.#hardState, confState: this.#confState };
  }

  get hardState(): HardState {
    return this.#hardState;
  }

  firstIndex(): LogIndex {
    return this.#snapshot.meta.index + 1;
  }

  lastIndex(): LogIndex {
    return this.#snapshot.meta.index + this.#entries.length;
  }

  term(index: LogIndex): Term {
    const snap = this.#snapshot.meta;
    if (index === snap.index) return snap.term;
    if (index < snap.index) throw new LogCompactedError(index);
    const e = this.#entries[index - snap.index - 1];
    if (e === undefined) throw new LogUnavailableError(index);
    return e.term;
  }

  /** The term at `index`, or undefined when compacted or missing (for the checker; never throws). */
  termOrUndefined(index: LogIndex): Term | undefined {
    const snap = this.#snapshot.meta;
    if (index === snap.index) return snap.term;
    if (index < snap.index) return undefined;
    return this.#entries[index - snap.index - 1]?.term;
  }

  entryAt(index: LogIndex): Entry | undefined {
    return this.#entries[index - this.#snapshot.meta.index - 1];
  }

  entries(lo: LogIndex, hi: LogIndex, maxBytes: number): Entry[] {
    const snap = this.#snapshot.meta.index;
    if (lo <= snap) throw new LogCompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new LogUnavailableError(hi - 1);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.#entries[i - snap - 1] as Entry;
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.#snapshot;
  }

  /**
   * Makes a Ready's snapshot, entries and hard state durable, in that order (one "fsync").
   * Returns the entries that were written, for the log-matching check.
   */
  persist(snapshot: Snapshot | undefined, entries: readonly Entry[], hardState: HardState | undefined): void {
    if (snapshot !== undefined && snapshot.meta.index > 0) {
      if (snapshot.meta.index <= this.#snapshot.meta.index) {
        throw new StorageMisuse(`snapshot at ${snapshot.meta.index} is not newer than the stored one at ${this.#snapshot.meta.index}`);
      }
      // A received snapshot replaces the whole log (etcd semantics): entries after it come from the leader again.
      this.#snapshot = snapshot;
      this.#confState = snapshot.meta.confState;
      this.#entries = [];
    }
    if (entries.length > 0) {
      const first = entries[0] as Entry;
      const snap = this.#snapshot.meta.index;
      if (first.index <= snap) {
        throw new StorageMisuse(`entries from ${first.index} would overwrite the snapshot at ${snap}`);
      }
      if (first.index > this.lastIndex() + 1) {
        throw new StorageMisuse(`entries from ${first.index} leave a gap after last index ${this.lastIndex()}`);
      }
      // Truncate only when the batch overwrites a suffix (§5.3); the common case is a plain append.
      if (first.index <= this.lastIndex()) this.#entries.length = first.index - snap - 1;
      for (let k = 0; k < entries.length; k++) {
        const e = entries[k] as Entry;
        if (e.index !== first.index + k) throw new StorageMisuse(`entries are not contiguous at ${e.index}`);
        this.#entries.push(e);
      }
    }
    if (hardState !== undefined) this.#hardState = hardState;
  }

  /**
   * The app's own snapshot at `index` (which it has applied and which is durably committed), then
   * compaction of every entry up to it — as the LogStorage contract puts firstIndex at snapshot + 1.
   */
  compact(index: LogIndex, confState: ConfState, data: Uint8Array): void {
    const snap = this.#snapshot.meta.index;
    if (index <= snap) return;
    if (index > this.lastIndex()) throw new StorageMisuse(`snapshot index ${index} past last index ${this.lastIndex()}`);
    const term = this.term(index);
    this.#entries = this.#entries.slice(index - snap);
    this.#snapshot = { meta: { index, term, confState }, data };
    this.#confState = confState;
  }
}
