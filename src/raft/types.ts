/**
 * The Raft core's contract with its driver (src/node). The core is a pure, synchronous state
 * machine in the style of etcd-io/raft's RawNode: the driver feeds it ticks, messages and
 * proposals, then drains a {@link Ready} batch and calls `advance()`.
 */
import type {
  ConfState,
  Entry,
  HardState,
  LogIndex,
  Message,
  NodeId,
  RaftRole,
  ReadState,
  Snapshot,
  SoftState,
  Term,
} from '../protocol/types.ts';

/**
 * The durable log as the core reads it. The driver's storage implements it: every entry and
 * hard state handed out in a `Ready` becomes visible here once the driver has persisted it.
 * Reads are synchronous (the persisted suffix since the last snapshot is kept in memory).
 */
export interface LogStorage {
  /** Persisted hard state and the membership of the latest snapshot (the core replays conf changes after it). */
  initialState(): { readonly hardState: HardState; readonly confState: ConfState };
  /**
   * First index whose entry is available: at most snapshot index + 1. Entries kept behind the
   * snapshot (for slow followers) must be the log that produced it: a leader serves them instead
   * of the snapshot, so a snapshot not built by applying the log (a restored backup) keeps none.
   */
  firstIndex(): LogIndex;
  /** Last persisted index (the snapshot index when the log after it is empty). */
  lastIndex(): LogIndex;
  /**
   * Term of the entry at `index`, for `firstIndex() - 1 <= index <= lastIndex()` (the snapshot's own
   * index answers with the snapshot term). Throws {@link LogCompactedError} below that range and
   * {@link LogUnavailableError} above it.
   */
  term(index: LogIndex): Term;
  /**
   * Entries in `[lo, hi)`, stopping early once their data exceeds `maxBytes` — but always at least
   * one entry when the range is non-empty. Same errors as `term`.
   */
  entries(lo: LogIndex, hi: LogIndex, maxBytes: number): Entry[];
  /** The latest snapshot (index 0 when there is none). */
  snapshot(): Snapshot;
}

/** Thrown by {@link LogStorage} for an index at or below the compaction point. */
export class LogCompactedError extends Error {
  constructor(index: LogIndex) {
    super(`raft: log index ${index} is compacted`);
    this.name = 'LogCompactedError';
  }
}

/** Thrown by {@link LogStorage} for an index past the last persisted entry. */
export class LogUnavailableError extends Error {
  constructor(index: LogIndex) {
    super(`raft: log index ${index} is unavailable`);
    this.name = 'LogUnavailableError';
  }
}

export interface RaftLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface RaftConfig {
  /** This member's id; must be in the voters or learners of the storage's conf state to vote/lead. */
  readonly id: NodeId;
  readonly storage: LogStorage;
  /** Injected randomness in [0, 1); used only for the randomized election timeout. */
  readonly random: () => number;
  /**
   * Ticks without hearing from a leader before a follower starts an election; the actual timeout
   * is drawn from [electionTicks, 2 × electionTicks).
   * @default 10
   */
  readonly electionTicks?: number;
  /** Ticks between leader heartbeats. Must be less than `electionTicks`. @default 1 */
  readonly heartbeatTicks?: number;
  /** Run a pre-vote round before incrementing the term (thesis §9.6). @default true */
  readonly preVote?: boolean;
  /** A leader that has not heard from a quorum within an election timeout steps down. @default true */
  readonly checkQuorum?: boolean;
  /** Serve ReadIndex from the leader lease instead of a heartbeat round. Requires `checkQuorum`. @default false */
  readonly leaseReads?: boolean;
  /** Index already applied by the state machine (the snapshot index on restart). @default 0 */
  readonly applied?: LogIndex;
  /** Bytes of entry data in one `append` message. @default 1 MiB */
  readonly maxMessageBytes?: number;
  /** Append messages in flight to one follower in replicate state. @default 256 */
  readonly maxInflightMessages?: number;
  /** Bytes of entry data in flight to one follower. @default 32 MiB */
  readonly maxInflightBytes?: number;
  /** Bytes of entry data the leader holds uncommitted before refusing proposals. @default 64 MiB */
  readonly maxUncommittedBytes?: number;
  /** Bytes of committed entries handed out in one Ready. @default 16 MiB */
  readonly maxCommittedBytesPerReady?: number;
  /** Followers drop proposals instead of forwarding them to the leader. @default false */
  readonly disableProposalForwarding?: boolean;
  readonly logger?: RaftLogger;
}

/**
 * One batch of work for the driver, handed out by `ready()`. The driver must, in this order:
 * 1. send `messages` (they do not depend on this batch being durable);
 * 2. persist `snapshot`, `entries` and `hardState` with one fsync (when `mustSync`);
 * 3. send `messagesAfterPersist` (votes, append acks: they promise durability);
 * 4. apply `snapshot`, then `committedEntries` in order, and release `readStates` once applied
 *    reaches their index;
 * 5. call `advance()`.
 */
export interface Ready {
  /** Present when leader or role changed since the last Ready. */
  readonly softState?: SoftState;
  /** Present when term, vote or commit changed; must be persisted. */
  readonly hardState?: HardState;
  /** Entries to append to durable storage; they may overwrite a conflicting suffix. */
  readonly entries: readonly Entry[];
  /** Snapshot received from the leader, to persist and then apply (replaces the state machine). */
  readonly snapshot?: Snapshot;
  readonly messages: readonly Message[];
  readonly messagesAfterPersist: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  /** Contexts of `readIndex` requests that failed (lost leadership, leader refused): retry or fail them. */
  readonly droppedReads: readonly Uint8Array[];
  /** Whether `hardState`/`entries`/`snapshot` need an fsync before `messagesAfterPersist` go out. */
  readonly mustSync: boolean;
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export interface ProgressStatus {
  readonly match: LogIndex;
  readonly next: LogIndex;
  readonly state: ProgressState;
  readonly learner: boolean;
  readonly recentActive: boolean;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: RaftRole;
  readonly term: Term;
  readonly vote: NodeId;
  readonly leader: NodeId;
  readonly commit: LogIndex;
  readonly applied: LogIndex;
  readonly lastIndex: LogIndex;
  readonly confState: ConfState;
  /** Only on the leader. */
  readonly progress?: Readonly<Record<NodeId, ProgressStatus>>;
  /** Target of an ongoing leadership transfer, `''` when none. */
  readonly leadTransferee: NodeId;
}
