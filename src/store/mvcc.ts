/**
 * The MVCC keyspace: an ordered map from key to its history chain, one global revision, the
 * compaction point, and a per-revision log of the keys written (for watch replay). Writes go
 * through a `WriteBatch` so a transaction that fails half-way can be rolled back and a
 * successful one bumps the revision exactly once.
 */
import { OrderedMap } from './ordered-map.ts';
import { KeySlot, Revision, flatKey } from './key-index.ts';
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
  /** Key → its slot (whose head is the key's newest record), in key order. */
  readonly tree: OrderedMap<KeySlot>;
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
   * Hash index of the heads: key → newest record (the same record as `tree.get(key).head`, and
   * that record's `slot` is that tree slot). Point reads and the read-before-write of every put
   * cost one hash lookup instead of a B-tree descent. Invariant: same keys as `tree`.
   */
  readonly #heads = new Map<string, Revision>();
  /**
   * The revision at the last `cloneTree()`: a slot put in the tree at or below it may be held by a
   * snapshot's tree, so its head is never replaced in place (see writeHead). Slots built by
   * compaction or restore count as shared (since 0), which only costs one tree write.
   */
  #frozenRevision = 0;
  /** The values' bytes (see value-arena.ts). */
  readonly arena = new ValueArena();
  /** Compacted parts of the revision log whose keys still hold dropped history (see compact()). */
  readonly #backlog: LogEntry[][] = [];
  /** How far continueCompaction got into #backlog[0]. */
  #backlogAt = 0;

  constructor() {
    this.tree = new OrderedMap<KeySlot>();
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
   * When the key's slot went into the tree after the last snapshot was taken, no snapshot can hold
   * it and its head is replaced in place (no B-tree descent). An older slot may be in a
   * snapshot's tree: it is left as it is and a new slot goes into the tree.
   */
  writeHead(key: string, head: Revision | undefined, given: Uint8Array, createRevision: number, modRevision: number, version: number, lease: number): Revision {
    const holder = this.arena.keep(given);
    const at = this.arena.keptAt;
    const length = given.byteLength;
    if (head === undefined) {
      const rec = new Revision(flatKey(key), holder, at, length, createRevision, modRevision, version, lease, undefined, undefined);
      this.#install(rec, modRevision);
      return rec;
    }
    const slot = head.slot;
    assert(slot !== undefined, 'a head has its slot');
    // The old head becomes history: it lets go of the slot (a replaced slot that only a dropped
    // snapshot still held would otherwise live as long as the history does).
    head.attach(undefined);
    const inPlace = slot.since > this.#frozenRevision;
    const rec = new Revision(head.key, holder, at, length, createRevision, modRevision, version, lease, head, inPlace ? slot : undefined);
    if (inPlace) {
      slot.head = rec;
      this.#heads.set(head.key, rec);
    } else this.#install(rec, modRevision);
    return rec;
  }

  /** Make the (fresh, unshared) chain `rec` the history of its key (compaction, restore). */
  setHead(rec: Revision): void {
    this.#install(rec, 0);
  }

  /** A new slot for `rec` in the tree and `rec` in the hash index (its key is kept flat, see flatKey). */
  #install(rec: Revision, since: number): void {
    const slot = new KeySlot(rec, since);
    rec.attach(slot);
    this.tree.set(rec.key, slot);
    this.#heads.set(rec.key, rec);
  }

  /** An O(1) copy-on-write clone of the tree for a snapshot; freezes every current slot. */
  cloneTree(): OrderedMap<KeySlot> {
    const clone = this.tree.clone();
    this.#frozenRevision = this.revision;
    return clone;
  }

  /**
   * Asserts the hash index and the B-tree agree (same keys; each hash entry is its tree slot's
   * head, and that head's slot is that tree slot), and that every history runs strictly newest
   * first. O(keys): for tests.
   */
  checkIndexes(): void {
    assert(this.#heads.size === this.tree.size, 'hash index and tree hold as many keys');
    let packedBytes = 0;
    for (const [key, slot] of this.tree.entries()) {
      const head = slot.head;
      assert(this.#heads.get(key) === head, `hash index and tree agree on ${key}`);
      assert(head.slot === slot, `the head of ${key} knows its slot`);
      for (let r: Revision | undefined = head; r !== undefined; r = r.prev) {
        assert(r.key === key, `history of ${key} holds only ${key}`);
        assert(r === head || r.slot === undefined, `only the head of ${key} holds a slot`);
        if (r.prev !== undefined) assert(r.prev.modRevision < r.modRevision, `history of ${key} is newest first`);
        assert(r.value.byteLength === r.valueLength, `the value of ${key} at ${r.modRevision} has its length`);
        if (r.valueLength <= MAX_PACKED_VALUE_BYTES) packedBytes += r.valueLength;
      }
    }
    assert(packedBytes === this.arena.stats().liveBytes, `the arena counts the bytes of the values held (${packedBytes} held, ${this.arena.stats().liveBytes} counted)`);
  }

  /**
   * Undo a `writeHead` (transaction rollback): `old` is the `prev` of the head it returned and
   * `oldSlot` the slot `old` held then (its `slot` before the write).
   */
  restoreHead(key: string, old: Revision | undefined, oldSlot: KeySlot | undefined): void {
    const flat = flatKey(key);
    if (old === undefined) {
      const head = this.#heads.get(flat);
      head?.releaseValue(this.arena);
      this.tree.delete(flat);
      this.#heads.delete(flat);
      return;
    }
    const head = this.#heads.get(flat);
    assert(head !== undefined && head.prev === old && oldSlot !== undefined, 'rollback of the last write of a key');
    head.releaseValue(this.arena);
    if (head.slot === oldSlot) oldSlot.head = old; // the write had replaced the head in place
    else this.tree.set(flat, oldSlot); // the write had put a new slot over old's (possibly shared) one
    head.attach(undefined);
    old.attach(oldSlot);
    assert(oldSlot.head === old, 'a replaced slot still holds the record it held');
    this.#heads.set(flat, old);
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
      head.attach(undefined);
      this.tree.delete(key);
      this.#heads.delete(key);
      return;
    }
    let chain: Revision | undefined;
    for (let i = kept.length - 1; i >= 0; i--) chain = (kept[i] as Revision).relinked(chain);
    // The old head lets go of its slot, as a head replaced by a write does.
    head.attach(undefined);
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
