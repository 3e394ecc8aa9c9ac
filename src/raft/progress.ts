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
  readonly inflights: Inflights;

  constructor(next: LogIndex, learner: boolean, maxInflightMessages: number, maxInflightBytes: number) {
    this.match = 0;
    this.next = next;
    this.learner = learner;
    this.inflights = new Inflights(maxInflightMessages, maxInflightBytes);
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
   * Handles a rejected append that probed at `rejected`; `hint` is where the follower suggests
   * to continue (fast back-off). Returns false when the rejection is stale.
   */
  maybeDecrTo(rejected: LogIndex, hint: LogIndex): boolean {
    if (this.state === 'replicate') {
      // A rejection at or below match is stale: the follower already acknowledged more.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only the rejection of the last probe (at next - 1) is meaningful.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader must hold further appends to this follower. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
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
