/**
 * Membership changes, the driver's side of them: callers waiting for a change to apply, the queue
 * of changes to hand to Raft, and what applying a committed change means for the application
 * (peer URLs, transport peers, `member` events). Raft itself updates its ConfState when the
 * driver calls `advance()` for the Ready that carried the entry.
 *
 * One change at a time: Raft refuses a second one until the first is applied, so a refused change
 * is retried on the next tick until its caller's deadline.
 */
import { ConfChangeInProgressError, MemberExistsError, MemberNotFoundError, MemberRemovedError, ProposalDroppedError, QuorumError } from '../errors.ts';
import type { ConfChange, ConfChangeType, ConfState, Entry, NodeId } from '../protocol/types.ts';
import { decodeConfChange } from '../raft/conf-change.ts';
import type { RawNode } from '../raft/raw-node.ts';
import type { Transport } from '../transport/types.ts';
import { decodeConfContext, encodeConfContext } from './codec.ts';
import { withDeadline } from './deadline.ts';
import type { Membership } from './membership.ts';
import { unknownOutcome } from './proposals.ts';
import type { CallOptions } from './types.ts';

/** An applied membership change, as the node's `member` event reports it. */
export interface MemberChange {
  readonly type: 'add' | 'promote' | 'remove' | 'update';
  readonly id: NodeId;
  readonly url: string;
  readonly learner: boolean;
}

/** What the membership side needs from the driver. */
export interface ConfChangeHost {
  readonly self: NodeId;
  readonly requestTimeoutMs: number;
  readonly membership: Membership;
  readonly transport: Transport | undefined;
  /** Unique per start of this member, so a proposal key is never reused across restarts. */
  readonly incarnation: number;
  /** The configuration Raft has applied. */
  confState(): ConfState;
  /** Wakes the driver loop (new input queued). */
  kick(): void;
  member(change: MemberChange): void;
  /** This member was removed from the cluster (called one microtask after the apply). */
  removed(): void;
}

/** The channel of the note a member sends to a member whose removal it applied. */
export const REMOVED_CHANNEL = 'removed';

/**
 * Time the note to a removed member has to leave before its connection is dropped. A removed
 * follower learns of its removal only by applying it, and the leader stops replicating to it once
 * the removal is applied; without the note it would run on, removed, until stopped.
 */
const REMOVED_NOTICE_GRACE_MS = 500;

function noticeRemoval(host: ConfChangeHost, id: NodeId): void {
  const transport = host.transport;
  if (transport === undefined) return;
  transport.send(id, [{ type: 'app', from: host.self, to: id, channel: REMOVED_CHANNEL, payload: new Uint8Array(0) }]);
  setTimeout(() => transport.removePeer(id), REMOVED_NOTICE_GRACE_MS).unref();
}

interface ConfWaiter {
  settle(err?: QuorumError): void;
}

export class ConfChanges {
  readonly #host: ConfChangeHost;
  /** Callers by the proposal key carried in the change's context. */
  readonly #waiters = new Map<string, ConfWaiter>();
  #seq = 0;
  /** Changes to hand to Raft on the next loop turn. Bounded by the callers waiting on them. */
  #queue: ConfChange[] = [];
  /** Changes Raft refused for now (another change in flight): queued again on the next tick. */
  #refused: ConfChange[] = [];

  constructor(host: ConfChangeHost) {
    this.#host = host;
  }

