/**
 * Every error quorumkv returns on purpose. Each class has a stable `code` (match on it, not on
 * the message), a message prefixed with the layer that raised it, and `retryable` as data.
 * Programmer errors (broken invariants) are assertions and are never thrown through this module.
 */

export type ErrorCode =
  | 'KEY_NOT_FOUND'
  | 'KEY_EXISTS'
  | 'CONFLICT'
  | 'DIR_NOT_EMPTY'
  | 'NOT_A_FILE'
  | 'NOT_A_DIR'
  | 'COMPACTED'
  | 'FUTURE_REVISION'
  | 'LEASE_NOT_FOUND'
  | 'LEASE_EXPIRED'
  | 'NO_LEADER'
  | 'NOT_LEADER'
  | 'PROPOSAL_DROPPED'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'REQUEST_TOO_LARGE'
  | 'TOO_MANY_OPS'
  | 'DUPLICATE_KEY'
  | 'INVALID_ARGUMENT'
  | 'STOPPED'
  | 'CORRUPTION'
  | 'STORAGE'
  | 'LOCKED'
  | 'WATCH_CANCELLED'
  | 'MEMBER_NOT_FOUND'
  | 'MEMBER_EXISTS'
  | 'CONF_CHANGE_IN_PROGRESS'
  | 'UNREACHABLE'
  | 'PROTOCOL'
  | 'UNAUTHENTICATED'
  | 'LOCK_LOST'
  | 'MEMBER_REMOVED'
  | 'AUTH'
  | 'AUTH_FAILED'
  | 'PERMISSION_DENIED'
  | 'LEARNER_NOT_READY'
  | 'NOT_ENOUGH_STARTED_MEMBERS';

/** etcd v2 numeric error codes, shown by the CLI as `Error:  100: Key not found (/a) [5]`. */
export const ETCD_V2_CODES: Readonly<Partial<Record<ErrorCode, number>>> = Object.freeze({
  KEY_NOT_FOUND: 100,
  CONFLICT: 101,
  NOT_A_FILE: 102,
  NOT_A_DIR: 104,
  KEY_EXISTS: 105,
  DIR_NOT_EMPTY: 108,
  INVALID_ARGUMENT: 209,
  NO_LEADER: 300,
  TIMEOUT: 301,
});

export interface QuorumErrorOptions {
  readonly cause?: unknown;
}

export class QuorumError extends Error {
  readonly code: ErrorCode;
  /** True when the same request may succeed if sent again later (no leader yet, overloaded). */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, retryable = false, options?: QuorumErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
  }
}

export function isQuorumError(err: unknown): err is QuorumError {
  return err instanceof QuorumError;
}

/** Whether sending the same request again may succeed. Unknown errors are not retryable. */
export function isRetryable(err: unknown): boolean {
  return err instanceof QuorumError && err.retryable;
}

export class KeyNotFoundError extends QuorumError {
  readonly key: string;
  constructor(key: string, options?: QuorumErrorOptions) {
    super('KEY_NOT_FOUND', `mvcc: key not found (${key})`, false, options);
    this.key = key;
  }
}

export class KeyExistsError extends QuorumError {
  readonly key: string;
  constructor(key: string, options?: QuorumErrorOptions) {
    super('KEY_EXISTS', `mvcc: key already exists (${key})`, false, options);
    this.key = key;
  }
}

export class ConflictError extends QuorumError {
  readonly key: string;
  constructor(key: string, detail: string, options?: QuorumErrorOptions) {
    super('CONFLICT', `mvcc: compare failed (${key}): ${detail}`, false, options);
    this.key = key;
  }
}

export class NotEmptyError extends QuorumError {
  readonly key: string;
  constructor(key: string, options?: QuorumErrorOptions) {
    super('DIR_NOT_EMPTY', `mvcc: directory not empty (${key})`, false, options);
    this.key = key;
  }
}

export class CompactedError extends QuorumError {
  readonly compactRevision: number;
  constructor(requested: number, compactRevision: number, options?: QuorumErrorOptions) {
    super(
      'COMPACTED',
      `mvcc: required revision ${requested} has been compacted (compact revision ${compactRevision})`,
      false,
      options,
    );
    this.compactRevision = compactRevision;
  }
}

