/**
 * The append messages in flight to one follower in replicate state, as a ring buffer of
 * (last index, bytes). It is bounded by count AND by bytes: a full window pauses replication
 * to that follower until acknowledgements free slots (flow control, like etcd's Inflights).
 */
import { assert } from './assert.ts';
import type { LogIndex } from '../protocol/types.ts';

export class Inflights {
  readonly #capacity: number;
  readonly #maxBytes: number;
  /** Ring storage; slot i holds the last index of one append and its entry bytes. */
  readonly #indexes: Float64Array;
  readonly #bytes: Float64Array;
  #start = 0;
  // Invariant: 0 <= #count <= #capacity.
  #count = 0;
  // Invariant: #totalBytes is the sum of #bytes over the occupied slots.
  #totalBytes = 0;

  constructor(capacity: number, maxBytes: number) {
    assert(capacity > 0, 'inflights capacity must be positive');
    this.#capacity = capacity;
    this.#maxBytes = maxBytes;
    this.#indexes = new Float64Array(capacity);
    this.#bytes = new Float64Array(capacity);
  }

  get capacity(): number {
    return this.#capacity;
  }

  get count(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#totalBytes;
  }

  /** Whether no more appends may be sent: the window is full by count or by bytes. */
  full(): boolean {
    return this.#count === this.#capacity || (this.#maxBytes > 0 && this.#totalBytes >= this.#maxBytes);
  }

  /** Records an append whose last entry is `index`; indexes must increase. */
  add(index: LogIndex, bytes: number): void {
    assert(!this.full(), 'inflights: add on a full window');
    const slot = (this.#start + this.#count) % this.#capacity;
    if (this.#count > 0) {
      const lastSlot = (slot + this.#capacity - 1) % this.#capacity;
      assert((this.#indexes[lastSlot] ?? 0) < index, 'inflights: indexes must increase');
    }
    this.#indexes[slot] = index;
    this.#bytes[slot] = bytes;
    this.#count++;
    this.#totalBytes += bytes;
  }

  /** Frees every in-flight append whose last index is <= `index` (they were acknowledged). */
  freeLE(index: LogIndex): void {
    while (this.#count > 0) {
      const i = this.#start;
      if ((this.#indexes[i] ?? 0) > index) break;
      this.#totalBytes -= this.#bytes[i] ?? 0;
      this.#start = (i + 1) % this.#capacity;
      this.#count--;
    }
    if (this.#count === 0) {
      this.#start = 0;
      this.#totalBytes = 0;
    }
  }

  /** Frees the oldest slot: a heartbeat answer shows the follower is alive, so let one more go. */
  freeFirstOne(): void {
    if (this.#count === 0) return;
    this.freeLE(this.#indexes[this.#start] ?? 0);
  }

  reset(): void {
    this.#start = 0;
    this.#count = 0;
    this.#totalBytes = 0;
  }
}
