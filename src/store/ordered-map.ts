/**
 * The one place that imports `sorted-btree` (CommonJS v2, no `exports` map). Under Node's ESM
 * loader (and tsx) a default import of a CommonJS module yields `module.exports`, whose `default`
 * property is the BTree class; `tsc` with `module: nodenext` types it the same way. Everything
 * else in the store talks to this small, typed, string-keyed ordered map.
 */
import btreeModule from 'sorted-btree';

type BTreeClass = typeof btreeModule.default;
// When this file is itself compiled to CommonJS (e.g. tsx loading it from a CJS context), the
// default import is already the class: accept both shapes.
const BTree: BTreeClass =
  typeof (btreeModule as { default?: unknown }).default === 'function' ? btreeModule.default : (btreeModule as unknown as BTreeClass);
type Tree<V> = InstanceType<typeof BTree<string, V>>;

/** JS string order (UTF-16 code units); total and deterministic, which is all MVCC needs. */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What a forRange callback returns to stop the walk (shared: never mutated). */
const BREAK: { break: true } = Object.freeze({ break: true as const });

/** B+ tree branching factor: 64 keeps leaves cache-friendly and clone() cheap. */
const MAX_NODE_SIZE = 64;

export class OrderedMap<V> {
  #tree: Tree<V>;

  constructor(tree?: Tree<V>) {
    this.#tree = tree ?? new BTree<string, V>(undefined, compareKeys, MAX_NODE_SIZE);
  }

  get size(): number {
    return this.#tree.size;
  }

  get(key: string): V | undefined {
    return this.#tree.get(key);
  }

  set(key: string, value: V): void {
    this.#tree.set(key, value, true);
  }

  delete(key: string): boolean {
    return this.#tree.delete(key);
  }

  /**
   * Calls `visit` for each entry with `start <= key < end` (no `end`: to the last key) in key
   * order; `visit` returning true stops the walk. The map must not be modified during the walk.
   */
  forRange(start: string, end: string | undefined, visit: (key: string, value: V) => boolean | void): void {
    if (end !== undefined && end <= start) return;
    const tree = this.#tree;
    if (tree.size === 0) return;
    // The tree's own callback walk: leaf arrays are read in place, with no iterator result object
    // per entry (entries() allocates one per step).
    const high = end ?? (tree.maxKey() as string);
    tree.forRange(start, high, end === undefined, (key: string, value: V) => (visit(key, value) === true ? BREAK : undefined));
  }

  /** Entries in key order (tests, snapshots). */
  *entries(): IterableIterator<[string, V]> {
    for (const [k, v] of this.#tree.entries()) yield [k, v];
  }

  /** O(1) copy-on-write clone: later writes to either map do not show in the other. */
  clone(): OrderedMap<V> {
    return new OrderedMap<V>(this.#tree.clone());
  }
}
