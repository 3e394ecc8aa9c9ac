/**
 * Config: a typed, live view of every key under a prefix. It reads the prefix at revision R, then
 * watches from R + 1 — so no update between the read and the watch is ever missed — and keeps a
 * local map current. Changes are emitted as `change` events and as async iterables. If the watch
 * is cancelled (compacted or slow), the view re-reads the prefix and emits the difference, so the
 * local map always converges to the store.
 */
import { EventEmitter } from 'eventemitter3';
import { CompactedError, InvalidArgumentError, QuorumError, StoppedError, WatchCancelledError } from '../errors.ts';
import type { KeyValue, WatchEvent } from '../node/types.ts';
import type { QuorumNode } from '../node/node.ts';
import { abortError, composeSignal, isTransient, prefixOf, sleep, type WaitOptions } from './util.ts';

/** First and longest pause between resync attempts that failed for a passing reason, in ms. */
const RESYNC_RETRY_MIN_MS = 50;
const RESYNC_RETRY_MAX_MS = 1_000;

/** Changes an iterator of `changes()` may buffer before it fails as slow. */
export const DEFAULT_MAX_BUFFERED_CHANGES = 10_000;

export interface ConfigOptions<T> {
  /**
   * Turns a stored value into `T` (validate, fill defaults). A throw marks that key invalid: it is
   * left out of the view and reported with an `invalid` event. @default the value as stored
   */
  readonly parse?: (value: unknown, name: string) => T;
  /** Buffer bound of each `changes()` iterator. @default 10_000 */
  readonly maxBufferedChanges?: number;
  /** Aborts the initial read. */
  readonly signal?: AbortSignal;
}

export interface ConfigChange<T> {
  readonly type: 'set' | 'delete';
  /** The key relative to the prefix. */
  readonly name: string;
  readonly key: string;
  /** The new value (absent on delete). */
  readonly value?: T;
  /** The value before (absent when the key was new). */
  readonly prevValue?: T;
  readonly revision: number;
}

export interface ConfigEvents<T> {
  change: [change: ConfigChange<T>];
  /** A stored value failed `parse`; the key is left out of the view. */
  invalid: [info: { readonly name: string; readonly error: unknown; readonly revision: number }];
  /** The view re-read the prefix after its watch was cancelled. */
  resync: [revision: number];
  /** The view stopped following the store (the node stopped); it keeps its last state. */
  error: [error: QuorumError];
}

interface Subscriber<T> {
  buffer: ConfigChange<T>[];
  wake: (() => void) | undefined;
  failed: QuorumError | undefined;
}

/** A live view of one prefix. Create with {@link createConfig}. */
export class Config<T = unknown> extends EventEmitter<ConfigEvents<T>> {
  readonly prefix: string;
  readonly #node: QuorumNode;
  readonly #parse: (value: unknown, name: string) => T;
  readonly #maxBuffered: number;
  readonly #values = new Map<string, T>();
  readonly #subscribers = new Set<Subscriber<T>>();
  readonly #waiters = new Set<{ revision: number; resolve: () => void; reject: (err: QuorumError) => void }>();
  #revision = 0;
  #watch: ReturnType<QuorumNode['watch']> | undefined;
  #closed = false;

