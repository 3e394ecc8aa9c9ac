/**
 * A simulated cluster of Raft cores driven by one seeded PRNG: a virtual clock (ticks), an
 * in-memory network that drops, duplicates, delays, reorders and partitions messages, members
 * that crash (losing whatever they had not persisted) and restart from their durable state,
 * membership changes, app snapshots with log compaction, proposals, ReadIndex reads and
 * leadership transfers. The driver processes each Ready exactly as src/raft/types.ts documents,
 * split in two phases (hand-out + send, then persist + ack + apply + advance) so that a crash or
 * inbound messages can fall in between. Every durable write, apply, role change and read is
 * checked by the {@link Checker}.
 */
import type { Entry, Message, NodeId, ReadState, Snapshot } from '../../src/protocol/types.ts';
import type { RaftConfig, RaftStatus, Ready } from '../../src/raft/types.ts';
import { bootstrapBatch } from '../../src/raft/conf-change.ts';
import { ConfChangeInProgressError, ProposalDroppedError } from '../../src/errors.ts';
import { Checker, INITIAL_STATE_HASH, SimViolation, applyHash, violate } from './checker.ts';
import type { CoreFactory, RaftCore } from './core.ts';
import { confString, ctxKey, decodeSnapshotData, describe, encodeSnapshotData } from './format.ts';
import { Prng } from './prng.ts';
import { drawSettings } from './settings.ts';
import type { Settings } from './settings.ts';
import { SimNode } from './sim-node.ts';
import type { InFlight } from './sim-node.ts';
import { SimStorage, StorageMisuse } from './sim-storage.ts';

export interface SimOptions {
  readonly seed: number;
  /** Initial voters. @default 3 */
  readonly members?: number;
  /** Steps of the chaos phase (each step is one event plus the Ready processing it causes). @default 3000 */
  readonly steps?: number;
  /** Ticks allowed after healing for a leader to appear and every member to converge (100 election timeouts). @default 1000 */
  readonly livenessTicks?: number;
  readonly createCore: CoreFactory;
  /** Print every trace line as it happens. */
  readonly verbose?: boolean;
  readonly log?: (line: string) => void;
  /** Force messages on one link to overtake each other (otherwise drawn per seed, 30 %). */
  readonly reorder?: boolean;
  /** Re-add removed ids with wiped storage (unsafe under a reused id; see FINDINGS.md F2). @default false */
  readonly rejoinWiped?: boolean;
  /** Trace lines kept for the report of a violation. @default 40 */
  readonly traceTail?: number;
}

export interface SimStats {
  steps: number;
  ticks: number;
  delivered: number;
  dropped: number;
  proposals: number;
  droppedProposals: number;
  reads: number;
  readsReleased: number;
  crashes: number;
  confChanges: number;
  compactions: number;
  snapshotsInstalled: number;
  transfers: number;
  partitions: number;
  leaders: number;
  maxApplied: number;
  convergedAfterTicks: number;
}

export interface SimResult {
  readonly seed: number;
  readonly members: number;
  readonly violation?: SimViolation;
  readonly trace: readonly string[];
  readonly stats: SimStats;
  readonly settings: string;
}

const PAYLOAD_TAG = 0x51;
/** Bound on deliveries within one tick (messages sent with no delay are due at once). */
const MAX_DELIVERIES_PER_TICK = 20_000;

export class SimCluster {
  readonly checker = new Checker();
  readonly stats: SimStats = emptyStats();
  readonly settings: Settings;
  readonly #options: SimOptions;
  readonly #rng: Prng;
  /** Connection-lost hints draw from their own stream, so the rest of a seed's schedule is as it was before hints existed. */
  readonly #hintRng: Prng;
  readonly #nodes = new Map<NodeId, SimNode>();
  #queue: InFlight[] = [];
  /** Latest delivery tick per link, for FIFO links. */
  #linkClock = new Map<string, number>();
  /** Blocked directed links, as "from>to". */
  #blocked = new Set<string>();
  #now = 0;
  #nextNodeNumber: number;
  #proposalCounter = 0;
  #readCounter = 0;
  /** Ids whose removal was proposed; stopped once some member applies it. */
  #removing = new Set<NodeId>();
  /** Ids removed and stopped, candidates for re-adding with fresh storage. */
  #removed: NodeId[] = [];
  #faults = true;
  #trace: string[] = [];
  readonly #traceTail: number;

