/**
 * A store view as the bbolt database etcd 3.4's backend keeps, produced as a stream of pages:
 * what `Maintenance.Snapshot` sends, so `etcdctl snapshot status` reads it and `etcdctl snapshot
 * restore` turns it into an etcd data dir.
 *
 * Buckets (those etcd 3.4 creates; the ones quorumkv has nothing for stay empty):
 *   key     revision bytes (8-byte big-endian main, '_', 8-byte big-endian sub; tombstones end in
 *           't') → mvccpb.KeyValue; revisions in etcd numbering (ours + 1, revision.ts)
 *   meta    consistent_index (8-byte big-endian applied index); after a compaction
 *           scheduledCompactRev and finishedCompactRev (revision bytes of the compact revision)
 *   lease   8-byte big-endian id → leasepb.Lease { ID, TTL in seconds, rounded up }
 *   alarm, auth, authRoles, authUsers, cluster, members, members_removed: empty
 *
 * File layout: meta pages 0 and 1, an empty freelist at 2, the `key` bucket's tree from 3 on
 * (planned in a first pass over the records, written in a second: tree-plan.ts), the trees of
 * the other buckets too large to be inline, and the root bucket's tree last.
 */
import { mvccAssert as assert } from '../../assert.ts';
import type { SnapshotView } from '../../store/snapshot-view.ts';
import { toEtcdRev } from '../revision.ts';
import { ProtoWriter } from '../wire.ts';
import { keyLeafPage, keyValueBytes, revisionKey, revisionKeyBytes, setUint64BE } from './key-page.ts';
import { BOLT_PAGE_BYTES, bucketValue, compareBytes, emptyFreelistPage, inlineBucketValue, leafElementBytes, leafPage, metaPage, PAGE_HEADER_BYTES } from './page.ts';
import type { LeafElement } from './page.ts';
import { CLOCK_EVERY, RevisionOrder } from './revision-order.ts';
import type { Revision } from '../../store/key-index.ts';
import { TreePlan } from './tree-plan.ts';

/** The longest synchronous stretch of planning or writing, in ms, before the event loop gets a turn. */
export const BOLT_SLICE_MS = 8;

const FREELIST_PGID = 2;
const KEY_BUCKET_PGID = 3;
const EMPTY_BUCKETS = ['alarm', 'auth', 'authRoles', 'authUsers', 'cluster', 'members', 'members_removed'] as const;
const text = new TextEncoder();

function bigEndian64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  setUint64BE(out, 0, n);
  return out;
}

function metaElements(view: SnapshotView, consistentIndex: number): LeafElement[] {
  const out: LeafElement[] = [{ key: text.encode('consistent_index'), value: bigEndian64(consistentIndex) }];
  if (view.compactRevision > 0) {
    const compacted = revisionKey(toEtcdRev(view.compactRevision), 0, false);
    out.push({ key: text.encode('scheduledCompactRev'), value: compacted }, { key: text.encode('finishedCompactRev'), value: compacted });
  }
  return out.sort((a, b) => compareBytes(a.key, b.key));
}

function leaseElements(view: SnapshotView): LeafElement[] {
  const out: LeafElement[] = [];
  for (let i = 0; i + 1 < view.leases.length; i += 2) {
    const id = view.leases[i] as number;
    const ttlMs = view.leases[i + 1] as number;
    assert(Number.isSafeInteger(id), 'bolt: lease ids are safe integers');
    assert(id > 0, 'bolt: lease ids are positive');
    const lease = new ProtoWriter(32).int(1, id).int(2, Math.max(1, Math.ceil(ttlMs / 1000))).finish();
    out.push({ key: bigEndian64(id), value: lease });
  }
  return out; // by id: the table is sorted, and big-endian keys sort as their numbers
}

/** A bucket that is not `key`: its elements in memory, inline when small (as bbolt keeps it) or a tree of its own. */
interface SmallBucket {
  readonly name: Uint8Array;
  readonly elements: readonly LeafElement[];
  readonly plan: TreePlan | undefined;
}

/** bbolt inlines a bucket whose leaf page takes at most a quarter of a page. */
function inlines(elements: readonly LeafElement[]): boolean {
  let bytes = PAGE_HEADER_BYTES;
  for (const e of elements) bytes += leafElementBytes(e.key.length, e.value.length);
  return bytes <= BOLT_PAGE_BYTES / 4;
}

function* pagesOf(plan: TreePlan, elements: readonly LeafElement[]): IterableIterator<Uint8Array> {
  let at = 0;
  for (const leaf of plan.leaves) {
    yield leafPage(leaf.pgid, elements.slice(at, at + leaf.count), plan.pageBytes, leaf.span);
    at += leaf.count;
  }
  yield* plan.branchPages();
}

