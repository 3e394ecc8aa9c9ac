/**
 * Periodic snapshots, in two steps so apply and ticks go on while the store encodes: once
 * `snapshotEvery` entries (or `snapshotEveryBytes` bytes of entries) were applied, take an O(1)
 * view at the applied index (with Raft's confState at that same moment) and encode it in the
 * background, in slices that yield to the event loop; when the bytes are ready, a later turn of
 * the driver loop writes them to storage and compacts the log. At most one snapshot is in
 * flight; `stop()` aborts it.
 */
import { StoppedError } from '../errors.ts';
import type { ConfState, Entry } from '../protocol/types.ts';
import type { Storage } from '../storage/types.ts';
import type { AppliedState } from './applied-state.ts';
import { snapshotChannel, traceSpan } from './tracing.ts';

/** What periodic snapshots need from the driver. */
export interface SnapshotHost {
  readonly storage: Storage;
  readonly state: AppliedState;
  readonly snapshotEvery: number;
  readonly snapshotEveryBytes: number;
  readonly snapshotCatchUpEntries: number;
  readonly snapshotCatchUpBytes: number;
  /** Raft's applied configuration now. */
  confState(): ConfState;
  /** Persists a deferred commit-only hard state (a snapshot must not pass the durable commit). */
  flushHardState(): Promise<void>;
  /** Wakes the driver loop (encoded bytes are ready). */
  kick(): void;
  fail(err: unknown): void;
  stopped(): boolean;
  /** Told each snapshot's time from the start of its encode to the end of its write, in seconds. */
  observeDuration(seconds: number): void;
  /** This member's id, for the `quorumkv:snapshot` trace. */
  readonly member: string;
}

/**
 * The first index to keep after a snapshot at `index`: at most `maxEntries` entries and
 * `maxBytes` bytes of entry data behind it, and never below what storage still has.
 */
export function catchUpStart(storage: Storage, index: number, maxEntries: number, maxBytes: number): number {
  const lo = Math.max(storage.firstIndex(), index + 1 - maxEntries);
  if (lo > index) return index + 1;
  const entries = storage.entries(lo, index + 1, Number.MAX_SAFE_INTEGER);
  let bytes = 0;
  let keep = index + 1;
  for (let i = entries.length - 1; i >= 0; i--) {
    bytes += (entries[i] as Entry).data.length;
    if (bytes > maxBytes) break;
    keep = (entries[i] as Entry).index;
  }
  return keep;
}

/** Entry bytes applied since the last snapshot past which `close()` writes one (snapshotOnClose). */
export const CLOSE_SNAPSHOT_MIN_BYTES = 4 * 1024 * 1024;
/** Entries applied since the last snapshot past which `close()` writes one (snapshotOnClose). */
export const CLOSE_SNAPSHOT_MIN_ENTRIES = 10_000;
/** Upper bound on the snapshot `close()` writes, in ms (at 1M keys: encode ≈ 2 s, write ≈ 1 s). */
export const CLOSE_SNAPSHOT_TIMEOUT_MS = 20_000;

function byteLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

export class PeriodicSnapshots {
  readonly #host: SnapshotHost;
  #index: number;
  /** `state.appliedBytes` when the last snapshot was taken or installed. */
  #bytesMark: number;
  /** The background encode, while one runs. */
  #job: Promise<void> | undefined;
  /** Its result, waiting for the loop to write it. */
  #done: { index: number; confState: ConfState; data: Uint8Array[]; startedAt: number; finishTrace: ((error?: unknown) => void) | undefined } | undefined;
  readonly #abort = new AbortController();
  /** Bytes of the last snapshot this member wrote (0 before the first one). */
  #lastBytes = 0;

  constructor(host: SnapshotHost, index: number) {
    this.#host = host;
    this.#index = index;
    this.#bytesMark = host.state.appliedBytes;
  }

  /** What the storage holds, about: the last snapshot written plus the entries applied since. */
  get storedBytes(): number {
    return this.#lastBytes + this.#host.state.appliedBytes - this.#bytesMark;
  }

