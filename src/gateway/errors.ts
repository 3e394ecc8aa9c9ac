/**
 * Every failure leaves the endpoint as `{ error, code, message }` JSON with an HTTP status: `code`
 * is our stable error code (src/errors.ts), `error` and `message` the human text (etcd's gateway
 * has both), plus `errorCode` (etcd v2 number) where one exists and `index` (the member's
 * revision when known) so the CLI can print `Error:  100: Key not found (/a) [5]`. Errors that
 * are not ours (bugs) become code `INTERNAL` with status 500 and never crash the process.
 */
import { ETCD_V2_CODES, QuorumError } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';
import type { JsonObject } from './types.ts';

const STATUS: Readonly<Partial<Record<ErrorCode, number>>> = Object.freeze({
  INVALID_ARGUMENT: 400,
  DUPLICATE_KEY: 400,
  TOO_MANY_OPS: 400,
  PROTOCOL: 400,
  COMPACTED: 400,
  FUTURE_REVISION: 400,
  UNAUTHENTICATED: 401,
  AUTH: 400,
  AUTH_FAILED: 400,
  PERMISSION_DENIED: 403,
  KEY_NOT_FOUND: 404,
  LEASE_NOT_FOUND: 404,
  MEMBER_NOT_FOUND: 404,
  KEY_EXISTS: 409,
  CONFLICT: 409,
  MEMBER_EXISTS: 409,
  MEMBER_REMOVED: 409,
  LEARNER_NOT_READY: 412,
  NOT_ENOUGH_STARTED_MEMBERS: 412,
  DIR_NOT_EMPTY: 409,
  NOT_A_FILE: 409,
  NOT_A_DIR: 409,
  REQUEST_TOO_LARGE: 413,
  LEASE_EXPIRED: 404,
  ABORTED: 499,
  NO_LEADER: 503,
  NOT_LEADER: 503,
  PROPOSAL_DROPPED: 503,
  CONF_CHANGE_IN_PROGRESS: 503,
  UNREACHABLE: 503,
  STOPPED: 503,
  TIMEOUT: 504,
});

/** A request the router itself rejects (unknown path, wrong method): not a QuorumError code. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, code: ErrorCode, message: string, headers: Readonly<Record<string, string>> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export interface ErrorReply {
  readonly status: number;
  readonly body: JsonObject;
  readonly headers: Readonly<Record<string, string>>;
}

export function errorReply(err: unknown, revision: number | undefined): ErrorReply {
  if (err instanceof HttpError) {
    return { status: err.status, body: { error: err.message, code: err.code, message: err.message }, headers: err.headers };
  }
  if (err instanceof QuorumError) {
    const body: JsonObject = { error: err.message, code: err.code, message: err.message };
    const v2 = ETCD_V2_CODES[err.code];
    if (v2 !== undefined) body['errorCode'] = v2;
    if (revision !== undefined) body['index'] = revision;
    if (err.retryable) body['retryable'] = true;
    return { status: STATUS[err.code] ?? 500, body, headers: {} };
  }
  const message = `gateway: internal error: ${err instanceof Error ? err.message : String(err)}`;
  return { status: 500, body: { error: message, code: 'INTERNAL', message }, headers: {} };
}
