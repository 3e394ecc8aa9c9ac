/**
 * One helper for every call's `signal` / `timeoutMs`: registers a pending operation, and rejects it
 * with the operation's own timeout error or `AbortedError`, running its cleanup exactly once.
 */
import { AbortedError, InvalidArgumentError, QuorumError } from '../errors.ts';
import type { CallOptions } from './types.ts';

export function timeoutOf(options: CallOptions | undefined, fallbackMs: number): number {
  const t = options?.timeoutMs;
  if (t === undefined) return fallbackMs;
  if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) throw new InvalidArgumentError('node: timeoutMs must be a positive number');
  return t;
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
    let done = false;
    let cancel: () => void = () => {};
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const onAbort = (): void => {
      if (!finish()) return;
      cancel();
      reject(new AbortedError());
    };
    const timer = setTimeout(() => {
      if (!finish()) return;
      cancel();
      reject(onTimeout());
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      cancel = register(
        (value) => {
          if (finish()) resolve(value);
        },
        (err) => {
          if (finish()) reject(err);
        },
      );
    } catch (err) {
      if (finish()) reject(err);
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
