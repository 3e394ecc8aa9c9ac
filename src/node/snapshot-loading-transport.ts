/**
 * Snapshot messages leave with their bytes read from disk. File storage keeps the latest
 * snapshot's bytes only in its file (at 1M keys ≈ 175 MB the heap would otherwise carry from one
 * snapshot to the next), so the snapshot Raft hands to a lagging follower is detached
 * (storage/types.ts). This transport in front of the real one takes such a message out of its
 * batch, loads the bytes (one read at a time, shared by every follower that needs the snapshot
 * meanwhile) and sends the message whole. The other messages of the batch go at once: a
 * follower waiting for a snapshot gets only heartbeats from the leader, whose order against the
 * snapshot does not matter.
 *
 * A load that fails, or finds a newer snapshot in the place of the one Raft named, is reported
 * as an undelivered snapshot: Raft then sends the current one on its next probe.
 */
import type { Message, NodeId, PeerMessage, Snapshot } from '../protocol/types.ts';
import { isDetached } from '../storage/types.ts';
import type { Transport, TransportHandlers } from '../transport/types.ts';

export class SnapshotLoadingTransport implements Transport {
  readonly #inner: Transport;
  readonly #load: () => Promise<Snapshot>;
  readonly #warn: (obj: object, msg: string) => void;
  #handlers: TransportHandlers | undefined;
  #stopped = false;
  /** The load in progress, if any: followers that need a snapshot meanwhile share its bytes. */
  #loading: Promise<Snapshot> | undefined;

  constructor(inner: Transport, load: () => Promise<Snapshot>, warn: (obj: object, msg: string) => void) {
    this.#inner = inner;
    this.#load = load;
    this.#warn = warn;
  }

  start(self: NodeId, handlers: TransportHandlers): Promise<void> {
    this.#handlers = handlers;
    return this.#inner.start(self, handlers);
  }

  send(to: NodeId, messages: readonly PeerMessage[]): void {
    let rest: PeerMessage[] | undefined;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i] as PeerMessage;
      if (m.type === 'snapshot' && m.snapshot !== undefined && isDetached(m.snapshot)) {
        rest ??= messages.slice(0, i);
        void this.#sendLoaded(to, m, m.snapshot);
      } else rest?.push(m);
    }
    const now = rest ?? messages;
    if (now.length > 0) this.#inner.send(to, now);
  }

  addPeer(id: NodeId, address: string): void {
    this.#inner.addPeer(id, address);
  }

  removePeer(id: NodeId): void {
    this.#inner.removePeer(id);
  }

  setMemberDirectory(directory: () => string): void {
    this.#inner.setMemberDirectory?.(directory);
  }

  stop(): Promise<void> {
    this.#stopped = true;
    return this.#inner.stop();
  }

  async #sendLoaded(to: NodeId, message: Message, wanted: Snapshot): Promise<void> {
    let loaded: Snapshot;
    try {
      loaded = await this.#shared();
    } catch (err) {
      this.#warn({ to, index: wanted.meta.index, err: err instanceof Error ? err.message : String(err) }, 'transport: could not read the snapshot to send');
      this.#undelivered(to);
      return;
    }
    if (this.#stopped) return;
    if (loaded.meta.index !== wanted.meta.index || loaded.meta.term !== wanted.meta.term) {
      this.#undelivered(to);
      return;
    }
    this.#inner.send(to, [{ ...message, snapshot: loaded }]);
  }

  #shared(): Promise<Snapshot> {
    if (this.#loading === undefined) {
      const p = this.#load();
      this.#loading = p;
      // Dropped once settled, so the bytes live only as long as the sends that use them.
      const clear = (): void => {
        if (this.#loading === p) this.#loading = undefined;
      };
      p.then(clear, clear);
    }
    return this.#loading;
  }

  #undelivered(to: NodeId): void {
    if (!this.#stopped) this.#handlers?.onSnapshotStatus?.(to, false);
  }
}
