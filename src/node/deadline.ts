/**
 * One helper for every call's `signal` / `timeoutMs`: registers a pending operation, and rejects it
 * with the operation's own timeout error or `AbortedError`, running its cleanup exactly once.
 */
import { nodeAssert as assert } from '../assert.ts';
import { AbortedError, InvalidArgumentError, QuorumError } from '../errors.ts';
import type { CallOptions } from './types.ts';

/** Only a call's own options (signal, timeoutMs), dropping whatever else an options object carries. */
export function callOf(options: CallOptions | undefined): CallOptions {
  if (options === undefined) return {};
  const out: { signal?: AbortSignal; timeoutMs?: number } = {};
  if (options.signal !== undefined) out.signal = options.signal;
  if (options.timeoutMs !== undefined) out.timeoutMs = options.timeoutMs;
  return out;
}

export function timeoutOf(options: CallOptions | undefined, fallbackMs: number): number {
  const t = options?.timeoutMs;
  if (t === undefined) return fallbackMs;
  if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) throw new InvalidArgumentError('node: timeoutMs must be a positive number');
  return t;
}

/**
 * One pending call: settles once, by its operation, its deadline or its signal. A class rather
 * than closures because one is created for every request on the hot path; proposals.ts extends it
 * for writes (its own timeout error and bookkeeping, no onTimeout closure per write).
 */
export class DeadlineCall<T> {
  done = false;
  timer: NodeJS.Timeout | undefined;
  cancel: (() => void) | undefined;
  readonly signal: AbortSignal | undefined;
  readonly #onTimeout: (() => QuorumError) | undefined;
  readonly resolveCall: (value: T) => void;
  readonly rejectCall: (err: unknown) => void;

  constructor(signal: AbortSignal | undefined, onTimeout: (() => QuorumError) | undefined, resolve: (value: T) => void, reject: (err: unknown) => void) {
    this.signal = signal;
    this.#onTimeout = onTimeout;
    this.resolveCall = resolve;
    this.rejectCall = reject;
  }

  /** The error a call that ran out of time rejects with (a subclass without `onTimeout` overrides it). */
  timeoutError(): QuorumError {
    assert(this.#onTimeout !== undefined, 'a deadline call without a timeout error');
    return this.#onTimeout();
  }

  /** Runs once when the call settles, whichever way (for a subclass's bookkeeping). */
  protected finished(): void {}

  #finish(): boolean {
    if (this.done) return false;
    this.done = true;
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this);
    this.finished();
    return true;
  }

  resolve(value: T): void {
    if (this.#finish()) this.resolveCall(value);
  }

  reject(err: unknown): void {
    if (this.#finish()) this.rejectCall(err);
  }

  /** The deadline or the signal won: cancel the operation. */
  #lose(err: QuorumError): void {
    if (!this.#finish()) return;
    this.cancel?.();
    this.rejectCall(err);
  }

  static fire<U>(call: DeadlineCall<U>): void {
    call.#lose(call.timeoutError());
  }

  /** AbortSignal listener (EventListenerObject: no closure per call). */
  handleEvent(): void {
    this.#lose(new AbortedError());
  }
}

/**
 * `register(resolve, reject)` starts the operation and returns its cancel function, called when
 * the deadline or the signal wins (not when the operation settles by itself).
 */
export function withDeadline<T>(
  options: CallOptions | undefined,
  fallbackMs: number,
  onTimeout: () => QuorumError,
  register: (resolve: (value: T) => void, reject: (err: QuorumError) => void) => () => void,
): Promise<T> {
  let timeoutMs: number;
  try {
    timeoutMs = timeoutOf(options, fallbackMs);
  } catch (err) {
    return Promise.reject(err);
  }
  const signal = options?.signal;
  if (signal?.aborted === true) return Promise.reject(new AbortedError());
  return new Promise<T>((resolve, reject) => {
    const call = new DeadlineCall<T>(signal, onTimeout, resolve, reject);
    call.timer = setTimeout(DeadlineCall.fire, timeoutMs, call);
    signal?.addEventListener('abort', call, { once: true });
    try {
      call.cancel = register(
        (value) => call.resolve(value),
        (err) => call.reject(err),
      );
    } catch (err) {
      call.reject(err);
    }
  });
}

/** Resolves after `ms` or rejects on abort. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(new AbortedError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortedError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
