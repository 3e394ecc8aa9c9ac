/**
 * The MVCC keyspace: an ordered map from key to its history chain, one global revision, the
 * compaction point, and a per-revision log of the keys written (for watch replay). Writes go
 * through a `WriteBatch` so a transaction that fails half-way can be rolled back and a
 * successful one bumps the revision exactly once.
 */
import { OrderedMap } from './ordered-map.ts';
import { Revision, flatKey } from './key-index.ts';
import { MAX_PACKED_VALUE_BYTES, ValueArena } from './value-arena.ts';
import { mvccAssert as assert } from '../assert.ts';

/** One change made by a write: the new record and the live record it replaced (if any). */
export interface Change {
  readonly key: string;
  readonly rec: Revision;
  readonly prev: Revision | undefined;
}

/** Keys written at one revision, in op order: a string for the common single-key case. */
export type LogEntry = string | readonly string[];

export class Keyspace {
  /** Key → its newest record, in key order. */
  #tree: OrderedMap<Revision>;
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
   * Hash index of the heads: key → newest record (the same record as `tree.get(key)`). Point
   * reads and the read-before-write of every put cost one hash lookup instead of a B-tree
   * descent. Invariant: same keys and records as `tree`.
   */
  readonly #heads = new Map<string, Revision>();
  /** The values' bytes (see value-arena.ts). */
  readonly arena = new ValueArena();
  /** Compacted parts of the revision log whose keys still hold dropped history (see compact()). */
  readonly #backlog: LogEntry[][] = [];
  /** How far continueCompaction got into #backlog[0]. */
  #backlogAt = 0;

  constructor() {
    this.#tree = new OrderedMap<Revision>();
  }

  get tree(): OrderedMap<Revision> {
    return this.#tree;
  }

  /**
   * Restore only: `head` (with its chain) is the newest record of its key in the hash index; the
   * caller adds it to a SortedLoader too, in key order, and installs that tree (installTree).
   */
  indexHead(head: Revision): void {
    this.#heads.set(head.key, head);
  }

