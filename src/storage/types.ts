/**
 * The persistence adapter's contract (docs/design.md, "Persistence"). A `Storage` is the Raft core's
 * {@link LogStorage} (synchronous reads of what is durable) plus the asynchronous, durable writes
 * the driver makes when it drains a `Ready`.
 *
 * Durability rule: a `save()` resolves only after its data is fsynced (fdatasync). The driver
 * sends votes and append acknowledgements only after that, so nothing acknowledged can be lost.
 * Any write or fsync error rejects with `StorageError` and leaves the storage failed: every later
 * call rejects too (fail-stop; never retried blindly).
 */
import type { ConfState, Entry, HardState, LogIndex, Snapshot } from '../protocol/types.ts';
import type { LogStorage } from '../raft/types.ts';

export interface SaveBatch {
  readonly hardState?: HardState;
  /**
   * Entries to append. If the first one's index is at or below `lastIndex()`, the persisted
   * suffix from that index on is replaced (a leader overwrote a conflicting tail, §5.3).
   */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader: replaces the whole log up to its index. */
  readonly snapshot?: Snapshot;
}

/**
 * A snapshot's bytes as `createSnapshot` takes them: whole, or as consecutive parts whose
 * concatenation is the snapshot (the member's encoder produces parts; file storage writes them
 * one after the other, so the bytes are never joined into a second copy in memory).
 */
export type SnapshotData = Uint8Array | readonly Uint8Array[];

export interface Storage extends LogStorage {
  /**
   * Opens the storage and recovers it (replays the WAL from the last snapshot). Must resolve
   * before any other call. Rejects with `CorruptionError` (file + offset) on a checksum failure
   * anywhere but a torn tail, and `LockedError` when another process holds the data dir.
   */
  open(): Promise<void>;
  /** Persists a Ready batch with one write and one fsync (group commit). */
  save(batch: SaveBatch): Promise<void>;
  /**
   * Durably stores a snapshot the application made at `index` (which must be persisted and
   * `<= commit`): temp file → fsync → rename → directory fsync. Older snapshots beyond the
   * retention count are removed. The log is not compacted by this call.
   */
  createSnapshot(index: LogIndex, confState: ConfState, data: SnapshotData): Promise<Snapshot>;
  /**
   * Discards log entries before `index` (which must be `<=` the latest snapshot's index + 1) and
   * deletes WAL segments that hold only such entries. Entries kept after the snapshot let slow
   * followers catch up without a snapshot.
   */
  compact(index: LogIndex): Promise<void>;
  /** Flushes and releases the data dir lock. Idempotent. */
  close(): Promise<void>;
  /**
   * The latest snapshot with its bytes. A storage that keeps those bytes on disk only (file
   * storage: at 1M keys they are ≈ 175 MB the heap would otherwise carry between snapshots)
   * answers `snapshot()` with `data` set to {@link DETACHED_SNAPSHOT_DATA} and implements this;
   * a storage without it serves whole snapshots from `snapshot()`. Reads in bounded chunks,
   * verifying the checksum, without blocking the event loop.
   */
  loadSnapshot?(): Promise<Snapshot>;
}

/**
 * The `data` of a snapshot whose bytes stay on disk (compare by identity): the snapshot's meta is
 * exact, its bytes come from `Storage.loadSnapshot()`. Never sent to a peer nor decoded as is.
 */
export const DETACHED_SNAPSHOT_DATA: Uint8Array = new Uint8Array(0);

/** Whether `data` is snapshot bytes as createSnapshot takes them (whole or in parts). */
export function isSnapshotData(data: unknown): data is SnapshotData {
  return data instanceof Uint8Array || (Array.isArray(data) && data.every((p) => p instanceof Uint8Array));
}

/** Whether `snapshot` is a detached one (its bytes must be loaded through `Storage.loadSnapshot`). */
export function isDetached(snapshot: Snapshot): boolean {
  return snapshot.data === DETACHED_SNAPSHOT_DATA;
}

/** The same snapshot without its bytes (what a storage keeping them on disk holds in memory). */
export function detached(snapshot: Snapshot): Snapshot {
  return snapshot.meta.index === 0 ? snapshot : { meta: snapshot.meta, data: DETACHED_SNAPSHOT_DATA };
}

export interface FileStorageOptions {
  /** Bytes after which the WAL rotates to a new segment. @default 64 MiB */
  readonly segmentBytes?: number;
  /** Snapshot files kept on disk. @default 2 */
  readonly keepSnapshots?: number;
  /** Largest WAL record accepted on read or write. @default 64 MiB */
  readonly maxRecordBytes?: number;
  readonly logger?: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
  };
  /** Told how long each durable WAL write took, in seconds (metrics: etcd's wal_fsync_duration). @default none */
  readonly onWalSync?: (seconds: number) => void;
}

export type { ConfState, Entry, HardState, LogIndex, Snapshot };
