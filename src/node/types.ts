/**
 * The public types of the node API (docs/design.md, "Public contract"). Values are typed `T` here; the store below
 * holds bytes and the node encodes/decodes them with the configured {@link ValueCodec}.
 */
import type { NodeId, RaftRole } from '../protocol/types.ts';
import type { CompareOp, CompareTarget, KeyRange, RangeOptions, SortOrder, SortTarget } from '../store/types.ts';

export type { KeyRange, SortOrder, SortTarget, CompareOp, CompareTarget };

/** Every call takes these as its last argument. */
export interface CallOptions {
  /** Aborts the wait; the call rejects with `AbortedError` (a write's outcome is then unknown). */
  readonly signal?: AbortSignal;
  /** Bound on the whole call in ms. @default the node's `requestTimeoutMs` */
  readonly timeoutMs?: number;
  /**
   * For client adapters (docs/auth.md): the auth revision at which the caller's permissions were
   * checked. A write then applies only if auth is disabled or unchanged since, else it fails with
   * `AuthError` reason `oldRevision` (etcd's "revision of auth store is old"). @default unchecked
   */
  readonly authRevision?: number;
}

/** Options of `compact()`. */
export interface CompactOptions extends CallOptions {
  /**
   * Resolve only once this member has freed the history the compaction drops (etcd's
   * `physical`); by default the call resolves when the compaction is applied, and the history is
   * freed in the background, in slices. Reads below the revision fail from the start either way.
   */
  readonly physical?: boolean;
}

/** A key's state at one revision, with the value decoded. `lease` is absent when the key has no lease. */
export interface KeyValue<T> {
  readonly key: string;
  readonly value: T;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease?: number;
}

export interface PutResult<T> {
  readonly revision: number;
  readonly prevKv?: KeyValue<T>;
}

export interface DeleteResult<T> {
  readonly revision: number;
  readonly deleted: number;
  readonly prevKvs?: KeyValue<T>[];
}

export interface RangeResult<T> {
  readonly kvs: KeyValue<T>[];
  readonly count: number;
  readonly more: boolean;
  readonly revision: number;
}

export type TxnOpResultValue<T> = RangeResult<T> | PutResult<T> | DeleteResult<T> | TxnResult<T>;

export interface TxnResult<T> {
  readonly succeeded: boolean;
  readonly revision: number;
  readonly results: TxnOpResultValue<T>[];
}

/** A `delete` event's kv has the key, modRevision = the deleting revision, version 0 and value `undefined`. */
export interface WatchEvent<T> {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue<T>;
  readonly prevKv?: KeyValue<T>;
  readonly revision: number;
  /** A delete made by the end of this lease (it expired or was revoked), not by a delete request. */
  readonly endedLease?: number;
}

/** Linearizable (default) goes through ReadIndex; serializable reads local state at once. */
export type Consistency = 'linearizable' | 'serializable';

/** Put/delete preconditions (`mk`, CAS). */
export type Expect<T = unknown> =
  | 'absent'
  | 'present'
  | { readonly value: T }
  | { readonly modRevision: number }
  | { readonly version: number };

export interface PutOptions<T = unknown> extends CallOptions {
  /** Attach the key to this lease. */
  readonly lease?: number;
  /** Sugar: grant a fresh lease of this TTL and attach the key to it (one lease per put). */
  readonly ttlMs?: number;
  readonly prevKv?: boolean;
  readonly ignoreValue?: boolean;
  readonly ignoreLease?: boolean;
  readonly expect?: Expect<T>;
}

export interface GetOptions extends CallOptions {
  readonly revision?: number;
  /** @default 'linearizable' */
  readonly consistency?: Consistency;
}

/** `get`'s options plus the store's range options (limit, sort, keysOnly, countOnly, revision filters). */
export interface RangeCallOptions extends GetOptions, Omit<RangeOptions, 'revision'> {}

export interface DeleteOptions<T = unknown> extends CallOptions {
  readonly prevKv?: boolean;
  readonly expect?: Expect<T>;
}

export interface WatchCallOptions {
  /** First revision delivered. Omitted: the revision after the current one ("from now"). */
  readonly startRevision?: number;
  readonly prevKv?: boolean;
  readonly noPut?: boolean;
  readonly noDelete?: boolean;
  /** Emit a `progress` event every `progressIntervalMs` while idle. @default false */
  readonly progressNotify?: boolean;
  /** Events buffered before the watch is cancelled as slow. @default the node's `maxWatchBufferedEvents` */
  readonly maxBufferedEvents?: number;
  readonly signal?: AbortSignal;
}

export interface LeaseTimeToLive {
  /** Remaining ms as known by this member (exact on the leader; granted TTL elsewhere). */
  readonly ttlMs: number;
  readonly grantedTtlMs: number;
  readonly keys: string[];
}

export interface LeaseInfo {
  readonly id: number;
  readonly ttlMs: number;
}

/**
 * A member as the cluster's replicated state holds it. `id` is the Raft id; `name` is what the
 * member published (etcd's `--name`), the id while it has published none, and `''` for a member
 * added without a name that has not started yet (etcd lists it as unstarted).
 */
export interface Member {
  readonly id: NodeId;
  readonly name: string;
  /** The peer URL members dial (the first of `peerUrls`; `''` when unknown). */
  readonly url: string;
  /** Every peer URL of the member (at most MAX_MEMBER_URLS). */
  readonly peerUrls: readonly string[];
  /** The client URLs the member published (empty until it has). */
  readonly clientUrls: readonly string[];
  readonly learner: boolean;
}

export interface NodeStatus {
  readonly id: NodeId;
  readonly role: RaftRole;
  readonly term: number;
  /** `''` when no leader is known. */
  readonly leader: NodeId;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly revision: number;
  readonly compactRevision: number;
  readonly members: Member[];
}

export interface NodeEvents {
  leader: (info: { readonly leader: NodeId; readonly term: number }) => void;
  role: (info: { readonly role: RaftRole; readonly term: number }) => void;
  /** A membership change applied; `update` is a member's peer URLs changing (`url` is the new one). */
  member: (info: { readonly type: 'add' | 'promote' | 'remove' | 'update'; readonly id: NodeId; readonly url: string; readonly learner: boolean }) => void;
  error: (err: Error) => void;
  /** Emitted once, after the member has stopped (storage closed), with why it stopped. */
  close: (event: CloseEvent) => void;
}

/**
 * Why a member stopped: `closed` — the app called `close()`; `removed` — a committed
 * configuration change removed it from the cluster; `fatal` — a failed storage write or a broken
 * invariant stopped it (`error` says which). The standalone member exits non-zero on the last two.
 */
export type CloseEvent =
  | { readonly reason: 'closed' }
  | { readonly reason: 'removed' }
  | { readonly reason: 'fatal'; readonly error: Error };

/** How far a long operation (`backup()`, `snapshotBytes()`) has got, in bytes. */
export interface Progress {
  readonly bytes: number;
  /** The total, once it is known. */
  readonly totalBytes?: number;
}

export interface ProgressOptions extends CallOptions {
  /** Called as the operation advances (synchronously: keep it cheap); an exception from it is ignored. */
  readonly onProgress?: (progress: Progress) => void;
}

/** Values ⇄ bytes. The default is msgpackr (structured values, strings, Uint8Array). */
export interface ValueCodec {
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

/**
 * pino-compatible subset. A logger with `child` (pino's) is given the member's id as a binding:
 * the node logs through `logger.child({ member: id })`, so every line names its member.
 */
export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  child?(bindings: Record<string, unknown>): Logger;
}