  /** Restore only: the B-tree built from the heads indexed so far (same keys as the hash index). */
  installTree(tree: OrderedMap<Revision>): void {
    assert(this.#tree.size === 0 && tree.size === this.#heads.size, 'a restored tree holds the indexed heads');
    this.#tree = tree;
  }

  /** The newest record of `key` (possibly a tombstone), or undefined. Records never change. */
  head(key: string): Revision | undefined {
    return this.#heads.get(flatKey(key));
  }

  /** The live record of `key` now. */
  live(key: string): Revision | undefined {
    const rec = this.#heads.get(flatKey(key));
    return rec !== undefined && rec.version > 0 ? rec : undefined;
  }

  /**
   * Make (value, createRevision, modRevision, version, lease) the newest record of `key`, linked
   * to the current one; `head` must be `this.head(key)` (the caller has just read it: passing it
   * saves a second hash lookup). Returns the new head, whose `prev` is the record it replaced
   * (undefined when the key had none): use that for prevKv, events and undo.
   *
   * The B-tree is copy-on-write (sorted-btree's clone shares nodes until either side writes), so
   * setting the new head there never shows in a snapshot's clone. Why the tree holds records and
   * not a mutable slot per key that a put could update without a descent: at 1M keys a slot is
   * 40 B and one more object for every garbage collection to trace, and a range walk reads one
   * pointer less; the descent costs a put about a microsecond.
   */
  writeHead(key: string, head: Revision | undefined, given: Uint8Array, createRevision: number, modRevision: number, version: number, lease: number): Revision {
    const holder = this.arena.keep(given);
    const rec = new Revision(head === undefined ? flatKey(key) : head.key, holder, this.arena.keptAt, given.byteLength, createRevision, modRevision, version, lease, head);
    this.setHead(rec);
    return rec;
  }

  /** Make `rec` (with its chain) the newest record of its key in both indexes (its key is kept flat, see flatKey). */
  setHead(rec: Revision): void {
    this.#tree.set(rec.key, rec);
    this.#heads.set(rec.key, rec);
  }

  /** An O(1) copy-on-write clone of the tree for a snapshot. */
  cloneTree(): OrderedMap<Revision> {
    return this.#tree.clone();
  }

  /**
   * Asserts the hash index and the B-tree agree (same keys, same head records), and that every
   * history runs strictly newest first. O(keys): for tests.
   */
  checkIndexes(): void {
    assert(this.#heads.size === this.#tree.size, 'hash index and tree hold as many keys');
    this.#tree.checkValid();
    let packedBytes = 0;
    for (const [key, head] of this.#tree.entries()) {
      assert(this.#heads.get(key) === head, `hash index and tree agree on ${key}`);
      for (let r: Revision | undefined = head; r !== undefined; r = r.prev) {
        assert(r.key === key, `history of ${key} holds only ${key}`);
        if (r.prev !== undefined) assert(r.prev.modRevision < r.modRevision, `history of ${key} is newest first`);
        assert(r.value.byteLength === r.valueLength, `the value of ${key} at ${r.modRevision} has its length`);
        if (r.valueLength <= MAX_PACKED_VALUE_BYTES) packedBytes += r.valueLength;
      }
    }
    assert(packedBytes === this.arena.stats().liveBytes, `the arena counts the bytes of the values held (${packedBytes} held, ${this.arena.stats().liveBytes} counted)`);
  }

  /** Undo a `writeHead` (transaction rollback): `old` is the `prev` of the head it returned. */
  restoreHead(key: string, old: Revision | undefined): void {
    const flat = flatKey(key);
    const head = this.#heads.get(flat);
    assert(head !== undefined && head.prev === old, 'rollback of the last write of a key');
    head.releaseValue(this.arena);
    if (old === undefined) {
      this.#tree.delete(flat);
      this.#heads.delete(flat);
      return;
    }
    this.setHead(old);
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
   * Compact at `rev`: from now on no read, watch, snapshot or hash sees history below it (reads
   * below `rev` fail, the revision log starts after it, snapshot encoding and HashKV skip what
   * compaction drops), and the records it drops are queued for {@link continueCompaction} to free
   * in bounded steps. Caller has checked compactRevision < rev <= revision.
   *
   * Only keys written in (compactRevision, rev] can have anything to drop: a key untouched since
   * the last compaction already has at most one (live) record at or below it. The revision log
   * lists exactly those keys, so the queue is the trimmed part of the log, not a scan of all keys.
   * Why not all at once: at 1M revisions dropping them takes seconds of one synchronous stretch.
   */
  compact(rev: number): void {
    assert(rev > this.compactRevision, 'compaction moves forward');
    assert(rev <= this.revision, 'compaction is not in the future');
    const upto = rev + 1 - this.logBase;
    if (upto > 0) this.#backlog.push(this.log.slice(0, upto));
    this.log = this.log.slice(upto);
    this.logBase = rev + 1;
    this.compactRevision = rev;
  }

  /** Whether compacted history is still queued to be freed (continueCompaction). */
  get compactionPending(): boolean {
    return this.#backlog.length > 0;
  }

  /**
   * Frees queued compacted history until `deadline` (a performance.now() value; checked every
   * {@link COMPACT_KEYS_PER_CHECK} keys) or until none is left; returns whether some is left.
   * Each key is compacted at the current compaction point, so a later compaction that arrives
   * meanwhile only adds keys. Runs between commands, never inside one.
   */
  continueCompaction(deadline = Infinity): boolean {
    let sinceCheck = 0;
    while (this.#backlog.length > 0) {
      const batch = this.#backlog[0] as LogEntry[];
      while (this.#backlogAt < batch.length) {
        const entry = batch[this.#backlogAt++] as LogEntry;
        if (typeof entry === 'string') {
          this.#compactKey(entry, this.compactRevision);
          sinceCheck++;
        } else {
          for (const key of entry) this.#compactKey(key, this.compactRevision);
          sinceCheck += entry.length;
        }
        if (sinceCheck >= COMPACT_KEYS_PER_CHECK) {
          sinceCheck = 0;
          if (performance.now() >= deadline) return true;
        }
      }
      this.#backlog.shift();
      this.#backlogAt = 0;
    }
    return false;
  }

  /** Compacts one key's chain at `rev` (again: a key already minimal is left as it is). */
  #compactKey(key: string, rev: number): void {
    const head = this.#heads.get(key);
    if (head === undefined) return;
    const kept = keptRecords(head, rev);
    if (kept === undefined) return; // chain already minimal below rev
    // The records below the kept ones are dropped: their values' bytes become holes.
    let dropped: Revision | undefined = kept.length === 0 ? head : (kept[kept.length - 1] as Revision).prev;
    for (; dropped !== undefined; dropped = dropped.prev) dropped.releaseValue(this.arena);
    if (kept.length === 0) {
      this.#tree.delete(key);
      this.#heads.delete(key);
      return;
    }
    let chain: Revision | undefined;
    for (let i = kept.length - 1; i >= 0; i--) chain = (kept[i] as Revision).relinked(chain);
    this.setHead(chain as Revision);
  }
}

/** Keys compacted between two looks at the clock in continueCompaction. */
export const COMPACT_KEYS_PER_CHECK = 256;

/**
 * The records of `head`'s chain a snapshot or a hash includes under compaction at `compact`: those
 * above it, and the newest one at or below it when that one is live. Calls `visit` with each,
 * newest first, and returns how many.
 */
export function forRetained(head: Revision, compact: number, visit?: (r: Revision) => void): number {
  let n = 0;
  for (let r: Revision | undefined = head; r !== undefined; r = r.prev) {
    const below = r.modRevision <= compact;
    if (!below || r.version > 0) {
      n++;
      visit?.(r);
    }
    if (below) break;
  }
  return n;
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
