/**
 * `node.watch()`: an async iterable of events that is also an EventEmitter. Pull-based: while only
 * the iterator consumes, events stay in the store watcher's bounded buffer and are taken one
 * response at a time, so a slow consumer is cancelled by the store as `slow` instead of growing
 * memory here. With an `'event'` listener attached the watch drains eagerly.
 *
 * The watch tracks the last revision it delivered. When the store is replaced (a snapshot was
 * installed from the leader), the node calls `reattach()` and the watch resumes from the next
 * revision on the new store — no gap, no duplicate; a compacted resume point ends it with
 * CompactedError.
 */
import { EventEmitter } from 'eventemitter3';
import { CompactedError, QuorumError, WatchCancelledError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import type { KeyRange, StoredWatchEvent, Watcher, WatchResponse } from '../store/types.ts';
import { toKeyValue } from './convert.ts';
import type { ValueCodec, WatchEvent } from './types.ts';

export interface WatchEvents<T> {
  event: (event: WatchEvent<T>) => void;
  progress: (info: { readonly revision: number }) => void;
  error: (err: QuorumError) => void;
  close: () => void;
}

export interface WatchSettings {
  readonly range: KeyRange;
  readonly startRevision: number;
  readonly prevKv: boolean;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly progressIntervalMs: number | undefined;
  readonly maxBufferedEvents: number;
  readonly codec: ValueCodec;
}

export class Watch<T = unknown> extends EventEmitter<WatchEvents<T>> implements AsyncIterable<WatchEvent<T>> {
  readonly #settings: WatchSettings;
  readonly #onEnd: (w: Watch<T>) => void;
  #watcher: Watcher | undefined;
  /** Last revision delivered (or confirmed by progress); the resume point is this + 1. */
  #lastRevision: number;
  #buffer: WatchEvent<T>[] = [];
  #waiter: { resolve: (r: IteratorResult<WatchEvent<T>>) => void; reject: (e: unknown) => void } | undefined;
  #ended = false;
  #error: QuorumError | undefined;
  #progressTimer: NodeJS.Timeout | undefined;
  #sinceProgress = false;
  #drainScheduled = false;
  #iterating = false;

  constructor(store: Store, settings: WatchSettings, onEnd: (w: Watch<T>) => void) {
    super();
    this.#settings = settings;
    this.#onEnd = onEnd;
    this.#lastRevision = settings.startRevision - 1;
    this.reattach(store);
    if (settings.progressIntervalMs !== undefined) {
      this.#progressTimer = setInterval(() => {
        if (!this.#sinceProgress) this.#watcher?.requestProgress();
        this.#sinceProgress = false;
      }, settings.progressIntervalMs);
      this.#progressTimer.unref();
    }
  }

  /** Events delivered by the store and not consumed yet (this handle's buffer and the store watcher's). */
  get bufferedEvents(): number {
    return this.#buffer.length + (this.#watcher?.bufferedEvents ?? 0);
  }

  /** Whether the watch has ended (closed, cancelled or failed). */
  get closed(): boolean {
    return this.#ended;
  }

  /** (Re)registers on `store`, resuming after the last delivered revision. */
  reattach(store: Store): void {
    if (this.#ended) return;
    this.#watcher?.cancel();
    const s = this.#settings;
    this.#watcher = store.watch(s.range, {
      startRevision: this.#lastRevision + 1,
      prevKv: s.prevKv,
      noPut: s.noPut,
      noDelete: s.noDelete,
      maxBufferedEvents: s.maxBufferedEvents,
      onReady: () => this.#scheduleDrain(),
    });
    this.#scheduleDrain();
  }

  /** Attaching an `event`/`progress` listener switches to eager draining: drain what is waiting. */
  override on<E extends EventEmitter.EventNames<WatchEvents<T>>>(event: E, fn: EventEmitter.EventListener<WatchEvents<T>, E>, context?: unknown): this {
    super.on(event, fn, context);
    if (event === 'event' || event === 'progress') this.#scheduleDrain();
    return this;
  }

  /** Ask for a `progress` event at the current revision once caught up. */
  requestProgress(): void {
    this.#watcher?.requestProgress();
  }

  /** Ends the watch cleanly: the iterator finishes, `close` is emitted. */
  close(): void {
    this.#end(undefined);
  }

  /** Ends the watch with a typed error (node closed, aborted). */
  fail(err: QuorumError): void {
    this.#end(err);
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled || this.#ended) return;
    this.#drainScheduled = true;
    queueMicrotask(() => {
      this.#drainScheduled = false;
      this.#drain();
    });
  }

  #drain(): void {
    // Eager when someone listens; otherwise only as far as a waiting iterator needs.
    while (!this.#ended && (this.#eager() || (this.#waiter !== undefined && this.#buffer.length === 0))) {
      const response = this.#watcher?.next();
      if (response === undefined) break;
      this.#handle(response);
    }
    this.#feedWaiter();
  }

  #eager(): boolean {
    return this.listenerCount('event') > 0 || this.listenerCount('progress') > 0;
  }

  #handle(response: WatchResponse): void {
    switch (response.kind) {
      case 'events':
      {
        this.#sinceProgress = true;
        const before = this.#lastRevision;
        for (const ev of response.events) {
          if (ev.kv.modRevision > before) this.#deliver(ev);
          if (this.#ended) return; // Cancelled as slow by #deliver.
        }
        if (response.revision > this.#lastRevision) this.#lastRevision = response.revision;
        return;
      }
      case 'progress':
        if (response.revision > this.#lastRevision) this.#lastRevision = response.revision;
        this.emit('progress', { revision: response.revision });
        return;
      case 'cancelled': {
        let err = response.error;
        if (response.reason === 'compacted' && !(err instanceof CompactedError)) {
          err = new CompactedError(this.#lastRevision + 1, response.compactRevision ?? 0, { cause: err });
        }
        this.#end(err);
        return;
      }
    }
  }

  #deliver(stored: StoredWatchEvent): void {
    const revision = stored.kv.modRevision;
    const codec = this.#settings.codec;
    // A tombstone's lease names the lease whose end deleted the key; the deleted key itself has
    // no lease any more (etcd's delete events carry none).
    const endedLease = stored.type === 'delete' && stored.kv.lease !== 0 ? stored.kv.lease : undefined;
    const ev: { -readonly [K in keyof WatchEvent<T>]: WatchEvent<T>[K] } = {
      type: stored.type,
      kv: toKeyValue<T>(endedLease === undefined ? stored.kv : { ...stored.kv, lease: 0 }, codec, stored.type === 'delete'),
      revision,
    };
    if (stored.prevKv !== undefined) ev.prevKv = toKeyValue<T>(stored.prevKv, codec);
    if (endedLease !== undefined) ev.endedLease = endedLease;
    if (this.#iterating) {
      // With a listener the store's buffer drains eagerly into this one; bound it the same way
      // (an iterator alone pulls one response at a time, so only a listener can outrun it).
      if (this.#buffer.length >= this.#settings.maxBufferedEvents && this.#eager()) {
        this.#end(new WatchCancelledError('slow', `more than ${this.#settings.maxBufferedEvents} events not taken by the iterator`));
        return;
      }
      this.#buffer.push(ev);
    }
    this.emit('event', ev);
  }


  #feedWaiter(): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    const next = this.#buffer.shift();
    if (next !== undefined) {
      this.#waiter = undefined;
      waiter.resolve({ value: next, done: false });
    } else if (this.#ended) {
      this.#waiter = undefined;
      if (this.#error !== undefined) waiter.reject(this.#error);
      else waiter.resolve({ value: undefined, done: true });
    }
  }

  #end(err: QuorumError | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = err;
    if (this.#progressTimer !== undefined) clearInterval(this.#progressTimer);
    this.#watcher?.cancel();
    this.#watcher = undefined;
    this.#onEnd(this);
    if (err !== undefined) this.emit('error', err);
    this.emit('close');
    this.#feedWaiter();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent<T>> {
    this.#iterating = true;
    return {
      next: () =>
        new Promise<IteratorResult<WatchEvent<T>>>((resolve, reject) => {
          const buffered = this.#buffer.shift();
          if (buffered !== undefined) return resolve({ value: buffered, done: false });
          if (this.#ended) {
            if (this.#error !== undefined) return reject(this.#error);
            return resolve({ value: undefined, done: true });
          }
          this.#waiter = { resolve, reject };
          this.#drain();
        }),
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

export function abortedWatchError(): WatchCancelledError {
  return new WatchCancelledError('aborted', 'the signal was aborted');
}
