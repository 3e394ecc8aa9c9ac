/**
 * bbolt's on-disk page format (etcd-io/bbolt, the database etcd's backend keeps): the facts of the
 * format, written as builders of whole pages. Every integer is little-endian (bbolt writes its
 * structs in the machine's order; etcd runs on little-endian machines and so does every bolt file
 * etcdctl reads).
 *
 *   page header (16 B): id u64, flags u16, count u16, overflow u32 (pages after this one that the
 *                       page's bytes run into)
 *   leaf element (16 B): flags u32 (1 = the value is a bucket), pos u32 (from this element to
 *                        its key), ksize u32, vsize u32; keys and values follow all elements
 *   branch element (16 B): pos u32, ksize u32, child pgid u64
 *   meta (64 B after the header): magic, version, pageSize, flags (u32 each), root bucket
 *                                 (root pgid u64, sequence u64), freelist pgid, high-water pgid,
 *                                 txid (u64 each), FNV-64a of the 56 bytes before it
 *   freelist: the free page ids as u64s, `count` of them
 *   bucket value (16 B): root pgid u64 (0 = inline: a leaf page follows), sequence u64
 */

export const PAGE_HEADER_BYTES = 16;
export const ELEMENT_BYTES = 16;
export const BUCKET_HEADER_BYTES = 16;

export const BRANCH_PAGE = 0x01;
export const LEAF_PAGE = 0x02;
export const META_PAGE = 0x04;
export const FREELIST_PAGE = 0x10;
/** A leaf element whose value is a bucket (header, inline page or not). */
export const BUCKET_LEAF = 0x01;

export const BOLT_MAGIC = 0xed0cdaed;
export const BOLT_VERSION = 2;
/** The page size of the database written: what bbolt picks on a 4 KiB-page machine. */
export const BOLT_PAGE_BYTES = 4096;
/** Bytes of the meta struct the checksum covers (everything before the checksum). */
export const META_CHECKED_BYTES = 56;
/** Elements per page: the header's count is a u16. */
export const MAX_PAGE_ELEMENTS = 0xffff;

/** One key/value of a leaf page; `bucket` marks a value that is a bucket. */
export interface LeafElement {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly bucket?: boolean;
}

/** One child of a branch page: its first key and its page id. */
export interface BranchElement {
  readonly key: Uint8Array;
  readonly pgid: number;
}

/** bbolt's key order: bytewise, a prefix first. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/** The bytes a leaf element takes in its page. */
export function leafElementBytes(keyBytes: number, valueBytes: number): number {
  return ELEMENT_BYTES + keyBytes + valueBytes;
}

/** The bytes a branch element takes in its page. */
export function branchElementBytes(keyBytes: number): number {
  return ELEMENT_BYTES + keyBytes;
}

/** Pages of `pageBytes` that `bytes` of page content fill (1 + the header's overflow). */
export function pagesFor(bytes: number, pageBytes: number): number {
  return Math.max(1, Math.ceil(bytes / pageBytes));
}

function writeHeader(view: DataView, at: number, id: number, flags: number, count: number, overflow: number): void {
  view.setBigUint64(at, BigInt(id), true);
  view.setUint16(at + 8, flags, true);
  view.setUint16(at + 10, count, true);
  view.setUint32(at + 12, overflow, true);
}

/**
 * A leaf page holding `elements` (sorted by key), as `span` pages of `pageBytes` (id `id`,
 * overflow `span - 1`). With `span` 0 the result is exactly as long as its content: the page of
 * an inline bucket, which lives inside its parent's value.
 */