  /**
   * Proposes a membership change; resolves once it is applied on this member. An add carries the
   * member's peer URLs (the first is dialled) and, when given, its name.
   */
  request(type: ConfChangeType, nodeId: NodeId, peerUrls: readonly string[], options?: CallOptions & { readonly name?: string }): Promise<void> {
    const host = this.#host;
    const conf = host.confState();
    const isVoter = conf.voters.includes(nodeId);
    const isLearner = conf.learners.includes(nodeId);
    if ((type === 'addVoter' || type === 'addLearner') && (isVoter || isLearner)) return Promise.reject(new MemberExistsError(nodeId));
    // A removed id never comes back (etcd's IsIDRemoved; FINDINGS F2): a wiped member under an old
    // id could vote as the old incarnation in a stale configuration and elect a leader that
    // lacks committed entries. Checked against this member's applied state (see docs/raft.md).
    if ((type === 'addVoter' || type === 'addLearner') && host.membership.isRemoved(nodeId)) return Promise.reject(new MemberRemovedError(nodeId));
    if (type === 'promoteLearner' && !isLearner) return Promise.reject(new MemberNotFoundError(`${nodeId} (as a learner)`));
    if (type === 'removeNode' && !isVoter && !isLearner) return Promise.reject(new MemberNotFoundError(nodeId));
    this.#seq += 1;
    const proposal = `${host.self}/${host.incarnation}/cc${this.#seq}`;
    return withDeadline<void>(
      options,
      host.requestTimeoutMs,
      () => unknownOutcome('the membership change was not applied within the timeout'),
      (resolve, reject) => {
        this.#waiters.set(proposal, { settle: (err) => (err === undefined ? resolve() : reject(err)) });
        const url = peerUrls[0] ?? '';
        const name = options?.name;
        const context = encodeConfContext({ url, proposal, ...(peerUrls.length > 1 ? { peerUrls } : {}), ...(name === undefined ? {} : { name }) });
        this.#queue.push({ type, nodeId, context });
        host.kick();
        return () => this.#waiters.delete(proposal);
      },
    );
  }

  /** Hands every queued change to Raft (call only while a leader is known). */
  feed(raft: RawNode): void {
    if (this.#queue.length === 0) return;
    const queue = this.#queue;
    this.#queue = [];
    for (const cc of queue) {
      const key = decodeConfContext(cc.context).proposal;
      if (!this.#waiters.has(key)) continue; // Gave up meanwhile.
      try {
        raft.proposeConfChange(cc);
      } catch (err) {
        if (err instanceof ConfChangeInProgressError || err instanceof ProposalDroppedError) {
          // One change at a time (or a fresh leader not yet settled): retry on a later tick.
          this.#refused.push(cc);
          continue;
        }
        const waiter = this.#waiters.get(key);
        this.#waiters.delete(key);
        waiter?.settle(err instanceof QuorumError ? err : new ProposalDroppedError(String(err)));
      }
    }
  }

  /** A tick: changes Raft refused go back to the queue. */
  retryRefused(): void {
    if (this.#refused.length === 0) return;
    this.#queue.push(...this.#refused);
    this.#refused = [];
  }

  /** Applies a committed `confChange` entry to the application side and settles its caller. */
  apply(entry: Entry): void {
    const cc = decodeConfChange(entry.data);
    if (cc === undefined) return;
    const host = this.#host;
    const ctx = decodeConfContext(cc.context);
    const self = host.self;
    if (cc.type === 'addVoter' || cc.type === 'addLearner') {
      host.membership.add(cc.nodeId, ctx.peerUrls ?? (ctx.url === '' ? [] : [ctx.url]), ctx.name);
      if (cc.nodeId !== self && ctx.url !== '') host.transport?.addPeer(cc.nodeId, ctx.url);
      host.member({ type: 'add', id: cc.nodeId, url: ctx.url, learner: cc.type === 'addLearner' });
    } else if (cc.type === 'promoteLearner') {
      host.member({ type: 'promote', id: cc.nodeId, url: host.membership.url(cc.nodeId) ?? '', learner: false });
    } else {
      const url = host.membership.url(cc.nodeId) ?? '';
      host.membership.delete(cc.nodeId);
      if (cc.nodeId !== self) noticeRemoval(host, cc.nodeId);
      host.member({ type: 'remove', id: cc.nodeId, url, learner: false });
      if (cc.nodeId === self) queueMicrotask(() => host.removed());
    }
    const waiter = this.#waiters.get(ctx.proposal);
    this.#waiters.delete(ctx.proposal);
    waiter?.settle();
  }

  rejectAll(reason: QuorumError): void {
    for (const w of this.#waiters.values()) w.settle(reason);
    this.#waiters.clear();
    this.#queue = [];
    this.#refused = [];
  }
}
