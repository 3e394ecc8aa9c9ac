/**
 * The driver loop (docs/design.md, "The driver loop"): the only place with timers and I/O. It
 * owns the RawNode and is the only caller of it. Inputs (ticks, inbound messages, proposals,
 * reads, transport reports) are queued and fed to Raft between Ready batches, so Raft is never
 * touched while a batch is being persisted; the time a batch spends in fsync is what batches the
 * next one (group commit).
 *
 * Ready order (src/raft/types.ts), with apply overlapping the fsync as etcd's raftNode does
 * (a Ready with nothing to persist just applies, then sends, holding commit notices: outbox.ts):
 * 1. send `messages` and let the transport write them (the leader replicates while it persists);
 * 2. start ONE storage.save for entries + hard state (+ a received snapshot);
 * 3. meanwhile apply `committedEntries` — they are committed, i.e. durable on a quorum, so
 *    applying them (and answering their proposers) need not wait for this member's own fsync —
 *    and release reads (a Ready with a snapshot applies after the save instead: the snapshot
 *    replaces the state the entries build on; a Ready whose messagesAfterPersist go to a peer —
 *    a follower's append acks — applies right after step 4, so the acks are not held back);
 * 4. await the save, then send `messagesAfterPersist` (votes and append acks promise durability);
 * 5. advance.
 * No snapshot is taken while a save is in flight: #maybeSnapshot runs only between Readies (after
 * each one, and when none is left), when every applied entry is durable here.
 */
import { EventEmitter } from 'eventemitter3';
import { NoLeaderError, ProposalDroppedError, QuorumError, RequestTooLargeError, StoppedError, TimeoutError } from '../errors.ts';
import { maxMessageBytesFor } from '../limits.ts';
import type { ConfChangeType, Entry, HardState, Message, NodeId, PeerMessage, RaftRole, Snapshot, AppMessage } from '../protocol/types.ts';
import { RawNode } from '../raft/raw-node.ts';
import type { RaftStatus, Ready } from '../raft/types.ts';
import type { Storage } from '../storage/types.ts';
import { encodeCommand } from '../store/codec.ts';
import type { Store } from '../store/store.ts';
import type { StoreLimits } from '../store/types.ts';
import type { Transport } from '../transport/types.ts';
import { AppliedState } from './applied-state.ts';
import type { AppliedResult, AppliedView } from './applied-state.ts';
import type { AuthState } from './auth/auth-state.ts';
import { AttributesPublisher } from './attributes-publisher.ts';
import { ConfChanges, REMOVED_CHANNEL } from './conf-changes.ts';
import type { MemberChange } from './conf-changes.ts';
import { withDeadline } from './deadline.ts';
import { LEASE_CHANNEL } from './leases.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import { encodeAttributesCommand } from './member-attributes.ts';
import type { AttributesCommand, AttributesResult } from './member-attributes.ts';
import { NodeMetrics, replicationLag, SLOW_APPLY_MS } from './metrics.ts';
import type { MetricsSnapshot } from './metrics.ts';
import type { LeaseReply } from './leases.ts';
import { Leadership, TRANSFER_CHANNEL } from './leadership.ts';
import { Outbox } from './outbox.ts';
import { SnapshotLoadingTransport } from './snapshot-loading-transport.ts';
import { BackgroundCompaction } from './background-compaction.ts';
import { CLOSE_SNAPSHOT_TIMEOUT_MS, PeriodicSnapshots } from './periodic-snapshots.ts';
import { SnapshotPrefetch } from './snapshot-prefetch.ts';
import type { NodeConfig } from './options.ts';
import { Proposals } from './proposals.ts';
import type { PendingProposal } from './proposals.ts';
import { ReadBatcher, ReadCall } from './reads.ts';
import { applyChannel, proposeChannel } from './tracing.ts';
import { TurnBudget, yieldTurn } from './turn-budget.ts';
import type { CallOptions, Member } from './types.ts';

export interface DriverEvents {
  leader: (info: { readonly leader: NodeId; readonly term: number }) => void;
  role: (info: { readonly role: RaftRole; readonly term: number }) => void;
  member: (info: MemberChange) => void;
  error: (err: Error) => void;
  /** The store object was replaced by a snapshot from the leader. */
  store: (store: Store) => void;
  /** A lease stopped existing (revoked or expired). */
  leaseGone: (id: number) => void;
  /** This member was removed from the cluster. */
  removed: () => void;
  /** The driver stopped (closed or failed). */
  stopped: () => void;
}

