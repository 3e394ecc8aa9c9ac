/**
 * The replicated state machine's contract: the commands members apply (in log order) and what
 * reads and watches return. Values are bytes here; the node layer encodes/decodes them with the
 * user's codec. The store knows nothing of Raft: it sees commands and an applied index.
 */
import type { QuorumError, WatchCancelReason } from '../errors.ts';

/** A key's state at one revision. `lease` is 0 when the key has no lease. */
export interface StoredKeyValue {
  readonly key: string;
  readonly value: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  /** 1 on creation, +1 on every put; reset (0) by delete. */
  readonly version: number;
  readonly lease: number;
}

/** `end` is exclusive; `start` without `end` reaches the last key (etcd's from-key). */
export type KeyRange = { readonly key: string } | { readonly prefix: string } | { readonly start: string; readonly end?: string };

export type SortTarget = 'key' | 'createRevision' | 'modRevision' | 'version' | 'value';
export type SortOrder = 'asc' | 'desc';

export interface RangeOptions {
  /** Read at this past revision (0/undefined = current). CompactedError / FutureRevisionError. */
  readonly revision?: number;
  /** At most this many kvs (0/undefined = no limit); `more` tells whether there were more. */
  readonly limit?: number;
  readonly sort?: { readonly by: SortTarget; readonly order?: SortOrder };
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  readonly minCreateRevision?: number;
  readonly maxCreateRevision?: number;
  readonly minModRevision?: number;
  readonly maxModRevision?: number;
}

export interface StoredRangeResult {
  readonly kvs: StoredKeyValue[];
  /** Number of keys in the range (before `limit`). */
  readonly count: number;
  readonly more: boolean;
  /** The store revision the read was served at (the current one, even for past-revision reads, as etcd's header). */
  readonly revision: number;
}

/** Put preconditions (CLI `mk`, `update`, `--swap-with-*`): failures throw typed errors, nothing is written. */
export type Expectation =
  | 'absent' // KeyExistsError when present
  | 'present' // KeyNotFoundError when absent
  | { readonly value: Uint8Array } // ConflictError on mismatch, KeyNotFoundError when absent
  | { readonly modRevision: number } // ConflictError on mismatch, KeyNotFoundError when absent (modRevision 0 = absent)
  | { readonly version: number };

export interface PutRequest {
  readonly key: string;
  readonly value: Uint8Array;
  /** Attach to this lease (0 = none). LeaseNotFoundError if it does not exist. */
  readonly lease?: number;
  readonly prevKv?: boolean;
  /** Keep the current value (KeyNotFoundError if absent). */
  readonly ignoreValue?: boolean;
  /** Keep the current lease (KeyNotFoundError if absent). */
  readonly ignoreLease?: boolean;
  readonly expect?: Expectation;
}

export interface StoredPutResult {
  readonly revision: number;
  readonly prevKv?: StoredKeyValue;
}

export interface DeleteRequest {
  readonly range: KeyRange;
  readonly prevKv?: boolean;
  /** Only for a single-key range: 'present' → KeyNotFoundError; value/modRevision → ConflictError. */
  readonly expect?: Expectation;
}

export interface StoredDeleteResult {
  /** Bumped only when something was deleted; else the current revision. */
  readonly revision: number;
  readonly deleted: number;
  readonly prevKvs?: StoredKeyValue[];
}

export type CompareTarget = 'value' | 'version' | 'createRevision' | 'modRevision' | 'lease';
export type CompareOp = '==' | '!=' | '<' | '>';

/**
 * etcd semantics: over a range, the compare holds only if it holds for every key in it; a missing
 * single key compares with version/createRevision/modRevision/lease 0 and fails value compares.
 */
export interface Compare {
  readonly range: KeyRange;
  readonly target: CompareTarget;
  readonly op: CompareOp;
  readonly value: Uint8Array | number;
}

export type TxnOp =
  | { readonly type: 'put'; readonly request: PutRequest }
  | { readonly type: 'range'; readonly range: KeyRange; readonly options?: RangeOptions }
  | { readonly type: 'delete'; readonly request: DeleteRequest }
  | { readonly type: 'txn'; readonly request: TxnRequest };

