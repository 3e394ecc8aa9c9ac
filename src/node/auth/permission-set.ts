/**
 * The keys one user may read and write, as etcd decides it (auth/range_perm_cache.go): the
 * user's permissions become two unions of key intervals, and a request is allowed when its keys
 * lie inside the union — a single key inside some interval, a range [key, rangeEnd) covered
 * without a gap (possibly by several permissions together). Intervals are merged once, when the
 * set is built, so a check is a binary search.
 */
import type { Access, Permission } from './types.ts';

/** A half-open interval of keys; `end` undefined is "to the end of the keyspace". */
interface Interval {
  readonly start: Uint8Array;
  readonly end: Uint8Array | undefined;
}

/** Byte order of two keys (a loop: for short keys cheaper than a native call per compare). */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** The key right after `key` (key + "\0"): the end of the point interval [key, key\0). */
function successor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

function isOpenEnd(rangeEnd: Uint8Array): boolean {
  return rangeEnd.length === 1 && rangeEnd[0] === 0;
}

/** The keys a permission or a request names, in etcd's `range_end` encoding. */
export function intervalOf(key: Uint8Array, rangeEnd: Uint8Array): Interval {
  if (rangeEnd.length === 0) return { start: key, end: successor(key) };
  return { start: key, end: isOpenEnd(rangeEnd) ? undefined : rangeEnd };
}

function endBefore(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined) return false;
  if (b === undefined) return true;
  return compareKeys(a, b) < 0;
}

/** Sorted, disjoint, non-adjacent intervals covering the same keys as `list`. */
function merge(list: Interval[]): Interval[] {
  const valid = list.filter((i) => i.end === undefined || compareKeys(i.start, i.end) < 0);
  valid.sort((a, b) => compareKeys(a.start, b.start));
  const out: Interval[] = [];
  for (const next of valid) {
    const last = out[out.length - 1];
    // Touching intervals merge too: [a, b) and [b, c) cover [a, c) without a gap.
    if (last !== undefined && (last.end === undefined || compareKeys(next.start, last.end) <= 0)) {
      if (endBefore(last.end, next.end)) out[out.length - 1] = { start: last.start, end: next.end };
    } else out.push(next);
  }
  return out;
}

/** Whether `want` lies inside one interval of the merged, sorted `set`. */
function covers(set: readonly Interval[], want: Interval): boolean {
  // The last interval starting at or before want.start is the only candidate (they are disjoint).
  let lo = 0;
  let hi = set.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(set[mid]!.start, want.start) <= 0) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found < 0) return false;
  const candidate = set[found]!;
  if (!endBefore(want.start, candidate.end)) return false; // want.start is past its end.
  return !endBefore(candidate.end, want.end);
}

export class PermissionSet {
  readonly #read: Interval[];
  readonly #write: Interval[];
  /** True for a root user: everything is allowed. */
  readonly #all: boolean;

  constructor(permissions: Iterable<Permission>, all = false) {
    const read: Interval[] = [];
    const write: Interval[] = [];
    for (const p of permissions) {
      const i = intervalOf(p.key, p.rangeEnd);
      if (p.type !== 'write') read.push(i);
      if (p.type !== 'read') write.push(i);
    }
    this.#read = merge(read);
    this.#write = merge(write);
    this.#all = all;
  }

  /**
   * Whether `access` to the key (empty `rangeEnd`) or range is allowed. An empty range
   * (rangeEnd at or before key) names no key but is checked as its first key, so that no request
   * shape passes for free.
   */
  allows(access: Access, key: Uint8Array, rangeEnd: Uint8Array = new Uint8Array(0)): boolean {
    if (this.#all) return true;
    let want = intervalOf(key, rangeEnd);
    if (want.end !== undefined && compareKeys(want.start, want.end) >= 0) want = intervalOf(key, new Uint8Array(0));
    return covers(access === 'read' ? this.#read : this.#write, want);
  }
}

/** The key and range end (etcd's encoding) of every key starting with `prefix`; "" is the whole keyspace. */
export function prefixKeys(prefix: string): { readonly key: Uint8Array; readonly rangeEnd: Uint8Array } {
  const key = Buffer.from(prefix, 'utf8');
  for (let i = key.length - 1; i >= 0; i--) {
    if (key[i]! < 0xff) {
      const end = Uint8Array.from(key.subarray(0, i + 1));
      end[i] = key[i]! + 1;
      return { key: new Uint8Array(key), rangeEnd: end };
    }
  }
  // No byte to increment (empty, or all 0xff): from the key on.
  return { key: key.length === 0 ? Uint8Array.of(0) : new Uint8Array(key), rangeEnd: Uint8Array.of(0) };
}
