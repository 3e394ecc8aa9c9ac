/**
 * The replicated state machine's facade. Members apply committed commands in log order; apply
 * is synchronous and deterministic (no clock, no randomness), throws a typed error and changes
 * nothing when a command is rejected, bumps the revision once per write command, and feeds the
 * watch hub. Reads, watches and snapshots are served from the same in-memory keyspace.
 */
import { CompactedError, FutureRevisionError, InvalidArgumentError, LeaseNotFoundError } from '../errors.ts';
import type { WatchCancelReason } from '../errors.ts';
import { encodeCommand } from './codec.ts';
import { fnv1a32 } from './hash.ts';
import { Lessor } from './lessor.ts';
import { Keyspace } from './mvcc.ts';
import { getAt, getNow, isCurrentPointRead, rangeQuery } from './range.ts';
import { capture, restore, restoreAsync } from './snapshot.ts';
import type { RestoreAsyncOptions, StoreSnapshot } from './snapshot.ts';
import { Writer, doDelete, doPut, doTxn } from './txn.ts';
import type {
  Command,
  CommandResult,
  KeyRange,
  LeaseInfo,
  RangeOptions,
  StoreLimits,
  StoredKeyValue,
  StoredRangeResult,
  WatchOptions,
  Watcher,
} from './types.ts';
import { checkGet, checkRead, resolveLimits, validateCommand } from './validate.ts';
import type { ResolvedLimits } from './validate.ts';
import { WatchHub } from './watch-hub.ts';
import type { ArenaStats } from './value-arena.ts';

const measure = (cmd: Command): number => encodeCommand(cmd).byteLength;

export class Store {
  readonly limits: ResolvedLimits;
  #ks: Keyspace;
  #lessor: Lessor;
  #hub: WatchHub;

  constructor(limits?: StoreLimits) {
    this.limits = resolveLimits(limits);
    this.#ks = new Keyspace();
    this.#lessor = new Lessor();
    this.#hub = new WatchHub(this.#ks);
  }

  /** A store holding exactly the state `snapshot().encode()` captured. InvalidArgumentError on bad bytes. */
  static restore(bytes: Uint8Array, limits?: StoreLimits): Store {
    const store = new Store(limits);
    store.#install(restore(bytes));
    return store;
  }

  /**
   * The same store as `restore(bytes, limits)` (same `hash()`, same later behaviour), rebuilt in
   * slices of at most `yieldEvery` decoded array slots or about `sliceMs` ms, yielding to the
   * event loop (setImmediate) between them. Rejects with InvalidArgumentError on bad bytes (and
   * a RangeError on bad limits), or with the signal's reason when aborted.
   */
  static async restoreAsync(bytes: Uint8Array, limits?: StoreLimits, options?: RestoreAsyncOptions): Promise<Store> {
    const store = new Store(limits);
    store.#install(await restoreAsync(bytes, options));
    return store;
  }