export interface TxnRequest {
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

export type TxnOpResult =
  | { readonly type: 'put'; readonly result: StoredPutResult }
  | { readonly type: 'range'; readonly result: StoredRangeResult }
  | { readonly type: 'delete'; readonly result: StoredDeleteResult }
  | { readonly type: 'txn'; readonly result: StoredTxnResult };

export interface StoredTxnResult {
  readonly succeeded: boolean;
  /** One bump for the whole txn if it wrote anything; else the current revision. */
  readonly revision: number;
  readonly results: TxnOpResult[];
}

export interface LeaseInfo {
  readonly id: number;
  /** Granted TTL in ms. */
  readonly ttlMs: number;
  readonly keys: string[];
}

/** A replicated command. Applying one is deterministic: same sequence ⇒ byte-identical store. */
export type Command =
  | { readonly type: 'put'; readonly request: PutRequest }
  | { readonly type: 'delete'; readonly request: DeleteRequest }
  | { readonly type: 'txn'; readonly request: TxnRequest }
  | { readonly type: 'compact'; readonly revision: number }
  | { readonly type: 'leaseGrant'; readonly id: number; readonly ttlMs: number }
  | { readonly type: 'leaseRevoke'; readonly id: number };

export type CommandResult =
  | { readonly type: 'put'; readonly result: StoredPutResult }
  | { readonly type: 'delete'; readonly result: StoredDeleteResult }
  | { readonly type: 'txn'; readonly result: StoredTxnResult }
  | { readonly type: 'compact'; readonly revision: number }
  | { readonly type: 'leaseGrant'; readonly id: number; readonly ttlMs: number }
  | { readonly type: 'leaseRevoke'; readonly id: number; readonly revision: number; readonly deleted: number };

export interface StoredWatchEvent {
  readonly type: 'put' | 'delete';
  /**
   * For a delete: key, modRevision = the deleting revision, version 0, empty value, and lease 0
   * — or the id of the lease whose end (expiry or revoke) deleted the key.
   */
  readonly kv: StoredKeyValue;
  readonly prevKv?: StoredKeyValue;
}

export interface WatchOptions {
  /**
   * First revision to deliver. Omitted: the revision after the current one ("from now", see
   * docs/design.md, "Known pitfalls"). At or below the compact revision: the watcher is cancelled with 'compacted'.
   */
  readonly startRevision?: number;
  readonly prevKv?: boolean;
  readonly noPut?: boolean;
  readonly noDelete?: boolean;
  /** Events buffered for this watcher before it is cancelled as 'slow'. @default 10_000 */
  readonly maxBufferedEvents?: number;
  /** Called synchronously (inside apply or `watch()`) whenever `next()` has something new. */
  readonly onReady: () => void;
}

export type WatchResponse =
  /** All events of one or more whole revisions, in revision order; `revision` = last one's. */
  | { readonly kind: 'events'; readonly events: StoredWatchEvent[]; readonly revision: number }
  /** Nothing for this watcher up to `revision` (sent on `requestProgress()`). */
  | { readonly kind: 'progress'; readonly revision: number }
  /** Terminal. `compactRevision` is set when reason is 'compacted'. */
  | {
      readonly kind: 'cancelled';
      readonly reason: WatchCancelReason;
      readonly error: QuorumError;
      readonly compactRevision?: number;
    };

export interface Watcher {
  readonly id: number;
  /**
   * The next response, or undefined when nothing is buffered. While the watcher is still catching
   * up from history, each call replays the next bounded chunk of past revisions.
   */
  next(): WatchResponse | undefined;
  /** Queue a 'progress' response at the current revision once the watcher is caught up. */
  requestProgress(): void;
  cancel(): void;
  /** Events buffered and not taken by next() yet (metrics). */
  readonly bufferedEvents: number;
}

export interface StoreLimits {
  /** @default 1.5 MiB */
  readonly maxRequestBytes?: number;
  /** @default 128 */
  readonly maxTxnOps?: number;
  /** Longest key in UTF-8 bytes. @default 8192 */
  readonly maxKeyBytes?: number;
}