export interface DriverInit {
  readonly config: NodeConfig;
  readonly storage: Storage;
  readonly transport: Transport | undefined;
  readonly limits: StoreLimits;
  /** The applied state of `storage.snapshot()` (AppliedState.open); rebuilt synchronously when absent. */
  readonly state?: AppliedState;
  /** Where this member's counters go (its storage and transport write into it too). @default new */
  readonly metrics?: NodeMetrics;
}

/** Ticks fed per loop turn at most, so a stalled event loop cannot fire a burst of elections. */
const MAX_TICKS_PER_TURN = 5;
/**
 * Bytes of committed entries applied per Ready. Applying costs ≈ 7 µs per put and a 128-put txn is
 * ≈ 20 KiB, so 256 KiB is ≈ 10 ms of apply: a member replaying a long WAL at start, or a follower
 * catching up, yields to its host's event loop between batches (turn-budget.ts) instead of applying
 * everything committed in one synchronous stretch.
 */
const MAX_APPLY_BYTES_PER_READY = 256 * 1024;

export class Driver extends EventEmitter<DriverEvents> {
  readonly #config: NodeConfig;
  readonly #storage: Storage;
  readonly #transport: Transport | undefined;
  readonly #raft: RawNode;
  /** Store + peer URLs + dedupe table at the applied index. */
  readonly #state: AppliedState;
  readonly #snapshots: PeriodicSnapshots;
  readonly #compaction: BackgroundCompaction;
  readonly #prefetch: SnapshotPrefetch;
  readonly #leadership: Leadership;
  readonly #proposals: Proposals;
  readonly #reads: ReadBatcher;
  readonly #leases: LeaseKeeper;
  readonly #confChanges: ConfChanges;
  readonly #publisher: AttributesPublisher;
  readonly #outbox: Outbox;
  readonly #metrics: NodeMetrics;

  // Inputs queued for the loop.
  #inbox: Message[] = [];
  #toPropose: PendingProposal[] = [];
  #unreachable = new Set<NodeId>();
  #connectionLost = new Set<NodeId>();
  #snapshotStatus: { peer: NodeId; delivered: boolean }[] = [];
  #pendingTicks = 0;
  /** A commit-only hard state not yet written (see #handleReady). */
  #deferredHardState: HardState | undefined;
  #campaignNow = false;

  #leader: NodeId = '';
  #role: RaftRole = 'follower';
  #term = 0;
  #running = false;
  #again = false;
  #stopped = false;
  #idle: (() => void)[] = [];
  #tickTimer: NodeJS.Timeout | undefined;
  /** Bounds how long the loop keeps the event loop busy (turn-budget.ts). */
  readonly #turn = new TurnBudget();
  /** Raft's status as last read; served once the storage it reads from is closed or failed. */
  #lastStatus: RaftStatus;