  /** A snapshot from the leader was installed at `index` (it supersedes an older one in flight). */
  installed(index: number): void {
    this.#index = index;
    this.#bytesMark = this.#host.state.appliedBytes;
  }

  /**
   * Called by the loop when no Ready is outstanding (every save it started is durable, so the
   * applied index is durable too). Writes a finished snapshot, or starts one when due.
   */
  async maybeSnapshot(): Promise<void> {
    const host = this.#host;
    const done = this.#done;
    if (done !== undefined) {
      this.#done = undefined;
      if (done.index <= this.#index) return done.finishTrace?.(); // Superseded by an installed snapshot.
      try {
        // Entries up to the snapshot are no longer needed here, but a follower a little behind
        // still is: a bounded window of them stays, so it gets entries, not the whole store.
        await this.#write(done.index, done.confState, done.data, () => catchUpStart(host.storage, done.index, host.snapshotCatchUpEntries, host.snapshotCatchUpBytes));
      } catch (err) {
        done.finishTrace?.(err);
        throw err;
      }
      host.observeDuration((performance.now() - done.startedAt) / 1000);
      done.finishTrace?.();
      return;
    }
    if (this.#job !== undefined) return;
    const state = host.state;
    if (state.appliedIndex - this.#index < host.snapshotEvery && state.appliedBytes - this.#bytesMark < host.snapshotEveryBytes) return;
    this.#bytesMark = state.appliedBytes;
    const view = state.view();
    const confState = host.confState();
    const startedAt = performance.now();
    const finishTrace = snapshotChannel.hasSubscribers ? traceSpan(snapshotChannel, { member: host.member, index: view.index }) : undefined;
    this.#job = view
      .encodeParts(this.#abort.signal)
      .then(
        (data) => {
          if (host.stopped()) return finishTrace?.(new StoppedError());
          this.#done = { index: view.index, confState, data, startedAt, finishTrace };
          host.kick();
        },
        (err: unknown) => {
          finishTrace?.(err);
          if (!host.stopped()) host.fail(err);
        },
      )
      .finally(() => {
        this.#job = undefined;
      });
  }

  /**
   * `close()`: when the entries applied since the last snapshot would take a while to replay at
   * the next start (at least {@link CLOSE_SNAPSHOT_MIN_BYTES} or {@link CLOSE_SNAPSHOT_MIN_ENTRIES}),
   * writes a snapshot of the final state and compacts the log behind it, so that start loads the
   * snapshot and neither reads nor replays log segments.
   * Called once the loop is idle (everything applied is durable) and after stop(); bounded by
   * `timeoutMs` (an encode past it is abandoned: the WAL still holds everything). Errors are
   * returned to the caller, who logs them: the member is closing either way.
   */
  async snapshotOnClose(timeoutMs: number): Promise<boolean> {
    const host = this.#host;
    const state = host.state;
    const entries = state.appliedIndex - this.#index;
    if (entries <= 0 || (entries < CLOSE_SNAPSHOT_MIN_ENTRIES && state.appliedBytes - this.#bytesMark < CLOSE_SNAPSHOT_MIN_BYTES)) return false;
    const view = state.view();
    const confState = host.confState();
    const timeout = AbortSignal.timeout(timeoutMs);
    const data = await view.encodeParts(timeout);
    // No catch-up window: the next open keeps only the entries after the snapshot anyway, and
    // deleting the segments below it spares that open reading them.
    await this.#write(view.index, confState, data, () => view.index + 1);
    return true;
  }

  /** Writes encoded snapshot bytes (after the deferred hard state), then compacts the log to `compactTo()`. */
  async #write(index: number, confState: ConfState, data: readonly Uint8Array[], compactTo: () => number): Promise<void> {
    const host = this.#host;
    await host.flushHardState();
    await host.storage.createSnapshot(index, confState, data);
    this.#index = index;
    this.#lastBytes = byteLength(data);
    await host.storage.compact(compactTo());
  }

  /**
   * Aborts an in-flight encode at its next slice (its bytes are dropped; the last snapshot on
   * disk plus the WAL still hold everything) and waits for it to end.
   */
  async stop(): Promise<void> {
    this.#abort.abort(new StoppedError());
    await this.#job;
  }
}
