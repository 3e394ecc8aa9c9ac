/**
 * The Raft role logic (§5, thesis §4, §6, §9.6) as a synchronous state machine: followers,
 * (pre-)candidates and the leader share this class; the leader's replication and read paths
 * live in replication.ts. Nothing here does I/O: outgoing messages accumulate in `msgs`
 * (may go before the local fsync) and `msgsAfterPersist` (promise durability), and the
 * RawNode hands them out in a Ready.
 */
import { assert } from './assert.ts';
import { applyToConfState } from './conf-change.ts';
import { RaftLog } from './log.ts';
import { makeMessage, isTransferContext, bytesEqual, TRANSFER_CONTEXT, type MessageFields } from './message.ts';
import { Progress } from './progress.ts';
import { voteResult } from './quorum.ts';
import { MAX_PENDING_READS, ReadOnly } from './read-only.ts';
import * as leader from './replication.ts';
import type { NormalizedConfig } from './config.ts';
import type {
  ConfChange,
  ConfState,
  LogIndex,
  Message,
  MessageType,
  NodeId,
  RaftRole,
  ReadState,
  Snapshot,
  Term,
} from '../protocol/types.ts';

/** A read forwarded to the leader, awaiting its readIndexResponse until `deadlineTick`. */
interface RemoteRead {
  readonly context: Uint8Array;
  readonly deadlineTick: number;
}

export class Raft {
  readonly id: NodeId;
  readonly cfg: NormalizedConfig;
  readonly log: RaftLog;
  // Invariant: term never decreases; vote is '' or the member voted for in `term`.
  term: Term = 0;
  vote: NodeId = '';
  lead: NodeId = '';
  role: RaftRole = 'follower';
  voters: readonly NodeId[] = [];
  learners: readonly NodeId[] = [];
  /** Index of the conf change entry (or snapshot) the membership above reflects. */
  confIndex: LogIndex = 0;
  /** Replication progress of every member but this one; maintained on the leader only. */
  readonly prs = new Map<NodeId, Progress>();
  /** This member's own match index on the leader: what it has persisted (advance()). */
  selfMatch: LogIndex = 0;
  readonly votes = new Map<NodeId, boolean>();
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /**
   * Follower: the transport saw the connection to the leader close (connection-lost.ts). Until a
   * message from a leader or a role change clears it, this member no longer honours the leader's
   * lease toward vote requests, and its own election is due within a heartbeat or two.
   */
  leaderConnectionLost = false;
  /**
   * Follower: the last pre-vote request ignored within the leader's lease, and when (ticks). A
   * connection-lost hint that arrives just after it answers it then: the pre-candidate heard of
   * the dead leader first, and would otherwise wait a whole election timeout for an answer.
   */
  ignoredPreVote: { readonly m: Message; readonly tick: number } | undefined = undefined;
  /** When (term, ticks) a connection-lost hint was last acted on (rate limit), if ever. */
  lastConnectionLost: { readonly term: Term; readonly tick: number } | undefined = undefined;
  /** Monotonic tick counter (deadlines of forwarded reads, lease timing). */
  ticks = 0;
  leadTransferee: NodeId = '';
  /** A leader refuses a new conf change until `applied >= pendingConfIndex`. */
  pendingConfIndex: LogIndex = 0;
  // Invariant: uncommittedBytes >= 0 (leader only: data bytes appended but not yet applied).
  uncommittedBytes = 0;
  /** Leader: appends/heartbeats are due at the next flush (batching: one send per Ready). */
  needsFlush = false;
  readonly readOnly = new ReadOnly();
  /** Leader: reads that arrived before the first commit of this term. */
  pendingReads: { context: Uint8Array; from: NodeId }[] = [];
  remoteReads: RemoteRead[] = [];
  /** Scratch space for quorum computations (no per-message allocation). */
  readonly scratch: number[] = [];
  msgs: Message[] = [];
  msgsAfterPersist: Message[] = [];
  readStates: ReadState[] = [];
  droppedReads: Uint8Array[] = [];

