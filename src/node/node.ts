/**
 * `QuorumNode`: the typed etcd-style API of docs/design.md ("Public contract") over one {@link Driver}. Writes become
 * commands proposed through Raft and resolve once applied here; linearizable reads wait on a
 * ReadIndex barrier and then read the local store; serializable reads read it at once.
 */
import { EventEmitter } from 'eventemitter3';
import { InvalidArgumentError, LeaseNotFoundError, QuorumError, StoppedError, WatchCancelledError } from '../errors.ts';
import type { NodeId } from '../protocol/types.ts';
import type { Command, KeyRange, RangeOptions } from '../store/types.ts';
import type { AppliedResult } from './applied-state.ts';
import { AuthApi } from './auth/auth-api.ts';
import { encodeGuarded } from './auth/auth-codec.ts';
import { encodeCommand } from '../store/codec.ts';
import type { StoreSnapshot } from '../store/snapshot.ts';
import { encodeBackup, writeFileDurably } from './backup.ts';
import { callOf, timeoutOf } from './deadline.ts';
import { toDeleteRequest, toDeleteResult, toKeyValue, toPutRequest, toPutResult, toRangeOptions, toRangeResult, toTxnRequest, toTxnResult } from './convert.ts';
import type { Driver } from './driver.ts';
import { Lease } from './leases.ts';
import type { LeaseHost } from './leases.ts';
import { clusterApi } from './cluster-api.ts';
import type { ClusterApi } from './cluster-api.ts';
import type { NodeConfig } from './options.ts';
import { toRange, TxnBuilder } from './txn-builder.ts';
import type { KeyOrRange, TxnSpec } from './txn-builder.ts';
import type {
  CallOptions,
  CompactOptions,
  CloseEvent,
  DeleteOptions,
  DeleteResult,
  GetOptions,
  KeyValue,
  LeaseInfo,
  LeaseTimeToLive,
  Logger,
  Member,
  NodeEvents,
  NodeStatus,
  Progress,
  ProgressOptions,
  PutOptions,
  PutResult,
  RangeCallOptions,
  RangeResult,
  TxnResult,
  ValueCodec,
  WatchCallOptions,
} from './types.ts';
import type { MetricsSnapshot } from './metrics.ts';
import { deleteChannel, putChannel, rangeChannel, txnChannel } from './tracing.ts';
import { abortedWatchError, Watch } from './watch.ts';

/** What `backup()` wrote. */
export interface BackupInfo {
  readonly path: string;
  readonly index: number;
  readonly revision: number;
  readonly sizeBytes: number;
}

export type { AddMemberOptions, ClusterApi } from './cluster-api.ts';

/** A hook run by `close()` (the client endpoint registers its own). */
export type CloseHook = () => Promise<void>;

export class QuorumNode extends EventEmitter<NodeEvents> implements LeaseHost {
  readonly id: NodeId;
  readonly cluster: ClusterApi;
  /** Users, roles, permissions and tokens (docs/auth.md); the node's own calls are not checked. */
  readonly auth: AuthApi;
  readonly #driver: Driver;
  readonly #config: NodeConfig;
  readonly #codec: ValueCodec;
  readonly #watches = new Set<Watch<unknown>>();
  readonly #leaseHandles = new Map<number, Set<Lease>>();
  readonly #closeHooks: CloseHook[] = [];
  #closing: Promise<void> | undefined;
  /** Why the member stops, decided by the first cause seen (a fatal error wins over the close it triggers). */
  #closeEvent: CloseEvent | undefined;
  #closeEmitted = false;