  constructor(options: SimOptions) {
    this.#options = options;
    this.#rng = new Prng(options.seed);
    this.#hintRng = new Prng((options.seed ^ 0x5eed1e55) >>> 0);
    this.settings = drawSettings(this.#rng, options.seed, options.reorder);
    this.#traceTail = options.traceTail ?? 40;
    const members = options.members ?? 3;
    const voters = Array.from({ length: members }, (_, i) => `n${i + 1}`);
    this.#nextNodeNumber = members + 1;
    const batch = bootstrapBatch(voters);
    for (const id of voters) {
      const storage = new SimStorage({ voters: [], learners: [] });
      storage.persist(undefined, batch.entries, batch.hardState);
      this.checker.durableEntries(id, storage, batch.entries);
      const node = new SimNode(id, storage);
      this.#nodes.set(id, node);
      this.#start(node);
    }
  }

  get trace(): readonly string[] {
    return this.#trace;
  }

  #log(line: string): void {
    const full = `[${this.#now}] ${line}`;
    this.#trace.push(full);
    if (this.#trace.length > this.#traceTail * 2) this.#trace = this.#trace.slice(-this.#traceTail);
    if (this.#options.verbose === true) (this.#options.log ?? console.log)(full);
  }

  traceTail(): string[] {
    return this.#trace.slice(-this.#traceTail);
  }

  // ---------------------------------------------------------------- lifecycle

  #config(node: SimNode): RaftConfig {
    const s = this.settings;
    const random = this.#rng.fork();
    return {
      id: node.id,
      storage: node.storage,
      random: () => random.next(),
      electionTicks: 10,
      heartbeatTicks: 1,
      preVote: s.preVote,
      checkQuorum: s.checkQuorum,
      leaseReads: s.leaseReads,
      applied: node.storage.snapshot().meta.index,
      maxMessageBytes: s.maxMessageBytes,
      maxInflightMessages: s.maxInflightMessages,
      disableProposalForwarding: s.disableProposalForwarding,
    };
  }

  /** (Re)starts a member from its durable storage: the state machine restarts from the snapshot. */
  #start(node: SimNode): void {
    const snap = node.storage.snapshot();
    node.incarnation++;
    node.pending = undefined;
    node.reads = new Map();
    node.checkedTerm = -1;
    if (snap.meta.index > 0) {
      const d = decodeSnapshotData(snap.data);
      node.applied = d.index;
      node.hash = d.hash;
      node.points = [{ index: d.index, confState: snap.meta.confState, hash: d.hash }];
    } else {
      node.applied = 0;
      node.hash = INITIAL_STATE_HASH;
      node.points = [];
    }
    node.core = this.#guard(() => this.#options.createCore(this.#config(node)));
    node.state = 'up';
    node.commitRecorded = snap.meta.index;
    // A new incarnation: commit is tracked afresh, from its persisted value.
    node.commit = 0;
    const st = this.#observe(node);
    const durableCommit = node.storage.hardState.commit;
    if (st.commit < durableCommit) {
      violate('commit-monotonic', `${node.id} restarted with commit ${st.commit} below its persisted commit ${durableCommit}`);
    }
    node.commit = st.commit;
    node.conf = st.confState;
    this.#log(`start ${node.id}#${node.incarnation} snap=${snap.meta.index} last=${node.storage.lastIndex()} commit=${st.commit} ${confString(st.confState)}`);
  }

  #crash(node: SimNode): void {
    node.core = undefined;
    node.pending = undefined;
    node.state = 'down';
    node.downAt = this.#now;
    node.status = undefined;
    this.stats.crashes++;
    this.#log(`CRASH ${node.id} (durable last=${node.storage.lastIndex()} commit=${node.storage.hardState.commit})`);
    // A killed process's sockets close at once: most members' transports tell their Raft.
    for (const other of this.#nodes.values()) {
      if (other !== node && other.state === 'up' && this.#hintRng.chance(0.8)) this.#guard(() => other.core?.reportConnectionLost(node.id));
    }
  }

  #stop(node: SimNode): void {
    node.core = undefined;
    node.pending = undefined;
    node.state = 'stopped';
    node.status = undefined;
    this.#queue = this.#queue.filter((f) => f.msg.to !== node.id);
    this.#removing.delete(node.id);
    if (!this.#removed.includes(node.id)) this.#removed.push(node.id);
    this.#log(`stop removed member ${node.id}`);
  }

