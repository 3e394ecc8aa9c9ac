/**
 * Range reads over the keyspace: key / [start, end) / prefix / from-key, at the current or a past
 * revision, with etcd's filters, sorting, limit, keysOnly and countOnly. `count` is the number of
 * keys in the range at that revision before filters and limit (as etcd); `more` says whether the
 * filtered list was cut by `limit`.
 */
import { CompactedError, FutureRevisionError } from '../errors.ts';
import type { Keyspace } from './mvcc.ts';
import type { Revision } from './key-index.ts';
import { liveAt, toKeyValue } from './key-index.ts';
import type { KeyRange, RangeOptions, StoredKeyValue, StoredRangeResult } from './types.ts';

export interface Bounds {
  /** Exact single key, or undefined for an interval. */
  readonly key: string | undefined;
  readonly start: string;
  /** Exclusive; undefined = to the last key. */
  readonly end: string | undefined;
}

/** The smallest string greater than every string starting with `prefix`; undefined = none. */
export function prefixEnd(prefix: string): string | undefined {
  let p = prefix;
  while (p.length > 0 && p.charCodeAt(p.length - 1) === 0xffff) p = p.slice(0, -1);
  if (p.length === 0) return undefined;
  return p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1);
}

/** The bounds of a range (not flattened here: the keyspace's lookups and comparisons do; see flatKey). */
export function boundsOf(range: KeyRange): Bounds {
  if ('key' in range) return { key: range.key, start: range.key, end: undefined };
  if ('prefix' in range) return { key: undefined, start: range.prefix, end: prefixEnd(range.prefix) };
  return { key: undefined, start: range.start, end: range.end };
}

export function inBounds(b: Bounds, key: string): boolean {
  if (b.key !== undefined) return key === b.key;
  return key >= b.start && (b.end === undefined || key < b.end);
}

/**
 * Visit each live key in the range at `rev` in key order; rev 0 = the heads (current state, which
 * inside a transaction includes its own earlier writes).
 */
export function forEachLive(ks: Keyspace, range: KeyRange, rev: number, visit: (key: string, rec: Revision) => void): void {
  const b = boundsOf(range);
  if (b.key !== undefined) {
    const rec = liveRecordAt(ks, b.key, rev);
    if (rec !== undefined) visit(b.key, rec);
    return;
  }
  ks.tree.forRange(b.start, b.end, (key, head) => {
    const rec = visibleAt(head, rev);
    if (rec !== undefined) visit(key, rec);
  });
}

/**
 * True when a read of a single key with these (already validated) options returns exactly
 * `getNow`: the current revision, no count-only, no keys-only, no revision filters. `limit` and
 * `sort` cannot change a result of at most one key (see singleKeyQuery), so they do not matter.
 */
export function isCurrentPointRead(o: RangeOptions | undefined): boolean {
  if (o === undefined) return true;
  return !o.revision && o.countOnly !== true && o.keysOnly !== true && !o.minCreateRevision && !o.maxCreateRevision && !o.minModRevision && !o.maxModRevision;
}

/**
 * The current state of one key as a range result (a plain get: `range({ key })`, or with options
 * for which isCurrentPointRead holds): the same result as `rangeQuery(ks, { key }, options)`,
 * without resolving a revision or filters. Why a separate path: at 1M keys a get is bound by
 * the cache misses of the hash lookup, and back-to-back gets overlap those misses only as far as
 * the CPU's instruction window reaches; a short path that the caller can inline whole (so the
 * engine also drops the caller's `{ key }` object) measured ~20 % less time per get than
 * rangeQuery (docs/store.md, "Get at 1M keys").
 */
export function getNow(ks: Keyspace, key: string): StoredRangeResult {
  const kv = getAt(ks, key, 0);
  return kv === undefined ? { kvs: [], count: 0, more: false, revision: ks.revision } : { kvs: [kv], count: 1, more: false, revision: ks.revision };
}

/**
 * One key's live state at `rev` (0 = now; else checked against [compactRevision, revision] like
 * any read), or undefined when it was absent: the point read without a range result around it
 * (Store.get). It allocates nothing: the store's own record is the answer (records never change;
 * the caller must not write to it), which at 1M keys is a fifth of what a get costs
 * (docs/store.md, "Get at 1M keys").
 */
export function getAt(ks: Keyspace, key: string, rev: number): StoredKeyValue | undefined {
  // The record itself: records never change (key-index.ts), so a read needs no copy.
  return liveRecordAt(ks, key, rev === 0 ? 0 : readRevision(ks, rev));
}

/** The options of a read that passed none (shared, never mutated). */
const NO_OPTIONS: RangeOptions = Object.freeze({});

