/**
 * The member's metrics: plain numbers and fixed-bucket histograms, bumped where things happen
 * (a leader change, a WAL sync, a frame to a peer) and read only when someone asks
 * (`node.metrics()`, `/metrics`, a prom-client registry). Nothing here allocates per request: a
 * counter is a number, a histogram a preallocated Float64Array, a peer's counters an object made
 * once per peer. The event-loop delay monitor starts on the first read, so a member nobody
 * observes pays for nothing but a few additions. docs/observability.md lists every metric.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { IntervalHistogram } from 'node:perf_hooks';
import type { NodeId } from '../protocol/types.ts';
import type { RaftStatus } from '../raft/types.ts';
import type { PeerTrafficObserver } from '../transport/types.ts';

/** `count` observations of at most `le` seconds (cumulative, Prometheus' shape). */
export interface HistogramBucket {
  readonly le: number;
  readonly count: number;
}

export interface HistogramSnapshot {
  /** Cumulative buckets in increasing `le`; the last one is `+Inf` (count = `count`). */
  readonly buckets: readonly HistogramBucket[];
  /** Sum of every observation, in seconds. */
  readonly sumSeconds: number;
  readonly count: number;
}

export interface PeerMetrics {
  /** Bytes of frames written to this peer's connection. */
  readonly sentBytes: number;
  /** Bytes of frames read from this peer's connection. */
  readonly receivedBytes: number;
  /** WebSocket ping → pong time to this peer. */
  readonly roundTrip: HistogramSnapshot;
}

/** What `node.metrics()` returns: a plain snapshot of this member's metrics at one moment. */
export interface MetricsSnapshot {
  readonly id: NodeId;
  readonly hasLeader: boolean;
  readonly isLeader: boolean;
  readonly isLearner: boolean;
  readonly term: number;
  /** Leader changes this member saw since it started. */
  readonly leaderChangesSeen: number;
  /** The commit index (etcd's proposals_committed_total). */
  readonly proposalsCommitted: number;
  /** The applied index (etcd's proposals_applied_total). */
  readonly proposalsApplied: number;
  /** Writes proposed through this member and not answered yet. */
  readonly proposalsPending: number;
  /** Writes through this member that were dropped (queue full) or timed out. */
  readonly proposalsFailed: number;
  /** Ready batches whose apply took longer than {@link SLOW_APPLY_MS}. */
  readonly slowApplies: number;
  /** Durable WAL writes (one per saved batch; the write with O_DSYNC, else write + fdatasync). */
  readonly walFsync: HistogramSnapshot;
  /** Encoding and writing one periodic snapshot. */
  readonly snapshotDuration: HistogramSnapshot;
  /** Per peer: bytes both ways and round-trip times (the ws transport; empty for others). */
  readonly peers: Readonly<Record<NodeId, PeerMetrics>>;
  /** Bytes of the last snapshot this member wrote plus entries applied since (what its storage holds). */
  readonly dbSizeBytes: number;
  /** Keys in the store, tombstoned ones whose history is not compacted included. */
  readonly keys: number;
  readonly leases: number;
  /** Open `node.watch()` handles on this member. */
  readonly watches: number;
  /** Events delivered by the store and not yet consumed, over every open watch. */
  readonly watchBufferedEvents: number;
  /** On the leader: per learner, committed entries it has not replicated yet. Empty elsewhere. */
  readonly learnerLag: Readonly<Record<NodeId, number>>;
  /** On the leader: per other member (voter or learner), committed entries it has not replicated yet. Empty elsewhere. */
  readonly memberLag: Readonly<Record<NodeId, number>>;
  /** Reads (`get`, `range`) served by this member since it started. */
  readonly readsServed: number;
  /** Event-loop delay since metrics were first read, in seconds (perf_hooks). */
  readonly eventLoopDelay: { readonly maxSeconds: number; readonly p99Seconds: number; readonly meanSeconds: number };
}

