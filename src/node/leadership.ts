/**
 * Leadership, the driver's side of it: waiting until a leader is known, and leadership transfer.
 * Only the leader can hand over (Raft's `transferLeadership`), so a follower asked to transfer
 * forwards the request to the leader as a driver-to-driver app message Raft never sees.
 */
import { MemberNotFoundError, NoLeaderError, TimeoutError } from '../errors.ts';
import type { AppMessage, NodeId, RaftRole } from '../protocol/types.ts';
import type { RawNode } from '../raft/raw-node.ts';
import type { Transport } from '../transport/types.ts';
import { withDeadline } from './deadline.ts';
import type { CallOptions } from './types.ts';

/** App-message channel on which a follower asks the leader to transfer leadership. */
export const TRANSFER_CHANNEL = 'transfer';

type LeaderListener = (info: { readonly leader: NodeId; readonly term: number }) => void;

/** The driver's `leader` event, as this module listens to it. */
export interface LeaderEvents {
  on(event: 'leader', listener: LeaderListener): unknown;
  off(event: 'leader', listener: LeaderListener): unknown;
}

/** What leadership needs from the driver. */
export interface LeadershipHost {
  readonly self: NodeId;
  readonly requestTimeoutMs: number;
  readonly events: LeaderEvents;
  readonly transport: Transport | undefined;
  leader(): NodeId;
  /** Voters of the configuration Raft has applied. */
  voters(): readonly NodeId[];
  /** Wakes the driver loop (new input queued). */
  kick(): void;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/**
 * Resolves once a `leader` event satisfies `accept`; `start` runs after the listener is in place.
 * Rejects with `onTimeout()` at the deadline or AbortedError on the signal.
 */
function waitForLeaderEvent(
  host: LeadershipHost,
  options: CallOptions | undefined,
  onTimeout: () => TimeoutError | NoLeaderError,
  accept: (leader: NodeId) => boolean,
  start?: () => void,
): Promise<void> {
  return withDeadline<void>(options, host.requestTimeoutMs, onTimeout, (resolve) => {
    const onLeader: LeaderListener = ({ leader }) => {
      if (accept(leader)) {
        host.events.off('leader', onLeader);
        resolve();
      }
    };
    host.events.on('leader', onLeader);
    start?.();
    return () => host.events.off('leader', onLeader);
  });
}

export class Leadership {
  readonly #host: LeadershipHost;
  /** A transfer to hand to Raft (leader) or to forward to the leader on the next loop turn. */
  #transferTo: NodeId | undefined;

  constructor(host: LeadershipHost) {
    this.#host = host;
  }

  /** Waits until a leader is known. */
  waitForLeader(options?: CallOptions): Promise<void> {
    if (this.#host.leader() !== '') return Promise.resolve();
    return waitForLeaderEvent(this.#host, options, () => new NoLeaderError('node: no leader within the request timeout'), (leader) => leader !== '');
  }

  /** Asks Raft to hand leadership to `to`; resolves when `to` is the leader. */
  transfer(to: NodeId, options?: CallOptions): Promise<void> {
    const host = this.#host;
    if (!host.voters().includes(to)) return Promise.reject(new MemberNotFoundError(`${to} (as a voter)`));
    if (host.leader() === to) return Promise.resolve();
    return waitForLeaderEvent(
      host,
      options,
      () => new TimeoutError(`node: leadership did not move to ${to} within the timeout`),
      (leader) => leader === to,
      () => {
        this.#transferTo = to;
        host.kick();
      },
    );
  }

  /** Loop turn: hands a queued transfer to Raft (leader) or forwards it to the leader. */
  feed(raft: RawNode, role: RaftRole): void {
    const host = this.#host;
    const leader = host.leader();
    if (this.#transferTo === undefined || leader === '') return;
    const to = this.#transferTo;
    this.#transferTo = undefined;
    if (role === 'leader') raft.transferLeadership(to);
    else host.transport?.send(leader, [{ type: 'app', from: host.self, to: leader, channel: TRANSFER_CHANNEL, payload: utf8.encode(to) }]);
  }

  /** A follower's forwarded transfer request (TRANSFER_CHANNEL). */
  onAppMessage(m: AppMessage): void {
    const to = utf8Decoder.decode(m.payload);
    if (this.#host.voters().includes(to)) {
      this.#transferTo = to;
      this.#host.kick();
    }
  }
}