  constructor(cfg: NormalizedConfig) {
    this.id = cfg.id;
    this.cfg = cfg;
    const { hardState, confState } = cfg.storage.initialState();
    this.log = new RaftLog(cfg.storage, hardState.commit, cfg.applied);
    this.setConf(confState, cfg.storage.firstIndex() - 1);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.becomeFollower(hardState.term, '');
    this.vote = hardState.vote;
  }

  // ---- membership ----------------------------------------------------------------------------

  isMember(id: NodeId): boolean {
    return this.voters.includes(id) || this.learners.includes(id);
  }

  /** Only voters campaign or count in quorums; learners and removed members never do. */
  promotable(): boolean {
    return this.voters.includes(this.id);
  }

  setConf(conf: ConfState, index: LogIndex): void {
    this.voters = conf.voters.slice();
    this.learners = conf.learners.slice();
    this.confIndex = index;
    if (this.role === 'leader') this.syncProgress();
  }

  confState(): ConfState {
    return { voters: this.voters.slice(), learners: this.learners.slice() };
  }

  /** Leader: keeps one Progress per member other than itself. */
  syncProgress(): void {
    for (const id of this.prs.keys()) if (!this.isMember(id)) this.prs.delete(id);
    const next = this.log.lastIndex() + 1;
    for (const id of [...this.voters, ...this.learners]) {
      if (id === this.id) continue;
      const learner = this.learners.includes(id);
      const pr = this.prs.get(id);
      if (pr === undefined) {
        const p = new Progress(next, learner, this.cfg.maxInflightMessages, this.cfg.maxInflightBytes);
        p.recentActive = true;
        this.prs.set(id, p);
      } else {
        pr.learner = learner;
      }
    }
  }

  /** Applies a committed conf change (called by advance() in log order). */
  applyConfChange(cc: ConfChange, index: LogIndex): void {
    if (index <= this.confIndex) return;
    const current: ConfState = { voters: this.voters, learners: this.learners };
    const next = applyToConfState(current, cc);
    if (next === current) {
      this.cfg.logger.info({ id: this.id, change: cc.type, node: cc.nodeId, index }, 'raft: conf change is a no-op');
      this.confIndex = index;
      return;
    }
    this.setConf(next, index);
    this.cfg.logger.info({ id: this.id, change: cc.type, node: cc.nodeId, index }, 'raft: applied conf change');
    if (this.role !== 'leader') return;
    if (!this.promotable()) {
      // A removed (or demoted) leader steps down; the others elect a new one.
      this.becomeFollower(this.term, '');
      return;
    }
    if (this.leadTransferee !== '' && !this.voters.includes(this.leadTransferee)) this.leadTransferee = '';
    // The quorum may have shrunk: entries may now be committed.
    if (leader.maybeCommit(this)) this.needsFlush = true;
    this.needsFlush = true;
  }

  // ---- sending -------------------------------------------------------------------------------

  send(type: MessageType, to: NodeId, term: Term, fields?: MessageFields): void {
    if (to === this.id) return;
    const m = makeMessage(type, this.id, to, term, fields);
    // Votes, vote grants and append acknowledgements promise durable state: they leave only
    // after the Ready's fsync. Everything else may leave at once.
    if (type === 'appendResponse' || type === 'voteResponse' || type === 'vote') this.msgsAfterPersist.push(m);
    else this.msgs.push(m);
  }

  // ---- role transitions ----------------------------------------------------------------------

  resetRandomizedElectionTimeout(): void {
    const r = this.cfg.random();
    const f = r >= 0 && r < 1 ? r : 0;
    this.randomizedElectionTimeout = this.cfg.electionTicks + Math.floor(f * this.cfg.electionTicks);
  }

  reset(term: Term): void {
    if (this.term !== term) {
      assert(term > this.term, `term must not decrease (${this.term} -> ${term})`);
      this.term = term;
      this.vote = '';
    }
    this.dropReads();
    this.lead = '';
    this.leaderConnectionLost = false;
    this.ignoredPreVote = undefined;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = '';
    this.votes.clear();
    this.prs.clear();
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.needsFlush = false;
  }

