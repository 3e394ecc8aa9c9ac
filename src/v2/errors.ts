/**
 * etcd v2's error objects: `{ errorCode, message, cause, index }` with etcd's HTTP status for each
 * number. The numbers and messages are etcd's (v2 API "Error Code" list); `index` is the v2 index
 * (docs/v2.md, "One keyspace") at the time of the error. Our own typed errors (src/errors.ts) are
 * translated here so that a v2 client always reads a v2 error.
 */
import { QuorumError } from '../errors.ts';

/** The etcd v2 error numbers this API returns. */
export type V2ErrorCode = 100 | 101 | 102 | 104 | 105 | 107 | 108 | 110 | 200 | 201 | 202 | 203 | 209 | 210 | 300 | 301 | 401;

/** etcd's message for each number (the text etcdctl prints before the cause). */
export const V2_MESSAGES: Readonly<Record<V2ErrorCode, string>> = Object.freeze({
  100: 'Key not found',
  101: 'Compare failed',
  102: 'Not a file',
  104: 'Not a directory',
  105: 'Key already exists',
  107: 'Root is read only',
  108: 'Directory not empty',
  110: 'The request requires user authentication',
  200: 'Value is Required in POST form',
  201: 'PrevValue is Required in POST form',
  202: 'The given TTL in POST form is not a number',
  203: 'The given index in POST form is not a number',
  209: 'Invalid field',
  210: 'Invalid POST form',
  300: 'Raft Internal Error',
  301: 'During Leader Election',
  401: 'The event in requested index is outdated and cleared',
});

/** etcd's HTTP status per number; every other number is 400. */
const STATUS: Readonly<Partial<Record<V2ErrorCode, number>>> = Object.freeze({
  100: 404,
  101: 412,
  102: 403,
  105: 412,
  108: 403,
  110: 401,
  300: 500,
  301: 500,
});

/** A v2 API failure, answered as etcd's error object. `index` is filled in when it is sent. */
export class V2Error extends Error {
  readonly errorCode: V2ErrorCode;
  /** etcd's `cause`: usually the key, or what was wrong with a field. */
  readonly detail: string;
  readonly index: number | undefined;

  constructor(errorCode: V2ErrorCode, detail: string, index?: number, options?: { readonly cause?: unknown }) {
    super(`v2: ${V2_MESSAGES[errorCode]} (${detail})`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'V2Error';
    this.errorCode = errorCode;
    this.detail = detail;
    this.index = index;
  }

  get status(): number {
    return STATUS[this.errorCode] ?? 400;
  }
}

/** Our typed errors as the v2 numbers etcd would answer for the same situation. */
const FROM_CODE: Readonly<Partial<Record<string, V2ErrorCode>>> = Object.freeze({
  KEY_NOT_FOUND: 100,
  CONFLICT: 101,
  KEY_EXISTS: 105,
  INVALID_ARGUMENT: 209,
  NO_LEADER: 301,
  NOT_LEADER: 301,
  UNAUTHENTICATED: 110,
});

/**
 * Any failure as a v2 error. etcd answers whatever its Raft layer refuses (a request too large, a
 * timeout, a stopped member) as 300 "Raft Internal Error" with the reason as the cause.
 */
export function toV2Error(err: unknown): V2Error {
  if (err instanceof V2Error) return err;
  if (err instanceof QuorumError) return new V2Error(FROM_CODE[err.code] ?? 300, err.message, undefined, { cause: err });
  return new V2Error(300, `v2: internal error: ${err instanceof Error ? err.message : String(err)}`, undefined, { cause: err });
}
