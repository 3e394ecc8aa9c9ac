/**
 * Stabbing-query index for watchers on general [start, end) ranges: "which ranges contain this
 * key?" without scanning every range. Ranges live in an array sorted by start, cut into blocks of
 * BLOCK with each block's largest end; a query visits only blocks whose starts can be <= key and
 * whose max end is > key. Additions go to a small pending list (scanned linearly) that is merged
 * when it grows past sqrt(n); removals are dropped lazily and compacted on the next rebuild.
 */
const BLOCK = 32;

export interface RangeItem {
  readonly start: string;
  /** Exclusive; undefined = to the last key. */
  readonly end: string | undefined;
}

function endAfter(end: string | undefined, key: string): boolean {
  return end === undefined || end > key;
}

export class RangeIndex<T extends RangeItem> {
  #sorted: T[] = [];
  #blockMaxEnd: (string | undefined)[] = [];
  #pending: T[] = [];
  #removed = new Set<T>();
  /** Every item currently in the index: makes add/delete idempotent. */
  readonly #members = new Set<T>();

  get size(): number {
    return this.#members.size;
  }

  add(item: T): void {
    if (this.#members.has(item)) return;
    this.#members.add(item);
    if (this.#removed.delete(item)) return;
    this.#pending.push(item);
    if (this.#pending.length > 16 + Math.sqrt(this.#sorted.length)) this.#rebuild();
  }

  delete(item: T): void {
    if (!this.#members.delete(item)) return;
    const i = this.#pending.indexOf(item);
    if (i >= 0) this.#pending.splice(i, 1);
    else this.#removed.add(item);
    if (this.#removed.size > 16 + this.#sorted.length / 2) this.#rebuild();
  }

  /** Appends to `out` every item with start <= key < end (no callback: this runs per event). */
  containing(key: string, out: T[]): void {
    for (let i = 0; i < this.#pending.length; i++) {
      const it = this.#pending[i] as T;
      if (it.start <= key && endAfter(it.end, key)) out.push(it);
    }
    const sorted = this.#sorted;
    const removed = this.#removed;
    for (let b = 0; b < this.#blockMaxEnd.length; b++) {
      const first = b * BLOCK;
      if ((sorted[first] as T).start > key) break; // every later start is greater too
      if (!endAfter(this.#blockMaxEnd[b], key)) continue;
      const last = Math.min(first + BLOCK, sorted.length);
      for (let i = first; i < last; i++) {
        const it = sorted[i] as T;
        if (it.start > key) break;
        if (endAfter(it.end, key) && (removed.size === 0 || !removed.has(it))) out.push(it);
      }
    }
  }

  /** Appends every item (cancel-all). */
  all(out: T[]): void {
    for (const it of this.#pending) out.push(it);
    for (const it of this.#sorted) if (!this.#removed.has(it)) out.push(it);
  }

  #rebuild(): void {
    const all = this.#sorted.filter((it) => !this.#removed.has(it));
    all.push(...this.#pending);
    all.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    this.#sorted = all;
    this.#pending = [];
    this.#removed.clear();
    const maxEnds: (string | undefined)[] = [];
    for (let first = 0; first < all.length; first += BLOCK) {
      let max: string | undefined = '';
      for (let i = first; i < Math.min(first + BLOCK, all.length); i++) {
        const end = (all[i] as T).end;
        if (end === undefined) {
          max = undefined;
          break;
        }
        if (end > max) max = end;
      }
      maxEnds.push(max);
    }
    this.#blockMaxEnd = maxEnds;
  }
}