  constructor(init: DriverInit) {
    super();
    const { config, storage } = init;
    this.#config = config;
    this.#storage = storage;
    const load = storage.loadSnapshot?.bind(storage);
    this.#transport =
      init.transport === undefined || load === undefined ? init.transport : new SnapshotLoadingTransport(init.transport, load, (obj, msg) => config.logger.warn(obj, msg));
    this.#metrics = init.metrics ?? new NodeMetrics();
    this.#outbox = new Outbox(
      config.id,
      this.#transport,
      (m) => this.#inbox.push(m),
      (err) => this.#fail(err),
    );
    const snap = storage.snapshot();
    this.#state = init.state ?? new AppliedState(init.limits, config.dedupeEntries, snap);
    this.#raft = new RawNode({
      id: config.id,
      storage,
      random: config.random,
      electionTicks: config.electionTicks,
      heartbeatTicks: config.ticksPerHeartbeat,
      preVote: config.preVote,
      checkQuorum: config.checkQuorum,
      leaseReads: config.leaseReads,
      applied: snap.meta.index,
      maxMessageBytes: maxMessageBytesFor(config.maxRequestBytes),
      maxCommittedBytesPerReady: MAX_APPLY_BYTES_PER_READY,
      logger: config.logger,
    });
    this.#proposals = new Proposals(config.id, 1 + Math.floor(config.random() * 2 ** 40), config.maxPendingProposals, this.#metrics);
    this.#reads = new ReadBatcher(config.maxPendingReads);
    this.#leases = new LeaseKeeper({
      self: config.id,
      now: config.now,
      requestTimeoutMs: config.requestTimeoutMs,
      retryMs: config.electionTimeoutMs,
      logger: config.logger,
      stopped: () => this.#stopped,
      isLeader: () => this.#role === 'leader',
      leader: () => this.#leader,
      lease: (id) => this.#state.store.lease(id),
      waitForLeader: (options) => this.#leadership.waitForLeader(options),
      send: (to, msg) => this.#transport?.send(to, [msg]),
      proposeRevoke: (id) => {
        // A revoke that fails is proposed again on a later tick while the lease stays expired.
        this.propose(encodeCommand({ type: 'leaseRevoke', id })).catch(() => {});
      },
    });
    this.#confChanges = new ConfChanges({
      self: config.id,
      requestTimeoutMs: config.requestTimeoutMs,
      membership: this.#state.membership,
      transport: this.#transport,
      incarnation: this.#proposals.incarnation,
      confState: () => this.raftStatus().confState,
      kick: () => this.#kick(),
      member: (change) => this.emit('member', change),
      removed: () => this.emit('removed'),
    });
    this.#compaction = new BackgroundCompaction(
      () => this.#state.store,
      (err) => this.#fail(err),
    );
    this.#publisher = new AttributesPublisher(
      {
        self: config.id,
        retryMs: config.electionTimeoutMs,
        now: config.now,
        leader: () => this.#leader,
        held: () => this.#state.membership.attributes(config.id),
        propose: (cmd) => this.proposeAttributes(cmd),
      },
      config.name,
    );
    this.#snapshots = new PeriodicSnapshots(
      {
        storage,
        state: this.#state,
        snapshotEvery: config.snapshotEvery,
        snapshotEveryBytes: config.snapshotEveryBytes,
        snapshotCatchUpEntries: config.snapshotCatchUpEntries,
        snapshotCatchUpBytes: config.snapshotCatchUpBytes,
        confState: () => this.#raft.status().confState,
        flushHardState: () => this.#flushHardState(),
        kick: () => this.#kick(),
        fail: (err) => this.#fail(err),
        stopped: () => this.#stopped,
        observeDuration: (seconds) => this.#metrics.snapshotDuration.observe(seconds),
        member: config.id,
      },
      snap.meta.index,
    );
    this.#prefetch = new SnapshotPrefetch({
      limits: init.limits,
      deliver: (m) => {
        this.#inbox.push(m);
        this.#kick();
      },
      wanted: (m) => {
        const st = this.#raft.status();
        return m.term >= st.term && (m.snapshot?.meta.index ?? 0) > st.commit;
      },
      fail: (err) => this.#fail(err),
      stopped: () => this.#stopped,
    });
    this.#leadership = new Leadership({
      self: config.id,
      requestTimeoutMs: config.requestTimeoutMs,
      events: this,
      transport: this.#transport,
      leader: () => this.#leader,
      voters: () => this.raftStatus().confState.voters,
      kick: () => this.#kick(),
    });
    this.#lastStatus = this.#raft.status();
  }

  get store(): Store {
    return this.#state.store;
  }

  /** The replicated auth state (users, roles, enabled flag) as applied here. */
  get auth(): AuthState {
    return this.#state.auth;
  }

  get appliedIndex(): number {
    return this.#state.appliedIndex;
  }

  get leader(): NodeId {
    return this.#leader;
  }

  get role(): RaftRole {
    return this.#role;
  }

  get term(): number {
    return this.#term;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  get id(): NodeId {
    return this.#config.id;
  }

  /**
   * Raft's status. Never throws: once the member stopped (storage closed or failed, which Raft
   * reads from) it is the last status read before that.
   */
  raftStatus(): RaftStatus {
    if (this.#stopped) return this.#lastStatus;
    try {
      this.#lastStatus = this.#raft.status();
    } catch (err) {
      this.#config.logger.debug({ err }, 'node: raft status unavailable; serving the last one');
    }
    return this.#lastStatus;
  }

  /**
   * Every member with its attributes. This member's own client URLs are shown as advertised
   * while the cluster holds none yet (before its first publish applies), as etcd's own member
   * knows them before it has published.
   */
  members(): Member[] {
    const members = this.#state.membership.list(this.raftStatus().confState);
    const advertised = this.#publisher.clientUrls;
    if (advertised.length === 0) return members;
    return members.map((m) => (m.id === this.#config.id && m.clientUrls.length === 0 ? { ...m, clientUrls: [...advertised] } : m));
  }

  /** Starts the transport and the tick timer, then runs the loop once (re-delivers committed entries). */
  async start(): Promise<void> {
    if (this.#transport !== undefined) {
      await this.#transport.start(this.#config.id, {
        onMessages: (from, messages) => this.#onMessages(from, messages),
        onUnreachable: (peer) => {
          this.#unreachable.add(peer);
          this.#kick();
        },
        onSnapshotStatus: (peer, delivered) => {
          this.#snapshotStatus.push({ peer, delivered });
          this.#kick();
        },
        onConnectionLost: (peer) => {
          this.#connectionLost.add(peer);
          this.#kick();
        },
      });
      for (const m of this.members()) if (m.id !== this.#config.id && m.url !== '') this.#transport.addPeer(m.id, m.url);
      // Served to a member about to join, which finds its id by its peer URL (etcd's peer /members).
      this.#transport.setMemberDirectory?.(() => JSON.stringify(this.members().map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerUrls }))));
    }
    this.#tickTimer = setInterval(() => {
      this.#pendingTicks += 1;
      this.#kick();
    }, this.#config.tickMs);
    this.#campaignNow = true;
    this.#kick();
  }

  // ---------------------------------------------------------------- the loop

  #kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    queueMicrotask(() => {
      this.#run().catch((err: unknown) => this.#fail(err));
    });
  }

  async #run(): Promise<void> {
    try {
      do {
        this.#again = false;
        this.#feed();
        // A sole voter with nothing to replay (e.g. restarted from a snapshot written on close)
        // has no Ready to advance past: campaign now rather than after an election timeout.
        if (this.#campaignNow && !this.#raft.hasReady()) this.#afterAdvance();
        while (!this.#stopped && this.#raft.hasReady()) {
          const rd = this.#raft.ready();
          await this.#handleReady(rd);
          if (this.#stopped) return;
          this.#raft.advance();
          this.#prefetch.settle();
          this.#afterAdvance();
          this.#compaction.kick();
          // Between two Readies, as below: a member under constant load never gets below.
          await this.#snapshots.maybeSnapshot();
          if (this.#stopped) return;
          if (this.#turn.spend()) {
            // Let ticks, timers and I/O run (see turn-budget.ts); inputs queue meanwhile.
            await yieldTurn();
            if (this.#stopped) return;
          }
          this.#feed();
        }
        if (!this.#stopped) await this.#snapshots.maybeSnapshot();
      } while (this.#again && !this.#stopped);
    } finally {
      this.#running = false;
      const idle = this.#idle;
      this.#idle = [];
      for (const f of idle) f();
    }
  }

  /** Hands every queued input to Raft. */
  #feed(): void {
    const raft = this.#raft;
    const ticks = Math.min(this.#pendingTicks, MAX_TICKS_PER_TURN);
    const now = this.#config.now();
    if (this.#pendingTicks > 0) {
      this.#pendingTicks = 0;
      for (let i = 0; i < ticks; i++) raft.tick();
      this.#onTick(now);
    }
    const inbox = this.#inbox;
    this.#inbox = [];
    // Connection-lost hints before the inbox: a pre-vote that arrived in the same turn must meet a
    // follower that already stopped honouring the dead leader's lease (else it is ignored, and its
    // candidate waits a whole election timeout). A hint still here was not followed by messages
    // from the same peer (#onMessages drops it then), so it is not older than anything in the inbox.
    for (const peer of this.#connectionLost) raft.reportConnectionLost(peer);
    this.#connectionLost.clear();
    // Raft drops invalid messages itself (with a warning); anything it throws is a failed
    // invariant or a failed storage, which stops this member (#fail) — never caught and ignored.
    for (const m of inbox) {
      if (m.type === 'snapshot') this.#prefetch.stepped(m);
      raft.step(m);
    }
    for (const peer of this.#unreachable) raft.reportUnreachable(peer);
    this.#unreachable.clear();
    for (const s of this.#snapshotStatus) raft.reportSnapshot(s.peer, s.delivered);
    this.#snapshotStatus = [];
    this.#feedProposals();
    if (this.#leader !== '') this.#confChanges.feed(raft);
    this.#leadership.feed(raft, this.#role);
    if (this.#leader !== '') {
      const ctx = this.#reads.maybeStartRound(now);
      if (ctx !== undefined) raft.readIndex(ctx);
    }
  }

  #feedProposals(): void {
    if (this.#toPropose.length === 0 || this.#leader === '') return;
    const queue = this.#toPropose;
    this.#toPropose = [];
    const now = this.#config.now();
    for (let i = 0; i < queue.length; i++) {
      const p = queue[i]!;
      if (p.settled) continue; // Gave up meanwhile.
      try {
        this.#raft.propose(p.data);
        p.queued = false;
        p.proposedTerm = this.#term;
        p.proposedAtMs = now;
      } catch (err) {
        if (err instanceof ProposalDroppedError) {
          // Not accepted locally (no leader, transfer in progress, uncommitted limit): retry on a later tick.
          this.#toPropose.push(...queue.slice(i));
          return;
        }
        throw err;
      }
    }
  }

  #queueProposal(p: PendingProposal): void {
    p.queued = true;
    this.#toPropose.push(p);
  }

  #onTick(now: number): void {
    this.#confChanges.retryRefused();
    this.#publisher.maybePublish();
    this.#reads.retryStale(now, this.#config.electionTimeoutMs);
    // Re-propose writes forwarded to a leader that have waited an election timeout (the forward
    // may have been lost): the dedupe table makes a second copy a no-op. A leader's own
    // proposals are in its log already; only a term change (handled in #updateRole) needs one.
    if (this.#role !== 'leader') {
      for (const p of this.#proposals.values()) {
        if (!p.queued && p.proposedTerm !== 0 && now - p.proposedAtMs >= this.#config.electionTimeoutMs) this.#queueProposal(p);
      }
    }
    this.#leases.expire(now);
  }

  #updateRole(leader: NodeId, role: RaftRole, term: number): void {
    const leaderChanged = leader !== this.#leader || (leader !== '' && term !== this.#term && role === 'leader');
    const roleChanged = role !== this.#role;
    this.#term = term;
    if (roleChanged) {
      const wasLeader = this.#role === 'leader';
      this.#role = role;
      if (role === 'leader') this.#leases.becomeLeader(this.#state.store.leases());
      else if (wasLeader) this.#leases.stepDown();
      this.emit('role', { role, term });
    }
    if (leader !== this.#leader) {
      this.#leader = leader;
      if (leader !== '') {
        this.#metrics.leaderChangesSeen += 1;
        // Re-propose everything in flight to the new leader (deduped if the first copy commits).
        for (const p of this.#proposals.values()) {
          if (!p.queued && p.proposedTerm !== 0 && p.proposedTerm < term) this.#queueProposal(p);
        }
      }
    }
    if (leaderChanged) this.emit('leader', { leader, term });
  }

  async #handleReady(rd: Ready): Promise<void> {
    // Role and leader changes surface in the Ready (never polled: status() allocates).
    if (rd.softState !== undefined) this.#updateRole(rd.softState.leader, rd.softState.role, rd.hardState?.term ?? this.#raft.status().term);
    else if (rd.hardState !== undefined) this.#term = rd.hardState.term;
    const persist = rd.mustSync || rd.entries.length > 0 || rd.snapshot !== undefined;
    if (!persist) {
      // Only the commit index moved: it need not be durable before anything goes out (Raft can
      // relearn it), so it rides along with the next save instead of costing an fsync now.
      if (rd.hardState !== undefined) this.#deferredHardState = rd.hardState;
      // Commit notices wait for the end of the turn (outbox.ts): the writers this commit settles
      // are answered first, and their next writes' appends usually take the notices along.
      this.#outbox.sendHoldingNotices(rd.messages);
      this.#outbox.send(rd.messagesAfterPersist);
      this.#apply(rd);
      return;
    }
    // The transport writes in a microtask: let it put the appends on the wire before this turn
    // spends time encoding the batch and applying entries (one microtask, no event-loop turn).
    if (this.#outbox.send(rd.messages)) {
      await undefined;
      if (this.#stopped) return;
    }
    const saved = this.#save(rd.entries, rd.hardState ?? this.#deferredHardState, rd.snapshot);
    // Apply overlaps the fsync, unless a peer waits on this save (a follower's append acks): the
    // leader's commit, and with it every proposer's latency, must not wait for this member to
    // apply a batch, so those acks go out first and the batch applies right after.
    const applyFirst = rd.snapshot === undefined && !this.#toPeer(rd.messagesAfterPersist);
    if (applyFirst) {
      // Handled even if apply throws (the loop then fails the member; no unhandled rejection).
      saved.catch(() => {});
      this.#apply(rd);
    }
    await saved;
    if (this.#stopped) return;
    this.#outbox.send(rd.messagesAfterPersist);
    if (!applyFirst && rd.snapshot === undefined) this.#apply(rd);
    if (rd.snapshot !== undefined) {
      if (rd.snapshot.meta.index > this.#state.appliedIndex) {
        await this.#installSnapshot(rd.snapshot);
        if (this.#stopped) return;
      }
      this.#apply(rd);
    }
  }

  /** Applies a Ready's committed entries and releases the reads they satisfy. */
  #apply(rd: Ready): void {
    const entries = rd.committedEntries;
    if (entries.length > 0) {
      if (applyChannel.hasSubscribers) {
        const context = { member: this.#config.id, entries: entries.length, firstIndex: entries[0]!.index, lastIndex: entries[entries.length - 1]!.index };
        applyChannel.traceSync(this.#applyEntries, context, this, entries);
      } else this.#applyEntries(entries);
    }
    for (const rs of rd.readStates) this.#reads.onReadState(rs.context, rs.index);
    for (const ctx of rd.droppedReads) this.#reads.onDropped(ctx);
    this.#reads.release(this.#state.appliedIndex);
  }

  /** One storage write + fsync for a Ready batch (group commit). */
  async #save(entries: readonly Entry[], hardState: HardState | undefined, snapshot: Snapshot | undefined): Promise<void> {
    const batch: { hardState?: HardState; entries: readonly Entry[]; snapshot?: Snapshot } = { entries };
    if (hardState !== undefined) batch.hardState = hardState;
    if (snapshot !== undefined) batch.snapshot = snapshot;
    this.#deferredHardState = undefined;
    await this.#storage.save(batch);
  }

  /** Persists a deferred commit-only hard state (before snapshots and on stop). */
  async #flushHardState(): Promise<void> {
    if (this.#deferredHardState !== undefined) await this.#save([], this.#deferredHardState, undefined);
  }

  #afterAdvance(): void {
    if (this.#campaignNow) {
      this.#campaignNow = false;
      const st = this.#raft.status();
      const voters = st.confState.voters;
      if (voters.length === 1 && voters[0] === this.#config.id && st.role !== 'leader') this.#raft.campaign();
    }
  }

  /** Whether any of `messages` goes to a peer (not to this member). */
  #toPeer(messages: readonly Message[]): boolean {
    for (const m of messages) if (m.to !== this.#config.id) return true;
    return false;
  }

  #onMessages(from: NodeId, messages: readonly PeerMessage[]): void {
    if (this.#stopped) return;
    // Messages after a close came on a newer connection: the peer is alive, and a hint still
    // waiting for the next turn is stale.
    if (this.#connectionLost.size > 0) this.#connectionLost.delete(from);
    for (const m of messages) {
      if (m.type === 'app') this.#onAppMessage(from, m);
      else if (m.type === 'snapshot') this.#prefetch.hold(m); // Reaches the inbox once its store is rebuilt.
      else if (m.type === 'append' && this.#prefetch.dropAppend(m)) continue; // Resent later (snapshot-prefetch.ts).
      else this.#inbox.push(m);
    }
    this.#kick();
  }

  // ---------------------------------------------------------------- apply

  async #installSnapshot(snap: Snapshot): Promise<void> {
    const members = await this.#state.install(snap, this.#prefetch.take(snap));
    // close() waits for the loop only so long: a restore that outlives it must not re-attach
    // watchers or peers of a stopped member.
    if (this.#stopped) return;
    this.#snapshots.installed(snap.meta.index);
    for (const [id, url] of Object.entries(members)) if (id !== this.#config.id && url !== '') this.#transport?.addPeer(id, url);
    if (this.#role === 'leader') this.#leases.becomeLeader(this.#state.store.leases());
    this.emit('store', this.#state.store);
  }

  /** Applies committed entries in order; a batch slower than SLOW_APPLY_MS counts as a slow apply. */
  readonly #applyEntries = (entries: readonly Entry[]): void => {
    const startedAt = performance.now();
    for (const entry of entries) this.#applyEntry(entry);
    if (performance.now() - startedAt > SLOW_APPLY_MS) this.#metrics.slowApplies += 1;
  };

  #applyEntry(entry: Entry): void {
    const applied = this.#state.apply(entry, this.#applyConfChange);
    if (applied === undefined) return;
    const { id, result } = applied;
    if (!(result instanceof QuorumError)) this.#afterCommand(result);
    if (id.member === this.#config.id && id.incarnation === this.#proposals.incarnation) this.#proposals.get(id.seq)?.settle(result);
  }

  readonly #applyConfChange = (entry: Entry): void => this.#confChanges.apply(entry);

  #afterCommand(result: AppliedResult): void {
    if (result.type === 'memberAttributes') this.#afterAttributes(result);
    else if (result.type === 'leaseGrant') this.#leases.onGrant(result.id, result.ttlMs);
    else if (result.type === 'leaseRevoke') {
      this.#leases.onRevoke(result.id);
      this.emit('leaseGone', result.id);
    }
  }

  /** A member's peer URLs changed (MemberUpdate): peers dial the new URL from now on. */
  #afterAttributes(result: AttributesResult): void {
    if (result.peerUrl === undefined) return;
    if (result.member !== this.#config.id) this.#transport?.addPeer(result.member, result.peerUrl);
    const learner = this.raftStatus().confState.learners.includes(result.member);
    this.emit('member', { type: 'update', id: result.member, url: result.peerUrl, learner });
  }

  // ---------------------------------------------------------------- snapshots

  /**
   * The application state (store + membership + dedupe table) frozen at `appliedIndex` now; its
   * `encode()` runs in slices off the loop while apply goes on (backups, maintenance snapshots).
   */
  snapshotView(): AppliedView {
    return this.#state.view();
  }

  // ---------------------------------------------------------------- proposals

  /** Proposes a command; resolves with its result once applied on this member. */
  propose(command: Uint8Array, options?: CallOptions): Promise<AppliedResult> {
    if (!proposeChannel.hasSubscribers) return this.#propose(command, options);
    return proposeChannel.tracePromise(this.#propose, { member: this.#config.id, bytes: command.length }, this, command, options);
  }

  readonly #propose = (command: Uint8Array, options?: CallOptions): Promise<AppliedResult> => {
    if (this.#stopped) return Promise.reject(new StoppedError());
    if (command.length > this.#config.maxRequestBytes) {
      return Promise.reject(new RequestTooLargeError('node: request', command.length, this.#config.maxRequestBytes));
    }
    let pending: ReturnType<Proposals['add']>;
    try {
      pending = this.#proposals.add(command, options, this.#config.requestTimeoutMs);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#queueProposal(pending);
    this.#kick();
    return pending.promise;
  };

  /** Proposes a change of a member's attributes; resolves once it is applied on this member. */
  async proposeAttributes(cmd: AttributesCommand, options?: CallOptions): Promise<AttributesResult> {
    const result = await this.propose(encodeAttributesCommand(cmd), options);
    if (result.type !== 'memberAttributes') throw new Error(`node: assertion failed: an attributes command answered ${result.type}`);
    return result;
  }

  /** The name and client URLs this member publishes from now on (see attributes-publisher.ts). */
  advertise(name: string, clientUrls: readonly string[]): void {
    this.#publisher.want(name, clientUrls);
    this.#kick();
  }

  /** The client URLs this member advertises (what it publishes). */
  get advertisedClientUrls(): readonly string[] {
    return this.#publisher.clientUrls;
  }

  /** Waits until a linearizable read may run against the local store (ReadIndex). */
  readBarrier(options?: CallOptions): Promise<void> {
    if (this.#stopped) return Promise.reject(new StoppedError());
    return withDeadline<void>(options, this.#config.requestTimeoutMs, this.#readTimeout, (resolve, reject) => {
      const w = new ReadCall(resolve, reject);
      this.#reads.enqueue(w);
      this.#kick();
      return () => this.#reads.cancel(w);
    });
  }

  readonly #readTimeout = (): QuorumError =>
    this.#leader === '' ? new NoLeaderError('node: no leader within the request timeout') : new TimeoutError('node: linearizable read timed out');

  /** Proposes a membership change; resolves once it is applied on this member. */
  confChange(type: ConfChangeType, nodeId: NodeId, peerUrls: readonly string[], options?: CallOptions & { readonly name?: string }): Promise<void> {
    if (this.#stopped) return Promise.reject(new StoppedError());
    return this.#confChanges.request(type, nodeId, peerUrls, options);
  }

  /** Asks Raft to hand leadership to `to`; resolves when `to` is the leader. */
  transferLeadership(to: NodeId, options?: CallOptions): Promise<void> {
    if (this.#stopped) return Promise.reject(new StoppedError());
    return this.#leadership.transfer(to, options);
  }

  /** Waits until a leader is known. */
  waitForLeader(options?: CallOptions): Promise<void> {
    if (this.#stopped) return Promise.reject(new StoppedError());
    return this.#leadership.waitForLeader(options);
  }

  // ---------------------------------------------------------------- leases

  /** Leader-local keepAlive, or forwarded to the leader. Resolves with the remaining ms. */
  async keepAlive(id: number, options?: CallOptions): Promise<number> {
    return (await this.#leases.query('keepAlive', id, options)).remainingMs;
  }

  /** Remaining ms and granted TTL as the leader knows them. */
  leaseQuery(id: number, options?: CallOptions): Promise<LeaseReply> {
    return this.#leases.query('timeToLive', id, options);
  }

  #onAppMessage(from: NodeId, m: AppMessage): void {
    if (m.channel === TRANSFER_CHANNEL) {
      this.#leadership.onAppMessage(m);
      return;
    }
    if (m.channel === LEASE_CHANNEL) this.#leases.onMessage(from, m.payload);
    // A member applied this member's removal (committed): stop as if it had been applied here.
    if (m.channel === REMOVED_CHANNEL && m.to === this.#config.id && this.#state.membership.url(from) !== undefined) this.emit('removed');
  }

  // ---------------------------------------------------------------- metrics

  /** This member's metrics now; `watches` and `watchBufferedEvents` come from the node's handles. */
  metrics(watches: number, watchBufferedEvents: number): MetricsSnapshot {
    const st = this.raftStatus();
    const store = this.#state.store;
    const { memberLag, learnerLag } = replicationLag(st, this.#config.id);
    return this.#metrics.snapshot({
      id: this.#config.id,
      leader: st.leader,
      role: st.role,
      learner: st.confState.learners.includes(this.#config.id),
      term: st.term,
      commitIndex: st.commit,
      appliedIndex: this.#state.appliedIndex,
      proposalsPending: this.#proposals.size,
      dbSizeBytes: this.#snapshots.storedBytes,
      keys: store.keyCount,
      leases: store.leases().length,
      watches,
      watchBufferedEvents,
      learnerLag,
      memberLag,
    });
  }

  /** Resolves once the history dropped by committed compactions is freed here (BackgroundCompaction). */
  compactionDrained(): Promise<void> {
    return this.#compaction.drained();
  }

  /** One read served (node.get / node.range): counted for metrics. */
  countRead(): void {
    this.#metrics.readsServed += 1;
  }

  // ---------------------------------------------------------------- stop

  /**
   * Stops timers, rejects everything pending, stops the transport, closes storage. With
   * `snapshot` (a plain `close()`), first writes a snapshot of the final state when the log
   * since the last one is large (PeriodicSnapshots.snapshotOnClose), so the next start is quick.
   */
  async stop(reason: QuorumError = new StoppedError(), options: { readonly snapshot?: boolean } = {}): Promise<void> {
    if (this.#stopped) return;
    this.raftStatus(); // The last status, served after stop (storage will be closed).
    this.#stopped = true;
    this.#metrics.close();
    if (this.#tickTimer !== undefined) clearInterval(this.#tickTimer);
    this.#proposals.rejectAll(reason);
    this.#reads.rejectAll(reason);
    this.#leases.rejectAll(reason);
    this.#confChanges.rejectAll(reason);
    this.#outbox.close();
    let idle = true;
    if (this.#running) {
      // Bounded: a storage write that never completes must not hang close().
      idle = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), Math.max(100, this.#config.closeTimeoutMs));
        this.#idle.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    }
    await this.#snapshots.stop();
    this.#prefetch.stop();
    this.#compaction.stop();
    const errors: unknown[] = [];
    // Only once the loop went idle: then everything applied is durable.
    if (options.snapshot === true && idle && this.#config.closeTimeoutMs > 0) {
      await this.#snapshots.snapshotOnClose(CLOSE_SNAPSHOT_TIMEOUT_MS).then(
        (wrote) => wrote && this.#config.logger.info({ id: this.#config.id, index: this.#state.appliedIndex }, 'node: wrote a snapshot on close'),
        (err: unknown) => this.#config.logger.warn({ err }, 'node: the snapshot on close was not written; the next start replays the log'),
      );
    }
    await this.#flushHardState().catch((err: unknown) => errors.push(err));
    await this.#transport?.stop().catch((err: unknown) => errors.push(err));
    await this.#storage.close().catch((err: unknown) => errors.push(err));
    this.emit('stopped');
    if (errors.length > 0) this.#config.logger.warn({ errors }, 'node: errors while stopping');
  }

  #fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.#config.logger.error({ err: error }, 'node: fatal error in the driver loop; stopping this member');
    this.#running = false;
    this.emit('error', error);
    void this.stop(new StoppedError(`node: stopped after a fatal error: ${error.message}`, { cause: error }));
  }
}


