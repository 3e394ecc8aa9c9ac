/**
 * Waiting one's turn in a line of keys ordered by create revision — the core shared by the lock,
 * the RW lock and the election (etcd `concurrency` style). A participant creates one key under the
 * line's prefix, attached to its session's lease; it is first in line when no older key remains.
 * It watches only its blocker (the key just before it that it must outlive), so a release wakes
 * one waiter, not all of them.
 */
import { LockLostError } from '../errors.ts';
import { cmp, op } from '../index.ts';
import type { KeyValue, QuorumNode, RangeResult } from '../index.ts';
import type { Session } from './session.ts';
import { abortError, isTransient, sleep, waitForDelete, waitForEvent, withAbortReason } from './util.ts';

/** What a participant's turn check found at one revision. */
export interface TurnCheck {
  /** Whether the participant's own key still exists with its create revision. */
  readonly mine: boolean;
  /** The key to wait for, if any (the nearest older key that blocks this participant). */
  readonly blocker?: string;
  /** Or: wait for any deletion under this prefix (semaphores, where no single key is the blocker). */
  readonly waitPrefix?: string;
  /** Revision the check read at; the blocker is watched from the next one. */
  readonly revision: number;
}

export interface Entered {
  readonly key: string;
  readonly createRevision: number;
  /** True when the key already existed (resumed with the same lease). */
  readonly resumed: boolean;
  /** The first key of `ownerPrefix` by create revision at the entry revision, when asked for. */
  readonly owner?: KeyValue<unknown>;
  readonly revision: number;
}

/**
 * Creates `key` = value attached to the session's lease if it does not exist yet, in one txn that
 * also reads the current owner (oldest key under `ownerPrefix`) — so an uncontended acquire is a
 * single round trip. An existing key (same lease) is resumed with its original create revision.
 */
export async function enterLine(node: QuorumNode, session: Session, key: string, value: unknown, ownerPrefix: string, signal?: AbortSignal): Promise<Entered> {
  const ownerRead = op.range({ prefix: ownerPrefix }, { sort: { by: 'createRevision', order: 'asc' }, limit: 1 });
  const res = await node
    .txn()
    .if(cmp.createRevision(key, '==', 0))
    .then(op.put(key, value, { lease: session.leaseId }), ownerRead)
    .else(op.get(key), ownerRead)
    // No signal on the write: an aborted write has an unknown outcome and could leave our key behind.
    .commit();
  if (signal?.aborted === true) {
    await leaveLine(node, session, key, undefined);
    throw abortError(signal, 'enter');
  }
  const owner = (res.results[1] as RangeResult<unknown> | undefined)?.kvs[0];
  if (res.succeeded) {
    return { key, createRevision: res.revision, resumed: false, revision: res.revision, ...(owner === undefined ? {} : { owner }) };
  }
  const existing = (res.results[0] as RangeResult<unknown> | undefined)?.kvs[0];
  if (existing === undefined) throw new LockLostError(`recipes: ${key} vanished while entering the line`);
  if (existing.lease !== session.leaseId) {
    throw new LockLostError(`recipes: ${key} exists under lease ${existing.lease ?? 0}, not this session's ${session.leaseId}`);
  }
  return { key, createRevision: existing.createRevision, resumed: true, revision: res.revision, ...(owner === undefined ? {} : { owner }) };
}

/**
 * The default turn check: first in line when no key of `prefix` is older than ours. Reads the two
 * newest keys created at or before our create revision: the first must be ours (else our lease
 * is gone — etcd #11456: never become owner after the session expired), the second is our blocker.
 */
export async function checkPredecessor(node: QuorumNode, prefix: string, key: string, createRevision: number, signal: AbortSignal): Promise<TurnCheck> {
  const res = await node.range(
    { prefix },
    { maxCreateRevision: createRevision, sort: { by: 'createRevision', order: 'desc' }, limit: 2, keysOnly: true, signal },
  );
  const first = res.kvs[0];
  const mine = first !== undefined && first.key === key && first.createRevision === createRevision;
  const blocker = res.kvs[1]?.key;
  return { mine, revision: res.revision, ...(blocker === undefined ? {} : { blocker }) };
}

/**
 * Loops: check, and if blocked, wait for the blocker's deletion (watching that one key only).
 * Resolves when the check finds our key alive and nothing blocking; rejects with `LockLostError`
 * if our key is gone, or with the abort reason.
 */
export async function awaitTurn(node: QuorumNode, session: Session, check: (signal: AbortSignal) => Promise<TurnCheck>, signal: AbortSignal): Promise<void> {
  for (;;) {
    if (signal.aborted) throw abortError(signal, 'wait');
    const state = await withAbortReason(signal, 'wait', () => check(signal));
    if (!state.mine || session.isLost) throw new LockLostError(`recipes: session ${session.leaseId} lost its place in line (lease expired or key deleted)`);
    if (state.blocker !== undefined) await waitForDelete(node, state.blocker, state.revision, signal);
    else if (state.waitPrefix !== undefined) await waitForEvent(node, { prefix: state.waitPrefix }, state.revision, signal, 'delete');
    else return;
  }
}

/** Attempts to take our key out of the line before leaving it to the session's end. */
export const LEAVE_LINE_ATTEMPTS = 5;
/** Pause before the first retry of a failed leave, doubled each time, in ms. */
const LEAVE_LINE_RETRY_MS = 50;

/**
 * Takes a participant that gives up (abort, timeout, failure) out of the line: deletes its key,
 * guarded by `createRevision` when known, else by its lease. A delete that fails for a passing
 * reason (no leader, timeout) is retried: on a shared session nothing else would ever remove the
 * key, and it would block everyone behind it until the session ends. Never throws.
 */
export async function leaveLine(node: QuorumNode, session: Session, key: string, createRevision: number | undefined): Promise<void> {
  for (let attempt = 1, delayMs = LEAVE_LINE_RETRY_MS; session.isOpen; attempt++, delayMs *= 2) {
    try {
      if (createRevision === undefined) await deleteIfLeased(node, key, session.leaseId);
      else await deleteIfOwned(node, key, createRevision);
      return;
    } catch (err) {
      if (attempt >= LEAVE_LINE_ATTEMPTS || !isTransient(err)) return;
      await sleep(delayMs);
    }
  }
}

/**
 * Removes our key after a failed entry whose outcome is unknown (the entry txn timed out): the key
 * name embeds our lease and this session claims it in-process, so a key under our lease is ours.
 */
export async function deleteIfLeased(node: QuorumNode, key: string, leaseId: number): Promise<void> {
  await node.txn().if(cmp.lease(key, '==', leaseId)).then(op.delete(key)).commit();
}

/** Deletes `key` only if it still has `createRevision`: a stale call can never delete a newer key. */
export async function deleteIfOwned(node: QuorumNode, key: string, createRevision: number): Promise<boolean> {
  const res = await node.txn().if(cmp.createRevision(key, '==', createRevision)).then(op.delete(key)).commit();
  return res.succeeded;
}