/** Resolve the read revision: 0/undefined = current (returned as 0); typed errors outside [compactRevision, current]. */
export function readRevision(ks: Keyspace, requested: number | undefined): number {
  const rev = requested ?? 0;
  if (rev === 0) return 0;
  if (rev > ks.revision) throw new FutureRevisionError(rev, ks.revision);
  if (rev < ks.compactRevision) throw new CompactedError(rev, ks.compactRevision);
  return rev;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

type Entry = { readonly key: string; readonly rec: Revision };

function sortEntries(entries: Entry[], options: RangeOptions): void {
  const sort = options.sort;
  if (sort === undefined) return;
  const sign = sort.order === 'desc' ? -1 : 1;
  if (sort.by === 'key') {
    if (sign < 0) entries.reverse();
    return;
  }
  const by = sort.by;
  // Array.prototype.sort is stable: ties keep ascending key order, in both directions.
  entries.sort((x, y) => {
    let d: number;
    if (by === 'value') d = compareBytes(x.rec.value, y.rec.value);
    else if (by === 'createRevision') d = x.rec.createRevision - y.rec.createRevision;
    else if (by === 'modRevision') d = x.rec.modRevision - y.rec.modRevision;
    else d = x.rec.version - y.rec.version;
    return sign * d;
  });
}

function passesFilters(rec: Revision, o: RangeOptions): boolean {
  if (o.minCreateRevision !== undefined && o.minCreateRevision > 0 && rec.createRevision < o.minCreateRevision) return false;
  if (o.maxCreateRevision !== undefined && o.maxCreateRevision > 0 && rec.createRevision > o.maxCreateRevision) return false;
  if (o.minModRevision !== undefined && o.minModRevision > 0 && rec.modRevision < o.minModRevision) return false;
  if (o.maxModRevision !== undefined && o.maxModRevision > 0 && rec.modRevision > o.maxModRevision) return false;
  return true;
}

/**
 * Serve a range read. `servedRevision` is what the result reports (the visible revision, which
 * inside a transaction includes its earlier writes).
 */
export function rangeQuery(ks: Keyspace, range: KeyRange, options: RangeOptions = NO_OPTIONS, servedRevision = ks.revision): StoredRangeResult {
  const rev = readRevision(ks, options.revision);
  if ('key' in range) return singleKeyQuery(ks, range.key, rev, options, servedRevision);
  const b = boundsOf(range);
  const countOnly = options.countOnly === true;
  if (countOnly) {
    let count = 0;
    ks.tree.forRuns(b.start, b.end, (_keys, heads, from, to) => {
      for (let i = from; i < to; i++) if (visibleAt(heads[i] as Revision, rev) !== undefined) count++;
    });
    return { kvs: [], count, more: false, revision: servedRevision };
  }
  const limit = options.limit !== undefined && options.limit > 0 ? options.limit : Infinity;
  const filtered = hasFilters(options);
  // Plain key order: build the result directly from the leaf runs (no intermediate entries),
  // stop collecting at `limit` (one more match sets `more`) and keep walking only to count.
  if (options.sort === undefined || (options.sort.by === 'key' && options.sort.order !== 'desc')) {
    const keysOnly = options.keysOnly === true;
    const kvs: StoredKeyValue[] = [];
    let count = 0;
    let more = false;
    ks.tree.forRuns(b.start, b.end, (keys, heads, from, to) => {
      for (let i = from; i < to; i++) {
        const rec = visibleAt(heads[i] as Revision, rev);
        if (rec === undefined) continue;
        count++;
        if (more || (filtered && !passesFilters(rec, options))) continue;
        // The record itself (records never change), unless keysOnly needs a copy without the value.
        if (kvs.length < limit) kvs.push(keysOnly ? toKeyValue(keys[i] as string, rec, true) : rec);
        else more = true;
      }
    });
    return { kvs, count, more, revision: servedRevision };
  }
  const entries: Entry[] = [];
  let count = 0;
  ks.tree.forRange(b.start, b.end, (key, head) => {
    const rec = visibleAt(head, rev);
    if (rec === undefined) return;
    count++;
    if (!filtered || passesFilters(rec, options)) entries.push({ key, rec });
  });
  return finish(entries, count, limit, options, servedRevision);
}

/** The live record at `rev`, where rev 0 means the head (current state). */
function visibleAt(head: Revision, rev: number): Revision | undefined {
  if (rev === 0) return head.version > 0 ? head : undefined;
  return liveAt(head, rev);
}

/** The live record of `key` at an already resolved `rev` (0 = now), or undefined. */
function liveRecordAt(ks: Keyspace, key: string, rev: number): Revision | undefined {
  const head = ks.head(key);
  return head === undefined ? undefined : visibleAt(head, rev);
}

function hasFilters(o: RangeOptions): boolean {
  return (o.minCreateRevision ?? 0) > 0 || (o.maxCreateRevision ?? 0) > 0 || (o.minModRevision ?? 0) > 0 || (o.maxModRevision ?? 0) > 0;
}

function singleKeyQuery(ks: Keyspace, key: string, rev: number, options: RangeOptions, servedRevision: number): StoredRangeResult {
  const rec = liveRecordAt(ks, key, rev);
  const count = rec === undefined ? 0 : 1;
  if (options.countOnly === true || rec === undefined) return { kvs: [], count, more: false, revision: servedRevision };
  if (!passesFilters(rec, options)) return { kvs: [], count, more: false, revision: servedRevision };
  return { kvs: [toKeyValue(key, rec, options.keysOnly === true)], count, more: false, revision: servedRevision };
}

function finish(entries: Entry[], count: number, limit: number, options: RangeOptions, servedRevision: number): StoredRangeResult {
  sortEntries(entries, options);
  const more = entries.length > limit;
  const n = more ? limit : entries.length;
  const keysOnly = options.keysOnly === true;
  const kvs: StoredKeyValue[] = new Array<StoredKeyValue>(n);
  for (let i = 0; i < n; i++) {
    const e = entries[i] as Entry;
    kvs[i] = toKeyValue(e.key, e.rec, keysOnly);
  }
  return { kvs, count, more, revision: servedRevision };
}
