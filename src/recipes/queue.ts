/**
 * Distributed queue (FIFO, with optional priorities). `enqueue` creates a fresh key
 * `<prefix>/<priority, 5 digits>/<unique>`; items leave lowest priority number first, FIFO by
 * create revision (commit order) within one priority. `dequeue` claims exactly one item with a txn
 * that deletes the head only if its mod revision is unchanged: of all consumers racing for an item,
 * exactly one txn succeeds. When the queue is empty it blocks on a watch (no polling).
 *
 * Delivery is exactly-once as long as each claim's outcome is known. A claim that fails with
 * `TimeoutError` ("outcome unknown") may have taken the item: that is at-most-once for that item,
 * the unavoidable edge of a destructive dequeue; acknowledge-style processing needs a lock per item.
 */
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, KeyExistsError } from '../errors.ts';
import { cmp, op } from '../node/txn-builder.ts';
import type { KeyValue } from '../node/types.ts';
import type { QuorumNode } from '../node/node.ts';
import { abortError, composeSignal, prefixOf, waitForEvent, withAbortReason, type WaitOptions } from './util.ts';

/** Highest (least urgent) priority; priorities are integers 0 … 99,999, lower leaves first. */
export const MAX_QUEUE_PRIORITY = 99_999;
/** Attempts to find a fresh key before giving up (collisions need a clash of 64 random bits). */
const MAX_ENQUEUE_ATTEMPTS = 8;

export interface EnqueueOptions {
  /** 0 … 99,999; lower leaves first. @default 0 */
  readonly priority?: number;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

export interface QueueItem<T> {
  readonly key: string;
  readonly value: T;
  readonly priority: number;
  /** Revision the item was enqueued at. */
  readonly createRevision: number;
}

function pad(priority: number): string {
  return String(priority).padStart(5, '0');
}

/** A queue under `prefix`. Create with {@link createQueue}. */
export class Queue<T = unknown> {
  readonly prefix: string;
  readonly #node: QuorumNode;

  constructor(node: QuorumNode, prefix: string) {
    this.#node = node;
    this.prefix = prefixOf(prefix, 'queue');
  }

  /** Adds `value`; resolves with the created item. */
  async enqueue(value: T, options: EnqueueOptions = {}): Promise<QueueItem<T>> {
    const priority = options.priority ?? 0;
    if (!Number.isInteger(priority) || priority < 0 || priority > MAX_QUEUE_PRIORITY) {
      throw new InvalidArgumentError(`queue: priority must be an integer in 0..${MAX_QUEUE_PRIORITY}`);
    }
    const call = { ...(options.signal === undefined ? {} : { signal: options.signal }), ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) };
    for (let attempt = 1; ; attempt++) {
      const key = `${this.prefix}${pad(priority)}/${Date.now().toString(36)}-${randomBytes(8).toString('hex')}`;
      try {
        const res = await this.#node.put(key, value, { expect: 'absent', ...call });
        return { key, value, priority, createRevision: res.revision };
      } catch (err) {
        if (!(err instanceof KeyExistsError) || attempt >= MAX_ENQUEUE_ATTEMPTS) throw err;
      }
    }
  }

  /**
   * Takes the head item, waiting while the queue is empty. Rejects with the abort reason /
   * `AbortedError`, or `TimeoutError` after `timeoutMs`.
   */
  async dequeue(options: WaitOptions = {}): Promise<QueueItem<T>> {
    const waiting = composeSignal(`dequeue ${this.prefix}`, [options.signal], options.timeoutMs);
    try {
      for (;;) {
        const signal = waiting.signal;
        const got = await withAbortReason(signal, 'dequeue', () => this.#claimHead(signal));
        if (got.item !== undefined) return got.item;
        if (got.empty) await waitForEvent(this.#node, { prefix: this.prefix }, got.revision, waiting.signal, 'put');
      }
    } finally {
      waiting.dispose();
    }
  }

  /** Takes the head item if there is one; `undefined` when the queue is empty. */
  async tryDequeue(options: { readonly signal?: AbortSignal } = {}): Promise<QueueItem<T> | undefined> {
    const signal = options.signal ?? new AbortController().signal;
    for (;;) {
      const got = await this.#claimHead(signal);
      if (got.item !== undefined) return got.item;
      if (got.empty) return undefined;
    }
  }

  /** Items in the queue now. */
  async size(): Promise<number> {
    return (await this.#node.range({ prefix: this.prefix }, { countOnly: true })).count;
  }

  /**
   * One attempt: find the head (lowest priority bucket, then oldest in it) and delete it if its
   * mod revision is unchanged. `item` undefined and `empty` false: another consumer won the race.
   */
  async #claimHead(signal: AbortSignal): Promise<{ item?: QueueItem<T>; empty: boolean; revision: number }> {
    if (signal.aborted) throw abortError(signal, 'dequeue');
    const first = await this.#node.range({ prefix: this.prefix }, { sort: { by: 'key', order: 'asc' }, limit: 1, keysOnly: true, signal });
    const firstKey = first.kvs[0]?.key;
    if (firstKey === undefined) return { empty: true, revision: first.revision };
    const slash = firstKey.indexOf('/', this.prefix.length);
    // A key not written by enqueue (no priority segment) is its own bucket.
    const bucket = slash < 0 ? firstKey : firstKey.slice(0, slash + 1);
    const head = await this.#node.range<T>({ prefix: bucket }, { sort: { by: 'createRevision', order: 'asc' }, limit: 1, signal });
    const kv: KeyValue<T> | undefined = head.kvs[0];
    if (kv === undefined) return { empty: false, revision: head.revision };
    // No signal on the claim itself: aborting a write leaves its outcome unknown (a lost item).
    const res = await this.#node.txn().if(cmp.modRevision(kv.key, '==', kv.modRevision)).then(op.delete(kv.key)).commit();
    if (!res.succeeded) return { empty: false, revision: res.revision };
    const priority = Number(bucket.slice(this.prefix.length, -1)) || 0;
    return { item: { key: kv.key, value: kv.value, priority, createRevision: kv.createRevision }, empty: false, revision: res.revision };
  }
}

/** A queue whose items live under `prefix` (every producer and consumer uses the same prefix). */
export function createQueue<T = unknown>(node: QuorumNode, prefix: string): Queue<T> {
  return new Queue<T>(node, prefix);
}
