/**
 * Counting semaphore: at most `permits` holders at once, admitted FIFO by create revision. Each
 * participant puts `<name>/<leaseId hex>`; it holds a permit while fewer than `permits` older keys
 * remain. A waiter cannot name one key whose deletion admits it (any older holder leaving does), so
 * waiters watch the prefix for deletions: a release wakes every waiter for one cheap read each —
 * fine for the small waiter counts semaphores see; use a lock where contention is heavy.
 * Every participant must pass the same `permits`.
 */
import { InvalidArgumentError } from '../errors.ts';
import type { QuorumNode } from '../node/node.ts';
import { holdLine, type Lock, type LineSpec, type LockOptions } from './lock.ts';
import type { TurnCheck } from './turn.ts';
import { leaseHex, prefixOf } from './util.ts';

/** Most permits a semaphore may have. */
export const MAX_SEMAPHORE_PERMITS = 10_000;

export interface Semaphore {
  readonly name: string;
  readonly permits: number;
  /** Blocks until a permit is held (FIFO). The returned Lock's `release()` gives it back. */
  acquire(options?: LockOptions): Promise<Lock>;
  /** A permit only if one is free now and nobody waits; `undefined` otherwise. */
  tryAcquire(options?: LockOptions): Promise<Lock | undefined>;
  /** Permits free now (`permits` minus holders, never below 0). */
  available(): Promise<number>;
}

async function checkPermit(node: QuorumNode, prefix: string, key: string, createRevision: number, permits: number, signal: AbortSignal): Promise<TurnCheck> {
  // The keys created at or before ours, newest first: the first must be ours, the rest are older.
  // Counted from `kvs`, never from `count`: `count` is taken before the create-revision filter (as
  // in etcd), so it would also count the waiters behind us and hold back a waiter owed a permit.
  // At most `permits` older keys are needed to decide, so the read is bounded by permits + 1.
  const res = await node.range(
    { prefix },
    { maxCreateRevision: createRevision, sort: { by: 'createRevision', order: 'desc' }, limit: permits + 1, keysOnly: true, signal },
  );
  const first = res.kvs[0];
  const mine = first !== undefined && first.key === key && first.createRevision === createRevision;
  const older = res.kvs.length - 1;
  return { mine, revision: res.revision, ...(older < permits ? {} : { waitPrefix: prefix }) };
}

/** A counting semaphore named `name` with `permits` permits (1 … 10,000). */
export function createSemaphore(node: QuorumNode, name: string, permits: number, defaults: LockOptions = {}): Semaphore {
  const prefix = prefixOf(name, 'semaphore');
  if (!Number.isInteger(permits) || permits < 1 || permits > MAX_SEMAPHORE_PERMITS) {
    throw new InvalidArgumentError(`semaphore: permits must be an integer in 1..${MAX_SEMAPHORE_PERMITS}`);
  }
  const spec: LineSpec = {
    what: `semaphore ${name}`,
    name,
    key: (session) => `${prefix}${leaseHex(session.leaseId)}`,
    ownerPrefix: prefix,
    // Right after our create every other key is older: fewer than `permits` of them admits us.
    immediate: (e) => e.ownerCount !== undefined && e.ownerCount <= permits,
    check: (e, signal) => checkPermit(node, prefix, e.key, e.createRevision, permits, signal),
  };
  const merged = (options?: LockOptions): LockOptions => ({ ...defaults, ...options });
  return {
    name,
    permits,
    acquire: async (options) => (await holdLine(node, spec, merged(options), true)) as Lock,
    tryAcquire: (options) => holdLine(node, spec, merged(options), false),
    available: async () => {
      const res = await node.range({ prefix }, { countOnly: true });
      return Math.max(0, permits - res.count);
    },
  };
}