  constructor(node: QuorumNode, prefix: string, options: ConfigOptions<T>) {
    super();
    this.#node = node;
    this.prefix = prefixOf(prefix, 'config');
    this.#parse = options.parse ?? ((value) => value as T);
    this.#maxBuffered = options.maxBufferedChanges ?? DEFAULT_MAX_BUFFERED_CHANGES;
    if (!Number.isInteger(this.#maxBuffered) || this.#maxBuffered < 1) throw new InvalidArgumentError('config: maxBufferedChanges must be a positive integer');
  }

  /** The store revision the view reflects. */
  get revision(): number {
    return this.#revision;
  }

  get(name: string): T | undefined {
    return this.#values.get(name);
  }

  has(name: string): boolean {
    return this.#values.has(name);
  }

  /** A copy of the current view (name → value). */
  snapshot(): ReadonlyMap<string, T> {
    return new Map(this.#values);
  }

  /** Writes `name` under the prefix; resolves with the write's revision. */
  async set(name: string, value: T, options: { readonly signal?: AbortSignal } = {}): Promise<number> {
    return (await this.#node.put(this.prefix + name, value, options.signal === undefined ? {} : { signal: options.signal })).revision;
  }

  /** Deletes `name`; resolves with whether it existed. */
  async delete(name: string): Promise<boolean> {
    return (await this.#node.delete(this.prefix + name)).deleted > 0;
  }

  /** Resolves once the view reflects `revision` (e.g. the revision `set()` returned). */
  async waitForRevision(revision: number, options: WaitOptions = {}): Promise<void> {
    if (this.#revision >= revision) return;
    if (this.#closed) throw new StoppedError('config: closed');
    const waiting = composeSignal('config wait', [options.signal], options.timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        // An already-aborted signal never fires 'abort' again: reject now instead of hanging.
        if (waiting.signal.aborted) {
          reject(abortError(waiting.signal, 'config wait'));
          return;
        }
        const waiter = { revision, resolve, reject };
        this.#waiters.add(waiter);
        waiting.signal.addEventListener('abort', () => {
          this.#waiters.delete(waiter);
          reject(abortError(waiting.signal, 'config wait'));
        });
        // Revisions outside the prefix produce no event: ask the watch where the store is.
        this.#watch?.requestProgress();
      });
    } finally {
      waiting.dispose();
    }
  }

  /**
   * Every change from now on, in revision order. Each iterator buffers at most
   * `maxBufferedChanges`; a consumer that falls further behind fails with `WatchCancelledError('slow')`.
   */
  changes(options: { readonly signal?: AbortSignal } = {}): AsyncIterable<ConfigChange<T>> {
    const sub: Subscriber<T> = { buffer: [], wake: undefined, failed: undefined };
    this.#subscribers.add(sub);
    return this.#drain(sub, options.signal);
  }

  async *#drain(sub: Subscriber<T>, signal: AbortSignal | undefined): AsyncGenerator<ConfigChange<T>> {
    const onAbort = (): void => sub.wake?.();
    signal?.addEventListener('abort', onAbort);
    try {
      for (;;) {
        const next = sub.buffer.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (sub.failed !== undefined) throw sub.failed;
        if (this.#closed || signal?.aborted === true) return;
        await new Promise<void>((resolve) => (sub.wake = resolve));
        sub.wake = undefined;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#subscribers.delete(sub);
    }
  }

  /** Stops following the store; iterators end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watch?.close();
    this.#watch = undefined;
    for (const sub of this.#subscribers) sub.wake?.();
    // The view will not advance any more: a pending wait would otherwise never settle.
    this.#rejectWaiters(new StoppedError('config: closed'));
  }

  #rejectWaiters(err: QuorumError): void {
    for (const w of [...this.#waiters]) w.reject(err);
    this.#waiters.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  /** Reads the prefix (at R), reconciles the view, and watches from R + 1. */
  async load(signal?: AbortSignal): Promise<void> {
    const res = await this.#node.range({ prefix: this.prefix }, signal === undefined ? {} : { signal });
    if (this.#closed) return;
    const seen = new Set<string>();
    for (const kv of res.kvs) {
      seen.add(kv.key);
      this.#applyPut(kv, undefined, res.revision);
    }
    for (const name of [...this.#values.keys()]) if (!seen.has(this.prefix + name)) this.#applyDelete(name, res.revision);
    this.#advance(res.revision);
    this.#follow(res.revision + 1);
  }

  #follow(startRevision: number): void {
    const watch = this.#node.watch<unknown>({ prefix: this.prefix }, { startRevision, prevKv: true });
    this.#watch = watch;
    watch.on('event', (ev: WatchEvent<unknown>) => {
      if (ev.type === 'put') this.#applyPut(ev.kv, ev.prevKv, ev.revision);
      else this.#applyDelete(ev.kv.key.slice(this.prefix.length), ev.revision);
      this.#advance(ev.revision);
    });
    watch.on('progress', ({ revision }: { revision: number }) => this.#advance(revision));
    watch.on('error', (err: QuorumError) => {
      if (this.#closed || this.#watch !== watch) return;
      const resync = err instanceof CompactedError || (err instanceof WatchCancelledError && (err.reason === 'compacted' || err.reason === 'slow'));
      if (resync) {
        this.#watch = undefined;
        void this.#resync();
        return;
      }
      this.#fail(err);
    });
  }

  /**
   * Re-reads the prefix after the watch was cancelled. A read that fails for a passing reason (no
   * leader during a failover, a timeout) is retried with backoff rather than ending the view.
   */
  async #resync(): Promise<void> {
    for (let delayMs = RESYNC_RETRY_MIN_MS; !this.#closed; delayMs = Math.min(delayMs * 2, RESYNC_RETRY_MAX_MS)) {
      try {
        await this.load();
        if (!this.#closed) this.emit('resync', this.#revision);
        return;
      } catch (e) {
        if (this.#closed) return;
        if (!isTransient(e)) {
          this.#fail(e instanceof QuorumError ? e : new StoppedError('config: resync failed', { cause: e }));
          return;
        }
        await sleep(delayMs);
      }
    }
  }

  #fail(err: QuorumError): void {
    this.#rejectWaiters(err);
    for (const sub of this.#subscribers) {
      sub.failed = err;
      sub.wake?.();
    }
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  #applyPut(kv: KeyValue<unknown>, prevKv: KeyValue<unknown> | undefined, revision: number): void {
    const name = kv.key.slice(this.prefix.length);
    let value: T;
    try {
      value = this.#parse(kv.value, name);
    } catch (error) {
      this.emit('invalid', { name, error, revision });
      this.#applyDelete(name, revision);
      return;
    }
    const had = this.#values.has(name);
    const prevValue = this.#values.get(name);
    // A resync re-reads unchanged keys: only a newer modRevision is a change.
    if (had && prevKv === undefined && kv.modRevision <= this.#revision) return;
    this.#values.set(name, value);
    this.#publish({ type: 'set', name, key: kv.key, value, ...(had ? { prevValue: prevValue as T } : {}), revision });
  }

  #applyDelete(name: string, revision: number): void {
    if (!this.#values.has(name)) return;
    const prevValue = this.#values.get(name) as T;
    this.#values.delete(name);
    this.#publish({ type: 'delete', name, key: this.prefix + name, prevValue, revision });
  }

  #publish(change: ConfigChange<T>): void {
    this.emit('change', change);
    for (const sub of this.#subscribers) {
      if (sub.failed !== undefined) continue;
      if (sub.buffer.length >= this.#maxBuffered) {
        sub.failed = new WatchCancelledError('slow', `config: a changes() consumer fell ${this.#maxBuffered} changes behind`);
        sub.buffer.length = 0;
      } else {
        sub.buffer.push(change);
      }
      sub.wake?.();
    }
  }

  #advance(revision: number): void {
    if (revision > this.#revision) this.#revision = revision;
    for (const w of [...this.#waiters]) {
      if (w.revision <= this.#revision) {
        this.#waiters.delete(w);
        w.resolve();
      }
    }
  }
}

/**
 * A live view of `prefix`, loaded before it resolves.
 *
 * ```ts
 * const config = await createConfig<FeatureFlags>(node, '/config/flags/', { parse: FeatureFlags.parse });
 * config.get('checkout');
 * for await (const change of config.changes({ signal })) console.log(change.name, change.value);
 * ```
 */
export async function createConfig<T = unknown>(node: QuorumNode, prefix: string, options: ConfigOptions<T> = {}): Promise<Config<T>> {
  const config = new Config<T>(node, prefix, options);
  await config.load(options.signal);
  return config;
}
