/**
 * The leader's side of Raft: log replication with per-follower flow control (§5.3), commit
 * (§5.4.2), heartbeats, CheckQuorum, ReadIndex and leadership transfer. A `Leader` exists only
 * while its member leads one term: Raft creates it on winning an election and drops it on any
 * role change, so no leader-only state can outlive its term. Sends are batched: an event
 * (proposal, acknowledgement, commit) only marks the leader `#needsFlush`, and `flush()` —
 * called when the driver asks for a Ready — sends each follower as few appends as the window
 * allows, each carrying as many entries as `maxMessageBytes` allows.
 */
import { assert } from './assert.ts';
import type { NormalizedConfig } from './config.ts';
import type { RaftLog } from './log.ts';
import { NO_ENTRIES, type MessageFields } from './message.ts';
import { Progress } from './progress.ts';
import { committedIndex } from './quorum.ts';
import { decodeRound, encodeRound, MAX_PENDING_READS, ReadOnly, type ReadRequest } from './read-only.ts';
import type { ProgressStatus } from './types.ts';
import type { Entry, LogIndex, Message, MessageType, NodeId, ReadState, Term } from '../protocol/types.ts';

/** Election timeouts after which an unreported snapshot to a live follower is presumed lost. */
const SNAPSHOT_TIMEOUT_ELECTIONS = 5;

/** What a Leader needs of the member it leads for: read-only views and two ways to answer. */
export interface LeaderHost {
  readonly id: NodeId;
  readonly cfg: NormalizedConfig;
  readonly log: RaftLog;
  term(): Term;
  /** The member's monotonic tick counter. */
  ticks(): number;
  voters(): readonly NodeId[];
  learners(): readonly NodeId[];
  /** Queues a message of the current term. */
  send(type: MessageType, to: NodeId, fields?: MessageFields): void;
  /** Hands a served read back: to the driver when it is this member's own, else to its follower. */
  readServed(state: ReadState, from: NodeId): void;
  /** Rejects a read this leader cannot serve. */
  failRead(context: Uint8Array, from: NodeId): void;
}

export class Leader {
  readonly #host: LeaderHost;
  /** Replication progress of every member but this one. */
  readonly #prs = new Map<NodeId, Progress>();
  /** This member's own match index: what it has persisted (advance()). */
  #selfMatch: LogIndex;
  #transferee: NodeId = '';
  /** A conf change is refused until `applied >= #pendingConfIndex`. */
  #pendingConfIndex: LogIndex;
  // Invariant: #uncommittedBytes >= 0 (data bytes appended but not yet applied).
  #uncommittedBytes = 0;
  /** Appends/heartbeats are due at the next flush (batching: one send per Ready). */
  #needsFlush = true;
  #heartbeatElapsed = 0;
  readonly #readOnly = new ReadOnly();
  /** Reads that arrived before the first commit of this term. */
  #pendingReads: { context: Uint8Array; from: NodeId }[] = [];
  /** Scratch space for quorum computations (no per-message allocation). */
  readonly #scratch: number[] = [];

  /** Takes office: a Progress per member, and the empty entry of this term (§5.4.2). */
  constructor(host: LeaderHost) {
    this.#host = host;
    this.syncProgress();
    // Entries handed out before are durable at advance(); the leader counts itself then.
    const log = host.log;
    const u = log.unstable;
    this.#selfMatch = u.snapshot !== undefined ? 0 : u.entries.length > 0 ? u.offset - 1 : log.lastIndex();
    // §5.4.2 / Figure 8: a leader commits entries of earlier terms only by committing one of its
    // own, so it appends an empty entry at once. A conf change waits until that one applies
    // (this closes the single-server-change hole Ongaro described in 2015).
    const index = log.lastIndex() + 1;
    log.append([{ term: host.term(), index, type: 'normal', data: new Uint8Array(0) }]);
    this.#pendingConfIndex = index;
  }

  /** The voter leadership is being handed to, or ''. */
  get transferee(): NodeId {
    return this.#transferee;
  }

