/**
 * Small helpers the recipes share: signal composition (user signal + timeout + session), typed
 * abort reasons, and "wait until this key is deleted" on top of the node's watch.
 */
import { AbortedError, CompactedError, InvalidArgumentError, QuorumError, TimeoutError, WatchCancelledError } from '../errors.ts';
import type { QuorumNode } from '../node/node.ts';

/** Options every blocking recipe call takes. */
export interface WaitOptions {
  /** Aborts the wait; the call rejects with the signal's reason if it is a QuorumError, else `AbortedError`. */
  readonly signal?: AbortSignal;
  /** Gives up after this many ms with `TimeoutError`. @default no limit */
  readonly timeoutMs?: number;
}

/** A key with the revision it was created at: what `cmp.owns()` checks inside a txn. */
export interface Holder {
  readonly key: string;
  readonly createRevision: number;
}

/** The error a wait rejects with once `signal` is aborted. */
export function abortError(signal: AbortSignal, what: string): QuorumError {
  const reason: unknown = signal.reason;
  if (reason instanceof QuorumError) return reason;
  return new AbortedError(`recipes: ${what} aborted`, { cause: reason });
}

/**
 * One signal that aborts when any input aborts or `timeoutMs` passes. The timeout's reason is a
 * `TimeoutError` naming `what`. `dispose()` clears the timer.
 */
export function composeSignal(
  what: string,
  signals: readonly (AbortSignal | undefined)[],
  timeoutMs?: number,
): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const cleanups: (() => void)[] = [];
  const abort = (reason: unknown): void => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  for (const s of signals) {
    if (s === undefined) continue;
    if (s.aborted) {
      abort(s.reason);
      break;
    }
    const onAbort = (): void => abort(s.reason);
    s.addEventListener('abort', onAbort, { once: true });
    cleanups.push(() => s.removeEventListener('abort', onAbort));
  }
  if (timeoutMs !== undefined) {
    if (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) throw new InvalidArgumentError(`recipes: ${what}: timeoutMs must be a finite number >= 0`);
    const timer = setTimeout(() => abort(new TimeoutError(`recipes: ${what} did not complete within ${timeoutMs} ms`)), timeoutMs);
    cleanups.push(() => clearTimeout(timer));
  }
  return {
    signal: controller.signal,
    dispose: () => {
      for (const c of cleanups) c();
    },
  };
}

/**
 * Runs `call` (a node request given `signal`); if it fails because `signal` aborted, rejects with
 * the signal's typed reason instead — the node rejects an aborted request with a plain
 * `AbortedError`, which would hide a `TimeoutError` (timeoutMs) or `LockLostError` (session lost).
 */
export async function withAbortReason<T>(signal: AbortSignal, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (signal.aborted) throw abortError(signal, what);
    throw err;
  }
}

/** Resolves after `ms`, or rejects when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal, 'sleep'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal as AbortSignal, 'sleep'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Resolves once `key` is deleted at a revision after `afterRevision` (or when the watch cannot
 * tell any more because that history was compacted: the caller re-reads the state either way).
 * Rejects with the abort reason when `signal` aborts. Watches one key only: no thundering herd.
 */
export async function waitForDelete(node: QuorumNode, key: string, afterRevision: number, signal: AbortSignal): Promise<void> {
  return waitForEvent(node, { key }, afterRevision, signal, 'delete');
}

/** Resolves on the first event of `type` in `range` after `afterRevision` (see {@link waitForDelete}). */
export async function waitForEvent(
  node: QuorumNode,
  range: { readonly key: string } | { readonly prefix: string },
  afterRevision: number,
  signal: AbortSignal,
  type: 'put' | 'delete',
): Promise<void> {
  if (signal.aborted) throw abortError(signal, 'wait');
  const watch = node.watch(range, {
    startRevision: afterRevision + 1,
    ...(type === 'delete' ? { noPut: true } : { noDelete: true }),
    signal,
  });
  try {
    for await (const ev of watch) {
      if (ev.type === type) return;
    }
  } catch (err) {
    if (signal.aborted) throw abortError(signal, 'wait');
    // A compacted start revision means the event may have happened in the compacted history:
    // the caller re-reads the current state, which is the ground truth anyway.
    if (err instanceof CompactedError) return;
    if (err instanceof WatchCancelledError && err.reason === 'compacted') return;
    throw err;
  } finally {
    watch.close();
  }
  // The iterator ended without an error: only an abort may end a watch quietly.
  if (signal.aborted) throw abortError(signal, 'wait');
}

/** `name` with exactly one trailing `/`: the prefix the recipe's keys live under. */
export function prefixOf(name: string, what: string): string {
  if (typeof name !== 'string' || name.length === 0 || name === '/') throw new InvalidArgumentError(`recipes: ${what} name must be a non-empty string`);
  return name.endsWith('/') ? name : `${name}/`;
}

/** Lease ids are rendered in hex in recipe keys, like etcd's `%x`. */
export function leaseHex(leaseId: number): string {
  return leaseId.toString(16);
}

/** Errors a background loop may retry after a pause (no leader yet, request timed out). */
export function isTransient(err: unknown): boolean {
  return err instanceof QuorumError && err.retryable;
}
