/**
 * The MVCC keyspace: an ordered map from key to its history chain, one global revision, the
 * compaction point, and a per-revision log of the keys written (for watch replay). Writes go
 * through a `WriteBatch` so a transaction that fails half-way can be rolled back and a
 * successful one bumps the revision exactly once.
 */
import { OrderedMap } from './ordered-map.ts';
import { Revision, flatKey } from './key-index.ts';

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

export class Keyspace {
  readonly tree: OrderedMap<Revision>;
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
  readonly #heads = new Map<string, Revision>();
  /**
   * The revision at the last `cloneTree()`: a head with modRevision at or below it may be held by
   * a snapshot's tree and is never rewritten in place (see writeHead). Heads built by compaction
   * or restore may be treated as frozen without being shared, which only costs one tree write.
   */
  #frozenRevision = 0;

  constructor() {
    this.tree = new OrderedMap<Revision>();
  }

  /**
   * The newest record of `key` (possibly a tombstone), or undefined. It may be rewritten in place
   * by the next write of `key`: read what you need before writing.
   */
  head(key: string): Revision | undefined {
    return this.#heads.get(flatKey(key));
  }

  /** The live record of `key` now (same caveat as head()). */
  live(key: string): Revision | undefined {
    const rec = this.#heads.get(flatKey(key));
    return rec !== undefined && rec.version > 0 ? rec : undefined;
  }

  /**
   * Make (value, createRevision, modRevision, version, lease) the newest record of `key`, linked
   * to the current one; `head` must be `this.head(key)` (the caller has just read it: passing it
   * saves a second hash lookup). Returns the new head, whose `prev` is the record it replaced as
   * immutable history (undefined when the key had none): use that, not the earlier head, for
   * prevKv, events and undo.
   *
   * A head written after the last snapshot was taken is rewritten in place (no B-tree descent):
   * no snapshot can hold it. An older head may be in a snapshot's tree: it is left as it is (it
   * becomes history) and a new head record goes into the tree.
   */
  writeHead(key: string, head: Revision | undefined, value: Uint8Array, createRevision: number, modRevision: number, version: number, lease: number): Revision {
    if (head !== undefined && head.modRevision > this.#frozenRevision) {
      head.prev = new Revision(head.value, head.createRevision, head.modRevision, head.version, head.lease, head.prev);
      head.value = value;
      head.createRevision = createRevision;
      head.modRevision = modRevision;
      head.version = version;
      head.lease = lease;
      return head;
    }
    const rec = new Revision(value, createRevision, modRevision, version, lease, head);
    this.#install(key, rec);
    return rec;
  }

  /** Make the (fresh, unshared) chain `rec` the history of `key` (compaction, restore). */
  setHead(key: string, rec: Revision): void {
    this.#install(key, rec);
  }

  /** A new head record in both indexes; the key is kept, so it is kept flat (see flatKey). */
  #install(key: string, rec: Revision): void {
    const flat = flatKey(key);
    this.tree.set(flat, rec);
    this.#heads.set(flat, rec);
  }

  /** An O(1) copy-on-write clone of the tree for a snapshot; freezes every current head. */
  cloneTree(): OrderedMap<Revision> {
    const clone = this.tree.clone();
    this.#frozenRevision = this.revision;
    return clone;
  }

  /**
   * Asserts the hash index and the B-tree hold the same key → head entries (the same record
   * objects), and that every history runs strictly newest first. O(keys): for tests.
   */
  checkIndexes(): void {
    assert(this.#heads.size === this.tree.size, 'hash index and tree hold as many keys');
    for (const [key, head] of this.tree.entries()) {
      assert(this.#heads.get(key) === head, `hash index and tree agree on ${key}`);
      for (let r: Revision | undefined = head; r?.prev !== undefined; r = r.prev) assert(r.prev.modRevision < r.modRevision, `history of ${key} is newest first`);
    }
  }

  /** Undo a `writeHead` (transaction rollback): `old` is the `prev` of the head it returned. */
  restoreHead(key: string, old: Revision | undefined): void {
    if (old === undefined) {
      this.tree.delete(key);
      this.#heads.delete(key);
      return;
    }
    const head = this.#heads.get(key);
    assert(head !== undefined, 'rollback of a written key');
    assert(head.modRevision > this.#frozenRevision, 'a head written by this command is not in a snapshot');
    head.value = old.value;
    head.createRevision = old.createRevision;
    head.modRevision = old.modRevision;
    head.version = old.version;
    head.lease = old.lease;
    head.prev = old.prev;
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
    const head = this.#heads.get(key);
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