  /** Keeps one Progress per member other than this one (after a membership change). */
  syncProgress(): void {
    const h = this.#host;
    const voters = h.voters();
    const learners = h.learners();
    for (const id of this.#prs.keys()) if (!voters.includes(id) && !learners.includes(id)) this.#prs.delete(id);
    const next = h.log.lastIndex() + 1;
    for (const id of [...voters, ...learners]) {
      if (id === h.id) continue;
      const learner = learners.includes(id);
      const pr = this.#prs.get(id);
      if (pr === undefined) {
        const p = new Progress(next, learner, h.cfg.maxInflightMessages, h.cfg.maxInflightBytes);
        p.recentActive = true;
        this.#prs.set(id, p);
      } else {
        pr.learner = learner;
      }
    }
  }

  /** A conf change was applied while leading: the transferee may be gone, the quorum smaller. */
  confChanged(): void {
    if (this.#transferee !== '' && !this.#host.voters().includes(this.#transferee)) this.#transferee = '';
    // The quorum may have shrunk: entries may now be committed.
    this.maybeCommit();
    this.#needsFlush = true;
  }

  step(m: Message): void {
    switch (m.type) {
      case 'appendResponse':
        this.#handleAppendResponse(m);
        return;
      case 'heartbeatResponse':
        this.#handleHeartbeatResponse(m);
        return;
      case 'propose':
        this.#handleForwardedProposal(m);
        return;
      case 'readIndex':
        if (m.context === undefined) return;
        this.readIndex(m.context, m.from);
        return;
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        this.#host.cfg.logger.warn({ id: this.#host.id, from: m.from, term: m.term, type: m.type }, 'raft: another leader in my term; ignoring');
        return;
      default:
        return;
    }
  }

  /**
   * An election timeout passed. Returns false when this leader must step down: with CheckQuorum
   * it lost contact with a quorum during the timeout. A transfer still unfinished is aborted.
   */
  electionTimeoutElapsed(): boolean {
    const h = this.#host;
    if (h.cfg.checkQuorum) {
      if (!this.#quorumActive()) {
        h.cfg.logger.warn({ id: h.id, term: h.term() }, 'raft: lost contact with a quorum; stepping down');
        return false;
      }
      for (const pr of this.#prs.values()) pr.recentActive = false;
    }
    if (this.#transferee !== '') {
      h.cfg.logger.info({ id: h.id, to: this.#transferee }, 'raft: leadership transfer timed out; aborted');
      this.#transferee = '';
    }
    return true;
  }

  tickHeartbeat(): void {
    this.#heartbeatElapsed++;
    if (this.#heartbeatElapsed >= this.#host.cfg.heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      this.#broadcastHeartbeat();
    }
  }

  #quorumActive(): boolean {
    const h = this.#host;
    const voters = h.voters();
    let active = 0;
    for (const id of voters) {
      if (id === h.id || this.#prs.get(id)?.recentActive === true) active++;
    }
    return active >= Math.floor(voters.length / 2) + 1;
  }

  // ---- proposals -----------------------------------------------------------------------------

  /** Why a proposal cannot be appended now, or undefined when it can. */
  refuseReason(bytes: number): string | undefined {
    const cfg = this.#host.cfg;
    if (this.#transferee !== '') return `leadership transfer to ${this.#transferee} in progress`;
    if (bytes > cfg.maxMessageBytes) return `entry of ${bytes} bytes exceeds maxMessageBytes ${cfg.maxMessageBytes}`;
    // An empty pipeline always accepts one entry, so a large entry cannot wedge the leader.
    if (this.#uncommittedBytes > 0 && this.#uncommittedBytes + bytes > cfg.maxUncommittedBytes) {
      return `uncommitted log bytes would exceed maxUncommittedBytes ${cfg.maxUncommittedBytes}`;
    }
    return undefined;
  }

  /** Whether a conf change is appended but not yet applied (one at a time). */
  confChangePending(): boolean {
    return this.#pendingConfIndex > this.#host.log.applied;
  }

  /** Appends one entry to the log (the caller checked `refuseReason`). */
  appendEntry(type: Entry['type'], data: Uint8Array): LogIndex {
    const log = this.#host.log;
    const index = log.lastIndex() + 1;
    log.appendOne({ term: this.#host.term(), index, type, data });
    this.#uncommittedBytes += data.length;
    if (type === 'confChange') this.#pendingConfIndex = index;
    this.#needsFlush = true;
    return index;
  }

  #handleForwardedProposal(m: Message): void {
    const h = this.#host;
    for (const e of m.entries) {
      if (!(e.data instanceof Uint8Array) || (e.type !== 'normal' && e.type !== 'confChange')) return;
      const reason = this.refuseReason(e.data.length);
      if (reason !== undefined) {
        h.cfg.logger.info({ id: h.id, from: m.from, reason }, 'raft: dropping forwarded proposal');
        return;
      }
      if (e.type === 'confChange' && this.confChangePending()) {
        h.cfg.logger.info({ id: h.id, from: m.from }, 'raft: dropping forwarded conf change, one is in progress');
        continue;
      }
      this.appendEntry(e.type, e.data);
    }
  }

  // ---- commit --------------------------------------------------------------------------------

  /** §5.4.2: advance commit to the quorum's match index, only through an entry of this term. */
  maybeCommit(): boolean {
    const h = this.#host;
    const log = h.log;
    const mci = committedIndex(h.voters(), (id) => this.#matchOf(id), this.#scratch);
    if (mci <= log.committed || log.term(mci) !== h.term()) return false;
    log.commitTo(mci);
    this.#needsFlush = true;
    if (this.#pendingReads.length > 0) {
      const pending = this.#pendingReads;
      this.#pendingReads = [];
      for (const p of pending) this.readIndex(p.context, p.from);
    }
    return true;
  }

  #matchOf(id: NodeId): LogIndex {
    if (id === this.#host.id) return this.#selfMatch;
    return this.#prs.get(id)?.match ?? 0;
  }

  /**
   * advance(): the driver applied `committedBytes` of entries and persisted the log up to
   * `stableTo`; the leader now counts itself for it.
   */
  advanced(committedBytes: number, stableTo: LogIndex): void {
    this.#uncommittedBytes = Math.max(0, this.#uncommittedBytes - committedBytes);
    if (stableTo > this.#selfMatch) {
      this.#selfMatch = stableTo;
      this.maybeCommit();
    }
  }

  // ---- replication ---------------------------------------------------------------------------

  #handleAppendResponse(m: Message): void {
    const h = this.#host;
    const pr = this.#prs.get(m.from);
    if (pr === undefined) return;
    if (m.index > h.log.lastIndex()) {
      // Nobody but us could have sent that follower entries of our term: a broken peer. Drop it
      // rather than let it push match (and commit) past our log.
      h.cfg.logger.warn({ id: h.id, from: m.from, index: m.index }, 'raft: append response beyond the last index; dropped');
      return;
    }
    pr.recentActive = true;
    if (m.reject) {
      let next = m.rejectHint;
      // The follower's hint names its term at that index: skip our entries of later terms too.
      if (m.logTerm > 0) next = h.log.findConflictByTerm(m.rejectHint, m.logTerm);
      if (pr.maybeDecrTo(m.index, m.rejectHint, next)) this.#needsFlush = true;
      return;
    }
    if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === 'probe')) {
      if (pr.state === 'probe') pr.becomeReplicate();
      else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === 'replicate') {
        pr.inflights.freeLE(m.index);
        pr.growWindow();
      }
      this.maybeCommit();
      this.#needsFlush = true;
      if (m.from === this.#transferee && pr.match === h.log.lastIndex()) {
        h.cfg.logger.info({ id: h.id, to: m.from }, 'raft: transferee caught up; sending timeoutNow');
        h.send('timeoutNow', m.from);
      }
    }
  }

  #handleHeartbeatResponse(m: Message): void {
    const h = this.#host;
    const pr = this.#prs.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === 'snapshot' && h.ticks() - pr.snapshotSentTick > SNAPSHOT_TIMEOUT_ELECTIONS * h.cfg.electionTicks) {
      // The driver should report the snapshot's fate (reportSnapshot); if it never does while the
      // follower keeps answering, assume the snapshot was lost and probe again.
      h.cfg.logger.warn({ id: h.id, to: m.from }, 'raft: no report on a snapshot sent long ago; probing again');
      pr.becomeProbe();
    }
    if (pr.match < h.log.lastIndex()) {
      // The follower lags: perhaps appends were lost. Free one window slot and send (even an
      // empty append) so a lost message turns into a rejection and a probe.
      if (pr.state === 'replicate' && pr.windowFull()) pr.inflights.freeFirstOne();
      pr.forceSend = true;
      this.#needsFlush = true;
    }
    const round = decodeRound(m.context);
    if (round > 0 && !pr.learner) {
      this.#readOnly.ack(m.from, round);
      this.#releaseReads();
    }
  }

  /** Sends everything that is due: appends to each follower as the window allows. */
  flush(): void {
    if (!this.#needsFlush) return;
    this.#needsFlush = false;
    const { cfg, log } = this.#host;
    for (const [id, pr] of this.#prs) {
      for (let sent = 0; sent < cfg.maxInflightMessages; sent++) {
        if (!this.#maybeSendAppend(id, pr, pr.forceSend || pr.sentCommit < log.committed)) break;
        if (pr.state !== 'replicate') break;
      }
    }
    if (this.#readOnly.needsRound()) this.#broadcastHeartbeat();
  }

  /** Sends one append (or a snapshot) to `to` when its progress allows; returns whether it sent. */
  #maybeSendAppend(to: NodeId, pr: Progress, sendIfEmpty: boolean): boolean {
    if (pr.isPaused()) return false;
    const { cfg, log } = this.#host;
    const lastIndex = log.lastIndex();
    const prevIndex = pr.next - 1;
    const prevTerm = log.term(prevIndex);
    if (prevTerm < 0) return this.#sendSnapshot(to, pr);
    let entries: readonly Entry[] = NO_ENTRIES;
    let bytes = 0;
    if (pr.next <= lastIndex) {
      const got = log.entries(pr.next, lastIndex + 1, cfg.maxMessageBytes);
      if (got === undefined) return this.#sendSnapshot(to, pr);
      entries = got;
      for (let i = 0; i < got.length; i++) bytes += (got[i] as Entry).data.length;
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.#host.send('append', to, { index: prevIndex, logTerm: prevTerm, entries, commit: log.committed });
    pr.sentEntries(prevIndex + entries.length, entries.length, bytes);
    pr.sentCommit = log.committed;
    pr.forceSend = false;
    return true;
  }

  #sendSnapshot(to: NodeId, pr: Progress): boolean {
    const h = this.#host;
    if (!pr.recentActive) return false;
    const snapshot = h.log.snapshot();
    if (snapshot.meta.index === 0) {
      h.cfg.logger.warn({ id: h.id, to }, 'raft: follower needs compacted entries but no snapshot is available');
      return false;
    }
    h.send('snapshot', to, { snapshot });
    pr.becomeSnapshot(snapshot.meta.index);
    pr.snapshotSentTick = h.ticks();
    h.cfg.logger.info({ id: h.id, to, index: snapshot.meta.index }, 'raft: sent snapshot');
    return true;
  }

  #broadcastHeartbeat(): void {
    const h = this.#host;
    const context = encodeRound(this.#readOnly.nextRound(h.ticks()));
    for (const [id, pr] of this.#prs) {
      h.send('heartbeat', id, { commit: Math.min(pr.match, h.log.committed), context });
    }
    // The leader acknowledges its own round.
    this.#releaseReads();
  }

  // ---- reads ---------------------------------------------------------------------------------

  readIndex(context: Uint8Array, from: NodeId): void {
    const h = this.#host;
    const log = h.log;
    // A new leader does not know the commit index until it commits an entry of its term (§6.4).
    if (log.term(log.committed) !== h.term()) {
      if (this.#pendingReads.length >= MAX_PENDING_READS) h.failRead(context, from);
      else this.#pendingReads.push({ context, from });
      return;
    }
    const voters = h.voters();
    if (voters.length === 1 && voters[0] === h.id) {
      this.#respondRead({ index: log.committed, context, from, round: 0 });
      return;
    }
    if (h.cfg.leaseReads && this.#transferee === '' && this.#leaseValid()) {
      this.#respondRead({ index: log.committed, context, from, round: 0 });
      return;
    }
    if (this.#readOnly.size >= MAX_PENDING_READS) {
      h.failRead(context, from);
      return;
    }
    this.#readOnly.add(log.committed, context, from);
    this.#needsFlush = true;
  }

  /** Every read this leader holds, taken from it (leadership ends: the member fails them). */
  drainReads(): { context: Uint8Array; from: NodeId }[] {
    const reads: { context: Uint8Array; from: NodeId }[] = [...this.#readOnly.drain(), ...this.#pendingReads];
    this.#pendingReads = [];
    return reads;
  }

  /**
   * The lease: a quorum acknowledged a heartbeat sent at tick T, so each of them refuses votes
   * (leader stickiness) until at least T + electionTicks on its own clock. One tick of margin
   * absorbs the tick phase difference; clock-rate drift beyond that is the documented risk.
   */
  #leaseValid(): boolean {
    const h = this.#host;
    const round = this.#confirmedRound();
    return h.ticks() < this.#readOnly.sentTick(round) + h.cfg.electionTicks - 1;
  }

  #confirmedRound(): number {
    const ro = this.#readOnly;
    const self = this.#host.id;
    return committedIndex(this.#host.voters(), (id) => (id === self ? ro.round : ro.ackedRound(id)), this.#scratch);
  }

  #releaseReads(): void {
    if (this.#readOnly.size === 0) return;
    const released = this.#readOnly.releaseUpTo(this.#confirmedRound());
    if (released === undefined) return;
    for (const req of released) this.#respondRead(req);
  }

  #respondRead(req: ReadRequest): void {
    this.#host.readServed({ index: req.index, context: req.context }, req.from);
  }

  // ---- leadership transfer and transport reports ---------------------------------------------

  /** Starts handing leadership to `to`; returns whether a transfer started (its timeout runs). */
  transferLeadership(to: NodeId): boolean {
    const h = this.#host;
    if (to === h.id || !h.voters().includes(to)) {
      h.cfg.logger.info({ id: h.id, to }, 'raft: ignoring leadership transfer to a non-voter or self');
      return false;
    }
    if (this.#transferee === to) return false;
    const pr = this.#prs.get(to);
    assert(pr !== undefined, 'every voter but the leader has a progress');
    this.#transferee = to;
    if (pr.match === h.log.lastIndex()) h.send('timeoutNow', to);
    else this.#needsFlush = true;
    return true;
  }

  reportUnreachable(id: NodeId): void {
    const pr = this.#prs.get(id);
    if (pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  reportSnapshot(id: NodeId, delivered: boolean): void {
    const pr = this.#prs.get(id);
    if (pr === undefined || pr.state !== 'snapshot') return;
    if (!delivered) pr.pendingSnapshot = 0;
    // Wait for the follower's answer (or the next heartbeat) before probing again.
    pr.becomeProbe();
    pr.probeSent = true;
  }

  /** Every member's replication progress, this one's included. */
  progress(): Record<NodeId, ProgressStatus> {
    const h = this.#host;
    const progress: Record<NodeId, ProgressStatus> = {};
    for (const [id, pr] of this.#prs) progress[id] = pr.status();
    progress[h.id] = { match: this.#selfMatch, next: h.log.lastIndex() + 1, state: 'replicate', learner: false, recentActive: true };
    return progress;
  }
}