  #install(state: { ks: Keyspace; lessor: Lessor }): void {
    this.#ks = state.ks;
    this.#lessor = state.lessor;
    this.#hub = new WatchHub(state.ks);
  }

  get revision(): number {
    return this.#ks.revision;
  }

  get compactRevision(): number {
    return this.#ks.compactRevision;
  }

  /**
   * Whether compacted history is still queued to be freed: `compact` makes history below its
   * revision invisible at once and frees it in steps ({@link continueCompaction}).
   */
  get compactionPending(): boolean {
    return this.#ks.compactionPending;
  }

  /**
   * Frees queued compacted history for at most `sliceMs` (default: all of it); returns whether
   * some is left. The owner calls it between commands, with the event loop turning in between
   * (the node's driver does, in ≈ 8 ms slices), so compacting 1M revisions never holds the loop.
   */
  continueCompaction(sliceMs = Infinity): boolean {
    return this.#ks.continueCompaction(performance.now() + sliceMs);
  }

  /** Number of keys held (live keys, and tombstoned ones whose history is not freed yet). */
  get keyCount(): number {
    return this.#ks.tree.size;
  }

  /**
   * The values' memory (value-arena.ts): `slabBytes` allocated for small values (holes left by
   * compacted history included), `liveBytes` of it still in use — etcd's db total size and size
   * in use.
   */
  valueMemory(): ArenaStats {
    return this.#ks.arena.stats();
  }

  /** Stateless checks (shape, key length, txn ops, duplicate keys, request size). */
  validate(cmd: Command): void {
    validateCommand(cmd, this.limits, measure);
  }

  apply(cmd: Command): CommandResult {
    this.validate(cmd);
    switch (cmd.type) {
      case 'put': {
        const w = new Writer(this.#ks, this.#lessor, false);
        const result = doPut(w, cmd.request);
        this.#commit(w);
        return { type: 'put', result };
      }
      case 'delete': {
        const w = new Writer(this.#ks, this.#lessor, false);
        const result = doDelete(w, cmd.request);
        this.#commit(w);
        return { type: 'delete', result };
      }
      case 'txn': {
        const w = new Writer(this.#ks, this.#lessor, true);
        try {
          const result = doTxn(w, cmd.request);
          this.#commit(w);
          return { type: 'txn', result };
        } catch (err) {
          w.rollback();
          throw err;
        }
      }
      case 'compact':
        return this.#compact(cmd.revision);
      case 'leaseGrant':
        if (this.#lessor.has(cmd.id)) throw new InvalidArgumentError(`lease: lease ${cmd.id} already exists`);
        this.#lessor.grant(cmd.id, cmd.ttlMs);
        return { type: 'leaseGrant', id: cmd.id, ttlMs: cmd.ttlMs };
      case 'leaseRevoke':
        return this.#revoke(cmd.id);
    }
  }

  #commit(w: Writer): void {
    const changes = w.changes;
    if (changes.length === 0) return;
    const entry = changes.length === 1 ? (changes[0] as { key: string }).key : changes.map((c) => c.key);
    this.#ks.commit(w.rev, entry);
    this.#hub.publish(w.rev, changes);
  }

  #compact(revision: number): CommandResult {
    const ks = this.#ks;
    if (revision > ks.revision) throw new FutureRevisionError(revision, ks.revision);
    if (revision <= ks.compactRevision) throw new CompactedError(revision, ks.compactRevision);
    ks.compact(revision);
    this.#hub.compacted(revision);
    return { type: 'compact', revision };
  }

  /** Revoke: all attached keys are deleted at one revision (none attached: no revision bump). */
  #revoke(id: number): CommandResult {
    if (!this.#lessor.has(id)) throw new LeaseNotFoundError(id);
    const keys = this.#lessor.revoke(id);
    const w = new Writer(this.#ks, this.#lessor, false);
    for (const key of keys) if (this.#ks.live(key) !== undefined) w.remove(key, id);
    this.#commit(w);
    return { type: 'leaseRevoke', id, revision: this.#ks.revision, deleted: w.changes.length };
  }

  /**
   * The live state of `key` now, or at `revision` (a past read: `CompactedError` below the
   * compaction point, `FutureRevisionError` above the current revision); undefined when the key
   * was absent: the store's own record (records never change; do not write to it), with the same
   * fields as the key-value `range({ key }, { revision })` returns, without the range result.
   */
  get(key: string, revision?: number): StoredKeyValue | undefined {
    checkGet(key, revision, this.limits);
    return getAt(this.#ks, key, revision ?? 0);
  }

  range(range: KeyRange, options?: RangeOptions): StoredRangeResult {
    checkRead(range, options, this.limits);
    if ('key' in range && isCurrentPointRead(options)) return getNow(this.#ks, range.key);
    return rangeQuery(this.#ks, range, options);
  }

  watch(range: KeyRange, options: WatchOptions): Watcher {
    checkRead(range, undefined, this.limits);
    if (typeof options.onReady !== 'function') throw new InvalidArgumentError('watch: onReady must be a function');
    const s = options.startRevision;
    if (s !== undefined && (!Number.isSafeInteger(s) || s < 0)) throw new InvalidArgumentError('watch: startRevision must be a non-negative integer');
    const m = options.maxBufferedEvents;
    if (m !== undefined && (!Number.isSafeInteger(m) || m <= 0)) throw new InvalidArgumentError('watch: maxBufferedEvents must be a positive integer');
    return this.#hub.watch(range, options);
  }

  /**
   * End every watcher with a terminal `{ kind: 'cancelled', reason }` response (onReady is called).
   * Call it before replacing this store (e.g. by `Store.restore` of a received snapshot) or on
   * close, so no watcher stalls silently; consumers resume from their last revision + 1.
   */
  cancelWatchers(reason: WatchCancelReason = 'closed'): void {
    this.#hub.cancelAll(reason, 'the store was closed or replaced');
  }

  lease(id: number): LeaseInfo | undefined {
    return this.#lessor.info(id);
  }

  leases(): LeaseInfo[] {
    return this.#lessor.list();
  }

  /** An O(1) consistent view; `encode()` serializes it later without blocking apply. */
  snapshot(): StoreSnapshot {
    return capture(this.#ks, this.#lessor);
  }

  /**
   * Asserts internal invariants: the hash index and the B-tree hold the same entries, histories
   * run newest first. O(keys); for tests and debugging (a failure is a bug, never bad input).
   */
  checkInvariants(): void {
    this.#ks.checkIndexes();
  }

  /** FNV-1a of the canonical encoding: equal on members that applied the same commands. */
  hash(): number {
    return fnv1a32(this.snapshot().encode());
  }
}
