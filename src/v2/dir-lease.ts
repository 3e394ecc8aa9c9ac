/**
 * A directory TTL is a lease on its marker, and the subtree must expire with it: when a write
 * gives a directory a new lease (`updatedir --ttl`, or none to make it permanent), the keys under
 * it that had no lease or the directory's previous one move onto the new lease, REATTACH_BATCH
 * keys per txn (values untouched). Keys with a TTL of their own keep it.
 */
import { op } from '../node/txn-builder.ts';
import type { V2Context } from './context.ts';
import { V2Error } from './errors.ts';
import { childPrefix, dirMarker } from './keyspace.ts';
import { MAX_LIST_KEYS } from './read.ts';

/** Keys moved per txn (well below the node's maxTxnOps). */
export const REATTACH_BATCH = 100;

export async function reattachSubtree(ctx: V2Context, dir: string, oldLease: number | undefined, newLease: number | undefined): Promise<void> {
  if (oldLease === newLease) return;
  const listed = await ctx.node.range({ prefix: childPrefix(dir) }, { ...ctx.call, keysOnly: true, limit: MAX_LIST_KEYS + 1 });
  if (listed.kvs.length > MAX_LIST_KEYS) throw new V2Error(300, `more than ${MAX_LIST_KEYS} keys under ${dir} to move onto its lease (MAX_LIST_KEYS)`);
  const movers = listed.kvs.filter((kv) => kv.key !== dirMarker(dir) && (kv.lease === undefined || kv.lease === oldLease));
  const lease = newLease === undefined ? {} : { lease: newLease };
  for (let i = 0; i < movers.length; i += REATTACH_BATCH) {
    const puts = movers.slice(i, i + REATTACH_BATCH).map((kv) => op.put(kv.key, new Uint8Array(0), { ...lease, ignoreValue: true }));
    await ctx.node.txn().then(...puts).commit(ctx.call);
  }
}
