/**
 * The Raft role logic (§5, thesis §4, §6, §9.6) as a synchronous state machine: followers and
 * (pre-)candidates live here, and the leader's replication and read paths in a `Leader`
 * (leader.ts) that this class creates on winning an election and drops on any role change.
 * Every field is private: RawNode drives this class through its methods only. Nothing here does
 * I/O: outgoing messages and read results accumulate in a `RaftOutbox`, and the RawNode hands
 * them out in a Ready.
 */
import { assert } from './assert.ts';
import { applyToConfState, decodeConfChange } from './conf-change.ts';
import { ConnectionLostHint } from './connection-lost.ts';
import { Leader, type LeaderHost } from './leader.ts';
import { RaftLog } from './log.ts';
import { makeMessage, isTransferContext, TRANSFER_CONTEXT, type MessageFields } from './message.ts';
import { voteResult } from './quorum.ts';
import { ProposalDroppedError } from '../errors.ts';
import { ForwardedReads, RaftOutbox, type RaftOutput } from './outbox.ts';
import type { NormalizedConfig } from './config.ts';
import type { RaftStatus } from './types.ts';
import type { ConfChange, ConfState, Entry, HardState, LogIndex, Message, MessageType, NodeId, RaftRole, Snapshot, SoftState, Term } from '../protocol/types.ts';

export class Raft {
  readonly id: NodeId;
  readonly cfg: NormalizedConfig;
  readonly log: RaftLog;
  // Invariant: term never decreases; vote is '' or the member voted for in `term`.
  #term: Term = 0;
  #vote: NodeId = '';
  #lead: NodeId = '';
  #role: RaftRole = 'follower';
  #voters: readonly NodeId[] = [];
  #learners: readonly NodeId[] = [];
  /** Index of the conf change entry (or snapshot) the membership above reflects. */
  #confIndex: LogIndex = 0;
  // Invariant: #leader is defined exactly when #role is 'leader'.
  #leader: Leader | undefined = undefined;
  readonly #host: LeaderHost;
  readonly #votes = new Map<NodeId, boolean>();
  #electionElapsed = 0;
  #randomizedElectionTimeout = 0;
  readonly #hint = new ConnectionLostHint();
  /** Monotonic tick counter (deadlines of forwarded reads, lease timing). */
  #ticks = 0;
  readonly #forwardedReads = new ForwardedReads();
  readonly #outbox = new RaftOutbox();

  constructor(cfg: NormalizedConfig) {
    this.id = cfg.id;
    this.cfg = cfg;
    const { hardState, confState } = cfg.storage.initialState();
    this.log = new RaftLog(cfg.storage, hardState.commit, cfg.applied);
    this.#host = this.#leaderHost();
    this.#setConf(confState, cfg.storage.snapshot().meta.index);
    this.#term = hardState.term;
    this.#vote = hardState.vote;
    this.#becomeFollower(hardState.term, '');
    this.#vote = hardState.vote;
  }