function planOf(elements: readonly LeafElement[], basePgid: number): TreePlan {
  const plan = new TreePlan(BOLT_PAGE_BYTES);
  for (const e of elements) plan.add(e.key.length, e.value.length, () => e.key);
  plan.finish(basePgid);
  return plan;
}

/** Yields to the event loop once a slice has run {@link BOLT_SLICE_MS}. */
class Pacer {
  #started = performance.now();
  readonly #signal: AbortSignal | undefined;
  constructor(signal: AbortSignal | undefined) {
    this.#signal = signal;
  }
  async pause(): Promise<void> {
    if (performance.now() - this.#started < BOLT_SLICE_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#signal?.throwIfAborted();
    this.#started = performance.now();
  }
}

/** A planned database: its size is known before its first page is written. */
export interface EtcdDb {
  /** Bytes of the database (pages × page size). */
  readonly totalBytes: number;
  /** The store's revision in etcd numbering (what `snapshot status` prints). */
  readonly revision: number;
  /** Records in the `key` bucket. */
  readonly keyRecords: number;
  /** The pages in file order; their concatenation is the database. Iterate once. */
  pages(): AsyncIterableIterator<Uint8Array>;
}

/**
 * Plans the database of `view` (the first pass: every record is encoded once to learn its size)
 * and returns it ready to stream (the second pass encodes them again into their pages). Both
 * passes run in slices of {@link BOLT_SLICE_MS}; `signal` stops them at a slice boundary.
 */
export async function planEtcdDb(view: SnapshotView, consistentIndex: number, signal?: AbortSignal): Promise<EtcdDb> {
  const pacer = new Pacer(signal);
  const order = await RevisionOrder.gather(view, () => pacer.pause());
  const keyPlan = new TreePlan(BOLT_PAGE_BYTES);
  order.rewind();
  for (let n = 1, r = order.next(); r !== undefined; r = order.next(), n++) {
    keyPlan.add(revisionKeyBytes(r), keyValueBytes(r), () => revisionKey(toEtcdRev(r.modRevision), order.sub, r.version === 0));
    if (n % CLOCK_EVERY === 0) await pacer.pause();
  }
  keyPlan.finish(KEY_BUCKET_PGID);
  let next = KEY_BUCKET_PGID + keyPlan.pageCount;
  const small: SmallBucket[] = [
    ...EMPTY_BUCKETS.map((name) => ({ name, elements: [] as LeafElement[] })),
    { name: 'lease', elements: leaseElements(view) },
    { name: 'meta', elements: metaElements(view, consistentIndex) },
  ].map(({ name, elements }) => {
    if (inlines(elements)) return { name: text.encode(name), elements, plan: undefined };
    const plan = planOf(elements, next);
    next += plan.pageCount;
    return { name: text.encode(name), elements, plan };
  });
  const buckets: LeafElement[] = [
    { key: text.encode('key'), value: bucketValue(keyPlan.rootPgid), bucket: true },
    ...small.map((b) => ({ key: b.name, value: b.plan === undefined ? inlineBucketValue(b.elements) : bucketValue(b.plan.rootPgid), bucket: true })),
  ].sort((a, b) => compareBytes(a.key, b.key));
  const rootPlan = planOf(buckets, next);
  const pageCount = next + rootPlan.pageCount;
  const meta = { pageBytes: BOLT_PAGE_BYTES, rootPgid: rootPlan.rootPgid, freelistPgid: FREELIST_PGID, pageCount };
  async function* pages(): AsyncIterableIterator<Uint8Array> {
    yield metaPage(0, { ...meta, txid: 0 });
    yield metaPage(1, { ...meta, txid: 1 });
    yield emptyFreelistPage(FREELIST_PGID, BOLT_PAGE_BYTES);
    order.rewind();
    let written = 0;
    for (const leaf of keyPlan.leaves) {
      const recs: Revision[] = [];
      const subs: number[] = [];
      for (let i = 0; i < leaf.count; i++) {
        const r = order.next();
        assert(r !== undefined, 'bolt: the second pass meets the records of the first');
        recs.push(r);
        subs.push(order.sub);
      }
      yield keyLeafPage(leaf.pgid, recs, subs, BOLT_PAGE_BYTES, leaf.span);
      written += leaf.count;
      if (written >= CLOCK_EVERY) {
        written = 0;
        await pacer.pause();
      }
    }
    assert(order.next() === undefined, 'bolt: the second pass ends where the first did');
    yield* keyPlan.branchPages();
    for (const b of small) if (b.plan !== undefined) yield* pagesOf(b.plan, b.elements);
    yield* pagesOf(rootPlan, buckets);
  }
  return { totalBytes: pageCount * BOLT_PAGE_BYTES, revision: toEtcdRev(view.revision), keyRecords: order.records, pages };
}
