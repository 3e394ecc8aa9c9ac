/**
 * gRPC status codes and the mapping of quorumkv errors onto etcd's gRPC errors: the same code and
 * the same message text as etcd v3.4's `rpctypes` (clients such as etcdctl and clientv3 match on
 * the text to rebuild typed errors, e.g. `etcdserver: requested lease not found`).
 */
import { AuthError, PermissionDeniedError, QuorumError } from '../errors.ts';
import type { AuthErrorReason } from '../errors.ts';

export const Status = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
});

export type StatusCode = (typeof Status)[keyof typeof Status];

/** An error with a gRPC status: what the server sends in `grpc-status` / `grpc-message`. */
export class GrpcError extends QuorumError {
  readonly status: StatusCode;
  constructor(status: StatusCode, message: string, options?: { readonly cause?: unknown }) {
    super(status === Status.INVALID_ARGUMENT ? 'INVALID_ARGUMENT' : 'PROTOCOL', message, status === Status.UNAVAILABLE, options);
    this.status = status;
  }
}

/** etcd's gRPC errors (rpctypes), by the message clients match on. */
export const Etcd = Object.freeze({
  emptyKey: () => new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: key is not provided'),
  keyNotFound: () => new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: key not found'),
  valueProvided: () => new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: value is provided'),
  leaseProvided: () => new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: lease is provided'),
  tooManyOps: () => new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'),
  duplicateKey: () => new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'),
  compacted: () => new GrpcError(Status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'),
  futureRev: () => new GrpcError(Status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'),
  leaseNotFound: () => new GrpcError(Status.NOT_FOUND, 'etcdserver: requested lease not found'),
  leaseExist: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: lease already exists'),
  leaseTtlTooLarge: () => new GrpcError(Status.OUT_OF_RANGE, 'etcdserver: too large lease TTL'),
  memberExist: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: member ID already exist'),
  memberNotFound: () => new GrpcError(Status.NOT_FOUND, 'etcdserver: member not found'),
  memberBadUrls: () => new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid'),
  memberNotLearner: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member'),
  peerUrlExists: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists'),
  learnerNotReady: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member which is in sync with leader'),
  requestTooLarge: () => new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: request is too large'),
  tooManyRequests: () => new GrpcError(Status.RESOURCE_EXHAUSTED, 'etcdserver: too many requests'),
  noLeader: () => new GrpcError(Status.UNAVAILABLE, 'etcdserver: no leader'),
  notLeader: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: not leader'),
  stopped: () => new GrpcError(Status.UNAVAILABLE, 'etcdserver: server stopped'),
  timeout: () => new GrpcError(Status.UNAVAILABLE, 'etcdserver: request timed out'),
  corrupt: () => new GrpcError(Status.DATA_LOSS, 'etcdserver: corrupt cluster'),
  badLeaderTransferee: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: bad leader transferee'),
  unhealthy: () => new GrpcError(Status.UNAVAILABLE, 'etcdserver: unhealthy cluster'),
  userEmpty: () => new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: user name is empty'),
  permissionDenied: () => new GrpcError(Status.PERMISSION_DENIED, 'etcdserver: permission denied'),
  authFailed: () => new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: authentication failed, invalid user ID or password'),
  invalidAuthToken: () => new GrpcError(Status.UNAUTHENTICATED, 'etcdserver: invalid auth token'),
});

/** etcd's gRPC error for each refused auth management request (rpctypes, auth errors). */
const AUTH_ERRORS: Readonly<Record<AuthErrorReason, () => GrpcError>> = Object.freeze({
  userEmpty: () => Etcd.userEmpty(),
  userExists: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: user name already exists'),
  userNotFound: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: user name not found'),
  roleEmpty: () => new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: role name is empty'),
  roleExists: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: role name already exists'),
  roleNotFound: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: role name not found'),
  roleNotGranted: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: role is not granted to the user'),
  permissionNotGranted: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: permission is not granted to the role'),
  rootUserMissing: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: root user does not exist'),
  rootRoleMissing: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: root user does not have root role'),
  notEnabled: () => new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled'),
  invalidManagement: () => new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: invalid auth management'),
  oldRevision: () => new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: revision of auth store is old'),
  limit: () => new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: auth limit reached'),
});

/** The gRPC status of any error a handler threw (a bug becomes UNKNOWN, never a crash). */
export function toGrpcError(err: unknown): GrpcError {
  if (err instanceof GrpcError) return err;
  if (!(err instanceof QuorumError)) {
    const message = err instanceof Error ? err.message : String(err);
    return new GrpcError(Status.UNKNOWN, `quorumkv: internal error: ${message}`, { cause: err });
  }
  switch (err.code) {
    case 'COMPACTED':
      return Etcd.compacted();
    case 'FUTURE_REVISION':
      return Etcd.futureRev();
    case 'LEASE_NOT_FOUND':
    case 'LEASE_EXPIRED':
      return Etcd.leaseNotFound();
    case 'KEY_NOT_FOUND':
      return Etcd.keyNotFound();
    case 'TOO_MANY_OPS':
      return Etcd.tooManyOps();
    case 'DUPLICATE_KEY':
      return Etcd.duplicateKey();
    case 'REQUEST_TOO_LARGE':
      return Etcd.requestTooLarge();
    case 'NO_LEADER':
    case 'UNREACHABLE':
      return Etcd.noLeader();
    case 'NOT_LEADER':
      return Etcd.notLeader();
    case 'PROPOSAL_DROPPED':
      return Etcd.tooManyRequests();
    case 'TIMEOUT':
      return Etcd.timeout();
    case 'ABORTED':
      return new GrpcError(Status.CANCELLED, 'context canceled');
    case 'STOPPED':
      return Etcd.stopped();
    case 'CORRUPTION':
      return Etcd.corrupt();
    case 'MEMBER_NOT_FOUND':
      return Etcd.memberNotFound();
    case 'MEMBER_EXISTS':
      return Etcd.memberExist();
    case 'MEMBER_REMOVED':
      return new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: the member has been permanently removed from the cluster');
    case 'NOT_ENOUGH_STARTED_MEMBERS':
      return new GrpcError(Status.FAILED_PRECONDITION, 'etcdserver: re-configuration failed due to not enough started members');
    case 'LEARNER_NOT_READY':
      return Etcd.learnerNotReady();
    case 'CONF_CHANGE_IN_PROGRESS':
      return new GrpcError(Status.UNAVAILABLE, 'etcdserver: unhealthy cluster');
    case 'UNAUTHENTICATED':
      return Etcd.invalidAuthToken();
    case 'AUTH_FAILED':
      return Etcd.authFailed();
    case 'PERMISSION_DENIED':
      return err instanceof PermissionDeniedError && err.anonymous ? Etcd.userEmpty() : Etcd.permissionDenied();
    case 'AUTH':
      if (err instanceof AuthError && err.reason === 'limit') return new GrpcError(Status.INVALID_ARGUMENT, `etcdserver: ${err.message}`, { cause: err });
      return err instanceof AuthError ? AUTH_ERRORS[err.reason]() : new GrpcError(Status.UNKNOWN, err.message, { cause: err });
    case 'INVALID_ARGUMENT':
      if (/lease .* already exists/.test(err.message)) return Etcd.leaseExist();
      return new GrpcError(Status.INVALID_ARGUMENT, err.message, { cause: err });
    default:
      return new GrpcError(Status.UNKNOWN, err.message, { cause: err });
  }
}

/** `grpc-message` is percent-encoded (the gRPC HTTP/2 spec): everything outside printable ASCII and `%`. */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    if (byte >= 0x20 && byte <= 0x7e && byte !== 0x25) out += String.fromCharCode(byte);
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