/** What the driver and node know at read time; the rest is counted in {@link NodeMetrics}. */
export interface MetricsReading
  extends Pick<MetricsSnapshot, 'id' | 'term' | 'proposalsPending' | 'dbSizeBytes' | 'keys' | 'leases' | 'watches' | 'watchBufferedEvents' | 'learnerLag' | 'memberLag'> {
  readonly leader: NodeId;
  readonly role: string;
  readonly learner: boolean;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

/**
 * On the leader (the only member that tracks what others replicated): per other member, and per
 * learner, the committed entries it has not replicated yet. Empty elsewhere.
 */
export function replicationLag(st: RaftStatus, self: NodeId): { memberLag: Record<NodeId, number>; learnerLag: Record<NodeId, number> } {
  const memberLag: Record<NodeId, number> = {};
  const learnerLag: Record<NodeId, number> = {};
  if (st.progress === undefined) return { memberLag, learnerLag };
  for (const id of [...st.confState.voters, ...st.confState.learners]) {
    if (id !== self) memberLag[id] = Math.max(0, st.commit - (st.progress[id]?.match ?? 0));
  }
  for (const learner of st.confState.learners) learnerLag[learner] = memberLag[learner] ?? 0;
  return { memberLag, learnerLag };
}

/** An apply batch slower than this counts as slow (etcd's default warning-apply-duration). */
export const SLOW_APPLY_MS = 100;

/** `count` boundaries `start`, `start·factor`, … (Prometheus' ExponentialBuckets). */
function exponentialBounds(start: number, factor: number, count: number): readonly number[] {
  return Object.freeze(Array.from({ length: count }, (_, i) => start * factor ** i));
}

/** etcd's WAL fsync and snapshot save buckets: 1 ms … 8.192 s. */
export const DISK_BUCKETS_SECONDS = exponentialBounds(0.001, 2, 14);
/** etcd's peer round-trip buckets: 0.1 ms … 0.8192 s. */
export const ROUND_TRIP_BUCKETS_SECONDS = exponentialBounds(0.0001, 2, 14);

/** A fixed-bucket histogram; observe() allocates nothing. */
export class Histogram {
  readonly #bounds: readonly number[];
  /** Per bucket (not cumulative); the last slot counts observations above every bound. */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    this.#counts[i]! += 1;
    this.#sum += seconds;
    this.#count += 1;
  }

  snapshot(): HistogramSnapshot {
    const buckets: HistogramBucket[] = [];
    let cumulative = 0;
    for (let i = 0; i <= this.#bounds.length; i++) {
      cumulative += this.#counts[i]!;
      buckets.push({ le: this.#bounds[i] ?? Number.POSITIVE_INFINITY, count: cumulative });
    }
    return { buckets, sumSeconds: this.#sum, count: this.#count };
  }
}

class PeerCounters {
  sentBytes = 0;
  receivedBytes = 0;
  readonly roundTrip = new Histogram(ROUND_TRIP_BUCKETS_SECONDS);
}

/** The counters of one member. The driver, its storage and its transport write into it. */
export class NodeMetrics {
  leaderChangesSeen = 0;
  proposalsFailed = 0;
  readsServed = 0;
  slowApplies = 0;
  readonly walFsync = new Histogram(DISK_BUCKETS_SECONDS);
  readonly snapshotDuration = new Histogram(DISK_BUCKETS_SECONDS);
  readonly #peers = new Map<NodeId, PeerCounters>();
  #loopDelay: IntervalHistogram | undefined;
  #closed = false;

  /** For the file storage's `onWalSync`: one durable WAL write took `seconds`. */
  readonly onWalSync = (seconds: number): void => this.walFsync.observe(seconds);

  /** For the ws transport's `observer`. */
  readonly peerTraffic: PeerTrafficObserver = Object.freeze({
    sent: (peer: NodeId, bytes: number): void => {
      this.#peer(peer).sentBytes += bytes;
    },
    received: (peer: NodeId, bytes: number): void => {
      this.#peer(peer).receivedBytes += bytes;
    },
    roundTrip: (peer: NodeId, seconds: number): void => this.#peer(peer).roundTrip.observe(seconds),
  });

  #peer(id: NodeId): PeerCounters {
    let p = this.#peers.get(id);
    if (p === undefined) this.#peers.set(id, (p = new PeerCounters()));
    return p;
  }

  /** Stops the event-loop delay monitor (the member stopped); later reads report zeros for it. */
  close(): void {
    this.#closed = true;
    this.#loopDelay?.disable();
    this.#loopDelay = undefined;
  }

  #eventLoopDelay(): MetricsSnapshot['eventLoopDelay'] {
    if (this.#loopDelay === undefined && !this.#closed) {
      // Started on the first read: a member whose metrics nobody reads runs no monitor.
      this.#loopDelay = monitorEventLoopDelay({ resolution: 10 });
      this.#loopDelay.enable();
    }
    const h = this.#loopDelay;
    if (h === undefined || h.count === 0) return { maxSeconds: 0, p99Seconds: 0, meanSeconds: 0 };
    return { maxSeconds: h.max / 1e9, p99Seconds: h.percentile(99) / 1e9, meanSeconds: h.mean / 1e9 };
  }

  snapshot(r: MetricsReading): MetricsSnapshot {
    const peers: Record<NodeId, PeerMetrics> = {};
    for (const [id, p] of this.#peers) peers[id] = { sentBytes: p.sentBytes, receivedBytes: p.receivedBytes, roundTrip: p.roundTrip.snapshot() };
    return {
      id: r.id,
      hasLeader: r.leader !== '',
      isLeader: r.role === 'leader',
      isLearner: r.learner,
      term: r.term,
      leaderChangesSeen: this.leaderChangesSeen,
      proposalsCommitted: r.commitIndex,
      proposalsApplied: r.appliedIndex,
      proposalsPending: r.proposalsPending,
      proposalsFailed: this.proposalsFailed,
      slowApplies: this.slowApplies,
      walFsync: this.walFsync.snapshot(),
      snapshotDuration: this.snapshotDuration.snapshot(),
      peers,
      dbSizeBytes: r.dbSizeBytes,
      keys: r.keys,
      leases: r.leases,
      watches: r.watches,
      watchBufferedEvents: r.watchBufferedEvents,
      learnerLag: r.learnerLag,
      memberLag: r.memberLag,
      readsServed: this.readsServed,
      eventLoopDelay: this.#eventLoopDelay(),
    };
  }
}
