/**
 * The Raft log as the core sees it: the durable part in {@link LogStorage} followed by the
 * {@link Unstable} tail, plus the commit and apply cursors (§5.3).
 */
import { assert } from './assert.ts';
import { Unstable } from './unstable.ts';
import type { Entry, LogIndex, Snapshot, Term } from '../protocol/types.ts';
import type { LogStorage } from './types.ts';

const NO_ENTRIES: Entry[] = [];

export class RaftLog {
  readonly storage: LogStorage;
  readonly unstable: Unstable;
  // Invariant: committed never decreases; applied <= applying <= committed.
  committed: LogIndex;
  /** Highest index handed out in committedEntries (of this or an earlier Ready). */
  applying: LogIndex;
  /** Highest index the driver applied (advance() of the Ready that carried it). */
  applied: LogIndex;

  constructor(storage: LogStorage, committed: LogIndex, applied: LogIndex) {
    this.storage = storage;
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    // The snapshot is applied by definition; commit is at least the snapshot index. (Not
    // firstIndex() - 1: storage may keep entries behind its snapshot for slow followers.)
    const snapIndex = storage.snapshot().meta.index;
    this.committed = Math.max(committed, snapIndex);
    assert(this.committed <= last, `committed ${this.committed} is past the last index ${last}`);
    const appliedFrom = Math.max(applied, snapIndex);
    assert(appliedFrom <= this.committed, `applied ${appliedFrom} is past committed ${this.committed}`);
    this.applied = appliedFrom;
    this.applying = appliedFrom;
  }

  firstIndex(): LogIndex {
    const i = this.unstable.maybeFirstIndex();
    return i >= 0 ? i : this.storage.firstIndex();
  }

  lastIndex(): LogIndex {
    const i = this.unstable.maybeLastIndex();
    return i >= 0 ? i : this.storage.lastIndex();
  }

  /** Term of `index`, or -1 when it is compacted or past the end (callers decide). */
  term(index: LogIndex): Term {
    const t = this.unstable.maybeTerm(index);
    if (t >= 0) return t;
    if (index < this.firstIndex() - 1) return -1;
    if (index > this.lastIndex()) return -1;
    if (index === 0) return 0;
    return this.storage.term(index);
  }

  lastTerm(): Term {
    const t = this.term(this.lastIndex());
    assert(t >= 0, 'the last entry has a term');
    return t;
  }

  matchTerm(index: LogIndex, term: Term): boolean {
    return this.term(index) === term;
  }

  /**
   * §5.4.1: a candidate's log is at least as up to date as ours when its last TERM is higher,
   * or the terms are equal and its last index is at least ours. Term first, then index.
   */
  isUpToDate(lastIndex: LogIndex, lastTerm: Term): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Appends locally created entries (the leader's). Returns the new last index. */
  append(ents: readonly Entry[]): LogIndex {
    if (ents.length === 0) return this.lastIndex();
    const first = ents[0] as Entry;
    assert(first.index > this.committed, `append at ${first.index} would overwrite committed ${this.committed}`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /** Appends one locally created entry at lastIndex() + 1 (the leader's hot path: no array). */
  appendOne(entry: Entry): void {
    const u = this.unstable;
    if (u.entries.length > 0 || u.snapshot !== undefined || u.offset === this.storage.lastIndex() + 1) {
      assert(entry.index === u.offset + u.entries.length, 'appendOne: index must follow the last entry');
      u.entries.push(entry);
      return;
    }
    this.append([entry]);
  }

  /**
   * The follower side of AppendEntries (§5.3): if our log holds (`index`, `logTerm`), merge
   * `ents` (dropping a conflicting suffix) and advance commit. Returns the last index the
   * message vouches for, or -1 on a mismatch.
   */
  maybeAppend(index: LogIndex, logTerm: Term, commit: LogIndex, ents: readonly Entry[]): LogIndex {
    if (!this.matchTerm(index, logTerm)) return -1;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      assert(ci > this.committed, `entry ${ci} conflicts with committed entry ${this.committed}`);
      const from = ci - (index + 1);
      this.unstable.truncateAndAppend(from === 0 ? ents : ents.slice(from));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** Index of the first entry of `ents` that is new or has a different term; 0 when none. */
  findConflict(ents: readonly Entry[]): LogIndex {
    const last = this.lastIndex();
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i] as Entry;
      if (e.index > last || !this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast back-off (etcd's findConflictByTerm): the largest index <= `index` whose term is
   * <= `term`. The leader skips a whole term of mismatching entries per round trip.
   */
  findConflictByTerm(index: LogIndex, term: Term): LogIndex {
    const first = this.firstIndex();
    let i = Math.min(index, this.lastIndex());
    while (i >= first - 1) {
      const t = this.term(i);
      if (t < 0 || t <= term) return i;
      i--;
    }
    return Math.max(i, 0);
  }

  commitTo(index: LogIndex): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} is past the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /**
   * Entries in [lo, hi) up to `maxBytes` of data (at least one). Returns undefined when `lo` is
   * compacted: the caller sends a snapshot instead.
   */
  entries(lo: LogIndex, hi: LogIndex, maxBytes: number): Entry[] | undefined {
    if (lo >= hi) return NO_ENTRIES;
    if (lo < this.firstIndex()) return undefined;
    assert(hi <= this.lastIndex() + 1, `entries: hi ${hi} past the end`);
    const u = this.unstable;
    let out: Entry[];
    let bytes = 0;
    if (lo < u.offset) {
      out = this.storage.entries(lo, Math.min(hi, u.offset), maxBytes);
      for (let i = 0; i < out.length; i++) bytes += (out[i] as Entry).data.length;
      if (out.length < Math.min(hi, u.offset) - lo) return out;
    } else {
      out = [];
    }
    const start = Math.max(lo, u.offset);
    for (let i = start; i < hi; i++) {
      const e = u.entries[i - u.offset] as Entry;
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  restore(snapshot: Snapshot): void {
    assert(snapshot.meta.index > this.committed, `snapshot ${snapshot.meta.index} would move commit back from ${this.committed}`);
    this.unstable.restore(snapshot);
    this.committed = snapshot.meta.index;
    // Everything up to the snapshot is in the state machine once the driver applies it.
    this.applying = snapshot.meta.index;
  }

  hasNextCommittedEntries(): boolean {
    return this.committed > this.applying && this.applying + 1 >= this.firstIndex();
  }

  nextCommittedEntries(maxBytes: number): Entry[] {
    if (!this.hasNextCommittedEntries()) return NO_ENTRIES;
    return this.entries(this.applying + 1, this.committed + 1, maxBytes) ?? NO_ENTRIES;
  }
}