  /** Fails every read this member holds: it cannot vouch for them under a new term/leader. */
  dropReads(): void {
    for (const r of this.readOnly.drain()) this.failRead(r.context, r.from);
    for (const r of this.pendingReads) this.failRead(r.context, r.from);
    this.pendingReads = [];
    for (const r of this.remoteReads) this.droppedReads.push(r.context);
    this.remoteReads = [];
  }

  failRead(context: Uint8Array, from: NodeId): void {
    if (from === this.id) this.droppedReads.push(context);
    else this.send('readIndexResponse', from, this.term, { reject: true, context });
  }

  becomeFollower(term: Term, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a pre-candidate');
    // Pre-vote does not change term or vote: a partitioned member cannot inflate terms.
    this.dropReads();
    this.votes.clear();
    this.lead = '';
    this.role = 'preCandidate';
  }

  becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  becomeLeader(): void {
    assert(this.role === 'candidate' || this.role === 'preCandidate', 'only a candidate becomes leader');
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    this.syncProgress();
    // Entries handed out before are durable at advance(); the leader counts itself then.
    const u = this.log.unstable;
    this.selfMatch = u.snapshot !== undefined ? 0 : u.entries.length > 0 ? u.offset - 1 : this.log.lastIndex();
    // §5.4.2 / Figure 8: a leader commits entries of earlier terms only by committing one of its
    // own, so it appends an empty entry at once. A conf change waits until that one applies
    // (this closes the single-server-change hole Ongaro described in 2015).
    const index = this.log.lastIndex() + 1;
    this.log.append([{ term: this.term, index, type: 'normal', data: new Uint8Array(0) }]);
    this.pendingConfIndex = index;
    this.needsFlush = true;
    this.cfg.logger.info({ id: this.id, term: this.term }, 'raft: became leader');
  }

  // ---- elections -----------------------------------------------------------------------------

