/**
 * v2 indexes are our store revisions in etcd's numbering — the numbers etcd's v3 gRPC API shows
 * (src/grpc/revision.ts): the empty store is index 1 and the first write is index 2, so a v2
 * `modifiedIndex` equals the `mod_revision` `ETCDCTL_API=3 etcdctl get -w json` prints for the same key.
 */

/** The v2 index of one of our revisions. */
export function v2Index(revision: number): number {
  return revision + 1;
}

/**
 * The first of our revisions a `waitIndex` asks for: v2 index n is our revision n - 1, and index
 * 1 (the empty store) means "from the first write". Index 0 is etcd's "the next change": undefined.
 */
export function revisionOfWaitIndex(waitIndex: number): number | undefined {
  return waitIndex === 0 ? undefined : Math.max(1, waitIndex - 1);
}

/** Our revision a `prevIndex` names (0 never matches a key: every key's index is at least 2). */
export function revisionOfPrevIndex(prevIndex: number): number {
  return prevIndex - 1;
}
