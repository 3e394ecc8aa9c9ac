/**
 * Read-write lock (etcd `recipes.RWMutex`, fair): readers and writers queue in one line ordered by
 * create revision under `<name>/read/` and `<name>/write/`. A reader proceeds once no older writer
 * remains (it watches only the newest older writer); a writer proceeds once no older key of either
 * kind remains (it watches only its predecessor). Writers therefore cannot starve behind a stream
 * of readers.
 */
import { op } from '../node/txn-builder.ts';
import type { QuorumNode } from '../node/node.ts';
import type { RangeResult } from '../node/types.ts';
import { holdLine, type Lock, type LineSpec, type LockOptions } from './lock.ts';
import { checkPredecessor, type TurnCheck } from './turn.ts';
import { leaseHex, prefixOf } from './util.ts';

/** A read-write lock handle; each call queues a new holder. */
export interface RWLock {
  readonly name: string;
  /** Shared hold: many readers at once, none while an older writer waits or holds. */
  read(options?: LockOptions): Promise<Lock>;
  /** Exclusive hold. */
  write(options?: LockOptions): Promise<Lock>;
  /** Shared hold only if it is available now; `undefined` otherwise. */
  tryRead(options?: LockOptions): Promise<Lock | undefined>;
  /** Exclusive hold only if it is available now; `undefined` otherwise. */
  tryWrite(options?: LockOptions): Promise<Lock | undefined>;
}

async function checkReader(node: QuorumNode, writers: string, key: string, createRevision: number, signal: AbortSignal): Promise<TurnCheck> {
  // One read-only txn: our key and the newest older writer at the same revision.
  const res = await node
    .txn()
    .then(
      op.get(key),
      op.range({ prefix: writers }, { maxCreateRevision: createRevision - 1, sort: { by: 'createRevision', order: 'desc' }, limit: 1, keysOnly: true }),
    )
    .commit({ signal });
  const own = (res.results[0] as RangeResult<unknown> | undefined)?.kvs[0];
  const blocker = (res.results[1] as RangeResult<unknown> | undefined)?.kvs[0]?.key;
  const mine = own !== undefined && own.createRevision === createRevision;
  return { mine, revision: res.revision, ...(blocker === undefined ? {} : { blocker }) };
}

/** A fair read-write lock named `name` (keys under `<name>/read/` and `<name>/write/`). */
export function createRWLock(node: QuorumNode, name: string, defaults: LockOptions = {}): RWLock {
  const prefix = prefixOf(name, 'rw lock');
  const readers = `${prefix}read/`;
  const writers = `${prefix}write/`;
  const readSpec: LineSpec = {
    what: `read lock ${name}`,
    name,
    key: (session) => `${readers}${leaseHex(session.leaseId)}`,
    ownerPrefix: writers,
    // The entry counted the writers; none at all means no older writer blocks us.
    immediate: (e) => e.ownerCount === 0,
    check: (e, signal) => checkReader(node, writers, e.key, e.createRevision, signal),
  };
  const writeSpec: LineSpec = {
    what: `write lock ${name}`,
    name,
    key: (session) => `${writers}${leaseHex(session.leaseId)}`,
    ownerPrefix: prefix,
    // Our own key is the only one under the lock's prefix: nobody reads or writes ahead of us.
    immediate: (e) => e.ownerCount === 1,
    check: (e, signal) => checkPredecessor(node, prefix, e.key, e.createRevision, signal),
  };
  const merged = (options?: LockOptions): LockOptions => ({ ...defaults, ...options });
  return {
    name,
    read: async (options) => (await holdLine(node, readSpec, merged(options), true)) as Lock,
    write: async (options) => (await holdLine(node, writeSpec, merged(options), true)) as Lock,
    tryRead: (options) => holdLine(node, readSpec, merged(options), false),
    tryWrite: (options) => holdLine(node, writeSpec, merged(options), false),
  };
}
