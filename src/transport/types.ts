/**
 * The transport contract (docs/design.md, "Transport"): carries opaque {@link PeerMessage}s between member ids.
 * A transport never blocks the driver and never throws for a peer's trouble: when a peer cannot
 * be reached or its queue is full, messages are dropped and `onUnreachable` tells Raft.
 */
import type { NodeId, PeerMessage } from '../protocol/types.ts';

export interface TransportHandlers {
  /** A validated batch from a known peer, in the order the peer sent it. */
  onMessages(from: NodeId, messages: readonly PeerMessage[]): void;
  /** Messages to `peer` were dropped (queue full, connection lost): Raft should probe it again. */
  onUnreachable(peer: NodeId): void;
  /** Whether a `snapshot` message to `peer` was delivered in full. */
  onSnapshotStatus?(peer: NodeId, delivered: boolean): void;
  /**
   * The connection `peer` sent us messages on closed (not replaced by a newer one): a hint that
   * the peer may be down, e.g. its process was killed. Raft lets a follower whose leader that is
   * campaign early; nothing depends on the hint being true.
   */
  onConnectionLost?(peer: NodeId): void;
}

export interface Transport {
  /** Starts listening/attaching as `self`; resolves when messages can be sent and received. */
  start(self: NodeId, handlers: TransportHandlers): Promise<void>;
  /** Queues messages for `to`. Never throws for peer trouble; unknown peers are reported unreachable. */
  send(to: NodeId, messages: readonly PeerMessage[]): void;
  /** Adds or updates a peer's address (membership changes). For in-memory transports the address is ignored. */
  addPeer(id: NodeId, address: string): void;
  /** Forgets a peer and closes its connection. */
  removePeer(id: NodeId): void;
  /**
   * Optional: serve the cluster's member list (JSON text made by `directory`) to a member that is
   * about to join and knows only its own peer URL, so it can find its id there (etcd's peer
   * `/members`). The ws transport answers `GET /members` on its listener.
   */
  setMemberDirectory?(directory: () => string): void;
  /** Drains queued messages (bounded wait), closes connections and the listener. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Told about peer traffic as it happens, for metrics (etcd's `etcd_network_peer_*`). Called on the
 * hot path: an implementation only adds numbers.
 */
export interface PeerTrafficObserver {
  /** A frame of `bytes` was handed to `peer`'s connection. */
  sent(peer: NodeId, bytes: number): void;
  /** A frame of `bytes` arrived from `peer`. */
  received(peer: NodeId, bytes: number): void;
  /** A ping to `peer` was answered after `seconds`. */
  roundTrip(peer: NodeId, seconds: number): void;
}
