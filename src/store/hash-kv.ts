/**
 * etcd's HashKV over a captured view: one 32-bit FNV-1a hash of the history at or below a
 * revision `rev` as compaction at `compact` leaves it — per key in key order, its key, then each
 * record newest first (mod, create, version, lease, value): the records above `compact`, and the
 * newest one at or below it when it is live. Members that applied the same log up to `rev` with
 * the same compaction point give the same hash, whatever they did besides (snapshots, restarts,
 * later writes); a member whose state diverged gives another. As with etcd, hashes compare only
 * at equal compact revisions (returned beside the hash). The walk yields to the event loop between
 * slices, like the snapshot encode: hashing 1M keys never holds the loop.
 */
import { Fnv1a } from './hash.ts';
import type { Revision } from './key-index.ts';
import { forRetained } from './mvcc.ts';
import type { OrderedMap } from './ordered-map.ts';

/** Keys hashed between two looks at the clock. */
const KEYS_PER_CHECK = 512;

function hashRecord(h: Fnv1a, r: Revision): void {
  h.uint(r.modRevision);
  h.uint(r.createRevision);
  h.uint(r.version);
  h.uint(r.lease);
  h.bytes(r.value);
}

export interface HashKvSlices {
  readonly sliceMs: number;
  readonly signal: AbortSignal | undefined;
  readonly yieldToLoop: () => Promise<void>;
}

/** The hash of `tree` at `revision` under compaction at `compact` (the caller checked compact ≤ revision ≤ current). */
export async function hashKv(tree: OrderedMap<Revision>, revision: number, compact: number, slices: HashKvSlices): Promise<number> {
  const h = new Fnv1a();
  let started = performance.now();
  let sinceCheck = 0;
  for (const [key, head] of tree.entries()) {
    let r: Revision | undefined = head;
    while (r !== undefined && r.modRevision > revision) r = r.prev;
    if (r !== undefined && forRetained(r, compact) > 0) {
      h.text(key);
      forRetained(r, compact, (kept) => hashRecord(h, kept));
    }
    if (++sinceCheck < KEYS_PER_CHECK) continue;
    sinceCheck = 0;
    if (performance.now() - started < slices.sliceMs) continue;
    await slices.yieldToLoop();
    slices.signal?.throwIfAborted();
    started = performance.now();
  }
  return h.digest();
}
