/**
 * CLI failures and exit codes. Exit codes follow etcdctl v2's (`ExitBadArgs` … `ExitClusterNotHealthy`),
 * and key errors print exactly as etcdctl v2 does: `Error:  100: Key not found (/a) [5]` — the
 * etcd v2 error number, its message, the cause (usually the key) and the index (our revision).
 */

export const EXIT_SUCCESS = 0;
/** Unknown command or flag, missing or malformed argument. */
export const EXIT_BAD_ARGS = 1;
/** No endpoint could be reached. */
export const EXIT_BAD_CONNECTION = 2;
/** The endpoint refused our token or certificate. */
export const EXIT_BAD_AUTH = 3;
/** The cluster answered with an error (key not found, already exists, not empty, …). */
export const EXIT_SERVER_ERROR = 4;
/** `endpoint health` found an unhealthy endpoint. */
export const EXIT_CLUSTER_NOT_HEALTHY = 5;
/** A standalone member stopped because it was removed from the cluster (a fatal error exits 4). */
export const EXIT_MEMBER_REMOVED = 6;

/** etcd v2's messages for its error numbers. */
export const V2_MESSAGES: Readonly<Record<number, string>> = Object.freeze({
  100: 'Key not found',
  101: 'Compare failed',
  102: 'Not a file',
  104: 'Not a directory',
  105: 'Key already exists',
  108: 'Directory not empty',
  209: 'Invalid field',
  300: 'Raft Internal Error',
  301: 'During Leader Election',
});

export class CliError extends Error {
  readonly exitCode: number;
  /** etcd v2 error number, when the failure has one. */
  readonly errorCode: number | undefined;
  readonly cause2: string | undefined;
  readonly index: number | undefined;
  /** Our error code (src/errors.ts) as the endpoint reported it. */
  readonly code: string | undefined;

  constructor(message: string, exitCode: number, extra: { errorCode?: number; cause?: string; index?: number; code?: string } = {}) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.errorCode = extra.errorCode;
    this.cause2 = extra.cause;
    this.index = extra.index;
    this.code = extra.code;
  }

  /** A v2 key error: `Error:  100: Key not found (/a) [5]`. */
  static v2(errorCode: number, cause: string, index: number | undefined): CliError {
    const message = V2_MESSAGES[errorCode] ?? 'Error';
    return new CliError(message, EXIT_SERVER_ERROR, index === undefined ? { errorCode, cause } : { errorCode, cause, index });
  }

  /** The one line printed on stderr. */
  line(): string {
    if (this.errorCode === undefined) return `Error:  ${this.message}`;
    const cause = this.cause2 === undefined ? '' : ` (${this.cause2})`;
    const index = this.index === undefined ? '' : ` [${this.index}]`;
    return `Error:  ${this.errorCode}: ${this.message}${cause}${index}`;
  }

  /** The `--json` form, etcd v2's error body. */
  json(): Record<string, string | number> {
    const out: Record<string, string | number> = { message: this.message };
    if (this.errorCode !== undefined) out['errorCode'] = this.errorCode;
    if (this.cause2 !== undefined) out['cause'] = this.cause2;
    if (this.index !== undefined) out['index'] = this.index;
    if (this.code !== undefined) out['code'] = this.code;
    return out;
  }
}