  /** Runs a call into the core; anything it throws (other than typed refusals) is a core error. */
  #guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof SimViolation) throw err;
      if (err instanceof StorageMisuse) violate('storage-misuse', err.message);
      const e = err as Error;
      violate('core-error', `${e.name}: ${e.message}\n${e.stack ?? ''}`);
    }
  }

  #up(): SimNode[] {
    return [...this.#nodes.values()].filter((n) => n.state === 'up');
  }

  /** The live member that believes it leads the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.#nodes.values()) {
      const st = n.status;
      if (n.state !== 'up' || st === undefined || st.role !== 'leader') continue;
      if (best === undefined || (best.status as RaftStatus).term < st.term) best = n;
    }
    return best;
  }

  // ---------------------------------------------------------------- network

  #send(msgs: readonly Message[]): void {
    for (const m of msgs) {
      this.#enqueue(m, this.#now + this.#rng.int(this.settings.maxDelayTicks + 1));
      if (this.#faults && this.#rng.chance(this.settings.duplicateRate)) {
        this.#enqueue(m, this.#now + this.#rng.int(this.settings.maxDelayTicks + 2));
      }
    }
  }

  #enqueue(msg: Message, at: number): void {
    if (!this.settings.reorderWithinLink || !this.#faults) {
      // FIFO per link (and always once healed): a message is never due before one sent earlier on the same link.
      const link = `${msg.from}>${msg.to}`;
      at = Math.max(at, this.#linkClock.get(link) ?? 0);
      this.#linkClock.set(link, at);
    }
    this.#queue.push({ msg, at });
  }

  #dueCount(): number {
    let n = 0;
    for (const f of this.#queue) if (f.at <= this.#now) n++;
    return n;
  }

  /** Delivers one due message, chosen at random among the due ones (reordering). */
  #deliverOne(): boolean {
    const due: number[] = [];
    for (let i = 0; i < this.#queue.length; i++) if ((this.#queue[i] as InFlight).at <= this.#now) due.push(i);
    if (due.length === 0) return false;
    let pos = this.#faults ? this.#rng.pick(due) : (due[0] as number);
    if (!this.settings.reorderWithinLink || !this.#faults) {
      // Deliver the oldest due message of the chosen link (the queue is in send order).
      const chosen = (this.#queue[pos] as InFlight).msg;
      pos = due.find((i) => {
        const m = (this.#queue[i] as InFlight).msg;
        return m.from === chosen.from && m.to === chosen.to;
      }) as number;
    }
    const { msg } = this.#queue[pos] as InFlight;
    this.#queue.splice(pos, 1);
    const to = this.#nodes.get(msg.to);
    const from = this.#nodes.get(msg.from);
    const blocked = this.#blocked.has(`${msg.from}>${msg.to}`);
    const lost = this.#faults && this.#rng.chance(this.settings.dropRate);
    if (to === undefined || to.state !== 'up' || blocked || lost) {
      this.stats.dropped++;
      if (this.#options.verbose === true) this.#log(`drop ${describe(msg)}${blocked ? ' (partition)' : ''}`);
      if (from?.state === 'up') {
        if (msg.type === 'snapshot') this.#guard(() => from.core?.reportSnapshot(msg.to, false));
        else if ((blocked || to?.state !== 'up') && this.#rng.chance(0.3)) this.#guard(() => from.core?.reportUnreachable(msg.to));
      }
      // A partition that also resets connections: the receiver hears its peer's socket close.
      if (blocked && to?.state === 'up' && this.#hintRng.chance(0.05)) this.#guard(() => to.core?.reportConnectionLost(msg.from));
      return true;
    }
    // A false hint: a socket hiccup while the peer is alive and its messages keep coming.
    if (this.#faults && this.#hintRng.chance(0.002)) {
      this.#log(`connection-lost hint at ${msg.to} about ${msg.from} (false)`);
      this.#guard(() => to.core?.reportConnectionLost(msg.from));
    }
    this.stats.delivered++;
    this.#log(`deliver ${describe(msg)}`);
    this.#guard(() => to.core?.step(msg));
    // Only vote answers (and a transfer's timeoutNow) can make a member leader between Readies.
    if (to.core !== undefined && (msg.type === 'voteResponse' || msg.type === 'preVoteResponse' || msg.type === 'timeoutNow')) this.#observe(to);
    if (msg.type === 'snapshot' && from?.state === 'up') this.#guard(() => from.core?.reportSnapshot(msg.to, true));
    return true;
  }

  // ---------------------------------------------------------------- the driver

  #observe(node: SimNode): RaftStatus {
    const core = node.core as RaftCore;
    const st = this.#guard(() => core.status());
    node.status = st;
    if (st.commit < node.commit) {
      violate('commit-monotonic', `${node.id} commit went from ${node.commit} down to ${st.commit}`);
    }
    node.commit = st.commit;
    if (st.role === 'leader') {
      if (!this.checker.leaders.has(st.term)) {
        this.stats.leaders++;
        this.#log(`LEADER ${node.id} term ${st.term} last=${st.lastIndex} commit=${st.commit} ${confString(st.confState)}`);
      }
      this.checker.leader(st.term, node.id);
    }
    return st;
  }

  /** Phase 1: take the Ready and send what may go before the fsync. */
  #handOut(node: SimNode): void {
    const core = node.core as RaftCore;
    const rd = this.#guard(() => core.ready());
    node.pending = rd;
    this.#checkReady(node, rd);
    // A role change (e.g. becoming leader) is observed now; everything else after advance().
    if (rd.softState !== undefined) this.#observe(node);
    const hs = rd.hardState;
    if (hs !== undefined) {
      if (hs.commit < node.commit) violate('commit-monotonic', `${node.id} Ready commit ${hs.commit} is below ${node.commit}`);
      node.commit = hs.commit;
    }
    if (rd.softState !== undefined) this.#log(`${node.id} soft ${rd.softState.role} leader=${rd.softState.leader || '-'}`);
    this.#send(rd.messages);
  }

  /** What types.ts promises about a Ready: acks wait for the fsync, and mustSync covers durable state. */
  #checkReady(node: SimNode, rd: Ready): void {
    for (const m of rd.messages) {
      if (m.type === 'appendResponse' || m.type === 'vote' || (m.type === 'voteResponse' && !m.reject)) {
        violate('ready-contract', `${node.id} hands out ${describe(m)} in messages: it must wait for the fsync (messagesAfterPersist)`);
      }
    }
    const durable = node.storage.hardState;
    const hs = rd.hardState;
    const needsSync = rd.entries.length > 0 || rd.snapshot !== undefined || (hs !== undefined && (hs.term !== durable.term || hs.vote !== durable.vote));
    if (needsSync && !rd.mustSync) violate('ready-contract', `${node.id} Ready has durable changes but mustSync is false`);
  }

  /** Phase 2: persist, send the acks that promise durability, apply, release reads, advance. */
  #persistAndApply(node: SimNode): void {
    const rd = node.pending as Ready;
    node.pending = undefined;
    const core = node.core as RaftCore;
    const storage = node.storage;
    if (rd.entries.length > 0) {
      const first = (rd.entries[0] as Entry).index;
      if (first <= storage.hardState.commit && first <= storage.lastIndex()) {
        violate('log-matching', `${node.id} overwrites its log from ${first}, at or below its durable commit ${storage.hardState.commit}`);
      }
    }
    try {
      storage.persist(rd.snapshot, rd.entries, rd.hardState);
    } catch (err) {
      if (err instanceof StorageMisuse) violate('storage-misuse', `${node.id}: ${err.message}`);
      throw err;
    }
    this.checker.durableEntries(node.id, storage, rd.entries);
    if (rd.entries.length > 0 || rd.hardState !== undefined || rd.snapshot !== undefined) {
      this.#log(`${node.id} persist n=${rd.entries.length} last=${storage.lastIndex()} hs=${storage.hardState.term}/${storage.hardState.vote || '-'}/${storage.hardState.commit}${rd.snapshot ? ` snap=${rd.snapshot.meta.index}` : ''}`);
    }
    this.#recordCommitted(node);
    this.#send(rd.messagesAfterPersist);
    if (rd.snapshot !== undefined && rd.snapshot.meta.index > 0) this.#installSnapshot(node, rd.snapshot);
    for (const e of rd.committedEntries) this.#apply(node, e);
    for (const rs of rd.readStates) this.#releaseRead(node, rs);
    for (const ctx of rd.droppedReads) node.reads.delete(ctxKey(ctx));
    this.#guard(() => core.advance());
    const st = this.#observe(node);
    this.#afterAdvance(node, st, rd.committedEntries.length > 0 || rd.snapshot !== undefined);
  }

  #recordCommitted(node: SimNode): void {
    const storage = node.storage;
    const hs = storage.hardState;
    const upTo = Math.min(hs.commit, storage.lastIndex());
    const from = Math.max(node.commitRecorded, storage.snapshot().meta.index) + 1;
    for (let i = from; i <= upTo; i++) {
      const t = storage.termOrUndefined(i);
      if (t !== undefined) this.checker.commit(node.id, i, t, hs.term);
    }
    if (upTo > node.commitRecorded) node.commitRecorded = upTo;
  }

  #installSnapshot(node: SimNode, snap: Snapshot): void {
    const d = decodeSnapshotData(snap.data);
    if (d.index !== snap.meta.index) violate('state-machine-safety', `${node.id} got snapshot meta ${snap.meta.index} holding state of ${d.index}`);
    if (d.index <= node.applied) {
      violate('apply-order', `${node.id} was handed a snapshot at ${d.index} but has applied ${node.applied}`);
    }
    this.checker.installSnapshot(node.id, d.index, d.hash);
    node.applied = d.index;
    node.hash = d.hash;
    node.points = [{ index: d.index, confState: snap.meta.confState, hash: d.hash }];
    this.stats.snapshotsInstalled++;
    this.#log(`${node.id} install snapshot ${d.index} ${confString(snap.meta.confState)}`);
  }

  #apply(node: SimNode, e: Entry): void {
    if (e.index !== node.applied + 1) {
      violate('apply-order', `${node.id} applies index ${e.index} after ${node.applied}`);
    }
    if (e.index > node.commit) {
      violate('applied-le-committed', `${node.id} applies index ${e.index} but its commit is ${node.commit}`);
    }
    node.hash = applyHash(node.hash, e);
    node.applied = e.index;
    this.checker.apply(node.id, e, node.hash);
    if (e.index > this.stats.maxApplied) this.stats.maxApplied = e.index;
  }

  #releaseRead(node: SimNode, rs: ReadState): void {
    const key = ctxKey(rs.context);
    const floor = node.reads.get(key);
    if (floor === undefined) {
      this.#log(`${node.id} read ${key} at ${rs.index} (not outstanding here; ignored)`);
      return;
    }
    node.reads.delete(key);
    this.checker.read(node.id, rs.index, floor);
    this.stats.readsReleased++;
    this.#log(`${node.id} read ${key} released at ${rs.index} (floor ${floor})`);
  }

  #afterAdvance(node: SimNode, st: RaftStatus, appliedChanged: boolean): void {
    if (st.applied !== undefined && st.applied !== node.applied && st.applied < node.applied) {
      violate('apply-order', `${node.id} core says applied ${st.applied}, driver applied ${node.applied}`);
    }
    const before = node.conf;
    node.conf = st.confState;
    if (appliedChanged) {
      node.points.push({ index: node.applied, confState: st.confState, hash: node.hash });
      if (node.points.length > 8) node.points.shift();
    }
    if (before !== st.confState) {
      // A removal that some member applied is committed: the removed member is shut down.
      for (const id of before.voters.concat(before.learners)) {
        if (!this.#removing.has(id)) continue;
        if (st.confState.voters.includes(id) || st.confState.learners.includes(id)) continue;
        const gone = this.#nodes.get(id);
        if (gone !== undefined && gone.state !== 'stopped') this.#stop(gone);
      }
    }
    if (st.role === 'leader' && st.term !== node.checkedTerm && node.pending === undefined && !(node.core as RaftCore).hasReady()) {
      node.checkedTerm = st.term;
      this.checker.leaderLog(node.id, st.term, node.storage);
    }
  }

  /** Processes the Readies of every live member, sometimes leaving the persist phase for later. */
  #drive(allowDefer: boolean): boolean {
    let progressed = false;
    const nodes = [...this.#nodes.values()];
    for (let pass = 0; pass < 4; pass++) {
      let any = false;
      // A random starting point varies who goes first without shuffling on every call.
      const start = allowDefer ? this.#rng.int(nodes.length) : 0;
      for (let k = 0; k < nodes.length; k++) {
        const node = nodes[(start + k) % nodes.length] as SimNode;
        if (node.state !== 'up' || node.core === undefined) continue;
        if (node.pending !== undefined) {
          if (!allowDefer || !this.#rng.chance(this.settings.deferPersistRate)) {
            this.#persistAndApply(node);
            any = true;
          }
          continue;
        }
        if (!this.#guard(() => (node.core as RaftCore).hasReady())) continue;
        this.#handOut(node);
        any = true;
        if (!allowDefer || !this.#rng.chance(this.settings.deferPersistRate)) this.#persistAndApply(node);
      }
      if (!any) break;
      progressed = true;
    }
    return progressed;
  }

  #shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.#rng.int(i + 1);
      const t = items[i] as T;
      items[i] = items[j] as T;
      items[j] = t;
    }
    return items;
  }

  #tick(): void {
    this.#now++;
    this.stats.ticks++;
    for (const node of this.#nodes.values()) {
      if (node.state !== 'up') continue;
      // Small clock jitter, except with lease reads, whose safety assumes bounded drift.
      if (this.#faults && !this.settings.leaseReads && this.#rng.chance(0.03)) continue;
      this.#guard(() => node.core?.tick());
      // A false hint about a live leader at tick time (a socket hiccup), so that no message from
      // the leader clears it before the member's own timer acts on it.
      if (this.#faults && this.#hintRng.chance(0.01)) {
        const lead = node.core?.status().leader;
        if (lead !== undefined && lead !== '' && this.#nodes.get(lead)?.state === 'up') {
          this.#log(`connection-lost hint at ${node.id} about its leader ${lead} (false)`);
          this.#guard(() => node.core?.reportConnectionLost(lead));
        }
      }
    }
  }

  // ---------------------------------------------------------------- workload and faults

  #propose(): void {
    const targets = this.#up();
    if (targets.length === 0) return;
    const leader = this.leader();
    const node = leader !== undefined && this.#rng.chance(0.7) ? leader : this.#rng.pick(targets);
    const count = this.#rng.range(1, 4);
    for (let k = 0; k < count; k++) {
      const data = new Uint8Array(9 + this.#rng.int(24));
      data[0] = PAYLOAD_TAG;
      new DataView(data.buffer).setFloat64(1, ++this.#proposalCounter);
      this.stats.proposals++;
      try {
        (node.core as RaftCore).propose(data);
      } catch (err) {
        if (err instanceof ProposalDroppedError) {
          this.stats.droppedProposals++;
          continue;
        }
        this.#guard(() => {
          throw err;
        });
      }
    }
    this.#log(`propose ${count} at ${node.id}`);
  }

  #read(): void {
    const targets = this.#up();
    if (targets.length === 0) return;
    const leader = this.leader();
    const node = leader !== undefined && this.#rng.chance(0.5) ? leader : this.#rng.pick(targets);
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setFloat64(0, ++this.#readCounter);
    const key = ctxKey(ctx);
    node.reads.set(key, this.checker.maxAckedIndex);
    this.stats.reads++;
    this.#log(`readIndex ${key} at ${node.id} floor=${this.checker.maxAckedIndex}`);
    try {
      (node.core as RaftCore).readIndex(ctx);
    } catch (err) {
      node.reads.delete(key);
      if (err instanceof ProposalDroppedError) return;
      this.#guard(() => {
        throw err;
      });
    }
  }

  #confChange(): void {
    const leader = this.leader();
    if (leader === undefined || leader.status === undefined) return;
    const st = leader.status;
    const conf = st.confState;
    const members = this.#options.members ?? 3;
    const minVoters = members <= 3 ? 3 : members - 1;
    const maxVoters = members + 1;
    let cc: { type: 'addLearner' | 'promoteLearner' | 'removeNode'; nodeId: NodeId } | undefined;
    const caughtUp = conf.learners.filter((id) => (st.progress?.[id]?.match ?? 0) >= st.commit);
    if (caughtUp.length > 0 && this.#rng.chance(0.7)) {
      cc = { type: 'promoteLearner', nodeId: this.#rng.pick(caughtUp) };
    } else if (conf.voters.length < maxVoters && conf.learners.length === 0) {
      const reuse = this.#removed.length > 0 && this.#rng.chance(0.6);
      const id = reuse ? this.#rng.pick(this.#removed) : `n${this.#nextNodeNumber++}`;
      this.#prepareJoiner(id);
      cc = { type: 'addLearner', nodeId: id };
    } else if (conf.voters.length > minVoters) {
      const victims = this.#rng.chance(0.2) ? conf.voters : conf.voters.filter((id) => id !== leader.id);
      if (victims.length === 0) return;
      const id = this.#rng.pick(victims);
      this.#removing.add(id);
      cc = { type: 'removeNode', nodeId: id };
    }
    if (cc === undefined) return;
    this.#log(`confChange ${cc.type} ${cc.nodeId} at ${leader.id} (${confString(conf)})`);
    this.stats.confChanges++;
    const change = { ...cc, context: new Uint8Array(0) };
    try {
      (leader.core as RaftCore).proposeConfChange(change);
    } catch (err) {
      if (err instanceof ConfChangeInProgressError || err instanceof ProposalDroppedError) {
        this.#log(`confChange refused: ${(err as Error).message}`);
        if (cc.type === 'removeNode') this.#removing.delete(cc.nodeId);
        return;
      }
      this.#guard(() => {
        throw err;
      });
    }
  }

  /**
   * A joining member with a new id starts empty. A re-added (removed, stopped) id comes back
   * with its old durable storage, like a member that was away: with its vote history intact it
   * is safe. With `rejoinWiped` it comes back with wiped storage instead and the network forgets
   * the old incarnation's in-flight messages — which is unsafe under the same id (see
   * FINDINGS.md F2), so it is off by default.
   */
  #prepareJoiner(id: NodeId): void {
    const existing = this.#nodes.get(id);
    if (existing !== undefined && existing.state !== 'stopped') return;
    this.#removed = this.#removed.filter((x) => x !== id);
    if (existing !== undefined && this.#options.rejoinWiped !== true) {
      this.#start(existing);
      return;
    }
    this.#queue = this.#queue.filter((f) => f.msg.from !== id && f.msg.to !== id);
    const node = new SimNode(id, new SimStorage({ voters: [], learners: [] }));
    this.#nodes.set(id, node);
    this.#start(node);
  }

  #transfer(): void {
    const leader = this.leader();
    if (leader === undefined || leader.status === undefined) return;
    const others = leader.status.confState.voters.filter((id) => id !== leader.id);
    if (others.length === 0) return;
    const to = this.#rng.pick(others);
    this.stats.transfers++;
    this.#log(`transferLeadership ${leader.id} -> ${to}`);
    this.#guard(() => (leader.core as RaftCore).transferLeadership(to));
  }

  #compact(): void {
    const candidates = this.#up().filter((n) => n.points.some((p) => p.index > n.storage.snapshot().meta.index));
    if (candidates.length === 0) return;
    const node = this.#rng.pick(candidates);
    const snapIndex = node.storage.snapshot().meta.index;
    const durableCommit = node.storage.hardState.commit;
    const points = node.points.filter((p) => p.index > snapIndex && p.index <= node.applied && p.index <= durableCommit);
    if (points.length === 0) return;
    const p = this.#rng.pick(points);
    node.storage.compact(p.index, p.confState, encodeSnapshotData(p.index, p.hash));
    this.stats.compactions++;
    this.#log(`${node.id} snapshot+compact at ${p.index} ${confString(p.confState)}`);
  }

  #partition(): void {
    const ids = [...this.#nodes.values()].filter((n) => n.state !== 'stopped').map((n) => n.id);
    if (ids.length < 2) return;
    this.stats.partitions++;
    const kind = this.#rng.int(3);
    if (kind === 0) {
      const shuffled = this.#shuffle([...ids]);
      const cut = this.#rng.range(1, shuffled.length - 1);
      const left = shuffled.slice(0, cut);
      const right = shuffled.slice(cut);
      for (const a of left) {
        for (const b of right) {
          this.#blocked.add(`${a}>${b}`);
          this.#blocked.add(`${b}>${a}`);
        }
      }
      this.#log(`PARTITION [${left.join(',')}] | [${right.join(',')}]`);
    } else if (kind === 1) {
      const leader = this.leader();
      const victim = leader?.id ?? this.#rng.pick(ids);
      for (const b of ids) {
        if (b === victim) continue;
        this.#blocked.add(`${victim}>${b}`);
        this.#blocked.add(`${b}>${victim}`);
      }
      this.#log(`ISOLATE ${victim}`);
    } else {
      const links: string[] = [];
      for (let k = this.#rng.range(1, 3); k > 0; k--) {
        const a = this.#rng.pick(ids);
        const b = this.#rng.pick(ids.filter((x) => x !== a));
        this.#blocked.add(`${a}>${b}`);
        links.push(`${a}>${b}`);
      }
      this.#log(`ONE-WAY block ${links.join(' ')}`);
    }
  }

  #heal(): void {
    this.#blocked.clear();
    this.#log('HEAL network');
  }

  #crashSome(): void {
    const up = this.#up();
    if (up.length <= 1) return;
    const leader = this.leader();
    const node = leader !== undefined && this.#rng.chance(0.4) ? leader : this.#rng.pick(up);
    this.#crash(node);
  }

  #restartSome(): void {
    const down = [...this.#nodes.values()].filter((n) => n.state === 'down' && this.#now - n.downAt >= 2);
    if (down.length === 0) return;
    this.#start(this.#rng.pick(down));
  }

  /**
   * One tick of the virtual clock: every live member ticks, then every message due by now is
   * delivered in random order (delays across ticks and the random order reorder messages), the
   * members' Readies being processed after each delivery.
   */
  #tickAndDeliver(allowDefer: boolean): void {
    this.#tick();
    this.#drive(allowDefer);
    for (let k = 0; ; k++) {
      if (k === MAX_DELIVERIES_PER_TICK) {
        violate('liveness', `message storm: more than ${MAX_DELIVERIES_PER_TICK} deliveries within tick ${this.#now}`);
      }
      if (!this.#deliverOne()) {
        // Nothing due: finish deferred persists only sometimes (they may stay pending across ticks).
        if (!this.#drive(allowDefer) || this.#dueCount() === 0) break;
        continue;
      }
      this.#drive(allowDefer);
    }
  }

  /** One step of the chaos phase: a tick with its deliveries, or one workload or fault event. */
  step(): void {
    this.stats.steps++;
    const fr = this.settings.faultRate;
    if (this.#rng.chance(0.7)) {
      this.#tickAndDeliver(true);
      return;
    }
    const op = this.#rng.next() * 100;
    if (op < 40) this.#propose();
    else if (op < 55) this.#read();
    else if (op < 55 + 4 * fr) this.#confChange();
    else if (op < 60 + 4 * fr) this.#compact();
    else if (op < 62 + 5 * fr) this.#transfer();
    else if (op < 62 + 8 * fr) this.#crashSome();
    else if (op < 62 + 13 * fr) this.#restartSome();
    else if (op < 62 + 16 * fr) this.#partition();
    else if (op < 62 + 19 * fr) this.#heal();
    else this.#propose();
    this.#drive(true);
  }

  /**
   * Heals everything (network, crashed and wrongly stopped members) and runs fault-free until a
   * leader exists and every member of its configuration has applied the same log with the same
   * state hash. Throws a liveness violation when that takes longer than `livenessTicks`.
   */
  settle(): void {
    this.#faults = false;
    this.#blocked.clear();
    this.#log('SETTLE: heal network, restart everyone, no more faults');
    for (const node of this.#nodes.values()) if (node.state === 'down') this.#start(node);
    const limit = this.#options.livenessTicks ?? 1000;
    let proposed = false;
    for (let t = 0; t < limit; t++) {
      this.#tickAndDeliver(false);
      // Members of the current configuration that were stopped by mistake come back.
      const leader = this.leader();
      if (leader === undefined || leader.status === undefined) continue;
      for (const id of leader.status.confState.voters.concat(leader.status.confState.learners)) {
        const n = this.#nodes.get(id);
        if (n !== undefined && n.state !== 'up') this.#start(n);
      }
      if (!proposed) {
        // One fresh write after the heal: it commits only once the leader has a working quorum.
        proposed = true;
        this.#propose();
      }
      if (this.#converged(leader)) {
        this.stats.convergedAfterTicks = t;
        this.#log(`converged after ${t} ticks at index ${leader.applied}`);
        this.checker.leaderLog(leader.id, leader.status.term, leader.storage);
        return;
      }
    }
    violate('liveness', `no convergence ${limit} ticks after healing: ${this.#summary()}`);
  }

  #converged(leader: SimNode): boolean {
    const st = leader.status as RaftStatus;
    if (st.commit !== st.lastIndex || leader.applied !== st.commit) return false;
    for (const id of st.confState.voters.concat(st.confState.learners)) {
      const n = this.#nodes.get(id);
      if (n === undefined || n.state !== 'up') return false;
      if (n.applied !== leader.applied || n.hash !== leader.hash) return false;
    }
    return true;
  }

  #summary(): string {
    const parts: string[] = [];
    for (const n of this.#nodes.values()) {
      const st = n.status;
      parts.push(
        `${n.id}:${n.state}${st ? ` ${st.role} t${st.term} lead=${st.leader || '-'} commit=${st.commit} last=${st.lastIndex} applied=${n.applied} ${confString(st.confState)}` : ''}`,
      );
    }
    return parts.join('; ');
  }

  describeSettings(): string {
    const s = this.settings;
    return `preVote=${s.preVote} checkQuorum=${s.checkQuorum} leaseReads=${s.leaseReads} maxMessageBytes=${s.maxMessageBytes} maxInflight=${s.maxInflightMessages} noForward=${s.disableProposalForwarding} reorder=${s.reorderWithinLink} drop=${s.dropRate} dup=${s.duplicateRate} delay<=${s.maxDelayTicks} deferPersist=${s.deferPersistRate} faults×${s.faultRate}`;
  }
}