  /** Starts an election (or pre-election) now, if this member may campaign. */
  hup(transfer: boolean): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) {
      this.cfg.logger.debug({ id: this.id }, 'raft: not a voter, will not campaign');
      return;
    }
    // A member with committed but unapplied conf changes might not know its true membership.
    if (this.hasUnappliedConfChange()) {
      this.cfg.logger.info({ id: this.id }, 'raft: unapplied conf change pending, not campaigning');
      return;
    }
    if (this.cfg.preVote && !transfer) this.campaign('preVote');
    else this.campaign(transfer ? 'transfer' : 'vote');
  }

  hasUnappliedConfChange(): boolean {
    const from = Math.max(this.log.applied, this.confIndex) + 1;
    if (from > this.log.committed) return false;
    const ents = this.log.entries(from, this.log.committed + 1, Number.MAX_SAFE_INTEGER);
    if (ents === undefined) return false;
    for (const e of ents) if (e.type === 'confChange') return true;
    return false;
  }

  campaign(kind: 'preVote' | 'vote' | 'transfer'): void {
    let term: Term;
    let type: MessageType;
    if (kind === 'preVote') {
      this.becomePreCandidate();
      term = this.term + 1;
      type = 'preVote';
    } else {
      this.becomeCandidate();
      term = this.term;
      type = 'vote';
    }
    this.votes.set(this.id, true);
    if (voteResult(this.voters, this.votes) === 'won') {
      // A single voter wins at once.
      if (kind === 'preVote') this.campaign('vote');
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of this.voters) {
      if (id === this.id) continue;
      const f: MessageFields =
        kind === 'transfer'
          ? { index: lastIndex, logTerm: lastTerm, context: TRANSFER_CONTEXT }
          : { index: lastIndex, logTerm: lastTerm };
      this.send(type, id, term, f);
    }
  }

  handleVoteRequest(m: Message): void {
    const pre = m.type === 'preVote';
    const canVote =
      this.vote === m.from || (this.vote === '' && this.lead === '') || (pre && m.term > this.term);
    const responseType = pre ? 'preVoteResponse' : 'voteResponse';
    // A member that knows no membership yet (a joiner, possibly a wiped member re-added under its
    // old id) is nobody's voter in any current view: its vote could only help a candidate with
    // a stale configuration win without the latest committed entries (sim finding F2).
    const knowsConf = this.voters.length > 0 || this.learners.length > 0;
    if (knowsConf && canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // A pre-vote answer carries the term the candidate would use, so it is not taken as stale.
      this.send(responseType, m.from, m.term, { reject: false });
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(responseType, m.from, this.term, { reject: true });
    }
  }

  poll(m: Message): void {
    if (!this.voters.includes(m.from)) return;
    if (!this.votes.has(m.from)) this.votes.set(m.from, !m.reject);
    const result = voteResult(this.voters, this.votes);
    if (result === 'won') {
      if (this.role === 'preCandidate') this.campaign('vote');
      else this.becomeLeader();
    } else if (result === 'lost') {
      this.becomeFollower(this.term, '');
    }
  }

  // ---- ticks ---------------------------------------------------------------------------------

  tick(): void {
    this.ticks++;
    if (this.role === 'leader') {
      leader.tickLeader(this);
      return;
    }
    this.expireRemoteReads();
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  expireRemoteReads(): void {
    if (this.remoteReads.length === 0) return;
    const first = this.remoteReads[0] as RemoteRead;
    if (first.deadlineTick > this.ticks) return;
    const keep: RemoteRead[] = [];
    for (const r of this.remoteReads) {
      if (r.deadlineTick > this.ticks) keep.push(r);
      else this.droppedReads.push(r.context);
    }
    this.remoteReads = keep;
  }

  // ---- stepping ------------------------------------------------------------------------------

  step(m: Message): void {
    // Proposals and read requests are not bound to a term: they neither bump nor get rejected.
    if (m.type === 'propose' || m.type === 'readIndex') {
      this.stepRole(m);
      return;
    }
    if (m.term > this.term) {
      if (!this.stepHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.stepLowerTerm(m);
      return;
    }
    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m);
      return;
    }
    this.stepRole(m);
  }

  /** Returns whether the message should be processed further. */
  stepHigherTerm(m: Message): boolean {
    if (m.type === 'vote' || m.type === 'preVote') {
      // Leader stickiness (thesis §4.2.3): a member that heard from a leader within the election
      // timeout ignores vote requests, unless the leader itself asked for a transfer.
      // With lease reads on, a member that just (re)started may have acknowledged a leader's
      // heartbeat before it went down: it keeps that promise for one election timeout.
      const inLease =
        this.cfg.checkQuorum &&
        ((this.lead !== '' && !this.leaderConnectionLost && this.electionElapsed < this.cfg.electionTicks) ||
          (this.cfg.leaseReads && this.ticks < this.cfg.electionTicks));
      if (inLease && !isTransferContext(m.context)) {
        if (m.type === 'preVote') this.ignoredPreVote = { m, tick: this.ticks };
        this.cfg.logger.debug({ id: this.id, from: m.from, term: m.term }, 'raft: ignoring vote request within leader lease');
        return false;
      }
    }
    if (m.type === 'preVote') return true;
    // A granted pre-vote answer carries the future term; it must not change ours.
    if (m.type === 'preVoteResponse' && !m.reject) return true;
    const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
    this.becomeFollower(m.term, fromLeader ? m.from : '');
    return true;
  }

  stepLowerTerm(m: Message): void {
    if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
      // A stale leader (e.g. back from a partition) learns the new term from this answer and
      // steps down; otherwise, with pre-vote, it could keep us from ever electing anew.
      this.send('appendResponse', m.from, this.term);
    } else if (m.type === 'preVote') {
      this.send('preVoteResponse', m.from, this.term, { reject: true });
    } else {
      this.cfg.logger.debug({ id: this.id, type: m.type, from: m.from, term: m.term }, 'raft: ignoring stale-term message');
    }
  }

  stepRole(m: Message): void {
    if (this.role === 'leader') leader.stepLeader(this, m);
    else if (this.role === 'follower') this.stepFollower(m);
    else this.stepCandidate(m);
  }

  stepCandidate(m: Message): void {
    switch (m.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        // A leader of our term exists (§5.2): give up the election.
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case 'voteResponse':
        if (this.role === 'candidate') this.poll(m);
        return;
      case 'preVoteResponse':
        if (this.role === 'preCandidate') this.poll(m);
        return;
      case 'readIndex':
        this.send('readIndexResponse', m.from, this.term, { reject: true, ...ctx(m) });
        return;
      case 'propose':
        this.cfg.logger.info({ id: this.id, from: m.from }, 'raft: dropping forwarded proposal, no leader');
        return;
      default:
        return;
    }
  }

  /** A message only the leader sends: its lease runs again, and a connection-lost hint about it is void. */
  #heardFromLeader(from: NodeId): void {
    this.electionElapsed = 0;
    this.leaderConnectionLost = false;
    this.lead = from;
  }

  stepFollower(m: Message): void {
    switch (m.type) {
      case 'append':
        this.#heardFromLeader(m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.#heardFromLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case 'snapshot':
        this.#heardFromLeader(m.from);
        this.handleSnapshot(m);
        return;
      case 'timeoutNow':
        this.cfg.logger.info({ id: this.id, from: m.from }, 'raft: leadership transfer: campaigning now');
        this.hup(true);
        return;
      case 'readIndex':
        // Only the leader can serve a read index.
        this.send('readIndexResponse', m.from, this.term, { reject: true, ...ctx(m) });
        return;
      case 'readIndexResponse':
        this.handleReadIndexResponse(m);
        return;
      case 'propose':
        this.cfg.logger.info({ id: this.id, from: m.from }, 'raft: dropping forwarded proposal, not the leader');
        return;
      default:
        return;
    }
  }

  handleAppend(m: Message): void {
    const log = this.log;
    if (m.index < log.committed) {
      this.send('appendResponse', m.from, this.term, { index: log.committed });
      return;
    }
    const lastNew = log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew >= 0) {
      this.send('appendResponse', m.from, this.term, { index: lastNew });
      return;
    }
    // Fast back-off: hint the largest index whose term is <= the leader's probe term, so the
    // leader skips whole terms of divergent entries per round trip.
    const hintIndex = log.findConflictByTerm(Math.min(m.index, log.lastIndex()), m.logTerm);
    const hintTerm = Math.max(log.term(hintIndex), 0);
    this.send('appendResponse', m.from, this.term, { index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm });
  }

  handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send('heartbeatResponse', m.from, this.term, ctx(m));
  }

  handleSnapshot(m: Message): void {
    const snap = m.snapshot;
    if (snap === undefined) return;
    if (this.restore(snap)) {
      this.cfg.logger.info({ id: this.id, index: snap.meta.index, term: snap.meta.term }, 'raft: restored snapshot');
      this.send('appendResponse', m.from, this.term, { index: this.log.lastIndex() });
    } else {
      this.send('appendResponse', m.from, this.term, { index: this.log.committed });
    }
  }

  restore(snap: Snapshot): boolean {
    const meta = snap.meta;
    if (meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(meta.index, meta.term)) {
      // We hold the snapshot's last entry: just fast-forward commit.
      this.log.commitTo(meta.index);
      return false;
    }
    this.log.restore(snap);
    this.setConf(meta.confState, meta.index);
    return true;
  }

  handleReadIndexResponse(m: Message): void {
    const context = m.context;
    if (context === undefined) return;
    const i = this.remoteReads.findIndex((r) => bytesEqual(r.context, context));
    if (i < 0) return;
    this.remoteReads.splice(i, 1);
    if (m.reject) this.droppedReads.push(context);
    else this.readStates.push({ index: m.index, context });
  }

  /** Local read request (RawNode.readIndex). */
  readIndex(context: Uint8Array): void {
    if (this.role === 'leader') {
      leader.leaderReadIndex(this, context, this.id);
      return;
    }
    if (this.lead === '' || this.role !== 'follower' || this.remoteReads.length >= MAX_PENDING_READS) {
      this.droppedReads.push(context);
      return;
    }
    this.remoteReads.push({ context, deadlineTick: this.ticks + this.cfg.electionTicks });
    this.send('readIndex', this.lead, this.term, { context });
  }
}

function ctx(m: Message): { context?: Uint8Array } {
  return m.context === undefined ? {} : { context: m.context };
}
