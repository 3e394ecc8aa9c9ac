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

export class Keyspace {
  tree: OrderedMap<Revision>;
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
  /** Keys whose chain has more than one record or ends in a tombstone: compaction visits only these. */
  #historied = new Set<string>();

  constructor(tree?: OrderedMap<Revision>) {
    this.tree = tree ?? new OrderedMap<Revision>();
  }

  /** The live record of `key` now. */
  live(key: string): Revision | undefined {
    const rec = this.tree.get(key);
    return rec !== undefined && rec.version > 0 ? rec : undefined;
  }

  liveAt(key: string, rev: number): Revision | undefined {
    return liveAt(this.tree.get(key), rev);
  }

  /** Replace the head of `key`'s chain; returns the old head for undo. */
  setHead(key: string, rec: Revision): Revision | undefined {
    const old = this.tree.get(key);
    this.tree.set(key, rec);
    if (rec.prev !== undefined || rec.version === 0) this.#historied.add(key);
    return old;
  }

  /** Undo a `setHead` (transaction rollback). */
  restoreHead(key: string, old: Revision | undefined): void {
    if (old === undefined) this.tree.delete(key);
    else this.tree.set(key, old);
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
   */
  compact(rev: number): void {
    assert(rev > this.compactRevision, 'compaction moves forward');
    assert(rev <= this.revision, 'compaction is not in the future');
    for (const key of this.#historied) {
      const head = this.tree.get(key);
      const kept = head === undefined ? [] : keptRecords(head, rev);
      if (kept === undefined) continue; // chain already minimal below rev
      if (kept.length === 0) {
        this.tree.delete(key);
        this.#historied.delete(key);
        continue;
      }
      let chain: Revision | undefined;
      for (let i = kept.length - 1; i >= 0; i--) {
        const r = kept[i];
        assert(r !== undefined, 'kept index in bounds');
        chain = new Revision(r.value, r.createRevision, r.modRevision, r.version, r.lease, chain);
      }
      assert(chain !== undefined, 'non-empty chain');
      this.tree.set(key, chain);
      if (chain.prev === undefined && chain.version > 0) this.#historied.delete(key);
    }
    this.log = this.log.slice(rev + 1 - this.logBase);
    this.logBase = rev + 1;
    this.compactRevision = rev;
  }

  /** Rebuild the compaction hint set after a restore. */
  noteHistory(key: string, head: Revision): void {
    if (head.prev !== undefined || head.version === 0) this.#historied.add(key);
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
