/**
 * Where the driver's outgoing Raft messages go: to the transport, one call per peer, or back into
 * this member's own inbox (a message Raft addresses to itself).
 *
 * Commit notices — appends without entries, sent by a leader when its commit index moves — may be
 * held for the rest of the event-loop turn. Sending is a socket write per peer, which on a small
 * VM costs tens to hundreds of µs of the leader's time; holding the notices lets the leader answer
 * the writers the commit just settled first, and a write those writers issue next usually produces
 * an append within the same turn, so the notice leaves in the same frame (one write per peer
 * instead of two). Raft needs no notice to arrive quickly for safety; it delays only followers
 * learning the commit index (follower reads, follower apply) by at most one turn. Held messages
 * always leave before anything sent later to the same peer, so per-peer order is kept.
 */
import type { Message, NodeId } from '../protocol/types.ts';
import type { Transport } from '../transport/types.ts';

export function isCommitNotice(m: Message): boolean {
  return m.type === 'append' && m.entries.length === 0;
}

export class Outbox {
  readonly #self: NodeId;
  readonly #transport: Transport | undefined;
  readonly #toSelf: (m: Message) => void;
  readonly #onError: (err: unknown) => void;
  #held: Message[] = [];
  #releaseScheduled = false;
  #closed = false;
  readonly #release = (): void => {
    this.#releaseScheduled = false;
    // Runs outside the driver loop (setImmediate): a transport that throws must stop the member
    // through its error path, not escape into the host process as an uncaught exception.
    try {
      if (this.#held.length > 0) this.#dispatch([]);
    } catch (err) {
      this.#onError(err);
    }
  };

  constructor(self: NodeId, transport: Transport | undefined, toSelf: (m: Message) => void, onError: (err: unknown) => void) {
    this.#self = self;
    this.#transport = transport;
    this.#toSelf = toSelf;
    this.#onError = onError;
  }

  /** Hands messages (after any held ones) to the transport; true when any went to a peer. */
  send(messages: readonly Message[]): boolean {
    return messages.length > 0 && this.#dispatch(messages);
  }

  #dispatch(messages: readonly Message[]): boolean {
    if (this.#closed) return false;
    let all = messages;
    if (this.#held.length > 0) {
      all = this.#held.concat(messages);
      this.#held = [];
    }
    if (all.length === 0) return false;
    if (all.length === 1) {
      const m = all[0]!;
      if (m.to === this.#self) {
        this.#toSelf(m);
        return false;
      }
      this.#transport?.send(m.to, all);
      return true;
    }
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of all) {
      if (m.to === this.#self) {
        this.#toSelf(m);
        continue;
      }
      let list = byPeer.get(m.to);
      if (list === undefined) byPeer.set(m.to, (list = []));
      list.push(m);
    }
    for (const [to, list] of byPeer) this.#transport?.send(to, list);
    return byPeer.size > 0;
  }

  /**
   * Sends `messages` except commit notices, which are held until the next send or the end of this
   * event-loop turn (setImmediate), whichever comes first.
   */
  sendHoldingNotices(messages: readonly Message[]): void {
    if (this.#closed || messages.length === 0) return;
    // A notice to a peer that also gets something else now goes with it (per-peer order).
    const others = new Set<NodeId>();
    for (const m of messages) if (!isCommitNotice(m)) others.add(m.to);
    const now: Message[] = [];
    const hold: Message[] = [];
    for (const m of messages) (m.to !== this.#self && !others.has(m.to) && isCommitNotice(m) ? hold : now).push(m);
    this.send(now); // Also sends what was held before (it is older).
    if (hold.length > 0) {
      for (const m of hold) this.#held.push(m);
      if (!this.#releaseScheduled) {
        this.#releaseScheduled = true;
        setImmediate(this.#release);
      }
    }
  }

  /**
   * Sends what is held, then nothing more (the member is stopping; the transport drains its queue
   * when it stops). A held notice may be the only way the others learn that an entry committed —
   * e.g. the leader's own removal from a 2-voter cluster: without it the survivor keeps the old
   * configuration and can never win an election.
   */
  close(): void {
    if (this.#closed) return;
    this.#release();
    this.#closed = true;
    this.#held = [];
  }
}