  #leaderHost(): LeaderHost {
    return {
      id: this.id,
      cfg: this.cfg,
      log: this.log,
      term: () => this.#term,
      ticks: () => this.#ticks,
      voters: () => this.#voters,
      learners: () => this.#learners,
      send: (type, to, fields) => this.#send(type, to, this.#term, fields),
      readServed: (state, from) => {
        if (from === this.id) this.#outbox.readServed(state);
        else this.#send('readIndexResponse', from, this.#term, { index: state.index, context: state.context });
      },
      failRead: (context, from) => this.#failRead(context, from),
    };
  }

  // ---- what RawNode reads --------------------------------------------------------------------

  get role(): RaftRole {
    return this.#role;
  }

  get lead(): NodeId {
    return this.#lead;
  }

  softState(): SoftState {
    return { leader: this.#lead, role: this.#role };
  }

  hardState(): HardState {
    return { term: this.#term, vote: this.#vote, commit: this.log.committed };
  }

  /** Whether messages or read results wait to be handed out. */
  hasOutput(): boolean {
    return !this.#outbox.isEmpty();
  }

  /** Hands out the queued messages and read results, and starts new queues. */
  takeOutput(): RaftOutput {
    return this.#outbox.take();
  }

  status(): RaftStatus {
    const base = {
      id: this.id,
      role: this.#role,
      term: this.#term,
      vote: this.#vote,
      leader: this.#lead,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      confState: this.#confState(),
      leadTransferee: this.#leader?.transferee ?? '',
    };
    return this.#leader === undefined ? base : { ...base, progress: this.#leader.progress() };
  }

  // ---- what RawNode drives -------------------------------------------------------------------

  /** Appends (leader) or forwards (follower) a proposal; throws the reason it cannot. */
  propose(type: Entry['type'], data: Uint8Array): void {
    const leader = this.#leader;
    if (leader !== undefined) {
      const reason = leader.refuseReason(data.length);
      if (reason !== undefined) throw new ProposalDroppedError(reason);
      leader.appendEntry(type, data);
      return;
    }
    if (this.#lead === '' || this.#role !== 'follower') throw new ProposalDroppedError('no leader');
    if (this.cfg.disableProposalForwarding) throw new ProposalDroppedError('not the leader and proposal forwarding is disabled');
    if (data.length > this.cfg.maxMessageBytes) {
      throw new ProposalDroppedError(`entry of ${data.length} bytes exceeds maxMessageBytes ${this.cfg.maxMessageBytes}`);
    }
    this.#send('propose', this.#lead, this.#term, { entries: [{ term: 0, index: 0, type, data }] });
  }

  /** Whether this member leads with a conf change appended but not yet applied. */
  confChangePending(): boolean {
    return this.#leader?.confChangePending() ?? false;
  }

  transferLeadership(to: NodeId): void {
    if (this.#leader === undefined) {
      this.cfg.logger.info({ id: this.id, to }, 'raft: transferLeadership ignored: not the leader');
      return;
    }
    // The transfer must finish within one election timeout or it is aborted (#tickLeader).
    if (this.#leader.transferLeadership(to)) this.#electionElapsed = 0;
  }

  reportUnreachable(id: NodeId): void {
    this.#leader?.reportUnreachable(id);
  }

  reportSnapshot(id: NodeId, delivered: boolean): void {
    this.#leader?.reportSnapshot(id, delivered);
  }

  /** The leader's appends and heartbeats that are due (batched per Ready). */
  flush(): void {
    this.#leader?.flush();
  }

  /** The driver persisted the log up to `stableTo` and applied entries through `appliedTo`. */
  advance(appliedTo: LogIndex, committedBytes: number, stableTo: LogIndex): void {
    const log = this.log;
    if (appliedTo > log.applied) {
      assert(appliedTo <= log.committed, `applied ${appliedTo} must not pass committed ${log.committed}`);
      log.applied = appliedTo;
    }
    this.#leader?.advanced(committedBytes, stableTo);
  }

  /** The transport's connection with `id` closed (connection-lost.ts). */
  connectionLost(id: NodeId): void {
    const cfg = this.cfg;
    if (!cfg.checkQuorum || !cfg.preVote || cfg.leaseReads) return;
    if (this.#role !== 'follower' || this.#lead === '' || id !== this.#lead || !this.#promotable()) return;
    if (!this.#hint.act(this.#term, this.#ticks, cfg.electionTicks)) return;
    const rank = this.#voters.filter((v) => v !== id && v < this.id).length;
    const dueIn = 1 + rank * cfg.heartbeatTicks;
    this.#electionElapsed = Math.max(this.#electionElapsed, this.#randomizedElectionTimeout - dueIn);
    // A pre-vote this member ignored within the lease just before (its pre-candidate heard of the
    // close first) is answered now, instead of leaving that candidate to wait a whole timeout.
    const answer = this.#hint.takeIgnoredPreVote(id, this.#ticks, cfg.heartbeatTicks);
    if (answer !== undefined) this.step(answer);
  }

  // ---- membership ----------------------------------------------------------------------------

  /** Only voters campaign or count in quorums; learners and removed members never do. */
  #promotable(): boolean {
    return this.#voters.includes(this.id);
  }

  #setConf(conf: ConfState, index: LogIndex): void {
    this.#voters = conf.voters.slice();
    this.#learners = conf.learners.slice();
    this.#confIndex = index;
    this.#leader?.syncProgress();
  }

  #confState(): ConfState {
    return { voters: this.#voters.slice(), learners: this.#learners.slice() };
  }

  /** Applies a committed conf change entry (advance() and start-up, in log order). */
  applyConfEntry(e: Entry): void {
    const cc = decodeConfChange(e.data);
    if (cc === undefined) {
      this.cfg.logger.warn({ index: e.index }, 'raft: undecodable conf change entry; skipped');
      this.#confIndex = Math.max(this.#confIndex, e.index);
      return;
    }
    this.#applyConfChange(cc, e.index);
  }

  #applyConfChange(cc: ConfChange, index: LogIndex): void {
    if (index <= this.#confIndex) return;
    const current: ConfState = { voters: this.#voters, learners: this.#learners };
    const next = applyToConfState(current, cc);
    if (next === current) {
      this.cfg.logger.info({ id: this.id, change: cc.type, node: cc.nodeId, index }, 'raft: conf change is a no-op');
      this.#confIndex = index;
      return;
    }
    this.#setConf(next, index);
    this.cfg.logger.info({ id: this.id, change: cc.type, node: cc.nodeId, index }, 'raft: applied conf change');
    if (this.#leader === undefined) return;
    if (!this.#promotable()) {
      // A removed (or demoted) leader steps down; the others elect a new one.
      this.#becomeFollower(this.#term, '');
      return;
    }
    this.#leader.confChanged();
  }

  // ---- sending -------------------------------------------------------------------------------

  #send(type: MessageType, to: NodeId, term: Term, fields?: MessageFields): void {
    if (to === this.id) return;
    this.#outbox.send(makeMessage(type, this.id, to, term, fields));
  }

  // ---- role transitions ----------------------------------------------------------------------

  #resetRandomizedElectionTimeout(): void {
    const r = this.cfg.random();
    const f = r >= 0 && r < 1 ? r : 0;
    this.#randomizedElectionTimeout = this.cfg.electionTicks + Math.floor(f * this.cfg.electionTicks);
  }

  #reset(term: Term): void {
    if (this.#term !== term) {
      assert(term > this.#term, `term must not decrease (${this.#term} -> ${term})`);
      this.#term = term;
      this.#vote = '';
    }
    this.#dropReads();
    this.#leader = undefined;
    this.#lead = '';
    this.#hint.reset();
    this.#electionElapsed = 0;
    this.#resetRandomizedElectionTimeout();
    this.#votes.clear();
  }

  /** Fails every read this member holds: it cannot vouch for them under a new term/leader. */
  #dropReads(): void {
    for (const r of this.#leader?.drainReads() ?? []) this.#failRead(r.context, r.from);
    this.#forwardedReads.dropAll(this.#outbox);
  }

  #failRead(context: Uint8Array, from: NodeId): void {
    if (from === this.id) this.#outbox.readDropped(context);
    else this.#send('readIndexResponse', from, this.#term, { reject: true, context });
  }

  #becomeFollower(term: Term, lead: NodeId): void {
    this.#reset(term);
    this.#lead = lead;
    this.#role = 'follower';
  }

  #becomePreCandidate(): void {
    assert(this.#role !== 'leader', 'a leader cannot become a pre-candidate');
    // Pre-vote does not change term or vote: a partitioned member cannot inflate terms.
    this.#dropReads();
    this.#votes.clear();
    this.#lead = '';
    this.#role = 'preCandidate';
  }

  #becomeCandidate(): void {
    assert(this.#role !== 'leader', 'a leader cannot become a candidate');
    this.#reset(this.#term + 1);
    this.#vote = this.id;
    this.#role = 'candidate';
  }

  #becomeLeader(): void {
    assert(this.#role === 'candidate' || this.#role === 'preCandidate', 'only a candidate becomes leader');
    this.#reset(this.#term);
    this.#lead = this.id;
    this.#role = 'leader';
    this.#leader = new Leader(this.#host);
    this.cfg.logger.info({ id: this.id, term: this.#term }, 'raft: became leader');
  }

  // ---- elections -----------------------------------------------------------------------------

  /** Starts an election now (skipping the randomized timeout), if this member may campaign. */
  startElection(): void {
    this.#hup(false);
  }

  /** Starts an election (or pre-election) now, if this member may campaign. */
  #hup(transfer: boolean): void {
    if (this.#role === 'leader') return;
    if (!this.#promotable()) {
      this.cfg.logger.debug({ id: this.id }, 'raft: not a voter, will not campaign');
      return;
    }
    // A member with committed but unapplied conf changes might not know its true membership.
    if (this.#hasUnappliedConfChange()) {
      this.cfg.logger.info({ id: this.id }, 'raft: unapplied conf change pending, not campaigning');
      return;
    }
    if (this.cfg.preVote && !transfer) this.#campaign('preVote');
    else this.#campaign(transfer ? 'transfer' : 'vote');
  }

  #hasUnappliedConfChange(): boolean {
    const from = Math.max(this.log.applied, this.#confIndex) + 1;
    if (from > this.log.committed) return false;
    const ents = this.log.entries(from, this.log.committed + 1, Number.MAX_SAFE_INTEGER);
    if (ents === undefined) return false;
    for (const e of ents) if (e.type === 'confChange') return true;
    return false;
  }

  #campaign(kind: 'preVote' | 'vote' | 'transfer'): void {
    let term: Term;
    let type: MessageType;
    if (kind === 'preVote') {
      this.#becomePreCandidate();
      term = this.#term + 1;
      type = 'preVote';
    } else {
      this.#becomeCandidate();
      term = this.#term;
      type = 'vote';
    }
    this.#votes.set(this.id, true);
    if (voteResult(this.#voters, this.#votes) === 'won') {
      // A single voter wins at once.
      if (kind === 'preVote') this.#campaign('vote');
      else this.#becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of this.#voters) {
      if (id === this.id) continue;
      const f: MessageFields =
        kind === 'transfer'
          ? { index: lastIndex, logTerm: lastTerm, context: TRANSFER_CONTEXT }
          : { index: lastIndex, logTerm: lastTerm };
      this.#send(type, id, term, f);
    }
  }

  #handleVoteRequest(m: Message): void {
    const pre = m.type === 'preVote';
    const canVote =
      this.#vote === m.from || (this.#vote === '' && this.#lead === '') || (pre && m.term > this.#term);
    const responseType = pre ? 'preVoteResponse' : 'voteResponse';
    // A member that knows no membership yet (a joiner, possibly a wiped member re-added under its
    // old id) is nobody's voter in any current view: its vote could only help a candidate with
    // a stale configuration win without the latest committed entries (sim finding F2).
    const knowsConf = this.#voters.length > 0 || this.#learners.length > 0;
    if (knowsConf && canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // A pre-vote answer carries the term the candidate would use, so it is not taken as stale.
      this.#send(responseType, m.from, m.term, { reject: false });
      if (!pre) {
        this.#electionElapsed = 0;
        this.#vote = m.from;
      }
    } else {
      this.#send(responseType, m.from, this.#term, { reject: true });
    }
  }

  #poll(m: Message): void {
    if (!this.#voters.includes(m.from)) return;
    if (!this.#votes.has(m.from)) this.#votes.set(m.from, !m.reject);
    const result = voteResult(this.#voters, this.#votes);
    if (result === 'won') {
      if (this.#role === 'preCandidate') this.#campaign('vote');
      else this.#becomeLeader();
    } else if (result === 'lost') {
      this.#becomeFollower(this.#term, '');
    }
  }

  // ---- ticks ---------------------------------------------------------------------------------

  tick(): void {
    this.#ticks++;
    if (this.#leader !== undefined) {
      this.#tickLeader(this.#leader);
      return;
    }
    this.#forwardedReads.expire(this.#ticks, this.#outbox);
    this.#electionElapsed++;
    if (this.#promotable() && this.#electionElapsed >= this.#randomizedElectionTimeout) {
      this.#electionElapsed = 0;
      this.#hup(false);
    }
  }

  #tickLeader(leader: Leader): void {
    this.#electionElapsed++;
    if (this.#electionElapsed >= this.cfg.electionTicks) {
      this.#electionElapsed = 0;
      if (!leader.electionTimeoutElapsed()) {
        this.#becomeFollower(this.#term, '');
        return;
      }
    }
    leader.tickHeartbeat();
  }

  // ---- stepping ------------------------------------------------------------------------------

  step(m: Message): void {
    // Proposals and read requests are not bound to a term: they neither bump nor get rejected.
    if (m.type === 'propose' || m.type === 'readIndex') {
      this.#stepRole(m);
      return;
    }
    if (m.term > this.#term) {
      if (!this.#stepHigherTerm(m)) return;
    } else if (m.term < this.#term) {
      this.#stepLowerTerm(m);
      return;
    }
    if (m.type === 'vote' || m.type === 'preVote') {
      this.#handleVoteRequest(m);
      return;
    }
    this.#stepRole(m);
  }

  /** Returns whether the message should be processed further. */
  #stepHigherTerm(m: Message): boolean {
    if (m.type === 'vote' || m.type === 'preVote') {
      // Leader stickiness (thesis §4.2.3): a member that heard from a leader within the election
      // timeout ignores vote requests, unless the leader itself asked for a transfer.
      // With lease reads on, a member that just (re)started may have acknowledged a leader's
      // heartbeat before it went down: it keeps that promise for one election timeout.
      const inLease =
        this.cfg.checkQuorum &&
        ((this.#lead !== '' && !this.#hint.leaderLost && this.#electionElapsed < this.cfg.electionTicks) ||
          (this.cfg.leaseReads && this.#ticks < this.cfg.electionTicks));
      if (inLease && !isTransferContext(m.context)) {
        if (m.type === 'preVote') this.#hint.preVoteIgnored(m, this.#ticks);
        this.cfg.logger.debug({ id: this.id, from: m.from, term: m.term }, 'raft: ignoring vote request within leader lease');
        return false;
      }
    }
    if (m.type === 'preVote') return true;
    // A granted pre-vote answer carries the future term; it must not change ours.
    if (m.type === 'preVoteResponse' && !m.reject) return true;
    const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
    this.#becomeFollower(m.term, fromLeader ? m.from : '');
    return true;
  }

  #stepLowerTerm(m: Message): void {
    if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
      // A stale leader (e.g. back from a partition) learns the new term from this answer and
      // steps down; otherwise, with pre-vote, it could keep us from ever electing anew.
      this.#send('appendResponse', m.from, this.#term);
    } else if (m.type === 'preVote') {
      this.#send('preVoteResponse', m.from, this.#term, { reject: true });
    } else {
      this.cfg.logger.debug({ id: this.id, type: m.type, from: m.from, term: m.term }, 'raft: ignoring stale-term message');
    }
  }

  #stepRole(m: Message): void {
    if (this.#leader !== undefined) this.#leader.step(m);
    else if (this.#role === 'follower') this.#stepFollower(m);
    else this.#stepCandidate(m);
  }

  #stepCandidate(m: Message): void {
    switch (m.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        // A leader of our term exists (§5.2): give up the election.
        this.#becomeFollower(m.term, m.from);
        this.#stepFollower(m);
        return;
      case 'voteResponse':
        if (this.#role === 'candidate') this.#poll(m);
        return;
      case 'preVoteResponse':
        if (this.#role === 'preCandidate') this.#poll(m);
        return;
      case 'readIndex':
        this.#send('readIndexResponse', m.from, this.#term, { reject: true, ...ctx(m) });
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
    this.#electionElapsed = 0;
    this.#hint.heardFromLeader();
    this.#lead = from;
  }

  #stepFollower(m: Message): void {
    switch (m.type) {
      case 'append':
        this.#heardFromLeader(m.from);
        this.#handleAppend(m);
        return;
      case 'heartbeat':
        this.#heardFromLeader(m.from);
        this.#handleHeartbeat(m);
        return;
      case 'snapshot':
        this.#heardFromLeader(m.from);
        this.#handleSnapshot(m);
        return;
      case 'timeoutNow':
        this.cfg.logger.info({ id: this.id, from: m.from }, 'raft: leadership transfer: campaigning now');
        this.#hup(true);
        return;
      case 'readIndex':
        // Only the leader can serve a read index.
        this.#send('readIndexResponse', m.from, this.#term, { reject: true, ...ctx(m) });
        return;
      case 'readIndexResponse':
        this.#handleReadIndexResponse(m);
        return;
      case 'propose':
        this.cfg.logger.info({ id: this.id, from: m.from }, 'raft: dropping forwarded proposal, not the leader');
        return;
      default:
        return;
    }
  }

  #handleAppend(m: Message): void {
    const log = this.log;
    if (m.index < log.committed) {
      this.#send('appendResponse', m.from, this.#term, { index: log.committed });
      return;
    }
    const lastNew = log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew >= 0) {
      this.#send('appendResponse', m.from, this.#term, { index: lastNew });
      return;
    }
    // Fast back-off: hint the largest index whose term is <= the leader's probe term, so the
    // leader skips whole terms of divergent entries per round trip.
    const hintIndex = log.findConflictByTerm(Math.min(m.index, log.lastIndex()), m.logTerm);
    const hintTerm = Math.max(log.term(hintIndex), 0);
    this.#send('appendResponse', m.from, this.#term, { index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm });
  }

  #handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.#send('heartbeatResponse', m.from, this.#term, ctx(m));
  }

  #handleSnapshot(m: Message): void {
    const snap = m.snapshot;
    if (snap === undefined) return;
    if (this.#restore(snap)) {
      this.cfg.logger.info({ id: this.id, index: snap.meta.index, term: snap.meta.term }, 'raft: restored snapshot');
      this.#send('appendResponse', m.from, this.#term, { index: this.log.lastIndex() });
    } else {
      this.#send('appendResponse', m.from, this.#term, { index: this.log.committed });
    }
  }

  #restore(snap: Snapshot): boolean {
    const meta = snap.meta;
    if (meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(meta.index, meta.term)) {
      // We hold the snapshot's last entry: just fast-forward commit.
      this.log.commitTo(meta.index);
      return false;
    }
    this.log.restore(snap);
    this.#setConf(meta.confState, meta.index);
    return true;
  }

  #handleReadIndexResponse(m: Message): void {
    const context = m.context;
    if (context === undefined) return;
    if (!this.#forwardedReads.resolve(context)) return;
    if (m.reject) this.#outbox.readDropped(context);
    else this.#outbox.readServed({ index: m.index, context });
  }

  /** Local read request (RawNode.readIndex). */
  readIndex(context: Uint8Array): void {
    if (this.#leader !== undefined) {
      this.#leader.readIndex(context, this.id);
      return;
    }
    if (this.#lead === '' || this.#role !== 'follower' || !this.#forwardedReads.add(context, this.#ticks + this.cfg.electionTicks)) {
      this.#outbox.readDropped(context);
      return;
    }
    this.#send('readIndex', this.#lead, this.#term, { context });
  }
}

function ctx(m: Message): { context?: Uint8Array } {
  return m.context === undefined ? {} : { context: m.context };
}
