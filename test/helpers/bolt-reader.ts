// A strict reader of bbolt database files for tests, written from the format's rules and
// independent of the writer in src/grpc/bolt: it checks both meta pages (magic, version, page
// size, FNV-64a checksum), that every page header carries its own id, that each page below the
// high-water mark is reachable exactly once or free, that keys are strictly sorted in every leaf
// and branch, that a branch's key is its child's first key, and that elements stay inside their
// page (overflow included); it throws on the first violation and returns every bucket's entries.

const PAGE_HEADER = 16;
const ELEMENT = 16;
const BRANCH = 0x01;
const LEAF = 0x02;
const META = 0x04;
const FREELIST = 0x10;
const MAGIC = 0xed0cdaed;
const NO_FREELIST = 0xffffffffffffffffn;

export interface BoltBucket {
  readonly entries: [Uint8Array, Uint8Array][];
  readonly inline: boolean;
  /** Levels of the bucket's tree (1: a single leaf). */
  readonly depth: number;
}

export interface BoltFile {
  readonly pageBytes: number;
  readonly pageCount: number;
  readonly txid: bigint;
  readonly buckets: Map<string, BoltBucket>;
  /** Pages that are overflow continuations of a leaf. */
  readonly overflowPages: number;
  readonly branchPages: number;
}

function fail(message: string): never {
  throw new Error(`bolt-reader: ${message}`);
}

function fnv64a(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length));
}

interface Meta {
  readonly pageBytes: number;
  readonly root: number;
  readonly freelist: number;
  readonly pageCount: number;
  readonly txid: bigint;
}

function readMeta(file: Buffer, at: number, id: number): Meta {
  if (file.readBigUInt64LE(at) !== BigInt(id)) fail(`meta page ${id}: header id ${file.readBigUInt64LE(at)}`);
  if (file.readUInt16LE(at + 8) !== META) fail(`meta page ${id}: flags ${file.readUInt16LE(at + 8)}`);
  const m = at + PAGE_HEADER;
  if (file.readUInt32LE(m) !== MAGIC) fail(`meta page ${id}: bad magic`);
  if (file.readUInt32LE(m + 4) !== 2) fail(`meta page ${id}: version ${file.readUInt32LE(m + 4)}`);
  if (file.readBigUInt64LE(m + 56) !== fnv64a(file.subarray(m, m + 56))) fail(`meta page ${id}: checksum mismatch`);
  return {
    pageBytes: file.readUInt32LE(m + 8),
    root: Number(file.readBigUInt64LE(m + 16)),
    freelist: Number(file.readBigUInt64LE(m + 32)), // NO_FREELIST rounds to 2^64 as a number
    pageCount: Number(file.readBigUInt64LE(m + 40)),
    txid: file.readBigUInt64LE(m + 48),
  };
}

