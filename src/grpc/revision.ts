/**
 * Revision numbering at the gRPC boundary. quorumkv's store starts at revision 0 and its first
 * write makes revision 1; etcd's starts at 1 and its first write makes 2 (clients depend on this:
 * `create_revision == 0` means "absent", a watch from revision 1 replays all history, etc.).
 * Every revision that crosses the wire is shifted by one: etcd = ours + 1 outbound, ours =
 * etcd - 1 inbound. Versions, counts and lease ids are not revisions and pass unchanged.
 */

/** An outbound revision (header, kv create/mod, compact revision). */
export function toEtcdRev(ours: number): number {
  return ours + 1;
}

/**
 * An inbound revision of a read (`Range.revision`, watch `start_revision`): 0 keeps its
 * meaning ("current" / "from now"); etcd revision n > 0 is ours n - 1. etcd revision 1 (the empty
 * store) has no counterpart here except our revision 0, which the store reads as "current", so a
 * caller that must read exactly revision 1 handles it (see `readsEmptyStore`).
 */
export function fromEtcdRev(etcd: number): number {
  return etcd <= 0 ? 0 : etcd - 1;
}

/** Whether a read at etcd revision `etcd` is a read of the empty store (etcd revision 1). */
export function readsEmptyStore(etcd: number): boolean {
  return etcd === 1;
}

/**
 * A compare operand on create/mod revision: 0 (the "absent key" value) stays 0, n > 0 becomes
 * n - 1. etcd revision 1 is never any key's revision; it maps to 0 (documented edge).
 */
export function fromEtcdCompareRev(etcd: number): number {
  return etcd <= 0 ? etcd : etcd - 1;
}

/** A revision filter bound (min/max create/mod revision): 0 = no bound. */
export function fromEtcdBound(etcd: number): number {
  return etcd <= 0 ? 0 : Math.max(1, etcd - 1);
}
