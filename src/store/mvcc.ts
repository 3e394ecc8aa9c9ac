/**
 * The MVCC keyspace: an ordered map from key to its history chain, one global revision, the
 * compaction point, and a per-revision log of the keys written (for watch replay). Writes go
 * through a `WriteBatch` so a transaction that fails half-way can be rolled back and a
 * successful one bumps the revision exactly once.
 */
import { OrderedMap } from './ordered-map.ts';
import { EMPTY_VALUE, Revision, liveAt } from './key-index.ts';

function assert(cond: boolean, msg: string): asserts cond {
  if (!cond) throw new Error(`mvcc: assertion failed: ${msg}`);
}

/** One change made by a write: the new record and the live record it replaced (if any). */
export interface Change {
  readonly key: string;
  readonly rec: Revision;
  readonly prev: Revision | undefined;
}

/** Keys written at one revision, in op order: a string for the common single-key case. */
export type LogEntry = string | readonly string[];

/**
 * The mutable slot holding one key's newest record, shared by the B+ tree and the hash index.
 * An overwrite of a key whose cell was created since the last snapshot just repoints `head`
 * (one hash lookup, no B-tree descent). A cell older than the last snapshot may be referenced by
 * that snapshot's tree clone, so it is never mutated again: the write replaces it with a new
 * cell (the tree's copy-on-write path), which keeps snapshots exactly what they captured.
 */
export class Cell {
  head: Revision;
  /** The snapshot epoch this cell was created in; mutable only while it is the current epoch. */
  readonly epoch: number;

  constructor(head: Revision, epoch: number) {
    this.head = head;
    this.epoch = epoch;
  }
}

export class Keyspace {
  readonly tree: OrderedMap<Cell>;
  // Invariant: compactRevision <= revision.
  revision = 0;
  compactRevision = 0;
  /**
   * log[i] = keys written at revision logBase + i, for every revision in (compactRevision,
   * revision]. Only ever appended to, or replaced by a trimmed copy on compaction, so a snapshot
   * can hold a reference plus a length.
   */
  log: LogEntry[] = [];
  logBase = 1;
  /**
   * Hash index of the same heads as `tree`: point reads and the read-before-write of every put
   * cost one hash lookup instead of a B-tree descent. Invariant: same entries as `tree`.
   */
  readonly #heads = new Map<string, Cell>();
  /** Bumped by every `cloneTree()`: cells of an older epoch are frozen (see Cell). */
  #epoch = 0;

  constructor() {
    this.tree = new OrderedMap<Cell>();
  }

  /** The newest record of `key` (possibly a tombstone), or undefined. */
  head(key: string): Revision | undefined {
    return this.#heads.get(key)?.head;
  }

  /** The live record of `key` now. */
  live(key: string): Revision | undefined {
    const cell = this.#heads.get(key);
    return cell !== undefined && cell.head.version > 0 ? cell.head : undefined;
  }

  liveAt(key: string, rev: number): Revision | undefined {
    return liveAt(this.#heads.get(key)?.head, rev);
  }

  /**
   * Make `rec` the head of `key`'s chain. `rec.prev` must be the current head (every write links
   * to it), which is therefore what undo restores.
   */
  setHead(key: string, rec: Revision): void {
    const cell = this.#heads.get(key);
    if (cell !== undefined && cell.epoch === this.#epoch) {
      cell.head = rec;
      return;
    }
    const fresh = new Cell(rec, this.#epoch);
    this.tree.set(key, fresh);
    this.#heads.set(key, fresh);
  }

  /** An O(1) copy-on-write clone of the tree for a snapshot; freezes every existing cell. */
  cloneTree(): OrderedMap<Cell> {
    const clone = this.tree.clone();
    this.#epoch++;
    return clone;
  }

  /** Undo a `setHead` (transaction rollback). */
  restoreHead(key: string, old: Revision | undefined): void {
    if (old === undefined) {
      this.tree.delete(key);
      this.#heads.delete(key);
    } else this.setHead(key, old);
  }

  /** Record that revision `rev` (= revision + 1) wrote `keys`, and make it current. */
  commit(rev: number, keys: LogEntry): void {
    assert(rev === this.revision + 1, 'revisions advance one at a time');
    assert(this.logBase + this.log.length === rev, 'log is contiguous');
    this.log.push(keys);
    this.revision = rev;
  }

  /** Keys written at `rev`, or undefined outside (compactRevision, revision]. */
  logAt(rev: number): LogEntry | undefined {
    return this.log[rev - this.logBase];
  }

  /**
   * Drop history below `rev`: per key keep the newest record at or below `rev` (if live) and all
   * newer ones. Caller has checked compactRevision < rev <= revision.
   *
   * Only keys written in (compactRevision, rev] can have anything to drop: a key untouched since
   * the last compaction already has at most one (live) record at or below it. The revision log
   * lists exactly those keys, so no per-key bookkeeping is needed.
   */
  compact(rev: number): void {
    assert(rev > this.compactRevision, 'compaction moves forward');
    assert(rev <= this.revision, 'compaction is not in the future');
    const visited = new Set<string>();
    const upto = rev + 1 - this.logBase;
    for (let i = 0; i < upto; i++) {
      const entry = this.log[i] as LogEntry;
      if (typeof entry === 'string') this.#compactKey(entry, rev, visited);
      else for (const key of entry) this.#compactKey(key, rev, visited);
    }
    this.log = this.log.slice(upto);
    this.logBase = rev + 1;
    this.compactRevision = rev;
  }

  #compactKey(key: string, rev: number, visited: Set<string>): void {
    if (visited.has(key)) return;
    visited.add(key);
    const head = this.#heads.get(key)?.head;
    if (head === undefined) return;
    const kept = keptRecords(head, rev);
    if (kept === undefined) return; // chain already minimal below rev
    if (kept.length === 0) {
      this.tree.delete(key);
      this.#heads.delete(key);
      return;
    }
    let chain: Revision | undefined;
    for (let i = kept.length - 1; i >= 0; i--) {
      const r = kept[i] as Revision;
      chain = new Revision(r.value, r.createRevision, r.modRevision, r.version, r.lease, chain);
    }
    this.setHead(key, chain as Revision);
  }
}

/**
 * The records of a chain that survive compaction at `rev`, newest first; undefined when nothing
 * would be dropped (so the chain is left as is).
 */
function keptRecords(head: Revision, rev: number): Revision[] | undefined {
  const kept: Revision[] = [];
  let rec: Revision | undefined = head;
  while (rec !== undefined && rec.modRevision > rev) {
    kept.push(rec);
    rec = rec.prev;
  }
  if (rec === undefined) return undefined;
  // rec is the newest record at or below rev: keep it if live, drop everything older.
  if (rec.version > 0) {
    if (rec.prev === undefined) return undefined;
    kept.push(rec);
  }
  return kept;
}

export function tombstone(rev: number, prev: Revision | undefined): Revision {
  return new Revision(EMPTY_VALUE, 0, rev, 0, 0, prev);
}