export class FutureRevisionError extends QuorumError {
  readonly currentRevision: number;
  constructor(requested: number, currentRevision: number, options?: QuorumErrorOptions) {
    super('FUTURE_REVISION', `mvcc: required revision ${requested} is a future revision (current ${currentRevision})`, false, options);
    this.currentRevision = currentRevision;
  }
}

export class LeaseNotFoundError extends QuorumError {
  readonly leaseId: number;
  constructor(leaseId: number, options?: QuorumErrorOptions) {
    super('LEASE_NOT_FOUND', `lease: lease ${leaseId} not found`, false, options);
    this.leaseId = leaseId;
  }
}

export class NoLeaderError extends QuorumError {
  constructor(message = 'raft: no leader', options?: QuorumErrorOptions) {
    super('NO_LEADER', message, true, options);
  }
}

export class NotLeaderError extends QuorumError {
  readonly leader: string;
  constructor(leader: string, options?: QuorumErrorOptions) {
    super('NOT_LEADER', `raft: not the leader${leader ? ` (leader is ${leader})` : ''}`, true, options);
    this.leader = leader;
  }
}

export class ProposalDroppedError extends QuorumError {
  constructor(reason: string, options?: QuorumErrorOptions) {
    super('PROPOSAL_DROPPED', `raft: proposal dropped: ${reason}`, true, options);
  }
}

/** The outcome is unknown: the write may or may not have been applied. */
export class TimeoutError extends QuorumError {
  constructor(message = 'node: request timed out; the outcome is unknown', options?: QuorumErrorOptions) {
    super('TIMEOUT', message, true, options);
  }
}

export class AbortedError extends QuorumError {
  constructor(message = 'node: request aborted', options?: QuorumErrorOptions) {
    super('ABORTED', message, false, options);
  }
}

export class RequestTooLargeError extends QuorumError {
  readonly sizeBytes: number;
  readonly limitBytes: number;
  constructor(what: string, sizeBytes: number, limitBytes: number, options?: QuorumErrorOptions) {
    super('REQUEST_TOO_LARGE', `${what} is ${sizeBytes} bytes, over the limit of ${limitBytes} bytes`, false, options);
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
  }
}

export class TooManyOpsError extends QuorumError {
  constructor(count: number, limit: number, options?: QuorumErrorOptions) {
    super('TOO_MANY_OPS', `mvcc: txn has ${count} operations, over the limit of ${limit}`, false, options);
  }
}

export class DuplicateKeyError extends QuorumError {
  readonly key: string;
  constructor(key: string, options?: QuorumErrorOptions) {
    super('DUPLICATE_KEY', `mvcc: duplicate key given in txn request (${key})`, false, options);
    this.key = key;
  }
}

export class InvalidArgumentError extends QuorumError {
  constructor(message: string, options?: QuorumErrorOptions) {
    super('INVALID_ARGUMENT', message, false, options);
  }
}

export class StoppedError extends QuorumError {
  constructor(message = 'node: stopped', options?: QuorumErrorOptions) {
    super('STOPPED', message, false, options);
  }
}

export class CorruptionError extends QuorumError {
  readonly file: string;
  readonly offset: number;
  constructor(file: string, offset: number, detail: string, options?: QuorumErrorOptions) {
    super('CORRUPTION', `storage: corruption in ${file} at offset ${offset}: ${detail}`, false, options);
    this.file = file;
    this.offset = offset;
  }
}

/** A write or fsync failed: the member must stop (fail-stop), never retry blindly. */
export class StorageError extends QuorumError {
  constructor(message: string, options?: QuorumErrorOptions) {
    super('STORAGE', message, false, options);
  }
}

export class LockedError extends QuorumError {
  readonly dir: string;
  constructor(dir: string, holder: string, options?: QuorumErrorOptions) {
    super('LOCKED', `storage: data dir ${dir} is locked by another process (${holder})`, false, options);
    this.dir = dir;
  }
}

export type WatchCancelReason = 'slow' | 'compacted' | 'closed' | 'aborted';

export class WatchCancelledError extends QuorumError {
  readonly reason: WatchCancelReason;
  constructor(reason: WatchCancelReason, message: string, options?: QuorumErrorOptions) {
    super('WATCH_CANCELLED', `watch: cancelled (${reason}): ${message}`, reason === 'slow', options);
    this.reason = reason;
  }
}

export class MemberNotFoundError extends QuorumError {
  constructor(id: string, options?: QuorumErrorOptions) {
    super('MEMBER_NOT_FOUND', `cluster: member ${id} not found`, false, options);
  }
}

