// The operations a nemesis run records and the checkers read: one entry per client call, with the
// wall-clock interval it was outstanding and its outcome. Not a test file.

/** A register write or read on one key. */
export type RegisterInput = { readonly f: 'put'; readonly key: string; readonly value: string } | { readonly f: 'get'; readonly key: string };

/** A CAS counter: a read, or `txn(value == from) → put to`. */
export type CounterInput = { readonly f: 'read'; readonly key: string } | { readonly f: 'cas'; readonly key: string; readonly from: number; readonly to: number };

/** One txn over a small key set: reads `reads` (before its writes), then puts every key of `writes`. */
export interface MultiInput {
  readonly f: 'txn';
  readonly reads: readonly string[];
  readonly writes: Readonly<Record<string, string>>;
}

export type OpInput = RegisterInput | CounterInput | MultiInput;

/**
 * What a completed call returned: a read's value (`null` for an absent key), a CAS's
 * `succeeded`, a txn's read values by key; `undefined` for a write that only acknowledges.
 */
export type OpOutput = string | number | boolean | null | Readonly<Record<string, string | null>> | undefined;

/**
 * One client call. `status: 'unknown'` is a call whose outcome nobody knows (timed out, failed
 * on a broken connection, or its process was killed): it may have taken effect at any time after
 * `invokeMs`, or never, so the checkers give it no end.
 */
export interface HistoryOp {
  /** Unique in the run. */
  readonly id: number;
  /** The client (process incarnation and client name) that issued it. */
  readonly process: string;
  readonly input: OpInput;
  readonly invokeMs: number;
  /** When the call returned; absent for `unknown`. */
  readonly completeMs?: number;
  readonly status: 'ok' | 'unknown';
  readonly output?: OpOutput;
}

/** The key a single-key op touches (registers and counters partition by it). */
export function opKey(input: RegisterInput | CounterInput): string {
  return input.key;
}
