/**
 * The log's tail that is not yet known to be durable: entries (and possibly a snapshot) that
 * were appended in memory and either not yet handed out in a Ready, or handed out in the Ready
 * the driver is persisting now. `advance()` moves the handed-out part to stable storage.
 */
import { assert } from './assert.ts';
import type { Entry, LogIndex, Snapshot, Term } from '../protocol/types.ts';

export class Unstable {
  /** A snapshot received from the leader, not yet persisted. */
  snapshot: Snapshot | undefined = undefined;
  /** Whether `snapshot` was handed out in the outstanding Ready. */
  snapshotInProgress = false;
  /** Entries at indexes [offset, offset + entries.length). */
  entries: Entry[] = [];
  // Invariant: offset <= storage.lastIndex() + 1 (the tail attaches to, or overrides, storage).
  offset: LogIndex;
  // Invariant: offset <= offsetInProgress <= offset + entries.length. Entries below it were
  // handed out in the outstanding Ready.
  offsetInProgress: LogIndex;

  constructor(offset: LogIndex) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  /** Last index held here, or -1 when the tail is empty and no snapshot is pending. */
  maybeLastIndex(): LogIndex {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== undefined) return this.snapshot.meta.index;
    return -1;
  }

  /** First index held here after a pending snapshot, or -1. */
  maybeFirstIndex(): LogIndex {
    return this.snapshot !== undefined ? this.snapshot.meta.index + 1 : -1;
  }

  /** Term of `index` when this tail knows it, else -1. */
  maybeTerm(index: LogIndex): Term {
    if (index < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.meta.index === index) return this.snapshot.meta.term;
      return -1;
    }
    const e = this.entries[index - this.offset];
    return e === undefined ? -1 : e.term;
  }

  /** Entries not yet handed out in a Ready. */
  nextEntries(): Entry[] {
    const start = this.offsetInProgress - this.offset;
    if (start >= this.entries.length) return [];
    return start === 0 ? this.entries.slice() : this.entries.slice(start);
  }

  /** Marks everything pending as handed out in the Ready being built. */
  acceptInProgress(): void {
    this.offsetInProgress = this.offset + this.entries.length;
    if (this.snapshot !== undefined) this.snapshotInProgress = true;
  }

  /**
   * The outstanding Ready was persisted: drop the entries (and snapshot) it handed out. Entries
   * that were replaced after the Ready was built are no longer below `offsetInProgress`.
   */
  stableHandedOut(): LogIndex {
    if (this.snapshotInProgress) {
      this.snapshot = undefined;
      this.snapshotInProgress = false;
    }
    const n = this.offsetInProgress - this.offset;
    const stableTo = this.offsetInProgress - 1;
    if (n > 0) {
      this.entries = n === this.entries.length ? [] : this.entries.slice(n);
      this.offset = this.offsetInProgress;
    }
    // A snapshot that arrived after the Ready was built is not durable, nor is anything after it.
    return this.snapshot === undefined ? stableTo : 0;
  }

  restore(snapshot: Snapshot): void {
    this.snapshot = snapshot;
    this.snapshotInProgress = false;
    this.entries = [];
    this.offset = snapshot.meta.index + 1;
    this.offsetInProgress = this.offset;
  }

  /** Appends `ents` (contiguous), truncating any tail at or after the first one's index. */
  truncateAndAppend(ents: readonly Entry[]): void {
    const first = ents[0];
    if (first === undefined) return;
    const after = first.index;
    const end = this.offset + this.entries.length;
    if (after === end) {
      for (let i = 0; i < ents.length; i++) this.entries.push(ents[i] as Entry);
      return;
    }
    if (after <= this.offset) {
      // Replace the whole tail: the new entries override storage from `after` on.
      this.offset = after;
      this.entries = ents.slice();
    } else {
      assert(after < end, 'unstable: append leaves a gap');
      this.entries = this.entries.slice(0, after - this.offset);
      for (let i = 0; i < ents.length; i++) this.entries.push(ents[i] as Entry);
    }
    if (this.offsetInProgress > after) this.offsetInProgress = Math.max(after, this.offset);
  }
}
