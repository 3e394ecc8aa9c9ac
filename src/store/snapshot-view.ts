/**
 * The captured state of a store snapshot, read-only, for code that exports it in a format of
 * its own (the etcd bolt database of `Maintenance.Snapshot`): what `encode()` walks, without
 * the msgpack. Everything here is frozen at capture: later writes and compactions of the store
 * do not show through.
 */
import type { Revision } from './key-index.ts';
import type { LogEntry } from './mvcc.ts';

export interface SnapshotView {
  readonly revision: number;
  readonly compactRevision: number;
  /** Granted leases as `[id, ttlMs, ...]`, by id. */
  readonly leases: readonly number[];
  /**
   * Every key in key order with its newest record (possibly a tombstone); the records a snapshot
   * includes are `forRetained(head, compactRevision)` (mvcc.ts). Lazy: walk it in slices.
   */
  heads(): IterableIterator<readonly [string, Revision]>;
  /** The keys written at `rev`, in op order; undefined at or below the compact revision. */
  logAt(rev: number): LogEntry | undefined;
}
