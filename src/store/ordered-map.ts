/**
 * The one place that imports `sorted-btree` (CommonJS v2, no `exports` map). Under Node's ESM
 * loader (and tsx) a default import of a CommonJS module yields `module.exports`, whose `default`
 * property is the BTree class; `tsc` with `module: nodenext` types it the same way. Everything
 * else in the store talks to this small, typed, string-keyed ordered map.
 */
import btreeModule from 'sorted-btree';
import * as btreeNamespace from 'sorted-btree';

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

/** B+ tree branching factor: 64 keeps leaves cache-friendly and clone() cheap. */
const MAX_NODE_SIZE = 64;
/** Entries per node when a tree is built from sorted entries: room for a few inserts before a split. */
const BULK_NODE_FILL = 56;

/**
 * sorted-btree's node classes (exported, documented as internal): a tree built from sorted
 * entries is assembled from them bottom-up, in O(n) and without one comparison, instead of n
 * inserts that each descend and compare ≈ 24 keys (a third of restoring 1M keys). Undefined if
 * the module's shape changed: then the loader inserts one by one (same tree, slower).
 */
interface NodeClasses {
  readonly BNode: new (keys: string[], values: unknown[]) => unknown;
  readonly BNodeInternal: new (children: unknown[], size: number) => unknown;
}
const nodeClasses: NodeClasses | undefined = (() => {
  const candidates = [btreeNamespace as unknown, (btreeNamespace as { default?: unknown }).default, btreeModule as unknown];
  for (const c of candidates) {
    const m = c as Partial<NodeClasses> | undefined;
    if (typeof m?.BNode === 'function' && typeof m.BNodeInternal === 'function') return m as NodeClasses;
  }
  return undefined;
})();

/**
 * The node layout of sorted-btree v2 that `forRuns` reads (read-only): a node has its keys in
 * order; a leaf (no `children`) has the values at the same indices; an internal node has one
 * child per key, the key being that child's largest key. The constructor checks the shape, and
 * test/store/ordered-map.test.ts fuzzes every walk against a naive model.
 */
interface TreeNode<V> {
  readonly keys: readonly string[];
  readonly values: readonly V[];
  readonly children: readonly TreeNode<V>[] | undefined;
}