export function leafPage(id: number, elements: readonly LeafElement[], pageBytes: number, span: number): Uint8Array {
  let content = PAGE_HEADER_BYTES;
  for (const e of elements) content += leafElementBytes(e.key.length, e.value.length);
  const out = new Uint8Array(span === 0 ? content : span * pageBytes);
  if (content > out.length) throw new RangeError(`bolt: leaf page ${id} needs ${content} bytes, has ${out.length}`);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  writeHeader(view, 0, id, LEAF_PAGE, elements.length, Math.max(0, span - 1));
  let data = PAGE_HEADER_BYTES + ELEMENT_BYTES * elements.length;
  elements.forEach((e, i) => {
    const at = PAGE_HEADER_BYTES + ELEMENT_BYTES * i;
    view.setUint32(at, e.bucket === true ? BUCKET_LEAF : 0, true);
    view.setUint32(at + 4, data - at, true);
    view.setUint32(at + 8, e.key.length, true);
    view.setUint32(at + 12, e.value.length, true);
    out.set(e.key, data);
    out.set(e.value, data + e.key.length);
    data += e.key.length + e.value.length;
  });
  return out;
}

/** A branch page over `children` (sorted by key), one page of `pageBytes`. */
export function branchPage(id: number, children: readonly BranchElement[], pageBytes: number): Uint8Array {
  const out = new Uint8Array(pageBytes);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  writeHeader(view, 0, id, BRANCH_PAGE, children.length, 0);
  let data = PAGE_HEADER_BYTES + ELEMENT_BYTES * children.length;
  children.forEach((c, i) => {
    const at = PAGE_HEADER_BYTES + ELEMENT_BYTES * i;
    view.setUint32(at, data - at, true);
    view.setUint32(at + 4, c.key.length, true);
    view.setBigUint64(at + 8, BigInt(c.pgid), true);
    if (data + c.key.length > pageBytes) throw new RangeError(`bolt: branch page ${id} overflows`);
    out.set(c.key, data);
    data += c.key.length;
  });
  return out;
}

/** A bucket's value in its parent: a header pointing at its root page. */
export function bucketValue(rootPgid: number): Uint8Array {
  const out = new Uint8Array(BUCKET_HEADER_BYTES);
  new DataView(out.buffer).setBigUint64(0, BigInt(rootPgid), true);
  return out;
}

/** An inline bucket's value: a header with root 0, then its leaf page. */
export function inlineBucketValue(elements: readonly LeafElement[]): Uint8Array {
  const page = leafPage(0, elements, BOLT_PAGE_BYTES, 0);
  const out = new Uint8Array(BUCKET_HEADER_BYTES + page.length);
  out.set(page, BUCKET_HEADER_BYTES);
  return out;
}

/** An empty freelist page: every page below the high-water mark is in use. */
export function emptyFreelistPage(id: number, pageBytes: number): Uint8Array {
  const out = new Uint8Array(pageBytes);
  writeHeader(new DataView(out.buffer), 0, id, FREELIST_PAGE, 0, 0);
  return out;
}

export interface MetaFields {
  readonly pageBytes: number;
  readonly rootPgid: number;
  readonly freelistPgid: number;
  /** The high-water mark: pages in the file. */
  readonly pageCount: number;
  readonly txid: number;
}

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;

/** FNV-1a, 64 bits (Go's hash/fnv New64a): bbolt's meta checksum. */
export function fnv64a(bytes: Uint8Array): bigint {
  let h = FNV64_OFFSET;
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * FNV64_PRIME);
  return h;
}

/** Meta page `id` (0 or 1): bbolt opens the valid one with the higher txid. */
export function metaPage(id: number, m: MetaFields): Uint8Array {
  const out = new Uint8Array(m.pageBytes);
  const view = new DataView(out.buffer);
  writeHeader(view, 0, id, META_PAGE, 0, 0);
  const at = PAGE_HEADER_BYTES;
  view.setUint32(at, BOLT_MAGIC, true);
  view.setUint32(at + 4, BOLT_VERSION, true);
  view.setUint32(at + 8, m.pageBytes, true);
  view.setUint32(at + 12, 0, true);
  view.setBigUint64(at + 16, BigInt(m.rootPgid), true);
  view.setBigUint64(at + 24, 0n, true);
  view.setBigUint64(at + 32, BigInt(m.freelistPgid), true);
  view.setBigUint64(at + 40, BigInt(m.pageCount), true);
  view.setBigUint64(at + 48, BigInt(m.txid), true);
  view.setBigUint64(at + META_CHECKED_BYTES, fnv64a(out.subarray(at, at + META_CHECKED_BYTES)), true);
  return out;
}
