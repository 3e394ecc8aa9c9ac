/**
 * Reads a bbolt database from bytes nobody vouches for (an etcd snapshot to import): every
 * offset, length, page id and flag is checked against the file before it is used, each page is
 * visited at most once (a cycle of branch pages is corruption, not a loop), trees are at most
 * {@link MAX_TREE_DEPTH} deep, and keys must be strictly sorted. Any violation is a
 * CorruptionError naming the offset; nothing is trusted to be well formed.
 */
import { CorruptionError } from '../../errors.ts';
import { BOLT_MAGIC, BOLT_VERSION, BRANCH_PAGE, compareBytes, BUCKET_HEADER_BYTES, BUCKET_LEAF, ELEMENT_BYTES, fnv64a, LEAF_PAGE, META_CHECKED_BYTES, META_PAGE, PAGE_HEADER_BYTES } from './page.ts';

/** Deepest bucket tree accepted (a bbolt tree of 2^32 pages is far shallower). */
export const MAX_TREE_DEPTH = 64;
const MIN_PAGE_BYTES = 512;
const MAX_PAGE_BYTES = 65_536;

interface Meta {
  readonly pageBytes: number;
  readonly root: number;
  readonly pageCount: number;
  readonly txid: bigint;
}

export class BoltReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #file: string;
  readonly #meta: Meta;
  readonly #visited = new Set<number>();
  /** The root bucket's elements: bucket name → value and flags. */
  readonly #root: Array<readonly [Uint8Array, Uint8Array, number]>;

  constructor(bytes: Uint8Array, file: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#file = file;
    const m0 = this.#readMeta(0, undefined);
    const m1 = this.#readMeta(1, m0?.pageBytes);
    const meta = m0 === undefined ? m1 : m1 === undefined || m0.txid >= m1.txid ? m0 : m1;
    if (meta === undefined) throw this.#corrupt(0, 'bolt: no valid meta page (not a bolt database)');
    if (meta.pageCount * meta.pageBytes > bytes.length) throw this.#corrupt(0, `bolt: ${meta.pageCount} pages do not fit in ${bytes.length} bytes`);
    this.#meta = meta;
    this.#root = [...this.#entries(meta.root, 0)];
  }

  #corrupt(offset: number, detail: string): CorruptionError {
    return new CorruptionError(this.#file, offset, detail);
  }

  /** Meta page `id`, or undefined when it is not a valid one (bbolt then uses the other). */
  #readMeta(id: number, pageBytes: number | undefined): Meta | undefined {
    const at = id * (pageBytes ?? 0);
    if (id === 1 && pageBytes === undefined) return undefined;
    if (at + PAGE_HEADER_BYTES + META_CHECKED_BYTES + 8 > this.#bytes.length) return undefined;
    const v = this.#view;
    const m = at + PAGE_HEADER_BYTES;
    if ((v.getUint16(at + 8, true) & META_PAGE) === 0) return undefined;
    if (v.getUint32(m, true) !== BOLT_MAGIC || v.getUint32(m + 4, true) !== BOLT_VERSION) return undefined;
    if (v.getBigUint64(m + META_CHECKED_BYTES, true) !== fnv64a(this.#bytes.subarray(m, m + META_CHECKED_BYTES))) return undefined;
    const size = v.getUint32(m + 8, true);
    if (size < MIN_PAGE_BYTES || size > MAX_PAGE_BYTES || (size & (size - 1)) !== 0) return undefined;
    const root = v.getBigUint64(m + 16, true);
    const pageCount = v.getBigUint64(m + 40, true);
    if (pageCount > BigInt(Math.floor(this.#bytes.length / size)) || root >= pageCount) return undefined;
    return { pageBytes: size, root: Number(root), pageCount: Number(pageCount), txid: v.getBigUint64(m + 48, true) };
  }

  get pageBytes(): number {
    return this.#meta.pageBytes;
  }

  /** The entries of top-level bucket `name` in key order, or undefined if it is absent. Read each bucket once. */
  bucket(name: Uint8Array): Array<readonly [Uint8Array, Uint8Array]> | undefined {
    for (const [key, value, flags] of this.#root) {
      if (!equal(key, name)) continue;
      if ((flags & BUCKET_LEAF) === 0) throw this.#corrupt(0, `bolt: ${text(name)} is not a bucket`);
      return this.#bucketEntries(value);
    }
    return undefined;
  }

  #bucketEntries(value: Uint8Array): Array<readonly [Uint8Array, Uint8Array]> {
    if (value.length < BUCKET_HEADER_BYTES) throw this.#corrupt(value.byteOffset, 'bolt: bucket value shorter than its header');
    const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
    const root = v.getBigUint64(0, true);
    const out: Array<readonly [Uint8Array, Uint8Array]> = [];
    const entries = root === 0n ? this.#leaf(value.subarray(BUCKET_HEADER_BYTES), value.byteOffset + BUCKET_HEADER_BYTES) : this.#entries(this.#pageId(root, value.byteOffset), 0);
    for (const [k, val, flags] of entries) {
      if ((flags & BUCKET_LEAF) !== 0) throw this.#corrupt(val.byteOffset, 'bolt: nested buckets are not etcd data');
      out.push([k, val]);
    }
    return out;
  }

  #pageId(id: bigint, from: number): number {
    if (id >= BigInt(this.#meta.pageCount) || id < 2n) throw this.#corrupt(from, `bolt: page id ${id} out of bounds (${this.#meta.pageCount} pages)`);
    return Number(id);
  }

  /** The elements of the tree under page `id`, in key order, every page claimed once. */
  *#entries(id: number, depth: number): IterableIterator<readonly [Uint8Array, Uint8Array, number]> {
    if (depth > MAX_TREE_DEPTH) throw this.#corrupt(id * this.#meta.pageBytes, `bolt: tree deeper than ${MAX_TREE_DEPTH}`);
    if (this.#visited.has(id)) throw this.#corrupt(id * this.#meta.pageBytes, `bolt: page ${id} referenced twice`);
    this.#visited.add(id);
    const P = this.#meta.pageBytes;
    const at = id * P;
    const v = this.#view;
    if (v.getBigUint64(at, true) !== BigInt(id)) throw this.#corrupt(at, `bolt: page ${id} carries id ${v.getBigUint64(at, true)}`);
    const flags = v.getUint16(at + 8, true);
    const span = 1 + v.getUint32(at + 12, true);
    if (id + span > this.#meta.pageCount) throw this.#corrupt(at, `bolt: page ${id} overflows past the last page`);
    const page = this.#bytes.subarray(at, at + span * P);
    if (flags === LEAF_PAGE) {
      yield* this.#leaf(page, at);
      return;
    }
    if (flags !== BRANCH_PAGE) throw this.#corrupt(at, `bolt: page ${id} is neither a branch nor a leaf (flags ${flags})`);
    const count = v.getUint16(at + 10, true);
    let prev: Uint8Array | undefined;
    for (let i = 0; i < count; i++) {
      const e = PAGE_HEADER_BYTES + ELEMENT_BYTES * i;
      if (e + ELEMENT_BYTES > page.length) throw this.#corrupt(at + e, 'bolt: element past its page');
      const key = this.#slice(page, at, e, v.getUint32(at + e, true), v.getUint32(at + e + 4, true), 0);
      if (prev !== undefined && compareBytes(prev, key) >= 0) throw this.#corrupt(at + e, `bolt: branch page ${id} keys out of order`);
      prev = key;
      yield* this.#entries(this.#pageId(v.getBigUint64(at + e + 8, true), at + e), depth + 1);
    }
  }

  /** Element `e`'s key (and value of `valueBytes`) inside `page`, bounds checked. */
  #slice(page: Uint8Array, at: number, e: number, pos: number, keyBytes: number, valueBytes: number): Uint8Array {
    const from = e + pos;
    if (from + keyBytes + valueBytes > page.length) throw this.#corrupt(at + e, 'bolt: element data past its page');
    return page.subarray(from, from + keyBytes + valueBytes);
  }

  /** A leaf page's elements (`page` holds the whole page, overflow included; `at` its file offset). */
  *#leaf(page: Uint8Array, at: number): IterableIterator<readonly [Uint8Array, Uint8Array, number]> {
    if (page.length < PAGE_HEADER_BYTES) throw this.#corrupt(at, 'bolt: leaf shorter than a page header');
    const v = new DataView(page.buffer, page.byteOffset, page.byteLength);
    if (v.getUint16(8, true) !== LEAF_PAGE) throw this.#corrupt(at, 'bolt: an inline bucket is not a leaf');
    const count = v.getUint16(10, true);
    let prev: Uint8Array | undefined;
    for (let i = 0; i < count; i++) {
      const e = PAGE_HEADER_BYTES + ELEMENT_BYTES * i;
      if (e + ELEMENT_BYTES > page.length) throw this.#corrupt(at + e, 'bolt: element past its page');
      const keyBytes = v.getUint32(e + 8, true);
      const both = this.#slice(page, at, e, v.getUint32(e + 4, true), keyBytes, v.getUint32(e + 12, true));
      const key = both.subarray(0, keyBytes);
      if (prev !== undefined && compareBytes(prev, key) >= 0) throw this.#corrupt(at + e, 'bolt: leaf keys out of order');
      prev = key;
      yield [key, both.subarray(keyBytes), v.getUint32(e, true)];
    }
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return compareBytes(a, b) === 0;
}

const text = (b: Uint8Array): string => new TextDecoder().decode(b);