  constructor(driver: Driver, config: NodeConfig, codec: ValueCodec) {
    super();
    this.id = config.id;
    this.#driver = driver;
    this.#config = config;
    this.#codec = codec;
    this.cluster = clusterApi(driver, config.name, () => this.#checkOpen());
    this.auth = new AuthApi({
      propose: (command, options) => {
        this.#checkOpen();
        return driver.propose(command, callOf(options));
      },
      readBarrier: (options) => {
        this.#checkOpen();
        return driver.readBarrier(callOf(options));
      },
      state: () => driver.auth,
    });
    driver.on('leader', (info) => this.emit('leader', info));
    driver.on('role', (info) => this.emit('role', info));
    driver.on('member', (info) => this.emit('member', info));
    driver.on('error', (err) => {
      this.#closeEvent ??= { reason: 'fatal', error: err };
      this.emit('error', err);
      // The driver stops itself; the close hooks (the client endpoint) must stop with it.
      void this.#shutdown(false);
    });
    driver.on('store', (store) => {
      for (const w of this.#watches) w.reattach(store);
      // A lease revoked while this member was behind was never applied here: the snapshot that
      // replaced the store is the only news of it.
      for (const id of [...this.#leaseHandles.keys()]) if (store.lease(id) === undefined) this.#leaseGone(id);
    });
    driver.on('leaseGone', (id) => this.#leaseGone(id));
    driver.on('removed', () => {
      // Heard twice when a peer's note arrives and this member applies its removal too.
      if (this.closed) return;
      this.#closeEvent ??= { reason: 'removed' };
      this.#config.logger.warn({ id: this.id }, 'node: this member was removed from the cluster; closing');
      void this.#shutdown(false);
    });
    driver.on('stopped', () => {
      for (const w of [...this.#watches]) w.fail(new WatchCancelledError('closed', 'the node stopped'));
      this.#emitClose();
    });
  }

  /** The logger this member logs through (the app's, with the member id bound when it has `child`). */
  get logger(): Logger {
    return this.#config.logger;
  }

  /** Whether this member is closing or stopped (`close()`, a fatal error, or removal from the cluster). */
  get closed(): boolean {
    return this.#closing !== undefined || this.#driver.stopped;
  }

  #leaseGone(id: number): void {
    const handles = this.#leaseHandles.get(id);
    this.#leaseHandles.delete(id);
    for (const h of handles ?? []) h.markExpired();
  }

  /** @internal Registers work for `close()` (e.g. the client endpoint). */
  addCloseHook(hook: CloseHook): void {
    this.#closeHooks.push(hook);
  }

  /** Resolves when a leader is known and this member has applied everything committed before now. */
  async ready(options?: CallOptions): Promise<void> {
    const deadline = Date.now() + (options?.timeoutMs ?? this.#config.requestTimeoutMs);
    await this.#driver.waitForLeader(options);
    await this.#driver.readBarrier(remaining(options, deadline));
  }

  // ------------------------------------------------------------------ KV

  put<T>(key: string, value: T, options: PutOptions<T> = {}): Promise<PutResult<T>> {
    if (!putChannel.hasSubscribers) return this.#put(key, value, options);
    return putChannel.tracePromise(this.#put<T>, { member: this.id, key }, this, key, value, options);
  }

  async #put<T>(key: string, value: T, options: PutOptions<T>): Promise<PutResult<T>> {
    let lease = options.lease;
    let call: CallOptions = options;
    if (options.ttlMs !== undefined) {
      if (lease !== undefined) throw new InvalidArgumentError('node: put takes lease or ttlMs, not both');
      // One deadline for both steps: the grant and the put share the call's timeoutMs.
      const deadline = Date.now() + timeoutOf(options, this.#config.requestTimeoutMs);
      lease = (await this.grantLease(options.ttlMs, callOf(options))).id;
      call = remaining(options, deadline);
    }
    const request = toPutRequest(key, value, options as PutOptions, this.#codec, lease);
    const result = await this.#write({ type: 'put', request }, call);
    if (result.type !== 'put') throw unexpected(result);
    return toPutResult<T>(result.result, this.#codec);
  }

  get<T>(key: string, options: GetOptions = {}): Promise<KeyValue<T> | undefined> {
    if (!rangeChannel.hasSubscribers) return this.#get(key, options);
    return rangeChannel.tracePromise(this.#get<T>, { member: this.id, key }, this, key, options);
  }

  #get<T>(key: string, options: GetOptions): Promise<KeyValue<T> | undefined> {
    this.#driver.countRead();
    try {
      const range = toRange(key);
      const revision = options.revision === undefined ? undefined : toRangeOptions({ revision: options.revision }).revision;
      // Serializable reads take no barrier: no extra await on the hot path.
      if (options.consistency === 'serializable') {
        this.#checkOpen();
        return Promise.resolve(this.#readOne<T>(range, revision));
      }
      return this.#beforeRead(options).then(() => this.#readOne<T>(range, revision));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #readOne<T>(range: KeyRange, revision: number | undefined): KeyValue<T> | undefined {
    const store = this.#driver.store;
    const kv = 'key' in range ? store.get(range.key, revision) : store.range(range, revision === undefined ? GET_OPTIONS : { revision, limit: 1 }).kvs[0];
    return kv === undefined ? undefined : toKeyValue<T>(kv, this.#codec);
  }

  range<T>(range: KeyOrRange, options: RangeCallOptions = {}): Promise<RangeResult<T>> {
    if (!rangeChannel.hasSubscribers) return this.#range(range, options);
    return rangeChannel.tracePromise(this.#range<T>, rangeTraceContext(this.id, range), this, range, options);
  }

  async #range<T>(range: KeyOrRange, options: RangeCallOptions): Promise<RangeResult<T>> {
    this.#driver.countRead();
    const r = toRange(range, 'range');
    const rangeOptions = toRangeOptions(pickRangeOptions(options));
    await this.#beforeRead(options);
    return toRangeResult<T>(this.#driver.store.range(r, rangeOptions), this.#codec, options.keysOnly === true);
  }

  delete<T>(keyOrRange: KeyOrRange, options: DeleteOptions<T> = {}): Promise<DeleteResult<T>> {
    if (!deleteChannel.hasSubscribers) return this.#delete(keyOrRange, options);
    return deleteChannel.tracePromise(this.#delete<T>, { member: this.id }, this, keyOrRange, options);
  }

  async #delete<T>(keyOrRange: KeyOrRange, options: DeleteOptions<T>): Promise<DeleteResult<T>> {
    const request = toDeleteRequest(toRange(keyOrRange), options as DeleteOptions, this.#codec);
    const result = await this.#write({ type: 'delete', request }, options);
    if (result.type !== 'delete') throw unexpected(result);
    return toDeleteResult<T>(result.result, this.#codec);
  }

  txn<T = unknown>(): TxnBuilder<T> {
    return new TxnBuilder<T>((spec: TxnSpec, options: CallOptions) => {
      if (!txnChannel.hasSubscribers) return this.#txn<T>(spec, options);
      return txnChannel.tracePromise(this.#txn<T>, { member: this.id }, this, spec, options);
    });
  }

  async #txn<T>(spec: TxnSpec, options: CallOptions): Promise<TxnResult<T>> {
    const request = toTxnRequest(spec, this.#codec);
    const result = await this.#write({ type: 'txn', request }, options);
    if (result.type !== 'txn') throw unexpected(result);
    return toTxnResult<T>(result.result, this.#codec, spec);
  }

  /** Compacts MVCC history below `revision`. */
  async compact(revision: number, options?: CompactOptions): Promise<void> {
    if (!Number.isSafeInteger(revision) || revision <= 0) throw new InvalidArgumentError('node: compact revision must be a positive integer');
    const physical = options?.physical;
    if (physical !== undefined && typeof physical !== 'boolean') throw new InvalidArgumentError('node: compact option physical must be a boolean');
    const result = await this.#write({ type: 'compact', revision }, options);
    if (result.type !== 'compact') throw unexpected(result);
    if (physical === true) await this.#driver.compactionDrained();
  }

  /**
   * Validates and proposes a command. Not `async`: the driver's promise is handed back as is (no
   * wrapper promise and thenable hop per write); every caller is an async function, so what this
   * throws still reaches its caller as a rejection.
   */
  #write(cmd: Command, options: CallOptions | undefined): Promise<AppliedResult> {
    this.#checkOpen();
    this.#driver.store.validate(cmd);
    const bytes = encodeCommand(cmd);
    const checkedAt = options?.authRevision;
    if (checkedAt === undefined) return this.#driver.propose(bytes, callOf(options));
    if (!Number.isSafeInteger(checkedAt) || checkedAt < 1) throw new InvalidArgumentError('node: authRevision must be a positive integer');
    return this.#driver.propose(encodeGuarded(checkedAt, bytes), callOf(options));
  }

  async #beforeRead(options: GetOptions): Promise<void> {
    this.#checkOpen();
    const consistency = options.consistency ?? 'linearizable';
    if (consistency === 'serializable') return;
    if (consistency !== 'linearizable') throw new InvalidArgumentError("node: consistency must be 'linearizable' or 'serializable'");
    await this.#driver.readBarrier(callOf(options));
  }

  #checkOpen(): void {
    if (this.#closing !== undefined || this.#driver.stopped) throw new StoppedError();
  }

  // ------------------------------------------------------------------ watch

  /**
   * Watches a key or range. The result is an async iterable of events and an EventEmitter
   * (`event`, `progress`, `error`, `close`). It ends with `close()` (cleanly), or with a typed
   * error: CompactedError (start revision compacted), WatchCancelledError ('slow', 'closed',
   * 'aborted' when the signal fires).
   */
  watch<T = unknown>(keyOrRange: KeyOrRange, options: WatchCallOptions = {}): Watch<T> {
    this.#checkOpen();
    const range = toRange(keyOrRange);
    const store = this.#driver.store;
    const start = options.startRevision;
    if (start !== undefined && (!Number.isSafeInteger(start) || start < 0)) throw new InvalidArgumentError('node: startRevision must be a non-negative integer');
    const max = options.maxBufferedEvents ?? this.#config.maxWatchBufferedEvents;
    if (!Number.isSafeInteger(max) || max <= 0) throw new InvalidArgumentError('node: maxBufferedEvents must be a positive integer');
    const watch = new Watch<T>(
      store,
      {
        range,
        startRevision: start === undefined || start === 0 ? store.revision + 1 : start,
        prevKv: options.prevKv === true,
        noPut: options.noPut === true,
        noDelete: options.noDelete === true,
        progressIntervalMs: options.progressNotify === true ? this.#config.progressIntervalMs : undefined,
        maxBufferedEvents: max,
        codec: this.#codec,
      },
      (w) => this.#watches.delete(w as Watch<unknown>),
    );
    this.#watches.add(watch as Watch<unknown>);
    const signal = options.signal;
    if (signal !== undefined) {
      if (signal.aborted) queueMicrotask(() => watch.fail(abortedWatchError()));
      else {
        const onAbort = (): void => watch.fail(abortedWatchError());
        signal.addEventListener('abort', onAbort, { once: true });
        watch.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
    return watch;
  }

  // ------------------------------------------------------------------ leases

  /** Grants a lease. TTLs below 1.5 × the election timeout are raised to it (etcd's floor). */
  async grantLease(ttlMs: number, options: CallOptions & { readonly id?: number } = {}): Promise<Lease> {
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new InvalidArgumentError('node: lease ttlMs must be a positive integer');
    const ttl = Math.max(ttlMs, this.#config.minLeaseTtlMs);
    const id = options.id ?? 1 + Math.floor(this.#config.random() * 2 ** 52);
    if (!Number.isSafeInteger(id) || id <= 0) throw new InvalidArgumentError('node: lease id must be a positive integer');
    const result = await this.#write({ type: 'leaseGrant', id, ttlMs: ttl }, options);
    if (result.type !== 'leaseGrant') throw unexpected(result);
    const lease = new Lease(this, result.id, result.ttlMs);
    let handles = this.#leaseHandles.get(result.id);
    if (handles === undefined) this.#leaseHandles.set(result.id, (handles = new Set()));
    handles.add(lease);
    return lease;
  }

  async revokeLease(id: number, options?: CallOptions): Promise<void> {
    const result = await this.#write({ type: 'leaseRevoke', id }, options);
    if (result.type !== 'leaseRevoke') throw unexpected(result);
  }

  /** Refreshes a lease to its full TTL on the leader; resolves with the remaining ms. */
  async keepAliveLease(id: number, options?: CallOptions): Promise<number> {
    this.#checkOpen();
    return this.#driver.keepAlive(id, options);
  }

  async leaseTimeToLive(id: number, options: CallOptions & { readonly keys?: boolean } = {}): Promise<LeaseTimeToLive> {
    this.#checkOpen();
    // The remaining TTL comes from the leader; the lease and its keys from the local store after
    // a ReadIndex barrier (run alongside), so a follower answers with every write acknowledged
    // before the call — the leader answers a write before followers have applied it.
    const call = callOf(options);
    const [reply] = await Promise.all([this.#driver.leaseQuery(id, call), this.#driver.readBarrier(call)]);
    const info = this.#driver.store.lease(id);
    if (info === undefined) throw new LeaseNotFoundError(id);
    return { ttlMs: reply.remainingMs, grantedTtlMs: reply.grantedTtlMs, keys: options.keys === true ? [...info.keys] : [] };
  }

  /** Every live lease (linearizable). */
  async leases(options?: CallOptions): Promise<LeaseInfo[]> {
    await this.#beforeRead(callOf(options));
    return this.#driver.store.leases().map((l) => ({ id: l.id, ttlMs: l.ttlMs }));
  }

  // ------------------------------------------------------------------ status / maintenance

  /**
   * This member's volatile state. Synchronous and never throws: after `close()` (or a fatal
   * error) it is the last status known before the member stopped. Use {@link closed} to tell.
   */
  status(): NodeStatus {
    const st = this.#driver.raftStatus();
    const store = this.#driver.store;
    return {
      id: this.id,
      role: st.role,
      term: st.term,
      leader: st.leader,
      commitIndex: st.commit,
      appliedIndex: this.#driver.appliedIndex,
      revision: store.revision,
      compactRevision: store.compactRevision,
      members: this.#driver.members(),
    };
  }

  /**
   * This member's metrics now (docs/observability.md): plain numbers and histograms, the same
   * ones `/metrics` and a prom-client registry show. Synchronous; after close, the last values.
   */
  metrics(): MetricsSnapshot {
    let buffered = 0;
    for (const w of this.#watches) buffered += w.bufferedEvents;
    return this.#driver.metrics(this.#watches.size, buffered);
  }

  /** A consistent snapshot of the store + membership, in backup file format. */
  async snapshotBytes(options?: ProgressOptions): Promise<Uint8Array> {
    await this.#beforeRead(callOf(options));
    const { bytes } = await this.#snapshotNow();
    reportProgress(options?.onProgress, { bytes: bytes.length, totalBytes: bytes.length });
    return bytes;
  }

  /**
   * The applied store frozen now (O(1)) with the applied index it reflects, for exporters that
   * walk it in slices (the etcd bolt database of `Maintenance.Snapshot`). Linearizable like a
   * read: it holds every write acknowledged before the call.
   */
  async storeSnapshot(options?: CallOptions): Promise<{ readonly index: number; readonly store: StoreSnapshot }> {
    await this.#beforeRead(options ?? {});
    return { index: this.#driver.appliedIndex, store: this.#driver.store.snapshot() };
  }

  /**
   * etcd's HashKV of this member's applied store at `revision` (by default its current one): a
   * 32-bit hash equal on members that applied the same log, compared at equal compact revisions
   * (returned beside it). Local, as etcd's: no consensus round; the store is frozen at once and
   * hashed in slices. CompactedError / FutureRevisionError outside [compactRevision, revision].
   */
  async hashKv(revision?: number, options?: CallOptions): Promise<{ readonly hash: number; readonly revision: number; readonly compactRevision: number }> {
    this.#checkOpen();
    return this.#driver.store.snapshot().hashKv(revision, options?.signal === undefined ? {} : { signal: options.signal });
  }

  /**
   * A backup of the state applied now. The state is frozen synchronously (O(1) for the store) and
   * encoded in slices, so a large store does not block the event loop while apply goes on.
   */
  async #snapshotNow(): Promise<{ readonly bytes: Uint8Array; readonly index: number; readonly revision: number }> {
    const term = this.#driver.raftStatus().term;
    const revision = this.#driver.store.revision;
    const view = this.#driver.snapshotView();
    const data = await view.encode();
    return { bytes: encodeBackup({ index: view.index, term, revision, data }), index: view.index, revision };
  }

  /** Writes a backup file; restore with `createNode({ restoreFrom: path })`. */
  async backup(path: string, options?: ProgressOptions): Promise<BackupInfo> {
    await this.#beforeRead(callOf(options));
    const { bytes, index, revision } = await this.#snapshotNow();
    const onProgress = options?.onProgress;
    await writeFileDurably(path, bytes, onProgress === undefined ? undefined : (p) => reportProgress(onProgress, p));
    return { path, index, revision, sizeBytes: bytes.length };
  }

  // ------------------------------------------------------------------ close

  /** Graceful stop: hands leadership to the most caught-up voter (bounded wait), then stops. */
  close(): Promise<void> {
    this.#closeEvent ??= { reason: 'closed' };
    return this.#shutdown(true);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #shutdown(transfer: boolean): Promise<void> {
    this.#closing ??= (async () => {
      if (transfer) await this.#maybeTransferLeadership();
      for (const w of [...this.#watches]) w.fail(new WatchCancelledError('closed', 'the node was closed'));
      for (const hook of this.#closeHooks.splice(0)) await hook().catch((err: unknown) => this.#config.logger.warn({ err }, 'node: close hook failed'));
      await this.#driver.stop(undefined, { snapshot: transfer });
    })();
    return this.#closing;
  }

  #emitClose(): void {
    if (this.#closeEmitted) return;
    this.#closeEmitted = true;
    try {
      this.emit('close', this.#closeEvent ?? { reason: 'closed' });
    } catch (err) {
      // An app listener's exception must not break the driver's stop, which emits this.
      this.#config.logger.error({ err }, 'node: a close listener threw');
    }
  }

  async #maybeTransferLeadership(): Promise<void> {
    const st = this.#driver.raftStatus();
    if (st.role !== 'leader' || this.#driver.stopped || this.#config.closeTimeoutMs === 0) return;
    let best: NodeId | undefined;
    let bestMatch = -1;
    for (const voter of st.confState.voters) {
      if (voter === this.id) continue;
      const match = st.progress?.[voter]?.match ?? 0;
      if (match > bestMatch) {
        best = voter;
        bestMatch = match;
      }
    }
    if (best === undefined) return;
    try {
      await this.#driver.transferLeadership(best, { timeoutMs: this.#config.closeTimeoutMs });
    } catch (err) {
      this.#config.logger.warn({ err, to: best }, 'node: leadership transfer on close did not finish; closing anyway');
    }
  }
}

const GET_OPTIONS = Object.freeze({ limit: 1 });

/** A progress callback is the app's code: its exception must not fail the backup. */
function reportProgress(onProgress: ((p: Progress) => void) | undefined, progress: Progress): void {
  if (onProgress === undefined) return;
  try {
    onProgress(progress);
  } catch {
    // Ignored on purpose (documented on ProgressOptions.onProgress).
  }
}

function remaining(options: CallOptions | undefined, deadline: number): CallOptions {
  const timeoutMs = Math.max(1, deadline - Date.now());
  const out: { timeoutMs: number; signal?: AbortSignal; authRevision?: number } = { timeoutMs };
  if (options?.signal !== undefined) out.signal = options.signal;
  if (options?.authRevision !== undefined) out.authRevision = options.authRevision;
  return out;
}

function pickRangeOptions(options: RangeCallOptions): RangeCallOptions {
  const { signal: _signal, timeoutMs: _timeoutMs, consistency: _consistency, authRevision: _authRevision, ...rest } = options;
  return rest;
}

/** The trace context of a range call; never throws (a bad range is rejected by the call itself). */
function rangeTraceContext(member: NodeId, range: unknown): { member: NodeId; key: string; end?: string; prefix?: boolean } {
  if (typeof range === 'string') return { member, key: range };
  const r = typeof range === 'object' && range !== null ? (range as Record<string, unknown>) : {};
  if (typeof r['prefix'] === 'string') return { member, key: r['prefix'], prefix: true };
  const key = typeof r['key'] === 'string' ? r['key'] : typeof r['start'] === 'string' ? r['start'] : '';
  return typeof r['end'] === 'string' ? { member, key, end: r['end'] } : { member, key };
}

function unexpected(result: AppliedResult): Error {
  return new Error(`node: assertion failed: unexpected command result type ${result.type}`);
}
