/**
 * The leader's view of one follower (§5.3 nextIndex/matchIndex) plus flow control, after
 * etcd's tracker.Progress. A follower is in one of three states:
 * - `probe`: the leader does not know where the follower's log matches; it sends one append
 *   per heartbeat interval and waits for the answer;
 * - `replicate`: the follower matches; appends are pipelined up to the in-flight window;
 * - `snapshot`: the entries the follower needs are compacted; a snapshot is on its way and
 *   nothing else is sent until the driver reports the outcome.
 */
import { Inflights } from './inflights.ts';
import type { LogIndex } from '../protocol/types.ts';
import type { ProgressState, ProgressStatus } from './types.ts';

export class Progress {
  // Invariant: match < next (the follower holds [1, match]; the leader sends from next).
  match: LogIndex;
  next: LogIndex;
  state: ProgressState = 'probe';
  learner: boolean;
  /** Heard from the follower within the current election timeout (CheckQuorum). */
  recentActive = false;
  /** In probe state: an append is outstanding, wait for its answer or the next heartbeat. */
  probeSent = false;
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot: LogIndex = 0;
  /** Leader tick at which the pending snapshot was sent. */
  snapshotSentTick = 0;
  /** The commit index carried by the last append sent (an empty append propagates commit). */
  sentCommit: LogIndex = 0;
  /** Send an append at the next flush even if it carries nothing (detects lost appends). */
  forceSend = false;
  /**
   * Appends allowed in flight in replicate state, at most the inflights' capacity
   * (`maxInflightMessages`). Halved by each fresh rejection in replicate state, grown by one per
   * acknowledgement — slow start after a loss, so a link that reorders or drops gets small
   * bursts and a healthy one soon gets the whole window again.
   */
  // Invariant: 1 <= window <= inflights.capacity.
  window: number;
  readonly inflights: Inflights;

  constructor(next: LogIndex, learner: boolean, maxInflightMessages: number, maxInflightBytes: number) {
    this.match = 0;
    this.next = next;
    this.learner = learner;
    this.inflights = new Inflights(maxInflightMessages, maxInflightBytes);
    this.window = maxInflightMessages;
  }

  #resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.#resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.#resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.#resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: LogIndex): void {
    this.#resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records that the follower holds the log up to `index`. Returns false for a stale answer. */
  maybeUpdate(index: LogIndex): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < index + 1) this.next = index + 1;
    return updated;
  }

  /** Records that an append carrying entries up to `lastIndex` (of `bytes` data) went out. */
  sentEntries(lastIndex: LogIndex, count: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /**
   * Handles a rejected append whose previous entry was `rejected`. `followerHint` is the hint as
   * the follower sent it (an index its log reached when it rejected); `hint` is where the
   * leader would continue after mapping that hint through its own terms (fast back-off).
   * Returns false when the rejection is stale and must be ignored.
   *
   * On a link that reorders (a reconnecting transport, the simulator's `--reorder`), answers to
   * pipelined appends arrive long after newer ones; acting on every one of them resets the
   * window over and over (finding F4). A rejection carries news only if it is newer than what
   * the leader already knows:
   * - `rejected <= match`: the follower acknowledged that entry already;
   * - `followerHint < match`: the follower's log has grown past the hint since it rejected. (A
   *   follower holding [1, match] of our log hints at least `match`: every entry up to match
   *   has a term <= the rejected one's, so the conflict search cannot go below it.)
   * - in probe state, anything but the answer to the last probe (at `next - 1`), as in etcd.
   * A fresh rejection never moves `next` below `match + 1`: those entries are known held.
   */
  maybeDecrTo(rejected: LogIndex, followerHint: LogIndex, hint: LogIndex): boolean {
    if (rejected <= this.match) return false;
    if (followerHint < this.match) return false;
    if (this.state === 'replicate') {
      // Something we sent is missing (lost, or still overtaken): probe from the follower's
      // hint, and halve the window so a reordering link is not flooded again at once.
      this.window = Math.max(1, Math.floor(this.window / 2));
      this.becomeProbe();
    } else if (this.next - 1 !== rejected) {
      return false;
    }
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** An acknowledgement in replicate state: the link delivers, let the window grow again. */
  growWindow(): void {
    if (this.window < this.inflights.capacity) this.window++;
  }

  /** Whether the in-flight window (the bounded one, or the current reduced one) is full. */
  windowFull(): boolean {
    return this.inflights.full() || this.inflights.count >= this.window;
  }

  /** Whether the leader must hold further appends to this follower. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.windowFull();
      case 'snapshot':
        return true;
    }
  }

  status(): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      learner: this.learner,
      recentActive: this.recentActive,
    };
  }
}