/** Runs one seed: the chaos phase, then the liveness phase; never throws. */
export function runSeed(options: SimOptions): SimResult {
  const members = options.members ?? 3;
  let cluster: SimCluster | undefined;
  try {
    cluster = new SimCluster(options);
    if (options.verbose === true) (options.log ?? console.log)(`seed ${options.seed}: ${cluster.describeSettings()}`);
    const steps = options.steps ?? 3000;
    for (let i = 0; i < steps; i++) cluster.step();
    cluster.settle();
    return { seed: options.seed, members, trace: [], stats: cluster.stats, settings: cluster.describeSettings() };
  } catch (err) {
    const violation = err instanceof SimViolation ? err : new SimViolation('core-error', `${(err as Error).name}: ${(err as Error).message}\n${(err as Error).stack ?? ''}`);
    return {
      seed: options.seed,
      members,
      violation,
      trace: cluster?.traceTail() ?? [],
      stats: cluster?.stats ?? emptyStats(),
      settings: cluster?.describeSettings() ?? '',
    };
  }
}

function emptyStats(): SimStats {
  return {
    steps: 0,
    ticks: 0,
    delivered: 0,
    dropped: 0,
    proposals: 0,
    droppedProposals: 0,
    reads: 0,
    readsReleased: 0,
    crashes: 0,
    confChanges: 0,
    compactions: 0,
    snapshotsInstalled: 0,
    transfers: 0,
    partitions: 0,
    leaders: 0,
    maxApplied: 0,
    convergedAfterTicks: -1,
  };
}
