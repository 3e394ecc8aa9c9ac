/**
 * Snapshots from the leader, rebuilt before Raft sees them. Rebuilding a large store takes seconds
 * (≈ 1 s per 200k keys); if the driver loop awaited it while handling the Ready that installs the
 * snapshot, this member would answer no heartbeat, append or read for that long. So a snapshot
 * message is held back while its store is rebuilt in slices in the background — the loop goes on
 * answering the leader and serving reads from the old store — and is handed to Raft only then.
 * The Ready that installs it finds the rebuilt store here, and the install is a swap.
 *
 * One rebuild at a time: a snapshot message that arrives while one is being rebuilt (or waits to
 * be stepped) is dropped (Raft tolerates lost messages: the leader sends another snapshot if this
 * one does not do).
 * While a rebuild runs, the driver also drops the leader's appends ({@link SnapshotPrefetch.busy}):
 * they would not match the log this member has until the snapshot is stepped, and each rejection
 * would make the leader send the whole snapshot again. Heartbeats are still answered, so the
 * leader keeps counting this member and probes again when the next answer comes.
 */
import type { Message, Snapshot } from '../protocol/types.ts';
import { Store } from '../store/store.ts';
import type { StoreLimits } from '../store/types.ts';
import { decodeAppSnapshot } from './codec.ts';

export interface PrefetchHost {
  readonly limits: StoreLimits;
  /** Hands the held message to Raft (the driver's inbox) once its store is rebuilt. */
  deliver(message: Message): void;
  stopped(): boolean;
}

export class SnapshotPrefetch {
  readonly #host: PrefetchHost;
  readonly #abort = new AbortController();
  /** The rebuild in progress, while one runs. */
  #job: Promise<void> | undefined;
  /** The message delivered last and the store rebuilt from its snapshot, until used or dropped. */
  #ready: { message: Message; snapshot: Snapshot; store: Store; stepped: boolean } | undefined;

  constructor(host: PrefetchHost) {
    this.#host = host;
  }

  /** True while a snapshot's store is being rebuilt. */
  get busy(): boolean {
    return this.#job !== undefined;
  }

  /** Takes a `snapshot` message from the network; it reaches Raft later, through `deliver`. */
  hold(message: Message): void {
    const snapshot = message.snapshot;
    // Dropped while one is being rebuilt, or rebuilt and not yet stepped (it is the newer one).
    if (snapshot === undefined || this.#job !== undefined || (this.#ready !== undefined && !this.#ready.stepped)) return;
    this.#ready = undefined;
    let store: Promise<Store>;
    try {
      store = Store.restoreAsync(decodeAppSnapshot(snapshot.data).store, this.#host.limits, { signal: this.#abort.signal });
    } catch {
      // Undecodable: Raft gets the message as it is, and installing it fails the usual way.
      this.#host.deliver(message);
      return;
    }
    this.#job = store
      .then(
        (rebuilt) => {
          if (this.#host.stopped()) return;
          this.#ready = { message, snapshot, store: rebuilt, stepped: false };
          this.#host.deliver(message);
        },
        () => {
          if (!this.#host.stopped()) this.#host.deliver(message);
        },
      )
      .finally(() => {
        this.#job = undefined;
      });
  }

  /** The driver stepped `message` into Raft (its Ready comes next). */
  stepped(message: Message): void {
    if (this.#ready?.message === message) this.#ready.stepped = true;
  }

  /** The store rebuilt from exactly `snapshot`, if there is one; it is handed out once. */
  take(snapshot: Snapshot): Store | undefined {
    const ready = this.#ready;
    if (ready === undefined) return undefined;
    const same = ready.snapshot.data === snapshot.data && ready.snapshot.meta.index === snapshot.meta.index && ready.snapshot.meta.term === snapshot.meta.term;
    if (!same) return undefined;
    this.#ready = undefined;
    return ready.store;
  }

  /**
   * Called after each Ready: a rebuilt store whose message Raft has already seen but did not
   * install (stale, or already covered by the log) is dropped, so it does not hold memory.
   */
  settle(): void {
    if (this.#ready?.stepped === true) this.#ready = undefined;
  }

  /** Aborts a rebuild in progress and waits for it to end. */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#ready = undefined;
    await this.#job;
  }
}