export class MemberExistsError extends QuorumError {
  constructor(id: string, options?: QuorumErrorOptions) {
    super('MEMBER_EXISTS', `cluster: member ${id} already exists`, false, options);
  }
}

export class ConfChangeInProgressError extends QuorumError {
  constructor(options?: QuorumErrorOptions) {
    super('CONF_CHANGE_IN_PROGRESS', 'raft: a membership change is already in progress', true, options);
  }
}

export class UnreachableError extends QuorumError {
  constructor(message: string, options?: QuorumErrorOptions) {
    super('UNREACHABLE', message, true, options);
  }
}

/** A peer or client sent bytes that do not decode to a valid message. */
export class ProtocolError extends QuorumError {
  constructor(message: string, options?: QuorumErrorOptions) {
    super('PROTOCOL', message, false, options);
  }
}

export class UnauthenticatedError extends QuorumError {
  constructor(message: string, options?: QuorumErrorOptions) {
    super('UNAUTHENTICATED', message, false, options);
  }
}

export class LockLostError extends QuorumError {
  constructor(message: string, options?: QuorumErrorOptions) {
    super('LOCK_LOST', message, false, options);
  }
}

/**
 * A member id that was removed from the cluster can never join again (etcd's `IsIDRemoved`): its
 * old incarnation's votes and log may still count in some member's stale configuration, so a
 * fresh member under that id could help elect a leader that lacks committed entries. Use a new id.
 */
export class MemberRemovedError extends QuorumError {
  constructor(id: string, options?: QuorumErrorOptions) {
    super('MEMBER_REMOVED', `cluster: member id ${id} was removed and cannot be reused; add the member under a new id`, false, options);
  }
}

/**
 * Why an auth management request was refused (docs/auth.md); each reason is one of etcd's auth
 * errors, which the gRPC adapter sends with etcd's code and text.
 */
export type AuthErrorReason =
  | 'userEmpty'
  | 'userExists'
  | 'userNotFound'
  | 'roleEmpty'
  | 'roleExists'
  | 'roleNotFound'
  | 'roleNotGranted'
  | 'permissionNotGranted'
  | 'rootUserMissing'
  | 'rootRoleMissing'
  | 'notEnabled'
  | 'invalidManagement'
  | 'oldRevision'
  | 'limit';

export class AuthError extends QuorumError {
  readonly reason: AuthErrorReason;
  constructor(reason: AuthErrorReason, message: string, options?: QuorumErrorOptions) {
    super('AUTH', `auth: ${message}`, false, options);
    this.reason = reason;
  }
}

/** A user name and password that do not match (or a user without a password). */
export class AuthFailedError extends QuorumError {
  constructor(options?: QuorumErrorOptions) {
    super('AUTH_FAILED', 'auth: authentication failed, invalid user ID or password', false, options);
  }
}

/** The authenticated user (or nobody, with auth enabled) may not do what was asked. */
export class PermissionDeniedError extends QuorumError {
  /** True when no user was given at all (etcd: "user name is empty"). */
  readonly anonymous: boolean;
  constructor(anonymous: boolean, message = anonymous ? 'auth: user name is empty' : 'auth: permission denied', options?: QuorumErrorOptions) {
    super('PERMISSION_DENIED', message, false, options);
    this.anonymous = anonymous;
  }
}

/**
 * A learner whose log is too far behind the leader's to be promoted yet (etcd's "in sync with
 * leader": its match index below 90 % of the leader's). Retry once it has caught up.
 */
export class LearnerNotReadyError extends QuorumError {
  constructor(id: string, options?: QuorumErrorOptions) {
    super('LEARNER_NOT_READY', `cluster: learner ${id} is not in sync with the leader yet`, true, options);
  }
}

/**
 * A change that would give the cluster more voters than its started members can make a quorum of
 * (etcd's strict reconfiguration check): a voter added by MemberAdd counts as not started until
 * it has published its name. Start the added members first, or add learners.
 */
export class NotEnoughStartedMembersError extends QuorumError {
  constructor(started: number, voters: number, options?: QuorumErrorOptions) {
    super('NOT_ENOUGH_STARTED_MEMBERS', `cluster: ${started} started members cannot make a quorum of ${voters} voters`, true, options);
  }
}
