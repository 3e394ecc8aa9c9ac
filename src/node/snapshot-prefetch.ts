/**
 * Snapshots from the leader, rebuilt before Raft sees them. Rebuilding a large store takes seconds
 * (≈ 1 s per 200k keys); if the driver loop awaited it while handling the Ready that installs the
 * snapshot, this member would answer no heartbeat, append or read for that long. So a snapshot
 * message is held back while its store is rebuilt in slices in the background — the loop goes on
 * answering the leader and serving reads from the old store — and is handed to Raft only then.
 * The Ready that installs it finds the rebuilt store here, and the install is a swap.
 *
 * One rebuild at a time: a snapshot message that arrives while one is being rebuilt, or while a
 * rebuilt store waits to be installed, is dropped (Raft tolerates lost messages: the leader sends
 * another snapshot if this one does not do). A snapshot Raft would not install (an older term, or
 * covered by the commit index already: a duplicate, a deposed leader's) goes to Raft at once,
 * unrebuilt. While a rebuild runs, the driver drops the leader's appends of that term or older
 * ({@link SnapshotPrefetch.dropAppend}): they would not match the log this member has until the
 * snapshot is stepped, and each rejection would make the leader send the whole snapshot again.
 * Heartbeats are still answered, so the leader keeps counting this member. An append of a newer
 * term means a new leader: the rebuild is abandoned and the append goes through.
 */
import type { Message, Snapshot } from '../protocol/types.ts';
import { Store } from '../store/store.ts';
import type { StoreLimits } from '../store/types.ts';
import { decodeAppSnapshot } from './codec.ts';

export interface PrefetchHost {
  readonly limits: StoreLimits;
  /** Hands a held message to Raft (the driver's inbox). */
  deliver(message: Message): void;
  /** Whether Raft would install this snapshot now (its term is current, it is past the commit index). */
  wanted(message: Message): boolean;
  /** A snapshot whose store cannot be rebuilt: it must not be persisted; the member stops. */
  fail(err: unknown): void;
  stopped(): boolean;
}

interface Job {
  readonly message: Message;
  readonly abort: AbortController;
}

export class SnapshotPrefetch {
  readonly #host: PrefetchHost;
  /** The rebuild in progress, while one runs. */
  #job: Job | undefined;
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
    if (snapshot === undefined || this.#job !== undefined || this.#ready !== undefined) return;
    if (!this.#host.wanted(message)) {
      this.#host.deliver(message);
      return;
    }
    const job: Job = { message, abort: new AbortController() };
    let store: Promise<Store>;
    try {
      store = Store.restoreAsync(decodeAppSnapshot(snapshot.data).store, this.#host.limits, { signal: job.abort.signal });
    } catch (err) {
      this.#host.fail(err);
      return;
    }
    this.#job = job;
    store.then(
      (rebuilt) => {
        if (this.#job !== job) return;
        this.#job = undefined;
        if (this.#host.stopped()) return;
        this.#ready = { message, snapshot, store: rebuilt, stepped: false };
        this.#host.deliver(message);
      },
      (err: unknown) => {
        if (this.#job !== job) return;
        this.#job = undefined;
        if (!this.#host.stopped() && !job.abort.signal.aborted) this.#host.fail(err);
      },
    );
  }

  /**
   * Whether the driver drops this append: one of the held snapshot's term or older while the
   * rebuild runs. A newer term abandons the rebuild (the snapshot's leader is gone).
   */
  dropAppend(append: Message): boolean {
    const job = this.#job;
    if (job === undefined) return false;
    if (append.term <= job.message.term) return true;
    this.#job = undefined;
    job.abort.abort();
    return false;
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

  /** Abandons a rebuild in progress and drops a rebuilt store. */
  stop(): void {
    this.#job?.abort.abort();
    this.#job = undefined;
    this.#ready = undefined;
  }
}
