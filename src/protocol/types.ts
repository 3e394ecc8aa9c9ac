/**
 * The data that crosses a boundary: between Raft members (over a transport), between the Raft
 * core and the persistence adapter (on disk), and between the core and the driver.
 *
 * These shapes are shared by `src/raft`, `src/storage`, `src/transport` and `src/node`, and they
 * are FROZEN: the WAL, snapshots and the wire all encode them. A change here is a format change
 * (bump `PROTOCOL_VERSION` / the WAL format version) and must be made by one owner with every
 * reader updated in the same change.
 *
 * Only type-level imports of this module are allowed from `src/raft`, `src/storage` and
 * `src/transport`, so the arrows of docs/design.md ("Layers") still point one way at run time.
 */

/** A member's name, stable across restarts (e.g. `'n1'`). Non-empty, at most 64 UTF-8 bytes. */
export type NodeId = string;

/** Raft term. Starts at 0; a node that has never voted or heard of a leader is at term 0. */
export type Term = number;

/** Position in the replicated log. Index 0 is the empty prefix; the first real entry is 1. */
export type LogIndex = number;

/**
 * Protocol version, checked at the transport handshake: members that would not apply the same
 * entries alike must not form a cluster. 2: plain puts travel in the store's binary command form
 * (src/store/put-codec.ts), which a version-1 member would answer with an error instead of
 * applying — so a version-1 member is refused rather than left to diverge.
 */
export const PROTOCOL_VERSION = 2;

/** Longest member id in UTF-8 bytes. */
export const MAX_NODE_ID_BYTES = 64;

/**
 * `normal` entries carry opaque application commands (`data` may be empty: a new leader appends
 * one empty entry of its term, §5.4.2). `confChange` entries carry an encoded {@link ConfChange}.
 */
export type EntryType = 'normal' | 'confChange';

export interface Entry {
  readonly term: Term;
  readonly index: LogIndex;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be durable before a member votes or acknowledges entries (§5, Figure 2). */
export interface HardState {
  readonly term: Term;
  /** Who this member voted for in `term`; `''` when it has not voted. */
  readonly vote: NodeId;
  /** Highest index known committed. Persisted so a restart need not wait to learn it again. */
  readonly commit: LogIndex;
}

/**
 * Cluster membership. One-at-a-time changes (see README "Membership changes"), so there is a
 * single voter set; learners receive the log but do not vote or count towards quorum.
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export type ConfChangeType = 'addVoter' | 'addLearner' | 'promoteLearner' | 'removeNode';

/**
 * One membership change. `context` is opaque to Raft; the driver stores the new member's peer
 * URL there (msgpack `{ url }`) so every member learns how to reach it when the entry applies.
 */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  readonly context: Uint8Array;
}

export interface SnapshotMeta {
  /** Last log index the snapshot covers (everything up to and including it is applied). */
  readonly index: LogIndex;
  /** Term of the entry at `index`. */
  readonly term: Term;
  /** Membership as of `index`. */
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** Application state at `meta.index`, opaque to Raft (the driver's store + member URLs). */
  readonly data: Uint8Array;
}

/** A snapshot that holds no state: `index` 0 means "none". */
export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({
  meta: Object.freeze({ index: 0, term: 0, confState: Object.freeze({ voters: [], learners: [] }) }),
  data: new Uint8Array(0),
});

/**
 * Every message Raft members exchange. The meaning of the shared numeric fields depends on the
 * type, as in etcd's raftpb.Message:
 *
 * | type | index / logTerm | entries | commit | reject / rejectHint |
 * |---|---|---|---|---|
 * | `append` | index/term of the entry before `entries` | entries | leader commit | — |
 * | `appendResponse` | last index accepted (or rejected probe index) / term hint | — | — | reject, hint = follower's last index or conflict index |
 * | `vote`, `preVote` | candidate's last index / last term | — | — | — |
 * | `voteResponse`, `preVoteResponse` | — | — | — | reject = vote refused |
 * | `heartbeat` | — | — | min(leader commit, follower match) | — ; `context` = ReadIndex round |
 * | `heartbeatResponse` | — | — | — | — ; `context` echoed |
 * | `snapshot` | — | — | — | — ; `snapshot` set |
 * | `snapshotStatus` is not a message: the driver reports snapshot send results locally. | | | | |
 * | `timeoutNow` | — | — | — | — |
 * | `readIndex` | — | — | — | — ; `context` = request id (follower → leader) |
 * | `readIndexResponse` | index = read index | — | — | reject when the leader could not serve |
 * | `propose` | — | entries to append (forwarded by a follower) | — | — |
 */
export type MessageType =
  | 'append'
  | 'appendResponse'
  | 'vote'
  | 'voteResponse'
  | 'preVote'
  | 'preVoteResponse'
  | 'heartbeat'
  | 'heartbeatResponse'
  | 'snapshot'
  | 'timeoutNow'
  | 'readIndex'
  | 'readIndexResponse'
  | 'propose';

export const MESSAGE_TYPES: readonly MessageType[] = Object.freeze([
  'append',
  'appendResponse',
  'vote',
  'voteResponse',
  'preVote',
  'preVoteResponse',
  'heartbeat',
  'heartbeatResponse',
  'snapshot',
  'timeoutNow',
  'readIndex',
  'readIndexResponse',
  'propose',
]);

export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
  readonly logTerm: Term;
  readonly index: LogIndex;
  readonly entries: readonly Entry[];
  readonly commit: LogIndex;
  readonly reject: boolean;
  readonly rejectHint: LogIndex;
  /** Only on `snapshot` messages. */
  readonly snapshot?: Snapshot;
  /** ReadIndex round / request id; opaque bytes, at most 64 bytes. */
  readonly context?: Uint8Array;
}

/**
 * A message between drivers that Raft never sees: lease keep-alives forwarded to the leader,
 * and their replies. `channel` names the handler; `payload` is msgpack, validated by it.
 */
export interface AppMessage {
  readonly type: 'app';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly channel: string;
  readonly payload: Uint8Array;
}

/** What a transport carries. */
export type PeerMessage = Message | AppMessage;

/** A linearizable read point released by Raft: once `appliedIndex >= index`, reads of `context` may proceed. */
export interface ReadState {
  readonly index: LogIndex;
  readonly context: Uint8Array;
}

export type RaftRole = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state the driver reports (`status()`, `on('leader')`). Not persisted. */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: RaftRole;
}