/** First index i >= lo with keys[i] >= key (keys.length if none). */
function lowerBound(keys: readonly string[], key: string, lo: number): number {
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Called with one leaf's arrays and the index run [from, to) of its entries inside the range;
 * returning true stops the walk. The arrays belong to the tree: read them, never keep or write them.
 */
export type RunVisitor<V> = (keys: readonly string[], values: readonly V[], from: number, to: number) => boolean | void;

export class OrderedMap<V> {
  #tree: Tree<V>;

  constructor(tree?: Tree<V>) {
    this.#tree = tree ?? new BTree<string, V>(undefined, compareKeys, MAX_NODE_SIZE);
    const root = this.#root();
    if (!Array.isArray(root.keys) || !Array.isArray(root.values)) throw new Error('store: sorted-btree node layout changed (see ordered-map.ts)');
  }

  #root(): TreeNode<V> {
    return (this.#tree as unknown as { readonly _root: TreeNode<V> })._root;
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
    this.forRuns(start, end, (keys, values, from, to) => {
      for (let i = from; i < to; i++) if (visit(keys[i] as string, values[i] as V) === true) return true;
      return false;
    });
  }

  /**
   * The entries with `start <= key < end` (no `end`: to the last key) as runs of leaf entries, in
   * key order: one descent from the root to the first key, then leaf after leaf through the
   * recorded path. Only the leaf holding `end` is searched for it; every other leaf is taken
   * whole, so the walk compares O(log n) keys, not one per entry or two searches per level.
   */
  forRuns(start: string, end: string | undefined, visit: RunVisitor<V>): void {
    if (end !== undefined && end <= start) return;
    const path: TreeNode<V>[] = [];
    const index: number[] = [];
    let node = this.#root();
    for (let children = node.children; children !== undefined; children = node.children) {
      const i = lowerBound(node.keys, start, 0);
      if (i === node.keys.length) return; // every key is below start
      path.push(node);
      index.push(i);
      node = children[i] as TreeNode<V>;
    }
    let from = lowerBound(node.keys, start, 0);
    for (;;) {
      const keys = node.keys;
      const n = keys.length;
      const last = end !== undefined && n > 0 && (keys[n - 1] as string) >= end;
      const to = last ? lowerBound(keys, end, from) : n;
      if (from < to && visit(keys, node.values, from, to) === true) return;
      if (last) return;
      // The next leaf: up to the deepest ancestor with a child to the right, then leftmost down.
      let level = path.length - 1;
      while (level >= 0 && (index[level] as number) + 1 >= ((path[level] as TreeNode<V>).children as readonly TreeNode<V>[]).length) level--;
      if (level < 0) return;
      index[level] = (index[level] as number) + 1;
      node = ((path[level] as TreeNode<V>).children as readonly TreeNode<V>[])[index[level] as number] as TreeNode<V>;
      for (let l = level + 1; l < path.length; l++) {
        path[l] = node;
        index[l] = 0;
        node = (node.children as readonly TreeNode<V>[])[0] as TreeNode<V>;
      }
      from = 0;
    }
  }

  /** sorted-btree's own structural check (node sizes, key order, cached sizes); throws. O(n): for tests. */
  checkValid(): void {
    this.#tree.checkValid(true);
  }

  /** Entries in key order (tests, snapshots). */
  *entries(): IterableIterator<[string, V]> {
    for (const [k, v] of this.#tree.entries()) yield [k, v];
  }

  /** Whether trees are built from sorted entries bottom-up (sorted-btree's node classes found). */
  static get bulkLoads(): boolean {
    return nodeClasses !== undefined;
  }

  /** O(1) copy-on-write clone: later writes to either map do not show in the other. */
  clone(): OrderedMap<V> {
    return new OrderedMap<V>(this.#tree.clone());
  }
}

/**
 * Builds an {@link OrderedMap} from entries added in strictly ascending key order (a snapshot's
 * keys): leaves of {@link BULK_NODE_FILL} entries as they come, the inner levels at `finish()`
 * (≈ 1/56 of the leaves per level: milliseconds at 1M keys).
 */
export class SortedLoader<V> {
  readonly #leaves: unknown[] = [];
  #keys: string[] = [];
  #values: V[] = [];
  #last: string | undefined;
  readonly #fallback = nodeClasses === undefined ? new OrderedMap<V>() : undefined;

  add(key: string, value: V): void {
    if (this.#last !== undefined && !(key > this.#last)) throw new Error('store: assertion failed: sorted load out of order');
    this.#last = key;
    if (this.#fallback !== undefined) {
      this.#fallback.set(key, value);
      return;
    }
    this.#keys.push(key);
    this.#values.push(value);
    if (this.#keys.length === BULK_NODE_FILL) this.#flushLeaf();
  }

  finish(): OrderedMap<V> {
    if (this.#fallback !== undefined) return this.#fallback;
    const classes = nodeClasses as NodeClasses;
    this.#flushLeaf();
    if (this.#leaves.length === 0) return new OrderedMap<V>();
    let level = this.#leaves;
    let sizes = level.map((leaf) => (leaf as { keys: unknown[] }).keys.length);
    while (level.length > 1) {
      const up: unknown[] = [];
      const upSizes: number[] = [];
      for (let i = 0; i < level.length; i += BULK_NODE_FILL) {
        const children = level.slice(i, i + BULK_NODE_FILL);
        let size = 0;
        for (let j = i; j < i + children.length; j++) size += sizes[j] as number;
        up.push(new classes.BNodeInternal(children, size));
        upSizes.push(size);
      }
      level = up;
      sizes = upSizes;
    }
    const tree = new BTree<string, V>(undefined, compareKeys, MAX_NODE_SIZE);
    (tree as unknown as { _root: unknown })._root = level[0];
    return new OrderedMap<V>(tree);
  }

  #flushLeaf(): void {
    if (this.#keys.length === 0) return;
    this.#leaves.push(new (nodeClasses as NodeClasses).BNode(this.#keys, this.#values));
    this.#keys = [];
    this.#values = [];
  }
}
