/**
 * Waiting one's turn in a line of keys ordered by create revision — the core shared by the lock,
 * the RW lock and the election (etcd `concurrency` style). A participant creates one key under the
 * line's prefix, attached to its session's lease; it is first in line when no older key remains.
 * It watches only its blocker (the key just before it that it must outlive), so a release wakes
 * one waiter, not all of them.
 */
import { LockLostError } from '../errors.ts';
import { cmp, op } from '../node/txn-builder.ts';
import type { QuorumNode } from '../node/node.ts';
import type { RangeResult, TxnResult } from '../node/types.ts';
import type { Session } from './session.ts';
import { recipesAssert as assert } from '../assert.ts';
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
  /**
   * Number of keys under `ownerPrefix` right after our key was created, in the same txn — every one
   * of them is as old as ours or older, so this alone says whether anyone is ahead of us (for a
   * mutex: `1` = only our own key). Undefined for a resumed key: keys created after ours would be
   * counted too, so the caller runs its turn check instead.
   */
  readonly ownerCount?: number;
  readonly revision: number;
}

/**
 * Creates `key` = value attached to the session's lease if it does not exist yet, in one txn that
 * also counts the keys under `ownerPrefix` (a count, not a sorted read: right after our create,
 * every other key there is older than ours, so the count alone says whether anyone is ahead of us)
 * — an uncontended acquire is a single round trip. An existing key (same lease) is resumed with
 * its original create revision; the else branch only reads it (a resume is rare, and a smaller
 * command is cheaper for every entry).
 */
export function enterLine(node: QuorumNode, session: Session, key: string, value: unknown, ownerPrefix: string, signal?: AbortSignal): Promise<Entered> {
  // Not async: the txn's promise is continued directly (with 1,000 locks in flight, each extra
  // async frame stays alive across a replication round trip).
  return entryTxn(node, session, key, value, ownerPrefix).then((res) => (signal?.aborted === true ? leaveAndAbort(node, session, key, signal) : parseEntry(res, session, key)));
}

async function leaveAndAbort(node: QuorumNode, session: Session, key: string, signal: AbortSignal): Promise<never> {
  await leaveLine(node, session, key, undefined);
  throw abortError(signal, 'enter');
}

/**
 * The entry txn of {@link enterLine}. No signal on the write: an aborted write has an unknown
 * outcome and could leave our key behind.
 */
function entryTxn(node: QuorumNode, session: Session, key: string, value: unknown, ownerPrefix: string): Promise<TxnResult<unknown>> {
  return node
    .txn()
    .if(cmp.createRevision(key, '==', 0))
    .then(op.put(key, value, { lease: session.leaseId }), op.range({ prefix: ownerPrefix }, { countOnly: true }))
    .else(op.get(key))
    .commit();
}

/** What the entry txn's result says: created now, or resumed (our lease's key already there). */
function parseEntry(res: TxnResult<unknown>, session: Session, key: string): Entered {
  if (res.succeeded) {
    const ownerCount = (res.results[1] as RangeResult<unknown> | undefined)?.count;
    assert(ownerCount !== undefined, 'the entry txn returns the owner count');
    return { key, createRevision: res.revision, resumed: false, revision: res.revision, ownerCount };
  }
  const existing = (res.results[0] as RangeResult<unknown> | undefined)?.kvs[0];
  if (existing === undefined) throw new LockLostError(`recipes: ${key} vanished while entering the line`);
  if (existing.lease !== session.leaseId) {
    throw new LockLostError(`recipes: ${key} exists under lease ${existing.lease ?? 0}, not this session's ${session.leaseId}`);
  }
  return { key, createRevision: existing.createRevision, resumed: true, revision: res.revision };
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
  return (await node.txn().if(cmp.createRevision(key, '==', createRevision)).then(op.delete(key)).commit()).succeeded;
}