/** Decodes and checks a whole bolt file (a trailer after the last page is ignored). */
export function readBolt(bytes: Uint8Array): BoltFile {
  const file = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (file.length < 2 * 4096) fail('shorter than two pages');
  const m0 = readMeta(file, 0, 0);
  const m1 = readMeta(file, m0.pageBytes, 1);
  if (m0.pageBytes !== m1.pageBytes) fail('meta pages disagree on the page size');
  const meta = m1.txid > m0.txid ? m1 : m0;
  const P = meta.pageBytes;
  if (meta.pageCount * P > file.length) fail(`high-water mark ${meta.pageCount} past the file (${file.length} bytes)`);
  const owner = new Map<number, string>();
  const claim = (id: number, span: number, what: string): void => {
    for (let i = id; i < id + span; i++) {
      if (i >= meta.pageCount) fail(`${what}: page ${i} out of bounds (${meta.pageCount})`);
      if (owner.has(i)) fail(`page ${i}: referenced by ${owner.get(i)} and ${what}`);
      owner.set(i, what);
    }
  };
  claim(0, 1, 'meta');
  claim(1, 1, 'meta');
  const header = (id: number): { flags: number; count: number; overflow: number; at: number } => {
    const at = id * P;
    if (file.readBigUInt64LE(at) !== BigInt(id)) fail(`page ${id}: header id ${file.readBigUInt64LE(at)}`);
    return { flags: file.readUInt16LE(at + 8), count: file.readUInt16LE(at + 10), overflow: file.readUInt32LE(at + 12), at };
  };
  // etcd 3.4 opens bbolt with NoFreelistSync: no freelist page (id 2^64 - 1), and bbolt takes
  // every page it cannot reach as free.
  const freelistSynced = meta.freelist !== Number(NO_FREELIST);
  if (freelistSynced) {
    const fl = header(meta.freelist);
    if (fl.flags !== FREELIST) fail(`freelist page ${meta.freelist}: flags ${fl.flags}`);
    claim(meta.freelist, 1 + fl.overflow, 'freelist');
    for (let i = 0; i < fl.count; i++) claim(Number(file.readBigUInt64LE(fl.at + PAGE_HEADER + 8 * i)), 1, 'free');
  }
  let overflowPages = 0;
  let branchPages = 0;
  const buckets = new Map<string, BoltBucket>();

  /** The leaf elements of a leaf page occupying `page` (bounds checked), in order. */
  const leafElements = (page: Buffer, count: number, where: string): { flags: number; key: Uint8Array; value: Uint8Array }[] => {
    const out: { flags: number; key: Uint8Array; value: Uint8Array }[] = [];
    for (let i = 0; i < count; i++) {
      const e = PAGE_HEADER + ELEMENT * i;
      if (e + ELEMENT > page.length) fail(`${where}: element ${i} past the page`);
      const k = e + page.readUInt32LE(e + 4);
      const ks = page.readUInt32LE(e + 8);
      const vs = page.readUInt32LE(e + 12);
      if (k + ks + vs > page.length) fail(`${where}: element ${i} data past the page`);
      out.push({ flags: page.readUInt32LE(e), key: page.subarray(k, k + ks), value: page.subarray(k + ks, k + ks + vs) });
    }
    return out;
  };

  /** Walks a bucket's tree from `root`; returns its entries and depth; checks the keys' order. */
  const walk = (root: number, name: string): { entries: [Uint8Array, Uint8Array][]; depth: number } => {
    const entries: [Uint8Array, Uint8Array][] = [];
    const visit = (id: number, firstKey: Uint8Array | undefined): number => {
      const h = header(id);
      claim(id, 1 + h.overflow, `bucket ${name}`);
      const page = file.subarray(h.at, h.at + (1 + h.overflow) * P);
      if (h.flags === LEAF) {
        overflowPages += h.overflow;
        const elements = leafElements(page, h.count, `page ${id}`);
        if (firstKey !== undefined && (elements.length === 0 || compare(elements[0]!.key, firstKey) !== 0)) fail(`page ${id}: branch key is not the child's first key`);
        for (const e of elements) {
          const last = entries[entries.length - 1];
          if (last !== undefined && compare(last[0], e.key) >= 0) fail(`page ${id}: keys out of order in ${name}`);
          entries.push([e.key, e.value]);
          if (e.flags & 1) readBucket(e.key, e.value);
        }
        return 1;
      }
      if (h.flags !== BRANCH) fail(`page ${id}: not a leaf or branch (flags ${h.flags})`);
      if (h.overflow !== 0) fail(`branch page ${id} overflows`);
      branchPages++;
      let depth = 0;
      let prev: Uint8Array | undefined;
      for (let i = 0; i < h.count; i++) {
        const e = PAGE_HEADER + ELEMENT * i;
        const k = e + page.readUInt32LE(e);
        const key = page.subarray(k, k + page.readUInt32LE(e + 4));
        if (k + key.length > page.length) fail(`branch page ${id}: key past the page`);
        if (prev !== undefined && compare(prev, key) >= 0) fail(`branch page ${id}: keys out of order`);
        if (i === 0 && firstKey !== undefined && compare(key, firstKey) !== 0) fail(`branch page ${id}: first key differs from its parent's`);
        prev = key;
        const d = visit(Number(page.readBigUInt64LE(e + 8)), key);
        if (depth !== 0 && d !== depth) fail(`branch page ${id}: children at different depths`);
        depth = d;
      }
      return depth + 1;
    };
    const depth = visit(root, undefined);
    return { entries, depth };
  };

  const readBucket = (nameBytes: Uint8Array, value: Uint8Array): void => {
    const name = Buffer.from(nameBytes).toString();
    if (value.length < 16) fail(`bucket ${name}: value shorter than a bucket header`);
    const v = Buffer.from(value.buffer, value.byteOffset, value.length);
    const root = Number(v.readBigUInt64LE(0));
    if (root !== 0) {
      buckets.set(name, { ...walk(root, name), inline: false });
      return;
    }
    const page = v.subarray(16);
    if (page.length < PAGE_HEADER || page.readUInt16LE(8) !== LEAF) fail(`inline bucket ${name}: not a leaf page`);
    const entries: [Uint8Array, Uint8Array][] = [];
    for (const e of leafElements(page, page.readUInt16LE(10), `inline bucket ${name}`)) {
      const last = entries[entries.length - 1];
      if (last !== undefined && compare(last[0], e.key) >= 0) fail(`inline bucket ${name}: keys out of order`);
      if (e.flags & 1) fail(`inline bucket ${name} holds a bucket`);
      entries.push([e.key, e.value]);
    }
    buckets.set(name, { entries, inline: true, depth: 1 });
  };

  walk(meta.root, '(root)');
  if (freelistSynced) for (let i = 0; i < meta.pageCount; i++) if (!owner.has(i)) fail(`page ${i}: unreachable and not free`);
  return { pageBytes: P, pageCount: meta.pageCount, txid: meta.txid, buckets, overflowPages, branchPages };
}
